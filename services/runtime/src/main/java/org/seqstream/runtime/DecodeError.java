package org.seqstream.runtime;

/**
 * Why one sequence failed while the others of its batch went on: a stable machine-readable
 * {@code code} (results carry it) and a message naming the cause.
 */
public record DecodeError(String code, String message) {
    /** The sequence's prefill or decoding step threw, alone as well as in its batch. */
    public static final String DECODE_FAILED = "decode_failed";
    /** The model produced NaN or infinite logits for the sequence. */
    public static final String NON_FINITE_LOGITS = "non_finite_logits";
}
