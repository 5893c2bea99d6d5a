package org.seqstream.runtime;

import ai.onnxruntime.OrtException;

import java.util.Arrays;
import java.util.List;

/**
 * The cross-attention cache of an encoder-decoder batch: per layer keys and values
 * [slots, heads, source, head_dim], computed once per sequence from its encoder output when it
 * joins (the cross_kv graph), and the encoder mask [slots, source]. Sources of different lengths
 * share the longest one's axis; a longer newcomer widens every running row.
 */
final class CrossKvCache implements AutoCloseable {
    private final DecoderGraph graph;
    private final int heads, headDim, dModel;
    private final TensorBuffers cross;
    /** The newcomers' keys and values [n, heads, incomingSource, head_dim], and their mask [n, incomingSource]. */
    private final TensorBuffers incoming;
    private long[] incomingMask = new long[0];
    private int incomingSource;
    private long[] mask = new long[0];
    private int slots, source;

    CrossKvCache(DecoderGraph graph) {
        this.graph = graph;
        ModelPackage pkg = graph.pkg();
        this.heads = pkg.nHeads();
        this.headDim = pkg.headDim();
        this.dModel = pkg.dModel();
        int n = graph.crossNames().length;
        cross = new TensorBuffers(n);
        incoming = new TensorBuffers(n);
    }

    /** Computes the cross-attention keys and values of newcomers' encoder outputs ([source_r, d_model] each). */
    void prepare(List<float[]> encoderHidden) throws OrtException {
        int n = encoderHidden.size();
        int[] lengths = encoderHidden.stream().mapToInt(h -> h.length / dModel).toArray();
        int s1 = Arrays.stream(lengths).max().orElseThrow();
        float[] hidden = new float[n * s1 * dModel];
        long[] m = new long[n * s1];
        for (int r = 0; r < n; r++) {
            System.arraycopy(encoderHidden.get(r), 0, hidden, r * s1 * dModel, lengths[r] * dModel);
            Arrays.fill(m, r * s1, r * s1 + lengths[r], 1L);
        }
        graph.crossKv(hidden, n, s1, incoming);
        incomingMask = m;
        incomingSource = s1;
    }

    /** Binds the newcomers' cross inputs to their prefill call. */
    void bindPrefill(DecoderGraph.Call call, int n) throws OrtException {
        bind(call, incoming, incomingMask, n, incomingSource);
    }

    /** Binds the batch's cross inputs to a step over every slot. */
    void bindStep(DecoderGraph.Call call) throws OrtException {
        bind(call, cross, mask, slots, source);
    }

    private void bind(DecoderGraph.Call call, TensorBuffers from, long[] m, int n, int s) throws OrtException {
        long[] shape = {n, heads, s, headDim};
        for (int i = 0; i < from.count(); i++) {
            call.input(graph.crossNames()[i], from.tensor(i, shape));
        }
        graph.encoderMask(call, m, n, s);
    }

    private int offset(int slot, int head, int width) {
        return (slot * heads + head) * width * headDim;
    }

    /**
     * Makes room for {@code slotCount} rows and sources of {@code sourceLength} positions: a longer
     * source widens every running row (in place, from the last row to the first), and the buffers
     * grow to hold every slot, so that an admission's placements move nothing again.
     */
    void reserve(int slotCount, int sourceLength) {
        int s = Math.max(source, sourceLength);
        if (s > source && slots > 0) {
            cross.ensure(slots * heads * s * headDim, slots * heads * source * headDim);
            long[] m = new long[slots * s];
            for (int r = slots - 1; r >= 0; r--) {
                for (int h = heads - 1; h >= 0; h--) {
                    for (int i = 0; i < cross.count(); i++) {
                        cross.move(i, offset(r, h, s), offset(r, h, source), source * headDim);
                        cross.zero(i, offset(r, h, s) + source * headDim, (s - source) * headDim);
                    }
                }
                System.arraycopy(mask, r * source, m, r * s, source);
            }
            mask = m;
        }
        source = s;
        cross.ensure(Math.max(slotCount, slots) * heads * s * headDim, slots * heads * s * headDim);
    }

    /** The newcomers' keys, values and mask (row r of the last {@link #prepare}) into slots {@code slot[r]}, of {@code slotCount}. */
    void place(int[] slot, int slotCount) {
        reserve(slotCount, incomingSource);
        int s = source;
        long[] m = Arrays.copyOf(mask, slotCount * s);
        for (int r = 0; r < slot.length; r++) {
            for (int i = 0; i < cross.count(); i++) {
                for (int h = 0; h < heads; h++) {
                    cross.copy(i, offset(slot[r], h, s), incoming, offset(r, h, incomingSource), incomingSource * headDim);
                    cross.zero(i, offset(slot[r], h, s) + incomingSource * headDim, (s - incomingSource) * headDim);
                }
            }
            System.arraycopy(incomingMask, r * incomingSource, m, slot[r] * s, incomingSource);
            Arrays.fill(m, slot[r] * s + incomingSource, (slot[r] + 1) * s, 0L);
        }
        mask = m;
        slots = slotCount;
    }

    /** Keeps the rows of slots {@code keep} (ascending) as slots 0.., in place: each moves to a start no later than its own. */
    void compact(int[] keep) {
        int rowSize = heads * source * headDim;
        long[] m = new long[keep.length * source];
        for (int k = 0; k < keep.length; k++) {
            for (int i = 0; i < cross.count(); i++) {
                cross.move(i, k * rowSize, keep[k] * rowSize, rowSize);
            }
            System.arraycopy(mask, keep[k] * source, m, k * source, source);
        }
        mask = m;
        slots = keep.length;
    }

    void clear() {
        mask = new long[0];
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
