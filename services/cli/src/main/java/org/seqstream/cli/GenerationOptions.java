package org.seqstream.cli;

import org.seqstream.runtime.SamplingParams;
import picocli.CommandLine.Option;

/** Generation parameters, with the same names and meaning wherever seqctl takes them. */
final class GenerationOptions {
    @Option(names = "--max-new-tokens", paramLabel = "N",
            description = "Stop after N generated tokens (default: the model's limit, max_new_tokens in its model.json).")
    Integer maxNewTokens;

    @Option(names = "--temperature", defaultValue = "0", paramLabel = "T",
            description = "0 = greedy; above 0, sample from logits / T (default: ${DEFAULT-VALUE}).")
    double temperature;

    @Option(names = "--top-k", defaultValue = "0", paramLabel = "K",
            description = "Sample among the K most likely tokens; 0 = all (default: ${DEFAULT-VALUE}).")
    int topK;

    @Option(names = "--top-p", defaultValue = "1.0", paramLabel = "P",
            description = "Sample within the smallest set of tokens of total probability P (default: ${DEFAULT-VALUE}).")
    double topP;

    @Option(names = "--seed", paramLabel = "S",
            description = "Seed of the sampler; the same seed gives the same output (default: a random one, reported with each sampled output).")
    Long seed;

    @Option(names = "--stop", paramLabel = "TEXT",
            description = "Stop when the output contains TEXT; the output ends before it (repeatable, up to 4).")
    java.util.List<String> stop = new java.util.ArrayList<>();

    /** The given seed, else one drawn now for the whole run. */
    long seedOrRandom() {
        if (seed == null) {
            seed = java.util.concurrent.ThreadLocalRandom.current().nextLong();
        }
        return seed;
    }

    /** The given --max-new-tokens, else {@code otherwise}. */
    int maxNewTokensOr(int otherwise) {
        return maxNewTokens != null ? maxNewTokens : otherwise;
    }

    /** The parameters for a model whose package allows {@code limit} new tokens (the default without --max-new-tokens). */
    SamplingParams params(int limit) {
        return new SamplingParams(maxNewTokensOr(limit), temperature, topK, topP, seedOrRandom(), stop);
    }
}
