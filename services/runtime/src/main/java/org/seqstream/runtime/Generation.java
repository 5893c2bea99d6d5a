package org.seqstream.runtime;

import java.util.List;

/**
 * One finished sequence.
 *
 * @param ids          generated token ids, without the end-of-sequence token
 * @param text         their text
 * @param finishReason {@code stop} (end-of-sequence token) or {@code length} (max_new_tokens reached)
 * @param stepLogits   the logits each token was chosen from (one row per step, the end-of-sequence
 *                     step included) when the generator records them, else empty
 */
public record Generation(long[] ids, String text, String finishReason, List<float[]> stepLogits) {
    public static final String STOP = "stop";
    public static final String LENGTH = "length";

    public int generatedTokens() {
        return ids.length;
    }
}
