package org.seqstream.runtime;

/**
 * What a sequence must be for its model to decode it, checked before it joins a batch: records
 * can reach the decoder without passing the tokenizer, and a bad one must fail alone.
 */
public final class SequenceCheck {
    private SequenceCheck() {
    }

    /** Throws an {@link InputException} naming the first thing {@code pkg} cannot decode in {@code s}. */
    public static void check(ModelPackage pkg, DecodeBatch.Sequence s) {
        s.params().validate(pkg);
        long[] src = s.sourceIds();
        if (src == null || src.length == 0) {
            throw invalid("no source token ids");
        }
        ids("source", src, pkg);
        Generator.checkFits(pkg, src.length, s.params());
        ids("generated", s.generated(), pkg);
        if (s.generated().length >= s.params().maxNewTokens()) {
            throw invalid(s.generated().length + " tokens generated already, max_new_tokens is " + s.params().maxNewTokens());
        }
        if (pkg.isEncoderDecoder()) {
            float[] h = s.encoderHidden();
            if (h == null) {
                throw invalid(pkg.name() + " is an encoder-decoder model: the sequence needs its encoder output");
            }
            if (h.length != (long) src.length * pkg.dModel()) {
                throw invalid("encoder output of " + h.length + " values, expected [" + src.length + ", " + pkg.dModel()
                        + "] for " + src.length + " source tokens");
            }
        }
    }

    /** Checks an encoder output's shape, as the record states it, against the model and the source length. */
    public static void checkEncoderShape(ModelPackage pkg, java.util.List<Long> shape, int sourceLength) {
        if (shape.size() != 2 || shape.get(0) != sourceLength || shape.get(1) != pkg.dModel()) {
            throw invalid("encoder output of shape " + shape + ", expected [" + sourceLength + ", " + pkg.dModel() + "]");
        }
    }

    private static void ids(String what, long[] ids, ModelPackage pkg) {
        for (long id : ids) {
            if (id < 0 || id >= pkg.vocabSize()) {
                throw invalid(what + " token id " + id + " is outside the vocabulary of " + pkg.name() + " (0.." + (pkg.vocabSize() - 1) + ")");
            }
        }
    }

    static InputException invalid(String message) {
        return new InputException(InputException.INVALID_SEQUENCE, message);
    }
}
