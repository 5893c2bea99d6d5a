package org.seqstream.runtime;

import ai.onnxruntime.OnnxTensor;
import ai.onnxruntime.OrtEnvironment;
import ai.onnxruntime.OrtException;
import ai.onnxruntime.OrtSession;

import java.nio.ByteBuffer;
import java.nio.FloatBuffer;
import java.nio.IntBuffer;
import java.nio.LongBuffer;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

/**
 * The model executor of a {@link DecodeBatch}: the package's embedding, decoder and cross_kv
 * graphs, their tensor names, and the scratch buffers their per-call inputs and outputs live in.
 * Every buffer is direct and reused: ONNX Runtime copies a heap array into a new direct buffer of
 * its own, which would hold native memory until the next garbage collection, at every step.
 * Not final: tests inject faults into {@link #decode}.
 */
class DecoderGraph implements AutoCloseable {
    /** The tensors of one graph call, closed together after it. */
    static final class Call implements AutoCloseable {
        final Map<String, OnnxTensor> inputs = new HashMap<>();
        final Map<String, OnnxTensor> outputs = new HashMap<>();
        private final List<AutoCloseable> owned = new ArrayList<>();

        void input(String name, OnnxTensor t) {
            owned.add(t);
            inputs.put(name, t);
        }

        void output(String name, OnnxTensor t) {
            owned.add(t);
            outputs.put(name, t);
        }

        <T extends AutoCloseable> T own(T t) {
            owned.add(t);
            return t;
        }

        @Override
        public void close() {
            for (AutoCloseable c : owned) {
                try {
                    c.close();
                } catch (Exception ignored) {
                    // native memory release; nothing to recover
                }
            }
            owned.clear();
        }
    }

    /** How a package's decoder reads and returns its self-attention keys and values. */
    enum Form {
        /**
         * GroupQueryAttention: {@code seqlens_k} and {@code total_sequence_length} instead of a key
         * mask, each row attends to its own length; {@code present_key_i} is bound to the memory of
         * {@code past_key_i}, so a step writes its new position in place.
         */
        RAGGED,
        /** A key mask over the whole axis; returns only the new positions ({@code new_key_i}). */
        APPEND,
        /** A key mask over the whole axis; returns past and new together ({@code present_key_i}). */
        CONCAT
    }

    private enum Scratch { IDS, POSITIONS, MASK, ENCODER_MASK, SEQLENS, TOTAL, CROSS_SEQLENS, CROSS_TOTAL }

    private final OnnxModel model;
    private final ModelPackage pkg;
    private final OrtEnvironment env = OrtEnvironment.getEnvironment();
    private final Form form;
    /** Whether the decoder returns the logits of each row's last position only ([n, 1, vocab]). */
    private final boolean lastLogitsOnly;
    /** Whether the decoder's cross-attention is ragged too (see {@link #raggedCross(ModelPackage)}). */
    private final boolean raggedCross;
    /** Per layer i: {@code past_key_i}, {@code past_value_i} at 2i and 2i+1; the outputs and cross inputs and outputs likewise. */
    private final String[] pastNames, kvOutputNames, crossNames, crossOutputNames;
    private final ByteBuffer[] scratch = new ByteBuffer[Scratch.values().length];
    private FloatBuffer logits = floats(0);
    private FloatBuffer hidden = floats(0);

    DecoderGraph(OnnxModel model) {
        this.model = model;
        this.pkg = model.pkg();
        this.form = form(pkg);
        this.lastLogitsOnly = pkg.graph(ModelPackage.DECODER).outputs().stream()
                .anyMatch(o -> o.name().equals("logits") && o.ortShape()[1] == 1);
        this.raggedCross = raggedCross(pkg);
        int layers = pkg.decoderLayers();
        String outPrefix = form == Form.APPEND ? "new_" : "present_";
        pastNames = new String[2 * layers];
        kvOutputNames = new String[2 * layers];
        crossNames = new String[2 * layers];
        crossOutputNames = new String[2 * layers];
        for (int i = 0; i < layers; i++) {
            pastNames[2 * i] = "past_key_" + i;
            pastNames[2 * i + 1] = "past_value_" + i;
            kvOutputNames[2 * i] = outPrefix + "key_" + i;
            kvOutputNames[2 * i + 1] = outPrefix + "value_" + i;
            crossNames[2 * i] = "cross_key_" + i;
            crossNames[2 * i + 1] = "cross_value_" + i;
            crossOutputNames[2 * i] = "present_cross_key_" + i;
            crossOutputNames[2 * i + 1] = "present_cross_value_" + i;
        }
    }

    /**
     * Whether the package's decoder attends over each row's own source too (input
     * {@code cross_seqlens_k}): its cross-attention is GroupQueryAttention over the cross keys and
     * values, which hold one free position after each row's source, where the kernel writes a key
     * that takes no weight ({@code present_cross_key_i}, bound to the memory of
     * {@code cross_key_i}). Such a decoder takes one token per row.
     */
    static boolean raggedCross(ModelPackage pkg) {
        return pkg.isEncoderDecoder()
                && pkg.graph(ModelPackage.DECODER).inputs().stream().anyMatch(i -> i.name().equals("cross_seqlens_k"));
    }

    boolean raggedCross() {
        return raggedCross;
    }

    /** The form of the package's decoder, told by its inputs ({@code seqlens_k}) and outputs ({@code new_key_0}). */
    static Form form(ModelPackage pkg) {
        GraphSpec decoder = pkg.graph(ModelPackage.DECODER);
        if (decoder.inputs().stream().anyMatch(i -> i.name().equals("seqlens_k"))) {
            return Form.RAGGED;
        }
        return decoder.outputs().stream().anyMatch(o -> o.name().equals("new_key_0")) ? Form.APPEND : Form.CONCAT;
    }

    ModelPackage pkg() {
        return pkg;
    }

    Form form() {
        return form;
    }

    /**
     * Where row r's next-token logits start in what {@link #decode} returned for rows of
     * {@code t} positions, the row's last at {@code length - 1}.
     */
    int lastLogits(int r, int t, int length) {
        return (lastLogitsOnly ? r : r * t + length - 1) * pkg.vocabSize();
    }

    String[] pastNames() {
        return pastNames;
    }

    String[] kvOutputNames() {
        return kvOutputNames;
    }

    String[] crossNames() {
        return crossNames;
    }

    String[] crossOutputNames() {
        return crossOutputNames;
    }

    /** The cross-attention keys and values of {@code n} encoder outputs [n, source, d_model] into {@code out} [n, heads, source, head_dim]. */
    void crossKv(float[] encoderHidden, int n, int source, TensorBuffers out) throws OrtException {
        int d = pkg.dModel();
        out.ensure(n * pkg.nHeads() * source * pkg.headDim(), 0);
        long[] shape = {n, pkg.nHeads(), source, pkg.headDim()};
        hidden = atLeast(hidden, encoderHidden.length);
        try (Call call = new Call()) {
            for (int i = 0; i < crossNames.length; i++) {
                call.output(crossNames[i], out.tensor(i, shape));
            }
            FloatBuffer h = hidden.duplicate().clear().limit(encoderHidden.length);
            h.put(0, encoderHidden);
            call.input("encoder_hidden_states", OnnxTensor.createTensor(env, h, new long[] {n, source, d}));
            call.own(model.session(ModelPackage.CROSS_KV).run(call.inputs, call.outputs));
        }
    }

    /**
     * Embeds {@code ids} [n, t] at {@code positions} and runs the decoder with the call's other
     * inputs (the key layout, the past, and the cross inputs of encoder-decoder models), writing
     * its key and value outputs where the call binds them. Returns the logits [n, t, vocab]
     * (or [n, 1, vocab], of each row's last position: see {@link #lastLogits}), valid until the
     * next call.
     */
    FloatBuffer decode(Call call, long[] ids, long[] positions, int n, int t) throws OrtException {
        OnnxTensor i = call.own(longs(Scratch.IDS, ids, new long[] {n, t}));
        OnnxTensor p = call.own(longs(Scratch.POSITIONS, positions, new long[] {n, t}));
        OrtSession.Result emb = call.own(model.session(ModelPackage.EMBEDDING).run(Map.of("input_ids", i, "position_ids", p)));
        Map<String, OnnxTensor> in = new HashMap<>(call.inputs);
        in.put("embeddings", (OnnxTensor) emb.get(0));
        int vocab = pkg.vocabSize(), rows = lastLogitsOnly ? 1 : t;
        logits = atLeast(logits, n * rows * vocab);
        Map<String, OnnxTensor> out = new HashMap<>(call.outputs);
        out.put("logits", call.own(TensorBuffers.tensor(logits, new long[] {n, rows, vocab})));
        call.own(model.session(ModelPackage.DECODER).run(in, out));
        return logits;
    }

    /** The key mask [n, mask.length / n] of the mask forms as an input of {@code call}. */
    void keyMask(Call call, long[] mask, int n) throws OrtException {
        call.input("attention_mask", longs(Scratch.MASK, mask, new long[] {n, mask.length / n}));
    }

    /**
     * The key layout of the ragged form as inputs of {@code call}: row r holds
     * {@code seqlensK[r] + 1} keys counting its new one(s), the longest {@code total}.
     */
    void seqLens(Call call, int[] seqlensK, int total) throws OrtException {
        call.input("seqlens_k", ints(Scratch.SEQLENS, seqlensK, new long[] {seqlensK.length}));
        call.input("total_sequence_length", ints(Scratch.TOTAL, new int[] {total}, new long[] {1}));
    }

    /**
     * The source layout of the ragged cross-attention as inputs of {@code call}: row r's source
     * holds {@code lengths[r]} keys, the longest {@code total - 1}.
     */
    void crossLens(Call call, int[] lengths, int total) throws OrtException {
        call.input("cross_seqlens_k", ints(Scratch.CROSS_SEQLENS, lengths, new long[] {lengths.length}));
        call.input("cross_total_sequence_length", ints(Scratch.CROSS_TOTAL, new int[] {total}, new long[] {1}));
    }

    /** The encoder attention mask [n, source] as an input of {@code call}. */
    void encoderMask(Call call, long[] mask, int n, int source) throws OrtException {
        call.input("encoder_attention_mask", longs(Scratch.ENCODER_MASK, mask, n * source, new long[] {n, source}));
    }

    private OnnxTensor longs(Scratch which, long[] data, long[] shape) throws OrtException {
        return longs(which, data, data.length, shape);
    }

    /** A tensor of {@code shape} holding {@code data[0, len)}, in the direct buffer kept for {@code which}. */
    private OnnxTensor longs(Scratch which, long[] data, int len, long[] shape) throws OrtException {
        LongBuffer view = scratch(which, len * Long.BYTES).asLongBuffer();
        view.put(data, 0, len).flip();
        return OnnxTensor.createTensor(env, view, shape);
    }

    /** The direct buffer kept for {@code which}, with room for {@code bytes}. */
    private ByteBuffer scratch(Scratch which, int bytes) {
        ByteBuffer b = scratch[which.ordinal()];
        if (b == null || b.capacity() < bytes) {
            DirectMemory.free(b);
            int cap = b == null ? 0 : b.capacity();
            b = DirectMemory.allocate(Math.max(bytes, cap + cap / 4));
            scratch[which.ordinal()] = b;
        }
        return b;
    }

    private OnnxTensor ints(Scratch which, int[] data, long[] shape) throws OrtException {
        IntBuffer view = scratch(which, data.length * Integer.BYTES).asIntBuffer();
        view.put(data).flip();
        return OnnxTensor.createTensor(env, view, shape);
    }

    private static FloatBuffer atLeast(FloatBuffer buf, int size) {
        return buf.capacity() >= size ? buf : floats(Math.max(size, buf.capacity() + buf.capacity() / 4));
    }

    private static FloatBuffer floats(int n) {
        return DirectMemory.allocateFloats(n).asFloatBuffer();
    }

    @Override
    public void close() {
        for (int i = 0; i < scratch.length; i++) {
            DirectMemory.free(scratch[i]);
            scratch[i] = null;
        }
        logits = floats(0);
        hidden = floats(0);
    }
}
