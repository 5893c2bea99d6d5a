package org.seqstream.runtime;

import ai.onnxruntime.OrtException;

import java.util.Arrays;
import java.util.List;

/**
 * The cross-attention cache of an encoder-decoder batch: per layer keys and values
 * [slots, heads, source, head_dim], computed once per sequence from its encoder output when it
 * joins (the cross_kv graph), and each slot's source length. Sources of different lengths share
 * the longest one's axis; a longer newcomer widens every running row.
 *
 * <p>A decoder with a key mask ({@code encoder_attention_mask}) attends over the whole axis; one
 * whose cross-attention is ragged ({@link DecoderGraph#raggedCross()}) reads each row's own
 * source only, and its kernel writes one key per row, which takes no weight, at the position
 * after the row's source: the axis keeps one free position after the longest, and the present
 * outputs are bound to the memory of the inputs, so a step writes that position alone.
 */
final class CrossKvCache implements AutoCloseable {
    private final DecoderGraph graph;
    private final int heads, headDim, dModel;
    /** Positions the axis keeps after the longest source: the ragged kernel's free one. */
    private final int spare;
    private final TensorBuffers cross;
    /** The newcomers' keys and values [n, heads, incomingSource, head_dim], and their source lengths. */
    private final TensorBuffers incoming;
    private int[] incomingLengths = new int[0];
    private int incomingSource;
    private int[] lengths = new int[0];
    private int slots, source;

    CrossKvCache(DecoderGraph graph) {
        this.graph = graph;
        ModelPackage pkg = graph.pkg();
        this.heads = pkg.nHeads();
        this.headDim = pkg.headDim();
        this.dModel = pkg.dModel();
        this.spare = spare(pkg);
        int n = graph.crossNames().length;
        cross = new TensorBuffers(n);
        incoming = new TensorBuffers(n);
    }

    /** Positions the axis keeps after the longest source for {@code pkg}'s decoder: the ragged kernel's free one, else none. */
    static int spare(ModelPackage pkg) {
        return DecoderGraph.raggedCross(pkg) ? 1 : 0;
    }

    /** Computes the cross-attention keys and values of newcomers' encoder outputs ([source_r, d_model] each). */
    void prepare(List<float[]> encoderHidden) throws OrtException {
        int n = encoderHidden.size();
        int[] lens = encoderHidden.stream().mapToInt(h -> h.length / dModel).toArray();
        int s1 = Arrays.stream(lens).max().orElseThrow() + spare;
        float[] hidden = new float[n * s1 * dModel];
        for (int r = 0; r < n; r++) {
            System.arraycopy(encoderHidden.get(r), 0, hidden, r * s1 * dModel, lens[r] * dModel);
        }
        graph.crossKv(hidden, n, s1, incoming);
        incomingLengths = lens;
        incomingSource = s1;
    }

    /** Binds the newcomers' cross inputs to their prefill call. */
    void bindPrefill(DecoderGraph.Call call, int n) throws OrtException {
        bind(call, incoming, incomingLengths, n, incomingSource);
    }

    /** Binds the batch's cross inputs to a step over every slot. */
    void bindStep(DecoderGraph.Call call) throws OrtException {
        bind(call, cross, lengths, slots, source);
    }

    private void bind(DecoderGraph.Call call, TensorBuffers from, int[] lens, int n, int s) throws OrtException {
        long[] shape = {n, heads, s, headDim};
        for (int i = 0; i < from.count(); i++) {
            call.input(graph.crossNames()[i], from.tensor(i, shape));
        }
        int[] l = Arrays.copyOf(lens, n);
        if (graph.raggedCross()) {
            for (int i = 0; i < from.count(); i++) {
                call.output(graph.crossOutputNames()[i], from.tensor(i, shape));
            }
            // a slot never filled (length 0) attends to the free position alone: an output of zeros, never read
            graph.crossLens(call, l, Arrays.stream(l).max().orElse(0) + 1);
        } else {
            long[] m = new long[n * s];
            for (int r = 0; r < n; r++) {
                Arrays.fill(m, r * s, r * s + l[r], 1L);
            }
            graph.encoderMask(call, m, n, s);
        }
    }

    private int offset(int slot, int head, int width) {
        return (slot * heads + head) * width * headDim;
    }

    /**
     * Makes room for {@code slotCount} rows and sources of {@code sourceLength} positions: a longer
     * source widens every running row ({@link TensorBuffers#widen}, zeros after each row's
     * source), and the buffers grow to hold every slot, so that an admission's placements move
     * nothing again.
     */
    void reserve(int slotCount, int sourceLength) {
        int s = Math.max(source, sourceLength + spare);
        if (s > source && slots > 0) {
            cross.widen(slots * heads, source * headDim, s * headDim, Math.max(slotCount, slots) * heads, true);
        }
        source = s;
        cross.ensure(Math.max(slotCount, slots) * heads * s * headDim, slots * heads * s * headDim);
    }

    /** The newcomers' keys, values and lengths (row r of the last {@link #prepare}) into slots {@code slot[r]}, of {@code slotCount}. */
    void place(int[] slot, int slotCount) {
        reserve(slotCount, incomingSource - spare);
        int s = source;
        lengths = Arrays.copyOf(lengths, slotCount);
        for (int r = 0; r < slot.length; r++) {
            for (int i = 0; i < cross.count(); i++) {
                for (int h = 0; h < heads; h++) {
                    cross.copy(i, offset(slot[r], h, s), incoming, offset(r, h, incomingSource), incomingSource * headDim);
                    cross.zero(i, offset(slot[r], h, s) + incomingSource * headDim, (s - incomingSource) * headDim);
                }
            }
            lengths[slot[r]] = incomingLengths[r];
        }
        slots = slotCount;
    }

    /** Keeps the rows of slots {@code keep} (ascending) as slots 0.., in place: each moves to a start no later than its own. */
    void compact(int[] keep) {
        int rowSize = heads * source * headDim;
        int[] l = new int[keep.length];
        for (int k = 0; k < keep.length; k++) {
            for (int i = 0; i < cross.count(); i++) {
                cross.move(i, k * rowSize, keep[k] * rowSize, rowSize);
            }
            l[k] = lengths[keep[k]];
        }
        lengths = l;
        slots = keep.length;
    }

    void clear() {
        lengths = new int[0];
        slots = 0;
        source = 0;
    }

    @Override
    public void close() {
        clear();
        cross.close();
        incoming.close();
    }
}
