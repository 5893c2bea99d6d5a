package org.seqstream.runtime;

import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

import java.net.URISyntaxException;
import java.nio.file.Path;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;

/** The cache layouts with known numbers: placement, growth, compaction and the step mask, for every decoder form. */
class KvCacheTest {
    private static DecoderGraph graph(String name) {
        try {
            ModelPackage pkg = ModelPackage.load(Path.of(KvCacheTest.class.getResource("/packages/" + name).toURI()));
            return new DecoderGraph(OnnxModel.open(pkg, Device.CPU, 1));
        } catch (URISyntaxException e) {
            throw new IllegalStateException(e);
        }
    }

    /** Value of (row, head, position, dim) in a prefilled buffer: distinct, nonzero. */
    private static float value(int row, int head, int pos, int dim) {
        return 1 + 1000 * row + 100 * head + 10 * pos + dim * 0.5f;
    }

    /** Prefilled keys and values of {@code lengths.length} rows, {@code t} positions each ([n, heads, t, head_dim]). */
    private static TensorBuffers prefilled(KvCache c, int t, int[] lengths, int rowBase) {
        TensorBuffers b = new TensorBuffers(c.kv.count());
        b.ensure(lengths.length * c.heads * t * c.headDim, 0);
        for (int i = 0; i < b.count(); i++) {
            for (int r = 0; r < lengths.length; r++) {
                for (int h = 0; h < c.heads; h++) {
                    for (int j = 0; j < lengths[r]; j++) {
                        for (int d = 0; d < c.headDim; d++) {
                            b.get(i).put(((r * c.heads + h) * t + j) * c.headDim + d, value(rowBase + r, h, j, d) + i);
                        }
                    }
                }
            }
        }
        return b;
    }

    private static float at(KvCache c, int layerTensor, int slot, int head, int pos, int dim) {
        return c.kv.get(layerTensor).get(c.offset(slot, head, pos, c.positions()) + dim);
    }

    private static long[] maskRow(KvCache c, int slot) {
        long[] row = new long[c.positions()];
        System.arraycopy(c.mask, slot * c.positions(), row, 0, c.positions());
        return row;
    }

    private static long[] ones(int n, int width) {
        long[] m = new long[width];
        java.util.Arrays.fill(m, 0, n, 1L);
        return m;
    }

    @ParameterizedTest
    @ValueSource(strings = {"tiny-gpt-ragged", "tiny-gpt-append", "tiny-gpt-concat"})
    void placedRowsHoldTheirPositionsAndZerosBeyond(String name) {
        try (KvCache c = KvCache.of(graph(name))) {
            // Given two prefilled rows of 3 and 2 positions, placed into an empty cache
            try (TensorBuffers p = prefilled(c, 3, new int[] {3, 2}, 0)) {
                c.place(p, 3, new int[] {0, 1}, new int[] {3, 2}, 2);
            }
            // Then the axis is the prompt plus the form's slack, and each row holds its values, masked
            assertEquals(3 + c.slack(), c.positions());
            assertEquals(2, c.slots());
            assertArrayEquals(ones(3, c.positions()), maskRow(c, 0));
            assertArrayEquals(ones(2, c.positions()), maskRow(c, 1));
            for (int i = 0; i < c.kv.count(); i++) {
                assertEquals(value(0, 1, 2, 5) + i, at(c, i, 0, 1, 2, 5));
                assertEquals(value(1, 0, 1, 3) + i, at(c, i, 1, 0, 1, 3));
                assertEquals(0f, at(c, i, 1, 0, 2, 3), "a position the row does not attend to is zero");
            }
            // And a step's mask adds one position every row attends to
            long[] step = c.stepMask();
            assertEquals(2 * (c.positions() + 1), step.length);
            assertEquals(1, step[c.positions()]);
            assertEquals(1, step[2 * (c.positions() + 1) - 1]);
        }
    }

    @ParameterizedTest
    @ValueSource(strings = {"tiny-gpt-ragged", "tiny-gpt-append", "tiny-gpt-concat"})
    void aLongerNewcomerWidensTheRunningRowsWithoutMovingTheirPositions(String name) {
        try (KvCache c = KvCache.of(graph(name))) {
            try (TensorBuffers p = prefilled(c, 2, new int[] {2, 2}, 0)) {
                c.place(p, 2, new int[] {0, 1}, new int[] {2, 2}, 2);
            }
            int before = c.positions();
            // When a newcomer of more positions than the axis has takes a third slot
            int t = before + 3;
            try (TensorBuffers p = prefilled(c, t, new int[] {t}, 7)) {
                c.place(p, t, new int[] {2}, new int[] {t}, 3);
            }
            // Then the axis fits it (plus slack), and the running rows kept their values where they were
            assertEquals(t + c.slack(), c.positions());
            assertEquals(3, c.slots());
            for (int i = 0; i < c.kv.count(); i++) {
                assertEquals(value(1, 1, 1, 15) + i, at(c, i, 1, 1, 1, 15));
                assertEquals(value(7, 0, t - 1, 0) + i, at(c, i, 2, 0, t - 1, 0));
                assertEquals(0f, at(c, i, 0, 0, 2, 0));
            }
            assertArrayEquals(ones(2, c.positions()), maskRow(c, 1));
            assertArrayEquals(ones(t, c.positions()), maskRow(c, 2));
        }
    }

    @ParameterizedTest
    @ValueSource(strings = {"tiny-gpt-ragged", "tiny-gpt-append", "tiny-gpt-concat"})
    void compactionKeepsTheLiveRowsInOrderPackedToTheFront(String name) {
        try (KvCache c = KvCache.of(graph(name))) {
            // Given three rows of 4, 2 and 3 positions, a hole in the last one's mask
            try (TensorBuffers p = prefilled(c, 4, new int[] {4, 2, 3}, 0)) {
                c.place(p, 4, new int[] {0, 1, 2}, new int[] {4, 2, 3}, 3);
            }
            c.mask[2 * c.positions() + 1] = 0;
            // When the first row is dropped, the kept ones able to reach 10 positions
            c.compact(new int[] {1, 2}, 10);
            // Then the kept rows are slots 0 and 1, their attended positions packed to the front of
            // an axis as long as the longest needs plus the slack (the ragged form: as they can reach)
            assertEquals(2, c.slots());
            assertEquals(name.endsWith("ragged") ? 10 : 2 + c.slack(), c.positions());
            assertArrayEquals(ones(2, c.positions()), maskRow(c, 0));
            assertArrayEquals(ones(2, c.positions()), maskRow(c, 1));
            for (int i = 0; i < c.kv.count(); i++) {
                assertEquals(value(1, 1, 1, 2) + i, at(c, i, 0, 1, 1, 2));
                assertEquals(value(2, 0, 0, 4) + i, at(c, i, 1, 0, 0, 4));
                assertEquals(value(2, 1, 2, 4) + i, at(c, i, 1, 1, 1, 4), "position 2 moved into the hole at 1");
            }
        }
    }

    @ParameterizedTest
    @ValueSource(strings = {"tiny-gpt-ragged", "tiny-gpt-append"})
    void theAxisGrowsWhenTheLongestRowReachesItsEnd(String name) {
        try (KvCache c = KvCache.of(graph(name))) {
            // Given two rows of 20 and 7 positions on an axis of 20 + slack
            try (TensorBuffers p = prefilled(c, 20, new int[] {20, 7}, 0)) {
                c.place(p, 20, new int[] {0, 1}, new int[] {20, 7}, 2);
            }
            int before = c.positions();
            // When the longest row has filled the axis, and the rows may reach 100 positions
            c.beforeStep(before, 100);
            // Then the ragged form grows to what the rows can reach (its kernel reads each row's own
            // length only), the others by the slack (their attention spans the whole axis)
            int expected = name.endsWith("ragged") ? 100 : before + CapacityKvCache.SLACK;
            assertEquals(expected, c.positions());
            // And every row kept its values and mask, zeros beyond
            for (int i = 0; i < c.kv.count(); i++) {
                assertEquals(value(0, 1, 19, 3) + i, at(c, i, 0, 1, 19, 3));
                assertEquals(value(1, 0, 6, 15) + i, at(c, i, 1, 0, 6, 15));
                assertEquals(value(1, 1, 0, 0) + i, at(c, i, 1, 1, 0, 0));
                assertEquals(0f, at(c, i, 1, 1, 7, 0));
                assertEquals(0f, at(c, i, 0, 0, before, 0));
            }
            assertArrayEquals(ones(20, c.positions()), maskRow(c, 0));
            assertArrayEquals(ones(7, c.positions()), maskRow(c, 1));
            // And an axis with room left does not move
            c.beforeStep(before, 100);
            assertEquals(expected, c.positions());
        }
    }

    @org.junit.jupiter.api.Test
    void theRaggedAxisGrowsNoFurtherThanItsRowsCanReach() {
        try (KvCache c = KvCache.of(graph("tiny-gpt-ragged"))) {
            try (TensorBuffers p = prefilled(c, 40, new int[] {40}, 0)) {
                c.place(p, 40, new int[] {0}, new int[] {40}, 1);
            }
            // When the row fills the axis of 56 but can reach only 60 positions
            c.beforeStep(c.positions(), 60);
            // Then the axis is 60
            assertEquals(60, c.positions());
            assertEquals(value(0, 1, 39, 2), at(c, 0, 0, 1, 39, 2));
            // And its length alone never makes it due for packing (the others: past their slack and 16)
            assertEquals(Integer.MAX_VALUE, c.packAt(100, 120));
        }
        try (KvCache c = KvCache.of(graph("tiny-gpt-append"))) {
            assertEquals(100 + CapacityKvCache.SLACK + DecodeScheduler.PACK_AFTER, c.packAt(100, 120));
        }
    }

    @ParameterizedTest
    @ValueSource(strings = {"tiny-gpt-ragged", "tiny-gpt-append", "tiny-gpt-concat"})
    void anAdmissionReservedAtOnceIsPlacedWithoutMovingTheCache(String name) {
        try (KvCache c = KvCache.of(graph(name))) {
            try (TensorBuffers p = prefilled(c, 5, new int[] {5}, 0)) {
                c.place(p, 5, new int[] {0}, new int[] {5}, 1);
            }
            // Given room reserved for four more rows of prompts up to 30 positions, which can reach 50
            c.reserve(5, 30, 50);
            java.nio.FloatBuffer reserved = c.kv.get(0);
            // Then the ragged axis is laid out for the 50 at once, the others for the prompts plus their slack
            assertEquals(name.endsWith("ragged") ? 50 : 30 + c.slack(), c.positions());
            // When they are placed in two groups, the longer first
            try (TensorBuffers p = prefilled(c, 30, new int[] {30, 10}, 1)) {
                c.place(p, 30, new int[] {1, 2}, new int[] {30, 10}, 3);
            }
            try (TensorBuffers p = prefilled(c, 4, new int[] {4, 3}, 3)) {
                c.place(p, 4, new int[] {3, 4}, new int[] {4, 3}, 5);
            }
            // Then the cache stayed in the reserved buffer, and every row holds its values
            org.junit.jupiter.api.Assertions.assertSame(reserved, c.kv.get(0));
            assertEquals(5, c.slots());
            for (int i = 0; i < c.kv.count(); i++) {
                assertEquals(value(0, 1, 4, 1) + i, at(c, i, 0, 1, 4, 1));
                assertEquals(value(1, 0, 29, 2) + i, at(c, i, 1, 0, 29, 2));
                assertEquals(value(4, 1, 2, 7) + i, at(c, i, 4, 1, 2, 7));
                assertEquals(0f, at(c, i, 0, 0, 5, 0));
            }
            assertArrayEquals(ones(5, c.positions()), maskRow(c, 0));
            assertArrayEquals(ones(3, c.positions()), maskRow(c, 4));
        }
    }

    @ParameterizedTest
    @ValueSource(strings = {"tiny-gpt-ragged", "tiny-gpt-append"})
    void anAxisWidenedWithinItsBuffersMovesEveryRowInPlace(String name) {
        try (KvCache c = KvCache.of(graph(name))) {
            // Given room for eight rows, two of them placed with prompts of 3 and 2 positions
            c.reserve(8, 3, 0);
            try (TensorBuffers p = prefilled(c, 3, new int[] {3, 2}, 0)) {
                c.place(p, 3, new int[] {0, 1}, new int[] {3, 2}, 2);
            }
            java.nio.FloatBuffer held = c.kv.get(0);
            int before = c.positions();
            // When the longest row fills the axis, and the rows may reach 30 positions
            c.beforeStep(before, 30);
            // Then the rows widened within the same buffers, each keeping its values
            org.junit.jupiter.api.Assertions.assertSame(held, c.kv.get(0));
            assertEquals(name.endsWith("ragged") ? 30 : before + CapacityKvCache.SLACK, c.positions());
            for (int i = 0; i < c.kv.count(); i++) {
                assertEquals(value(0, 1, 2, 7) + i, at(c, i, 0, 1, 2, 7));
                assertEquals(value(1, 1, 1, 0) + i, at(c, i, 1, 1, 1, 0));
                assertEquals(value(1, 0, 0, 15) + i, at(c, i, 1, 0, 0, 15));
                if (!name.endsWith("ragged")) {
                    assertEquals(0f, at(c, i, 0, 1, before, 0), "a masked form's new positions are zero");
                }
            }
            assertArrayEquals(ones(3, c.positions()), maskRow(c, 0));
            assertArrayEquals(ones(2, c.positions()), maskRow(c, 1));
        }
    }

    @ParameterizedTest
    @ValueSource(strings = {"tiny-gpt-ragged", "tiny-gpt-append"})
    void compactionNeverLengthensTheAxis(String name) {
        try (KvCache c = KvCache.of(graph(name))) {
            // Given full rows: the longest kept row plus the slack is longer than the axis
            try (TensorBuffers p = prefilled(c, 6, new int[] {6, 6, 6}, 0)) {
                c.place(p, 6, new int[] {0, 1, 2}, new int[] {6, 6, 6}, 3);
            }
            c.beforeStep(c.positions(), 1000);
            int width = c.positions();
            for (int r = 0; r < 3; r++) {
                java.util.Arrays.fill(c.mask, r * width, (r + 1) * width, 1L);
            }
            c.compact(new int[] {0, 2}, 1000);
            // Then the axis keeps its length, and the kept rows their values
            assertEquals(width, c.positions());
            for (int i = 0; i < c.kv.count(); i++) {
                assertEquals(value(2, 1, 5, 3) + i, at(c, i, 1, 1, 5, 3));
                assertEquals(value(0, 0, 0, 0) + i, at(c, i, 0, 0, 0, 0));
            }
        }
    }
}
