package org.seqstream.runtime;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;

/** One sequence of a {@link DecodeBatch}: what it generated so far and where it stands. */
final class DecodeRow {
    final DecodeBatch.Sequence sequence;
    /** Generated tokens, {@code generated} of them so far (a resumed sequence starts with its stored ones). */
    final long[] tokens;
    int generated;
    /** Decoder tokens so far: the position of the next one. */
    int position;
    /** Positions the row can reach: its prompt plus every token it may generate. */
    int end;
    /** Why it stopped; null while it decodes. */
    FinishReason finish;
    DecodeError error;
    /** Dropped without finishing (its owner went away): no event, no generation. */
    boolean removed;
    /** The logits of each step, when the batch records them. */
    final List<float[]> logits = new ArrayList<>();

    DecodeRow(DecodeBatch.Sequence sequence) {
        this.sequence = sequence;
        long[] before = sequence.generated();
        this.tokens = Arrays.copyOf(before, Math.max(before.length, sequence.params().maxNewTokens()));
        this.generated = before.length;
    }

    boolean live() {
        return finish == null && !removed;
    }

    long lastToken() {
        return tokens[generated - 1];
    }

    long[] output() {
        return Arrays.copyOf(tokens, generated);
    }

    /** The sequence as it stands, to decode again from its tokens (a resume). */
    DecodeBatch.Sequence resumable() {
        DecodeBatch.Sequence s = sequence;
        return new DecodeBatch.Sequence(s.key(), s.sourceIds(), s.encoderHidden(), output(), s.params());
    }

    void fail(String code, String message) {
        finish = FinishReason.ERROR;
        error = new DecodeError(code, message);
    }
}
