package org.seqstream.runtime;

/** Why a sequence stopped decoding. {@link #wire()} is the {@code finish_reason} its result carries. */
public enum FinishReason {
    /** It chose the end-of-sequence token (which is not part of its output). */
    EOS("stop"),
    /** Its text came to contain one of its stop strings (its output ends before it). */
    STOP_STRING("stop"),
    /** It generated its {@code max_new_tokens}. */
    LENGTH("length"),
    /** It failed on its own: an invalid sequence, an exception or non-finite logits in its row. */
    ERROR("error");

    private final String wire;

    FinishReason(String wire) {
        this.wire = wire;
    }

    public String wire() {
        return wire;
    }
}
