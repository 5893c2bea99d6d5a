package org.seqstream.runtime;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Map;

/**
 * The reference generator: batched, KV-cached autoregressive decoding with the package's ONNX
 * graphs. Every request of a batch has its own parameters; greedy or sampled, it stops at the
 * end-of-sequence token or at its max_new_tokens. What this class generates is what the
 * pipeline's decoder must generate.
 *
 * <p>Decoding runs on a {@link DecodeBatch}, the same continuous batch the pipeline's decoder uses.
 */
public final class Generator {
    /** One sequence to generate: source token ids (from {@link TextTokenizer#encode}) and its parameters. */
    public record Request(long[] sourceIds, SamplingParams params) {
    }

    private final OnnxModel model;
    private final ModelPackage pkg;
    private final TextTokenizer tokenizer;
    private final boolean recordLogits;

    public Generator(OnnxModel model, TextTokenizer tokenizer) {
        this(model, tokenizer, false);
    }

    /** With {@code recordLogits}, every {@link Generation} carries the logits of each of its steps. */
    public Generator(OnnxModel model, TextTokenizer tokenizer, boolean recordLogits) {
        this.model = model;
        this.pkg = model.pkg();
        this.tokenizer = tokenizer;
        this.recordLogits = recordLogits;
    }

    /** Checks a request's parameters and that it fits the model's positions; throws {@link InputException}. */
    public void check(Request r) {
        checkFits(pkg, r.sourceIds().length, r.params());
    }

    /** {@link #check} for a source of {@code sourceLength} tokens, without a generator at hand. */
    public static void checkFits(ModelPackage pkg, int sourceLength, SamplingParams p) {
        p.validate(pkg);
        int prompt = pkg.promptLength(sourceLength);
        if (prompt + p.maxNewTokens() > pkg.maxPositions() || sourceLength > pkg.maxPositions()) {
            throw new InputException(InputException.INPUT_TOO_LONG, "input of " + sourceLength
                    + " tokens plus max_new_tokens " + p.maxNewTokens() + " exceeds the " + pkg.maxPositions()
                    + " positions of " + pkg.name());
        }
    }

    /** Generates every request of {@code batch} together; results in request order. */
    public List<Generation> generate(List<Request> batch) {
        if (batch.isEmpty()) {
            return List.of();
        }
        batch.forEach(this::check);
        float[][] hidden = new float[batch.size()][];
        if (pkg.isEncoderDecoder()) {
            SourceEncoder enc = new SourceEncoder(model);
            hidden = enc.encode(Arrays.asList(enc.embed(batch.stream().map(Request::sourceIds).toList())));
        }
        List<DecodeBatch.Sequence> seqs = new ArrayList<>();
        for (int i = 0; i < batch.size(); i++) {
            seqs.add(new DecodeBatch.Sequence(String.valueOf(i), batch.get(i).sourceIds(), hidden[i], new long[0],
                    batch.get(i).params()));
        }
        Map<String, Generation> done = new java.util.HashMap<>();
        try (DecodeBatch decoding = new DecodeBatch(model, tokenizer, recordLogits)) {
            decoding.admit(seqs);
            while (decoding.size() > 0) {
                decoding.step();
                done.putAll(decoding.takeFinished(tokenizer));
            }
        }
        List<Generation> out = new ArrayList<>();
        for (int i = 0; i < batch.size(); i++) {
            out.add(done.get(String.valueOf(i)));
        }
        return out;
    }
}
