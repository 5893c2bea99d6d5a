package org.seqstream.runtime;

import ai.onnxruntime.OrtException;

/**
 * The cache of a decoder that returns past and new together ({@code present_key_i}): ONNX
 * Runtime writes each step's present into {@code target} (pinned outputs), which becomes the
 * cache of the next step. Every row gains a position per step; the form copies the whole cache
 * at every step.
 */
final class SwappingKvCache extends KvCache {
    SwappingKvCache(DecoderGraph graph) {
        super(graph);
    }

    @Override
    int slack() {
        return 0;
    }

    @Override
    void beforeStep(int longest, int room) {
        // the present is one position longer than the past: no room needed
    }

    @Override
    void bindStep(DecoderGraph.Call call, int[] column) throws OrtException {
        graph.keyMask(call, stepMask(), slots);
        target.ensure(slots * heads * (positions + 1) * headDim, 0);
        long[] past = {slots, heads, positions, headDim}, present = {slots, heads, positions + 1, headDim};
        for (int i = 0; i < kv.count(); i++) {
            call.input(graph.pastNames()[i], kv.tensor(i, past));
            call.output(graph.kvOutputNames()[i], target.tensor(i, present));
        }
    }

    @Override
    void afterStep(int[] column) {
        mask = stepMask();
        positions++;
        swap();
    }
}
