package org.seqstream.runtime;

import ai.onnxruntime.OrtException;

/**
 * The cache of a GroupQueryAttention decoder ({@link DecoderGraph.Form#RAGGED}): every row's
 * keys sit at the front of its row, and the step's {@code seqlens_k} tells the kernel how many,
 * so each row attends to its own length only, not to the longest row's. The present outputs are
 * bound to the memory of the past inputs: the kernel writes each row's new key and value at
 * position {@code seqlens_k[r]} in place, and nothing is copied per step. The axis is a capacity
 * (the kernel's present must be as long as its past to share its memory). Since the kernel reads
 * no position beyond a row's length, a long axis costs memory but no arithmetic: an admission
 * lays the axis out at once for the longest its rows can reach (prompt plus max_new_tokens, the
 * length the decoder's cache budget counts every sequence at), so the cache is not copied while
 * its rows decode; it widens only for a newcomer that can reach further, and is packed only
 * along with free slots, to what the rows kept can reach.
 */
final class RaggedKvCache extends CapacityKvCache {
    RaggedKvCache(DecoderGraph graph) {
        super(graph);
    }

    /** The kernel reads positions 0..seqlens_k of each row only: what lies beyond a row's length is never read, nor cleared. */
    @Override
    boolean readsWholeAxis() {
        return false;
    }

    @Override
    int widened(int t, int reach) {
        return Math.max(t, reach) <= positions ? 0 : Math.max(t + SLACK, reach);
    }

    @Override
    int grown(int longest, int room) {
        return Math.max(longest + 1, room);
    }

    @Override
    int packAt(int longest, int room) {
        return Integer.MAX_VALUE;
    }

    @Override
    int packedWidth(int longest, int room) {
        return Math.max(longest + 1, room);
    }

    @Override
    void bindStep(DecoderGraph.Call call, int[] column) throws OrtException {
        int[] seqlens = new int[slots];
        int total = 1;
        for (int r = 0; r < slots; r++) {
            // a free slot computes a pad token at position 0 of its own row, never read
            seqlens[r] = Math.max(column[r], 0);
            total = Math.max(total, seqlens[r] + 1);
        }
        graph.seqLens(call, seqlens, total);
        long[] shape = {slots, heads, positions, headDim};
        for (int i = 0; i < kv.count(); i++) {
            call.input(graph.pastNames()[i], kv.tensor(i, shape));
            call.output(graph.kvOutputNames()[i], kv.tensor(i, shape));
        }
    }

    @Override
    void afterStep(int[] column) {
        for (int r = 0; r < slots; r++) {
            if (column[r] >= 0) {
                mask[r * positions + column[r]] = 1;
            }
        }
    }
}
