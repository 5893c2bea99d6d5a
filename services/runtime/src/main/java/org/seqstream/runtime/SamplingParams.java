package org.seqstream.runtime;

/**
 * Generation parameters of one request.
 *
 * @param maxNewTokens stop after this many generated tokens (1 .. the package's max_new_tokens)
 * @param temperature  0 for greedy decoding; otherwise logits are divided by it before sampling
 * @param topK         keep only the k most likely tokens; 0 keeps all
 * @param topP         keep the smallest set of tokens whose probability reaches p; 1 keeps all
 * @param seed         with the step index, fixes every random draw of the request
 * @param stop         generation stops once the output contains one of these strings; the
 *                     output ends before it (finish reason {@code stop})
 */
public record SamplingParams(int maxNewTokens, double temperature, int topK, double topP, long seed, java.util.List<String> stop) {
    /** At most this many stop strings, each at most {@link #MAX_STOP_LENGTH} characters. */
    public static final int MAX_STOPS = 4, MAX_STOP_LENGTH = 32;

    public SamplingParams {
        stop = stop == null ? java.util.List.of() : java.util.List.copyOf(stop);
    }

    public SamplingParams(int maxNewTokens, double temperature, int topK, double topP, long seed) {
        this(maxNewTokens, temperature, topK, topP, seed, java.util.List.of());
    }

    public static SamplingParams greedy(int maxNewTokens) {
        return new SamplingParams(maxNewTokens, 0.0, 0, 1.0, 0L);
    }

    public boolean isGreedy() {
        return temperature == 0.0;
    }

    /** Throws an {@link InputException} naming the first parameter {@code pkg} cannot accept. */
    public SamplingParams validate(ModelPackage pkg) {
        if (maxNewTokens <= 0 || maxNewTokens > pkg.maxNewTokens()) {
            throw new InputException(InputException.INVALID_PARAMETERS, "max_new_tokens must be between 1 and " + pkg.maxNewTokens() + " for "
                    + pkg.name() + ", got " + maxNewTokens);
        }
        if (!(temperature >= 0.0) || Double.isInfinite(temperature)) {
            throw new InputException(InputException.INVALID_PARAMETERS, "temperature must be >= 0, got " + temperature);
        }
        if (topK < 0) {
            throw new InputException(InputException.INVALID_PARAMETERS, "top_k must be >= 0 (0 disables it), got " + topK);
        }
        if (!(topP > 0.0 && topP <= 1.0)) {
            throw new InputException(InputException.INVALID_PARAMETERS, "top_p must be in (0, 1], got " + topP);
        }
        if (stop.size() > MAX_STOPS || stop.stream().anyMatch(x -> x.isEmpty() || x.length() > MAX_STOP_LENGTH)) {
            throw new InputException(InputException.INVALID_PARAMETERS, "stop takes at most " + MAX_STOPS
                    + " strings of 1 to " + MAX_STOP_LENGTH + " characters, got " + stop.size() + ": "
                    + stop.stream().map(x -> "\"" + x + "\"").toList());
        }
        return this;
    }
}
