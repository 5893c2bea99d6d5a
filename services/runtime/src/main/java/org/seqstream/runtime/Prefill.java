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
 * batch changes unless the call succeeds. A decoder that takes one token per row (its
 * cross-attention is ragged: {@link DecoderGraph#raggedCross()}) prefills a longer prompt (a
 * resumed sequence's) one position per call instead, into the same buffers.
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
        if (graph.raggedCross() && t > 1) {
            stepwise(group, prompts, t);
            return;
        }
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
            int[] at = new int[n];
            for (int r = 0; r < n; r++) {
                at[r] = graph.lastLogits(r, t, prompts[r].length);
            }
            place(group, prompts, t, logits, at);
        }
    }

    /**
     * The prompts, of up to {@code t} positions, one position per decoder call: call j writes
     * every row's keys and values at position j of the prefill's buffers (in place, as a step
     * does in the cache), and a row's logits are kept from the call of its last position. Rows
     * shorter than {@code t} compute pad tokens after their end, never read.
     */
    private void stepwise(List<DecodeBatch.Sequence> group, long[][] prompts, int t) throws OrtException {
        int n = group.size(), vocab = pkg.vocabSize();
        cross.prepare(group.stream().map(DecodeBatch.Sequence::encoderHidden).toList());
        prefilled.ensure(n * pkg.nHeads() * t * pkg.headDim(), 0);
        long[] shape = {n, pkg.nHeads(), t, pkg.headDim()};
        float[] kept = new float[n * vocab];
        for (int j = 0; j < t; j++) {
            long[] ids = new long[n], positions = new long[n];
            int[] seqlens = new int[n];
            for (int r = 0; r < n; r++) {
                ids[r] = j < prompts[r].length ? prompts[r][j] : pkg.special().pad();
                positions[r] = j;
                seqlens[r] = j;
            }
            try (DecoderGraph.Call call = new DecoderGraph.Call()) {
                graph.seqLens(call, seqlens, j + 1);
                for (int i = 0; i < graph.pastNames().length; i++) {
                    call.input(graph.pastNames()[i], prefilled.tensor(i, shape));
                    call.output(graph.kvOutputNames()[i], prefilled.tensor(i, shape));
                }
                cross.bindPrefill(call, n);
                FloatBuffer logits = graph.decode(call, ids, positions, n, 1);
                for (int r = 0; r < n; r++) {
                    if (prompts[r].length == j + 1) {
                        logits.get(graph.lastLogits(r, 1, 1), kept, r * vocab, vocab);
                    }
                }
            }
        }
        int[] at = new int[n];
        for (int r = 0; r < n; r++) {
            at[r] = r * vocab;
        }
        place(group, prompts, t, FloatBuffer.wrap(kept), at);
    }

    /** Gives each prefilled newcomer a slot (a free one, else a new one at the end), with its logits from {@code at[r]}. */
    private void place(List<DecodeBatch.Sequence> group, long[][] prompts, int t, FloatBuffer logits, int[] at) {
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
            slots.put(slot[r], row, logits, at[r]);
        }
    }

    @Override
    public void close() {
        prefilled.close();
    }
}
