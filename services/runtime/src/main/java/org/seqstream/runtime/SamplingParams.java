package org.seqstream.runtime;

/**
 * Generation parameters of one request.
 *
 * @param maxNewTokens stop after this many generated tokens (1 .. the package's max_new_tokens)
 * @param temperature  0 for greedy decoding; otherwise logits are divided by it before sampling
 * @param topK         keep only the k most likely tokens; 0 keeps all
 * @param topP         keep the smallest set of tokens whose probability reaches p; 1 keeps all
 * @param seed         with the step index, fixes every random draw of the request
 */
public record SamplingParams(int maxNewTokens, double temperature, int topK, double topP, long seed) {
    public static final int DEFAULT_MAX_NEW_TOKENS = 128;

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
        return this;
    }
}
