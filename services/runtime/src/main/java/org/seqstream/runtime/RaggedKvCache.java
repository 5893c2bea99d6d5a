package org.seqstream.runtime;

import ai.onnxruntime.OrtException;

/**
 * The cache of a GroupQueryAttention decoder ({@link DecoderGraph.Form#RAGGED}): every row's
 * keys sit at the front of its row, and the step's {@code seqlens_k} tells the kernel how many,
 * so each row attends to its own length only, not to the longest row's. The present outputs are
 * bound to the memory of the past inputs: the kernel writes each row's new key and value at
 * position {@code seqlens_k[r]} in place, and nothing is copied per step. The axis is a capacity
 * (the kernel's present must be as long as its past to share its memory) that grows when the
 * longest row reaches its end. Since the kernel reads no position beyond a row's length, a long
 * axis costs memory but no arithmetic: it grows by half (at least {@value CapacityKvCache#SLACK}
 * positions, at most to the longest that a live row can reach), so that a batch of long outputs
 * moves its cache a few times rather than every {@value CapacityKvCache#SLACK} steps, and it is
 * packed only once it is twice as long as its longest row needs.
 */
final class RaggedKvCache extends CapacityKvCache {
    RaggedKvCache(DecoderGraph graph) {
        super(graph);
    }

    @Override
    int grown(int longest, int room) {
        int wanted = Math.max(longest + SLACK, positions + positions / 2);
        return Math.max(longest + 1, Math.min(wanted, room));
    }

    @Override
    int packAt(int longest) {
        return Math.max(super.packAt(longest), 2 * longest);
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
