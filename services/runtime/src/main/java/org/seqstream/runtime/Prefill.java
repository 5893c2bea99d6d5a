package org.seqstream.runtime;

import ai.onnxruntime.OrtException;

import java.nio.FloatBuffer;
import java.util.Arrays;
import java.util.List;

/**
 * Joins newcomers to a {@link DecodeBatch}: one decoder call over their prompts (and the tokens
 * they generated before, for a resumed sequence) with an empty past, whose keys and values land
 * in buffers of the prefill's own ({@code prefilled}, kept for the next call), then each
 * newcomer's row into a free slot of the caches, with its first token's logits. Nothing of the
 * batch changes unless the call succeeds.
 */
final class Prefill implements AutoCloseable {
    private final DecoderGraph graph;
    private final ModelPackage pkg;
    private final KvCache cache;
    private final CrossKvCache cross;
    private final Slots slots;
    /** The newcomers' keys and values [n, heads, t, head_dim] of the last call. */
    private final TensorBuffers prefilled;

    Prefill(DecoderGraph graph, KvCache cache, CrossKvCache cross, Slots slots) {
        this.graph = graph;
        this.pkg = graph.pkg();
        this.cache = cache;
        this.cross = cross;
        this.slots = slots;
        this.prefilled = new TensorBuffers(graph.kvOutputNames().length);
    }

    /** One prefill call over {@code group}'s prompts (and tokens generated before), then each newcomer into a slot. */
    void run(List<DecodeBatch.Sequence> group) throws OrtException {
        int n = group.size();
        long[][] prompts = new long[n][];
        for (int r = 0; r < n; r++) {
            long[] p = pkg.prompt(group.get(r).sourceIds()), g = group.get(r).generated();
            prompts[r] = Arrays.copyOf(p, p.length + g.length);
            System.arraycopy(g, 0, prompts[r], p.length, g.length);
        }
        int t = Arrays.stream(prompts).mapToInt(p -> p.length).max().orElseThrow();
        long[] ids = new long[n * t], positions = new long[n * t], mask = new long[n * t];
        int[] seqlens = new int[n];
        for (int r = 0; r < n; r++) {
            for (int j = 0; j < prompts[r].length; j++) {
                ids[r * t + j] = prompts[r][j];
                positions[r * t + j] = j;
                mask[r * t + j] = 1;
            }
            seqlens[r] = prompts[r].length - 1;
        }
        try (DecoderGraph.Call call = new DecoderGraph.Call()) {
            // a prompt, right-padded: the ragged form takes each row's length, the others a key mask
            if (graph.form() == DecoderGraph.Form.RAGGED) {
                graph.seqLens(call, seqlens, t);
            } else {
                graph.keyMask(call, mask, n);
            }
            long[] empty = {n, pkg.nHeads(), 0, pkg.headDim()}, present = {n, pkg.nHeads(), t, pkg.headDim()};
            prefilled.ensure(n * pkg.nHeads() * t * pkg.headDim(), 0);
            for (int i = 0; i < graph.pastNames().length; i++) {
                call.input(graph.pastNames()[i], TensorBuffers.tensor(FloatBuffer.allocate(0), empty));
                call.output(graph.kvOutputNames()[i], prefilled.tensor(i, present));
            }
            if (cross != null) {
                cross.prepare(group.stream().map(DecodeBatch.Sequence::encoderHidden).toList());
                cross.bindPrefill(call, n);
            }
            FloatBuffer logits = graph.decode(call, ids, positions, n, t);
            place(group, prompts, t, prefilled, logits);
        }
    }

    /** Gives each prefilled newcomer a slot: a free one, else a new one at the end. */
    private void place(List<DecodeBatch.Sequence> group, long[][] prompts, int t, TensorBuffers prefilled, FloatBuffer logits) {
        int n = group.size();
        int[] slot = slots.assign(n), lengths = new int[n];
        int slotCount = slots.count();
        for (int r = 0; r < n; r++) {
            lengths[r] = prompts[r].length;
            slotCount = Math.max(slotCount, slot[r] + 1);
        }
        cache.place(prefilled, t, slot, lengths, slotCount);
        if (cross != null) {
            cross.place(slot, slotCount);
        }
        for (int r = 0; r < n; r++) {
            DecodeRow row = new DecodeRow(group.get(r));
            row.position = lengths[r];
            row.end = lengths[r] - group.get(r).generated().length + row.tokens.length;
            slots.put(slot[r], row, logits, graph.lastLogits(r, t, lengths[r]));
        }
    }

    @Override
    public void close() {
        prefilled.close();
    }
}
