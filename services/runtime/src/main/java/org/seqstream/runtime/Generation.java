package org.seqstream.runtime;

import java.util.List;

/**
 * One finished sequence.
 *
 * @param ids        generated token ids, without the end-of-sequence token
 * @param text       their text
 * @param reason     why it stopped
 * @param stepLogits the logits each token was chosen from (one row per step, the end-of-sequence
 *                   step included) when the generator records them, else empty
 * @param error      why it failed, with {@link FinishReason#ERROR}; else null
 */
public record Generation(long[] ids, String text, FinishReason reason, List<float[]> stepLogits, DecodeError error) {
    public static final String STOP = FinishReason.EOS.wire();
    public static final String LENGTH = FinishReason.LENGTH.wire();

    /** {@code stop} (end-of-sequence token or stop string), {@code length} or {@code error}. */
    public String finishReason() {
        return reason.wire();
    }

    public boolean failed() {
        return error != null;
    }

    public int generatedTokens() {
        return ids.length;
    }
}
