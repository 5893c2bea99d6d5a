package org.seqstream.runtime;

import ai.onnxruntime.OrtException;

/**
 * The cache of a decoder that returns only the new positions' keys and values
 * ({@code new_key_i}): the axis is a capacity with free positions at the end of every row; each
 * step's new keys and values land in {@code fresh} and are written into their row's next free
 * position, so the decoder only reads the cache and nothing is copied per step. The axis grows
 * with one copy, {@value CapacityKvCache#SLACK} positions at a time, when the longest row reaches its end.
 */
final class AppendingKvCache extends CapacityKvCache {
    /** Each step's new keys and values [slots, heads, 1, head_dim]. */
    private final TensorBuffers fresh;

    AppendingKvCache(DecoderGraph graph) {
        super(graph);
        fresh = new TensorBuffers(graph.kvOutputNames().length);
    }

    @Override
    void bindStep(DecoderGraph.Call call, int[] column) throws OrtException {
        graph.keyMask(call, stepMask(), slots);
        fresh.ensure(slots * heads * headDim, 0);
        long[] past = {slots, heads, positions, headDim}, added = {slots, heads, 1, headDim};
        for (int i = 0; i < kv.count(); i++) {
            call.input(graph.pastNames()[i], kv.tensor(i, past));
            call.output(graph.kvOutputNames()[i], fresh.tensor(i, added));
        }
    }

    @Override
    void afterStep(int[] column) {
        for (int r = 0; r < slots; r++) {
            if (column[r] < 0) {
                continue;
            }
            for (int i = 0; i < kv.count(); i++) {
                for (int h = 0; h < heads; h++) {
                    kv.copy(i, offset(r, h, column[r], positions), fresh, offset(r, h, 0, 1), headDim);
                }
            }
            mask[r * positions + column[r]] = 1;
        }
    }

    @Override
    public void close() {
        super.close();
        fresh.close();
    }
}
