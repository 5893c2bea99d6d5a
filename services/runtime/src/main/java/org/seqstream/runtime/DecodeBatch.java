package org.seqstream.runtime;

import ai.onnxruntime.OnnxJavaType;
import ai.onnxruntime.OnnxTensor;
import ai.onnxruntime.OrtEnvironment;
import ai.onnxruntime.OrtException;
import ai.onnxruntime.OrtSession;

import java.nio.FloatBuffer;
import java.nio.LongBuffer;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

/**
 * A continuously batched set of decoding sequences with their KV cache in ONNX Runtime tensors.
 * Sequences join with {@link #admit} (their prompt is prefilled and merged into the batch) and
 * leave when they finish; {@link #step} picks every sequence's next token and runs one batched
 * decoder call. The reference {@link Generator} and the pipeline's decoder both decode with it.
 *
 * <p>Batched tensors: past keys and values [rows, heads, past, head_dim], the key mask
 * [rows, past] (padding may sit anywhere, positions are explicit), and for encoder-decoder
 * models the cross-attention keys and values [rows, heads, source, head_dim] with their mask.
 * Each step's {@code present_*} outputs become the next step's {@code past_*} without a copy;
 * copies happen only when sequences join or when finished rows are compacted away.
 */
public final class DecodeBatch implements AutoCloseable {
    /**
     * A sequence to admit. {@code encoderHidden} ([source, d_model], row-major) is required for
     * encoder-decoder models and ignored otherwise; {@code generated} holds tokens produced before
     * (a resumed sequence continues after them, its KV cache rebuilt by prefill).
     */
    public record Sequence(String key, long[] sourceIds, float[] encoderHidden, long[] generated, SamplingParams params) {
    }

    /** What one step did to one sequence: its new token (none when it ended on EOS) and whether it finished. */
    public record Event(String key, int index, long token, boolean hasToken, String finishReason) {
        public boolean finished() {
            return finishReason != null;
        }
    }

    private static final String REMOVED = "removed";

    private final ModelPackage pkg;
    private final TextTokenizer tokenizer;
    private final OnnxModel model;
    private final int vocab;
    private final boolean recordLogits;
    private final OrtEnvironment env = OrtEnvironment.getEnvironment();

    private final List<Row> rows = new ArrayList<>();
    private final List<Row> finishedRows = new ArrayList<>();
    private long[] mask = new long[0];          // [rows, cols]
    private int cols;
    private float[] pending = new float[0];     // [rows, vocab]: logits for each row's next token
    private Map<String, OnnxTensor> past = new HashMap<>();
    private OrtSession.Result pastResult;       // owns `past` when it came from a decoder run
    private Map<String, OnnxTensor> cross = new HashMap<>();
    private OnnxTensor encMask;

    private static final class Row {
        final Sequence seq;
        long[] out;
        int outLen;
        int length;                              // decoder tokens so far = position of the next one
        String finish;
        final List<float[]> logits = new ArrayList<>();

        Row(Sequence seq) {
            this.seq = seq;
            this.out = Arrays.copyOf(seq.generated(), Math.max(seq.generated().length, seq.params().maxNewTokens()));
            this.outLen = seq.generated().length;
        }
    }

    public DecodeBatch(OnnxModel model, boolean recordLogits) {
        this(model, null, recordLogits);
    }

    /** With {@code tokenizer}, sequences with stop strings stop at them. */
    public DecodeBatch(OnnxModel model, TextTokenizer tokenizer, boolean recordLogits) {
        this.tokenizer = tokenizer;
        this.model = model;
        this.pkg = model.pkg();
        this.vocab = pkg.vocabSize();
        this.recordLogits = recordLogits;
    }

    /** Sequences decoding now, finished ones not yet compacted away included. */
    public int size() {
        return (int) rows.stream().filter(r -> r.finish == null).count();
    }

    /** The decoder prompt: {@code <bos>} for encoder-decoder models, {@code <bos> source <sep>} for decoder-only. */
    public static long[] prompt(ModelPackage pkg, long[] sourceIds) {
        SpecialTokens sp = pkg.special();
        if (pkg.isEncoderDecoder()) {
            return new long[] {sp.bos()};
        }
        long[] p = new long[sourceIds.length + 2];
        p[0] = sp.bos();
        System.arraycopy(sourceIds, 0, p, 1, sourceIds.length);
        p[p.length - 1] = sp.sep();
        return p;
    }

    /** Prefills {@code seqs} and adds them to the batch; their first token comes with the next {@link #step}. */
    public void admit(List<Sequence> seqs) {
        if (seqs.isEmpty()) {
            return;
        }
        try {
            admitChecked(seqs);
        } catch (OrtException e) {
            throw new IllegalStateException("ONNX Runtime failed while admitting sequences to " + pkg.name() + ": "
                    + e.getMessage(), e);
        }
    }

    private void admitChecked(List<Sequence> seqs) throws OrtException {
        int n = seqs.size();
        if (pkg.isEncoderDecoder() && seqs.stream().anyMatch(s -> s.encoderHidden() == null)) {
            throw new IllegalArgumentException(pkg.name() + " is an encoder-decoder model: every sequence needs its encoder output");
        }
        long[][] prompts = new long[n][];
        for (int r = 0; r < n; r++) {
            long[] p = prompt(pkg, seqs.get(r).sourceIds());
            long[] g = seqs.get(r).generated();
            prompts[r] = Arrays.copyOf(p, p.length + g.length);
            System.arraycopy(g, 0, prompts[r], p.length, g.length);
        }
        int t = Arrays.stream(prompts).mapToInt(p -> p.length).max().orElseThrow();
        long[] ids = new long[n * t], pos = new long[n * t], m = new long[n * t];
        for (int r = 0; r < n; r++) {
            for (int j = 0; j < prompts[r].length; j++) {
                ids[r * t + j] = prompts[r][j];
                pos[r * t + j] = j;
                m[r * t + j] = 1;
            }
        }
        Map<String, OnnxTensor> newCross = new HashMap<>();
        OnnxTensor newEncMask = null;
        OrtSession.Result crossResult = null;
        List<AutoCloseable> temp = new ArrayList<>();
        try {
            Map<String, OnnxTensor> in = new HashMap<>();
            long[] shape = {n, pkg.nHeads(), 0, pkg.headDim()};
            for (int i = 0; i < pkg.decoderLayers(); i++) {
                in.put("past_key_" + i, keep(temp, OnnxTensor.createTensor(env, FloatBuffer.allocate(0), shape)));
                in.put("past_value_" + i, keep(temp, OnnxTensor.createTensor(env, FloatBuffer.allocate(0), shape)));
            }
            if (pkg.isEncoderDecoder()) {
                int d = pkg.dModel();
                int[] lens = seqs.stream().mapToInt(s -> s.encoderHidden().length / d).toArray();
                int s = Arrays.stream(lens).max().orElseThrow();
                float[] hidden = new float[n * s * d];
                long[] em = new long[n * s];
                for (int r = 0; r < n; r++) {
                    System.arraycopy(seqs.get(r).encoderHidden(), 0, hidden, r * s * d, lens[r] * d);
                    Arrays.fill(em, r * s, r * s + lens[r], 1L);
                }
                try (OnnxTensor h = OnnxTensor.createTensor(env, FloatBuffer.wrap(hidden), new long[] {n, s, d})) {
                    crossResult = model.session(ModelPackage.CROSS_KV).run(Map.of("encoder_hidden_states", h));
                }
                for (var e : crossResult) {
                    newCross.put(e.getKey(), (OnnxTensor) e.getValue());
                }
                newEncMask = OnnxTensor.createTensor(env, LongBuffer.wrap(em), new long[] {n, s});
                in.putAll(newCross);
                in.put("encoder_attention_mask", newEncMask);
            }
            OrtSession.Result result = decode(ids, pos, m, n, t, in, temp);
            float[] logits = logits(result);
            float[] firstLogits = new float[n * vocab];
            for (int r = 0; r < n; r++) {
                System.arraycopy(logits, (r * t + prompts[r].length - 1) * vocab, firstLogits, r * vocab, vocab);
            }
            merge(seqs, prompts, result, m, t, firstLogits, newCross, newEncMask);
        } finally {
            for (AutoCloseable c : temp) {
                close(c);
            }
            if (crossResult != null) {
                crossResult.close();
            }
            if (newEncMask != null) {
                newEncMask.close();
            }
        }
    }

    /** Appends the admitted rows to the batch, padding the key axes to a common length. */
    private void merge(List<Sequence> seqs, long[][] prompts, OrtSession.Result prefill, long[] newMask, int t,
                       float[] firstLogits, Map<String, OnnxTensor> newCross, OnnxTensor newEncMask) throws OrtException {
        int old = rows.size(), n = seqs.size(), c = Math.max(cols, t);
        Map<String, OnnxTensor> merged = new HashMap<>();
        for (int i = 0; i < pkg.decoderLayers(); i++) {
            for (String kind : List.of("key", "value")) {
                OnnxTensor fresh = (OnnxTensor) prefill.get("present_" + kind + "_" + i).orElseThrow();
                merged.put("past_" + kind + "_" + i, concat(past.get("past_" + kind + "_" + i), old, cols, fresh, n, t, c));
            }
        }
        releasePast();
        past = merged;
        prefill.close();
        if (pkg.isEncoderDecoder()) {
            Map<String, OnnxTensor> mergedCross = new HashMap<>();
            int s0 = encMask == null ? 0 : (int) encMask.getInfo().getShape()[1];
            int s1 = (int) newEncMask.getInfo().getShape()[1], s = Math.max(s0, s1);
            for (var e : newCross.entrySet()) {
                mergedCross.put(e.getKey(), concat(cross.get(e.getKey()), old, s0, e.getValue(), n, s1, s));
            }
            OnnxTensor mergedMask = concat(encMask, old, s0, newEncMask, n, s1, s);
            closeCross();
            cross = mergedCross;
            encMask = mergedMask;
        }
        long[] m = new long[(old + n) * c];
        for (int r = 0; r < old; r++) {
            System.arraycopy(mask, r * cols, m, r * c, cols);
        }
        for (int r = 0; r < n; r++) {
            System.arraycopy(newMask, r * t, m, (old + r) * c, t);
        }
        mask = m;
        cols = c;
        pending = Arrays.copyOf(pending, (old + n) * vocab);
        System.arraycopy(firstLogits, 0, pending, old * vocab, n * vocab);
        for (int r = 0; r < n; r++) {
            Row row = new Row(seqs.get(r));
            row.length = prompts[r].length;
            rows.add(row);
        }
    }

    /**
     * Picks every sequence's next token from its pending logits, then runs one batched decoder call
     * for the sequences that go on. Returns one event per sequence that was decoding.
     */
    public List<Event> step() {
        List<Event> events = new ArrayList<>();
        int active = 0;
        for (int r = 0; r < rows.size(); r++) {
            Row row = rows.get(r);
            if (row.finish != null) {
                continue;
            }
            int off = r * vocab;
            if (recordLogits) {
                row.logits.add(Arrays.copyOfRange(pending, off, off + vocab));
            }
            SamplingParams p = row.seq.params();
            int index = row.outLen;
            int tok = Sampler.next(pending, off, vocab, p, index);
            if (tok == pkg.special().eos()) {
                row.finish = Generation.STOP;
                finishedRows.add(row);
                events.add(new Event(row.seq.key(), index, tok, false, Generation.STOP));
                continue;
            }
            row.out[row.outLen++] = tok;
            if (!p.stop().isEmpty() && tokenizer != null && cutAtStop(row)) {
                row.finish = Generation.STOP;
                finishedRows.add(row);
                events.add(new Event(row.seq.key(), index, tok, true, row.finish));
                continue;
            }
            if (row.outLen >= p.maxNewTokens()) {
                row.finish = Generation.LENGTH;
                finishedRows.add(row);
            } else {
                active++;
            }
            events.add(new Event(row.seq.key(), index, tok, true, row.finish));
        }
        try {
            if (active == 0) {
                clear();
            } else {
                if (active * 4 <= rows.size() * 3 || cols > 2 * longestLiveRow() + 16) {
                    compact();
                }
                advance();
            }
        } catch (OrtException e) {
            throw new IllegalStateException("ONNX Runtime failed while decoding with " + pkg.name() + ": "
                    + e.getMessage(), e);
        }
        return events;
    }

    /**
     * Drops the sequences with these keys without finishing them (their owner went away, e.g. a
     * partition moved to another instance); they produce no event and no generation.
     */
    public void remove(java.util.Collection<String> keys) {
        boolean any = false;
        for (Row row : rows) {
            if (row.finish == null && keys.contains(row.seq.key())) {
                row.finish = REMOVED;
                any = true;
            }
        }
        finishedRows.removeIf(row -> keys.contains(row.seq.key()));
        if (any && size() == 0) {
            clear();
        }
    }

    /**
     * Whether the row's text now contains a stop string; if so, its tokens are cut to the longest
     * prefix whose text ends before the stop string.
     */
    private boolean cutAtStop(Row row) {
        String text = tokenizer.decode(Arrays.copyOf(row.out, row.outLen));
        int cut = -1;
        for (String stop : row.seq.params().stop()) {
            int at = text.indexOf(stop);
            if (at >= 0 && (cut < 0 || at < cut)) {
                cut = at;
            }
        }
        if (cut < 0) {
            return false;
        }
        int k = row.outLen;
        while (k > 0 && tokenizer.decode(Arrays.copyOf(row.out, k)).length() > cut) {
            k--;
        }
        row.outLen = k;
        return true;
    }

    /** The sequences that finished since the last call, by key. */
    public Map<String, Generation> takeFinished(TextTokenizer tokenizer) {
        Map<String, Generation> done = new java.util.LinkedHashMap<>();
        for (Row row : finishedRows) {
            long[] ids = Arrays.copyOf(row.out, row.outLen);
            done.put(row.seq.key(), new Generation(ids, tokenizer.decode(ids), row.finish, List.copyOf(row.logits)));
        }
        finishedRows.clear();
        return done;
    }

    /** One decoder call over the last token of every row. */
    private void advance() throws OrtException {
        int n = rows.size();
        long[] ids = new long[n], pos = new long[n];
        long[] grown = new long[n * (cols + 1)];
        for (int r = 0; r < n; r++) {
            Row row = rows.get(r);
            ids[r] = row.finish == null ? row.out[row.outLen - 1] : pkg.special().pad();
            pos[r] = row.length++;
            System.arraycopy(mask, r * cols, grown, r * (cols + 1), cols);
            grown[r * (cols + 1) + cols] = 1;
        }
        mask = grown;
        cols++;
        Map<String, OnnxTensor> in = new HashMap<>(past);
        if (pkg.isEncoderDecoder()) {
            in.putAll(cross);
            in.put("encoder_attention_mask", encMask);
        }
        List<AutoCloseable> temp = new ArrayList<>();
        try {
            OrtSession.Result result = decode(ids, pos, mask, n, 1, in, temp);
            pending = logits(result);
            releasePast();
            pastResult = result;
            for (int i = 0; i < pkg.decoderLayers(); i++) {
                past.put("past_key_" + i, (OnnxTensor) result.get("present_key_" + i).orElseThrow());
                past.put("past_value_" + i, (OnnxTensor) result.get("present_value_" + i).orElseThrow());
            }
        } finally {
            temp.forEach(DecodeBatch::close);
        }
    }

    /** Embeds {@code ids} at {@code pos} and runs the decoder with the other inputs in {@code in}. */
    private OrtSession.Result decode(long[] ids, long[] pos, long[] m, int n, int t, Map<String, OnnxTensor> in,
                                     List<AutoCloseable> temp) throws OrtException {
        OnnxTensor i = keep(temp, OnnxTensor.createTensor(env, LongBuffer.wrap(ids), new long[] {n, t}));
        OnnxTensor p = keep(temp, OnnxTensor.createTensor(env, LongBuffer.wrap(pos), new long[] {n, t}));
        OrtSession.Result emb = keep(temp, model.session(ModelPackage.EMBEDDING).run(Map.of("input_ids", i, "position_ids", p)));
        Map<String, OnnxTensor> all = new HashMap<>(in);
        all.put("embeddings", (OnnxTensor) emb.get(0));
        all.put("attention_mask", keep(temp, OnnxTensor.createTensor(env, LongBuffer.wrap(m), new long[] {n, m.length / n})));
        return model.session(ModelPackage.DECODER).run(all);
    }

    private static float[] logits(OrtSession.Result result) {
        FloatBuffer fb = ((OnnxTensor) result.get("logits").orElseThrow()).getFloatBuffer();
        float[] out = new float[fb.remaining()];
        fb.get(out);
        return out;
    }

    /** Drops finished rows from every batched tensor. */
    private void compact() throws OrtException {
        int[] keep = new int[rows.size()];
        int n = 0;
        for (int r = 0; r < rows.size(); r++) {
            if (rows.get(r).finish == null) {
                keep[n++] = r;
            }
        }
        keep = Arrays.copyOf(keep, n);
        // Key positions that no remaining row attends to (padding, or positions of rows that
        // finished) go too: in a batch that never empties they would otherwise pile up.
        int[] keepCols = new int[cols];
        int k = 0;
        for (int c = 0; c < cols; c++) {
            for (int r : keep) {
                if (mask[r * cols + c] != 0) {
                    keepCols[k++] = c;
                    break;
                }
            }
        }
        keepCols = Arrays.copyOf(keepCols, k);
        Map<String, OnnxTensor> newPast = new HashMap<>();
        for (var e : past.entrySet()) {
            newPast.put(e.getKey(), gather(e.getValue(), keep, keepCols));
        }
        releasePast();
        past = newPast;
        if (pkg.isEncoderDecoder()) {
            Map<String, OnnxTensor> newCross = new HashMap<>();
            for (var e : cross.entrySet()) {
                newCross.put(e.getKey(), gather(e.getValue(), keep));
            }
            OnnxTensor newMask = gather(encMask, keep);
            closeCross();
            cross = newCross;
            encMask = newMask;
        }
        long[] m = new long[n * k];
        float[] pend = new float[n * vocab];
        List<Row> kept = new ArrayList<>();
        for (int i = 0; i < n; i++) {
            for (int j = 0; j < k; j++) {
                m[i * k + j] = mask[keep[i] * cols + keepCols[j]];
            }
            System.arraycopy(pending, keep[i] * vocab, pend, i * vocab, vocab);
            kept.add(rows.get(keep[i]));
        }
        mask = m;
        cols = k;
        pending = pend;
        rows.clear();
        rows.addAll(kept);
    }

    /** Key positions held per row now (the length axis of the KV cache). */
    int keyPositions() {
        return cols;
    }

    /** Key positions the longest decoding row attends to. */
    private int longestLiveRow() {
        int max = 0;
        for (Row row : rows) {
            if (row.finish == null) {
                max = Math.max(max, row.length);
            }
        }
        return max;
    }

    /** Rows {@code keep} and key positions {@code keepCols} of a [rows, heads, positions, dim] tensor. */
    private OnnxTensor gather(OnnxTensor t, int[] keep, int[] keepCols) throws OrtException {
        long[] shape = t.getInfo().getShape().clone();
        int heads = (int) shape[1], len = (int) shape[2], dim = (int) shape[3];
        FloatBuffer src = t.getFloatBuffer();
        FloatBuffer dst = directFloats(keep.length * heads * keepCols.length * dim);
        for (int r : keep) {
            for (int h = 0; h < heads; h++) {
                int base = (r * heads + h) * len;
                for (int c : keepCols) {
                    dst.put(src.slice((base + c) * dim, dim));
                }
            }
        }
        shape[0] = keep.length;
        shape[2] = keepCols.length;
        return OnnxTensor.createTensor(env, dst.rewind(), shape);
    }

    /** Empties the batch: every row has finished. */
    private void clear() {
        rows.clear();
        releasePast();
        closeCross();
        mask = new long[0];
        cols = 0;
        pending = new float[0];
    }

    /** Rows {@code keep} (first axis) of {@code t}, as a new tensor. */
    private OnnxTensor gather(OnnxTensor t, int[] keep) throws OrtException {
        long[] shape = t.getInfo().getShape().clone();
        int rowSize = (int) (Arrays.stream(shape).reduce(1, (a, b) -> a * b) / shape[0]);
        shape[0] = keep.length;
        if (t.getInfo().type == OnnxJavaType.INT64) {
            LongBuffer src = t.getLongBuffer();
            long[] dst = new long[keep.length * rowSize];
            for (int i = 0; i < keep.length; i++) {
                src.position(keep[i] * rowSize);
                src.get(dst, i * rowSize, rowSize);
            }
            return OnnxTensor.createTensor(env, LongBuffer.wrap(dst), shape);
        }
        FloatBuffer src = t.getFloatBuffer();
        FloatBuffer dst = directFloats(keep.length * rowSize);
        for (int i = 0; i < keep.length; i++) {
            dst.put(src.slice(keep[i] * rowSize, rowSize));
        }
        return OnnxTensor.createTensor(env, dst.rewind(), shape);
    }

    /**
     * A native-order direct buffer: ONNX Runtime uses it as the tensor's memory, where a heap
     * array would be copied once more.
     */
    private static FloatBuffer directFloats(int n) {
        return java.nio.ByteBuffer.allocateDirect(n * Float.BYTES).order(java.nio.ByteOrder.nativeOrder()).asFloatBuffer();
    }

    /**
     * Stacks {@code a} ([na, ..., la, ...]) on {@code b} ([nb, ..., lb, ...]) along the first axis,
     * padding the length axis (axis 2 of 4-d tensors, axis 1 of 2-d masks) with zeros to {@code l}.
     */
    private OnnxTensor concat(OnnxTensor a, int na, int la, OnnxTensor b, int nb, int lb, int l) throws OrtException {
        long[] shape = b.getInfo().getShape().clone();
        boolean mask2d = shape.length == 2;
        int heads = mask2d ? 1 : (int) shape[1];
        int inner = mask2d ? 1 : (int) shape[3];
        shape[0] = na + nb;
        shape[mask2d ? 1 : 2] = l;
        if (b.getInfo().type == OnnxJavaType.INT64) {
            long[] dst = new long[(na + nb) * heads * l * inner];
            if (a != null && na > 0) {
                copyRows(a.getLongBuffer(), dst, 0, na, heads, la, inner, l);
            }
            copyRows(b.getLongBuffer(), dst, na, nb, heads, lb, inner, l);
            return OnnxTensor.createTensor(env, LongBuffer.wrap(dst), shape);
        }
        FloatBuffer dst = directFloats((na + nb) * heads * l * inner);
        if (a != null && na > 0) {
            copyRows(a.getFloatBuffer(), dst, 0, na, heads, la, inner, l);
        }
        copyRows(b.getFloatBuffer(), dst, na, nb, heads, lb, inner, l);
        return OnnxTensor.createTensor(env, dst.rewind(), shape);
    }

    private static void copyRows(FloatBuffer src, FloatBuffer dst, int firstRow, int n, int heads, int len, int inner, int l) {
        int chunk = len * inner;
        for (int r = 0; r < n; r++) {
            for (int h = 0; h < heads; h++) {
                dst.put(((firstRow + r) * heads + h) * l * inner, src, (r * heads + h) * chunk, chunk);
            }
        }
    }

    private static void copyRows(LongBuffer src, long[] dst, int firstRow, int n, int heads, int len, int inner, int l) {
        int chunk = len * inner;
        for (int r = 0; r < n; r++) {
            for (int h = 0; h < heads; h++) {
                src.position((r * heads + h) * chunk);
                src.get(dst, ((firstRow + r) * heads + h) * l * inner, chunk);
            }
        }
    }

    private void releasePast() {
        if (pastResult != null) {
            pastResult.close();
            pastResult = null;
        } else {
            past.values().forEach(OnnxTensor::close);
        }
        past = new HashMap<>();
    }

    private void closeCross() {
        cross.values().forEach(OnnxTensor::close);
        cross = new HashMap<>();
        if (encMask != null) {
            encMask.close();
            encMask = null;
        }
    }

    private static <T extends AutoCloseable> T keep(List<AutoCloseable> list, T t) {
        list.add(t);
        return t;
    }

    private static void close(AutoCloseable c) {
        try {
            c.close();
        } catch (Exception ignored) {
            // native memory release; nothing to recover
        }
    }

    @Override
    public void close() {
        releasePast();
        closeCross();
        rows.clear();
    }
}
