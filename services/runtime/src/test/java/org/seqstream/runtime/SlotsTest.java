package org.seqstream.runtime;

import org.junit.jupiter.api.Test;

import java.nio.FloatBuffer;
import java.util.List;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;

class SlotsTest {
    private static DecodeRow row(String key, int position) {
        DecodeRow r = new DecodeRow(new DecodeBatch.Sequence(key, new long[] {1}, null, new long[0], SamplingParams.greedy(4)));
        r.position = position;
        return r;
    }

    /** Logits of vocabulary 2 whose values name the row: {row, row + 0.5}. */
    private static FloatBuffer logits(float row) {
        return FloatBuffer.wrap(new float[] {row, row + 0.5f});
    }

    @Test
    void newcomersTakeFreeSlotsFirstThenNewOnesAtTheEnd() {
        Slots s = new Slots(2);
        s.put(0, row("a", 3), logits(0), 0);
        s.put(1, row("b", 5), logits(1), 0);
        s.put(2, row("c", 4), logits(2), 0);
        s.get(1).finish = FinishReason.EOS;
        assertArrayEquals(new int[] {1, 3, 4}, s.assign(3));
        assertEquals(2, s.liveCount());
        assertEquals(4, s.longestLive());
    }

    @Test
    void compactionKeepsLiveRowsInOrderWithTheirPendingLogits() {
        Slots s = new Slots(2);
        s.put(0, row("a", 3), logits(0), 0);
        s.put(1, row("b", 5), logits(1), 0);
        s.put(2, row("c", 4), logits(2), 0);
        s.get(0).removed = true;
        assertArrayEquals(new int[] {1, 2}, s.compact());
        assertEquals(List.of("b", "c"), s.live().stream().map(r -> r.sequence.key()).toList());
        assertArrayEquals(new float[] {1, 1.5f, 2, 2.5f}, s.pending());
    }
}
