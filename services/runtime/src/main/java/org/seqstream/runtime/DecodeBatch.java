package org.seqstream.runtime;

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
 * A continuously batched set of decoding sequences with their KV cache in buffers it owns.
 * Sequences join with {@link #admit} (their prompt is prefilled and written into free slots) and
 * leave when they finish; {@link #step} picks every sequence's next token and runs one batched
 * decoder call. The reference {@link Generator} and the pipeline's decoder both decode with it.
 *
 * <p>Batched tensors, one row per slot: past keys and values [slots, heads, past, head_dim], the
 * key mask [slots, past] (a row's positions may sit anywhere on the key axis: positions are
 * explicit and the mask says which it attends to), and for encoder-decoder models the
 * cross-attention keys and values [slots, heads, source, head_dim] with their mask. A newcomer
 * takes a finished sequence's slot (or one more at the end) and only its row is written; the
 * running rows move only when finished rows are compacted away or the key axis is resized.
 *
 * <p>Two decoder forms are served, told apart by the graph's outputs. A decoder that returns
 * {@code new_key_i}/{@code new_value_i} (the keys and values of the positions it was given) has
 * its cache appended to in place: the key axis is a capacity with free positions at every row's
 * end, each step's new keys and values are written into them, and the cache is only read by the
 * decoder, never copied (the axis is resized, with one copy, every {@value #APPEND_SLACK}
 * positions or so). A decoder that returns {@code present_key_i}/{@code present_value_i} (past and
 * new together) writes them into a second set of buffers (pinned outputs), which becomes the
 * past of the next step: that form copies the whole cache at every step.
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
    /** Append form: free key positions a resize leaves at the end of the longest row. */
    static final int APPEND_SLACK = 16;
    /** Prefill groups: the shortest prompt of a group is at least this share of its longest. */
    static final int PREFILL_SPREAD_PERCENT = 75;

    private final ModelPackage pkg;
    private final TextTokenizer tokenizer;
    private final OnnxModel model;
    private final int vocab;
    private final int heads;
    private final int headDim;
    private final boolean recordLogits;
    /** The decoder returns only the new positions' keys and values, appended here to the cache. */
    private final boolean append;
    private final OrtEnvironment env = OrtEnvironment.getEnvironment();

    /** One row per slot of the batched tensors; a slot whose row has finished is free for a newcomer. */
    private final List<Row> rows = new ArrayList<>();
    private final List<Row> finishedRows = new ArrayList<>();
    private long[] mask = new long[0];          // [slots, cols]: which key positions each row attends to
    private int cols;
    private float[] pending = new float[0];     // [slots, vocab]: logits for each row's next token
    /**
     * The KV cache, [slots, heads, cols, head_dim] per layer's keys and values, in direct buffers
     * of this batch: ONNX Runtime reads the past from {@code kv} and writes the present straight
     * into {@code spare} (pinned outputs), then the two swap. Nothing is copied through the Java
     * heap, and the buffers are reused from step to step.
     */
    private Buffers kv;
    private Buffers spare;
    /** Append form: each step's new keys and values [slots, heads, 1, head_dim], before they go into {@code kv}. */
    private final Buffers fresh;
    private final String[] pastNames;
    /** The decoder's key and value outputs: {@code new_*} in the append form, else {@code present_*}. */
    private final String[] presentNames;
    /** Encoder-decoder models: cross-attention keys and values [slots, heads, source, head_dim], and their mask. */
    private Buffers cross;
    private Buffers crossSpare;                 // the newcomers' cross-attention keys and values; compaction's target
    private Buffers crossWide;                  // the target when a longer source widens the running rows
    private final String[] crossNames;
    private long[] encMask = new long[0];       // [slots, source]
    private int source;
    private FloatBuffer logitsBuffer = directFloats(0);
    private FloatBuffer prefillLogits = directFloats(0);
    private FloatBuffer hiddenScratch = directFloats(0);
    private static final int IDS = 0, POS = 1, MASK = 2, ENC_MASK = 3;
    private final java.nio.ByteBuffer[] longScratch = new java.nio.ByteBuffer[4];

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

    /**
     * Direct float buffers, one per named tensor, grown on demand and kept for reuse; a buffer
     * that is outgrown is freed at once (no tensor uses it between decoder calls).
     */
    private static final class Buffers {
        final FloatBuffer[] bufs;
        private final java.nio.ByteBuffer[] bytes;

        Buffers(int count) {
            bufs = new FloatBuffer[count];
            bytes = new java.nio.ByteBuffer[count];
            free();
        }

        /** Room for {@code floats} in each buffer, keeping the first {@code keep} floats. */
        void ensure(int floats, int keep) {
            for (int i = 0; i < bufs.length; i++) {
                if (bufs[i].capacity() < floats) {
                    java.nio.ByteBuffer b = DirectMemory.allocateFloats(Math.max(floats, bufs[i].capacity() + bufs[i].capacity() / 8));
                    FloatBuffer grown = b.asFloatBuffer();
                    if (keep > 0) {
                        grown.put(0, bufs[i], 0, keep);
                    }
                    DirectMemory.free(bytes[i]);
                    bytes[i] = b;
                    bufs[i] = grown;
                }
            }
        }

        void free() {
            for (int i = 0; i < bufs.length; i++) {
                DirectMemory.free(bytes[i]);
                bytes[i] = null;
                bufs[i] = directFloats(0);
            }
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
        this.heads = pkg.nHeads();
        this.headDim = pkg.headDim();
        this.recordLogits = recordLogits;
        int layers = pkg.decoderLayers();
        this.append = appendsToCache(pkg);
        String outPrefix = append ? "new_" : "present_";
        pastNames = new String[2 * layers];
        presentNames = new String[2 * layers];
        crossNames = new String[2 * layers];
        for (int i = 0; i < layers; i++) {
            pastNames[2 * i] = "past_key_" + i;
            pastNames[2 * i + 1] = "past_value_" + i;
            presentNames[2 * i] = outPrefix + "key_" + i;
            presentNames[2 * i + 1] = outPrefix + "value_" + i;
            crossNames[2 * i] = "cross_key_" + i;
            crossNames[2 * i + 1] = "cross_value_" + i;
        }
        kv = new Buffers(2 * layers);
        spare = new Buffers(2 * layers);
        fresh = new Buffers(append ? 2 * layers : 0);
        cross = new Buffers(pkg.isEncoderDecoder() ? 2 * layers : 0);
        crossSpare = new Buffers(pkg.isEncoderDecoder() ? 2 * layers : 0);
        crossWide = new Buffers(pkg.isEncoderDecoder() ? 2 * layers : 0);
    }

    /**
     * Whether the package's decoder returns only the new positions' keys and values
     * ({@code new_key_0}) rather than past and new together ({@code present_key_0}).
     */
    public static boolean appendsToCache(ModelPackage pkg) {
        return pkg.graph(ModelPackage.DECODER).outputs().stream().anyMatch(o -> o.name().equals("new_key_0"));
    }

    /** Sequences decoding now, finished ones not yet compacted away included. */
    public int size() {
        int n = 0;
        for (Row row : rows) {
            n += row.finish == null ? 1 : 0;
        }
        return n;
    }

    /** The decoder prompt: {@code <bos>} for encoder-decoder models, {@code <bos> source <sep>} for decoder-only. */
    public static long[] prompt(ModelPackage pkg, long[] sourceIds) {
        SpecialTokens sp = pkg.special();
        if (pkg.isEncoderDecoder()) {
            return new long[] {sp.bos()};
        }
        long[] p = new long[promptLength(pkg, sourceIds.length)];
        p[0] = sp.bos();
        System.arraycopy(sourceIds, 0, p, 1, sourceIds.length);
        p[p.length - 1] = sp.sep();
        return p;
    }

    /** Length of the {@link #prompt} of a source of {@code sourceLength} tokens. */
    public static int promptLength(ModelPackage pkg, int sourceLength) {
        return pkg.isEncoderDecoder() ? 1 : sourceLength + 2;
    }

    /**
     * Prefills {@code seqs} and adds them to the batch, into the slots of finished sequences first;
     * their first token comes with the next {@link #step}. Only the newcomers' rows are written:
     * the running sequences' KV cache stays where it is.
     */
    public void admit(List<Sequence> seqs) {
        if (seqs.isEmpty()) {
            return;
        }
        if (pkg.isEncoderDecoder() && seqs.stream().anyMatch(s -> s.encoderHidden() == null)) {
            throw new IllegalArgumentException(pkg.name() + " is an encoder-decoder model: every sequence needs its encoder output");
        }
        try {
            for (List<Sequence> group : prefillGroups(pkg, seqs)) {
                admitChecked(group);
            }
        } catch (OrtException e) {
            throw new IllegalStateException("ONNX Runtime failed while admitting sequences to " + pkg.name() + ": "
                    + e.getMessage(), e);
        }
    }

    /**
     * Newcomers in groups of similar prompt length, longest first: a prefill pads every prompt of
     * its group to the longest, so prompts of 20 and 98 tokens (decoder-only prompts hold the
     * source) would otherwise cost the short one as much as the long one. A group takes prompts
     * down to {@value #PREFILL_SPREAD_PERCENT}% of its longest.
     */
    static List<List<Sequence>> prefillGroups(ModelPackage pkg, List<Sequence> seqs) {
        List<Sequence> sorted = new ArrayList<>(seqs);
        java.util.function.ToIntFunction<Sequence> len = q -> promptLength(pkg, q.sourceIds().length) + q.generated().length;
        sorted.sort(java.util.Comparator.comparingInt(len).reversed());
        List<List<Sequence>> groups = new ArrayList<>();
        List<Sequence> group = new ArrayList<>();
        int longest = 0;
        for (Sequence q : sorted) {
            if (!group.isEmpty() && len.applyAsInt(q) * 100 < longest * PREFILL_SPREAD_PERCENT) {
                groups.add(group);
                group = new ArrayList<>();
            }
            if (group.isEmpty()) {
                longest = len.applyAsInt(q);
            }
            group.add(q);
        }
        groups.add(group);
        return groups;
    }

    private void admitChecked(List<Sequence> seqs) throws OrtException {
        int n = seqs.size();
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
        List<AutoCloseable> temp = new ArrayList<>();
        try {
            Map<String, OnnxTensor> in = new HashMap<>();
            long[] empty = {n, heads, 0, headDim};
            for (String name : pastNames) {
                in.put(name, keep(temp, OnnxTensor.createTensor(env, FloatBuffer.allocate(0), empty)));
            }
            int s1 = 0;
            float[] newCross = null;
            long[] newEncMask = null;
            if (pkg.isEncoderDecoder()) {
                int d = pkg.dModel();
                int[] lens = seqs.stream().mapToInt(s -> s.encoderHidden().length / d).toArray();
                s1 = Arrays.stream(lens).max().orElseThrow();
                float[] hidden = new float[n * s1 * d];
                newEncMask = new long[n * s1];
                for (int r = 0; r < n; r++) {
                    System.arraycopy(seqs.get(r).encoderHidden(), 0, hidden, r * s1 * d, lens[r] * d);
                    Arrays.fill(newEncMask, r * s1, r * s1 + lens[r], 1L);
                }
                // the newcomers' cross-attention keys and values land in crossSpare, then get their slots
                long[] crossShape = {n, heads, s1, headDim};
                crossSpare.ensure(n * heads * s1 * headDim, 0);
                Map<String, OnnxTensor> crossOut = new HashMap<>();
                for (int i = 0; i < crossNames.length; i++) {
                    crossOut.put(crossNames[i], keep(temp, tensor(crossSpare.bufs[i], crossShape)));
                }
                hiddenScratch = atLeast(hiddenScratch, hidden.length);
                FloatBuffer hb = hiddenScratch.duplicate().clear().limit(hidden.length);
                hb.put(0, hidden);
                try (OnnxTensor h = OnnxTensor.createTensor(env, hb, new long[] {n, s1, d});
                     OrtSession.Result ignored = model.session(ModelPackage.CROSS_KV).run(Map.of("encoder_hidden_states", h), crossOut)) {
                    in.putAll(crossOut);
                }
                in.put("encoder_attention_mask", keep(temp, longTensor(ENC_MASK, newEncMask, n * s1, new long[] {n, s1})));
            }
            if (t > cols && !rows.isEmpty()) {
                widen(t + slack());
            }
            // the prompts' KV cache goes to the spare buffers, free until the next step
            spare.ensure(n * heads * t * headDim, 0);
            prefillLogits = atLeast(prefillLogits, n * t * vocab);
            Map<String, OnnxTensor> out = new HashMap<>();
            long[] presentShape = {n, heads, t, headDim};
            for (int i = 0; i < presentNames.length; i++) {
                out.put(presentNames[i], keep(temp, tensor(spare.bufs[i], presentShape)));
            }
            out.put("logits", keep(temp, tensor(prefillLogits, new long[] {n, t, vocab})));
            keep(temp, decode(ids, pos, m, n, t, in, out, temp));
            place(seqs, prompts, t, prefillLogits, s1, newEncMask);
        } finally {
            for (AutoCloseable c : temp) {
                close(c);
            }
        }
    }

    /**
     * Gives each prefilled newcomer (its KV cache in {@code spare}) a slot: a finished sequence's,
     * else a new one at the end. The key axis is at least {@code t} long by now.
     */
    private void place(List<Sequence> seqs, long[][] prompts, int t, FloatBuffer firstLogits, int s1, long[] newEncMask) {
        int n = seqs.size(), old = rows.size();
        int[] slot = new int[n];
        int next = 0;
        for (int r = 0; r < old && next < n; r++) {
            if (rows.get(r).finish != null) {
                slot[next++] = r;
            }
        }
        int slots = old;
        while (next < n) {
            slot[next++] = slots++;
        }
        int c = Math.max(cols, rows.isEmpty() ? t + slack() : t);
        int stride = heads * c * headDim;
        kv.ensure(slots * stride, old * stride);
        long[] m = mask;
        if (c != cols || slots != old) {
            m = new long[slots * c];
            for (int r = 0; r < old; r++) {
                System.arraycopy(mask, r * cols, m, r * c, cols);
            }
        }
        for (int r = 0; r < n; r++) {
            int s = slot[r], len = prompts[r].length;
            for (int i = 0; i < kv.bufs.length; i++) {
                FloatBuffer src = spare.bufs[i], dst = kv.bufs[i];
                for (int h = 0; h < heads; h++) {
                    dst.put(((s * heads + h) * c) * headDim, src, ((r * heads + h) * t) * headDim, len * headDim);
                }
            }
            Arrays.fill(m, s * c, s * c + len, 1L);
            Arrays.fill(m, s * c + len, (s + 1) * c, 0L);
        }
        mask = m;
        cols = c;
        if (pkg.isEncoderDecoder()) {
            placeCross(slot, old, slots, s1, newEncMask);
        }
        pending = slots == old ? pending : Arrays.copyOf(pending, slots * vocab);
        for (int r = 0; r < n; r++) {
            firstLogits.get((r * t + prompts[r].length - 1) * vocab, pending, slot[r] * vocab, vocab);
            Row row = new Row(seqs.get(r));
            row.length = prompts[r].length;
            if (slot[r] < rows.size()) {
                rows.set(slot[r], row);
            } else {
                rows.add(row);
            }
        }
    }

    /** The newcomers' cross-attention keys, values and mask (in crossSpare and newEncMask) into their slots. */
    private void placeCross(int[] slot, int old, int slots, int s1, long[] newEncMask) {
        int s = Math.max(source, s1);
        Buffers target = cross;
        if (s > source && old > 0) {
            // a longer source: every running row moves to the wider layout
            target = widen(cross, crossWide, old, source, s);
            crossWide = cross;
        }
        target.ensure(slots * heads * s * headDim, old * heads * s * headDim);
        long[] em = encMask;
        if (s != source || slots != old) {
            em = new long[slots * s];
            for (int r = 0; r < old; r++) {
                System.arraycopy(encMask, r * source, em, r * s, source);
            }
        }
        for (int r = 0; r < slot.length; r++) {
            int dst = slot[r];
            for (int i = 0; i < target.bufs.length; i++) {
                for (int h = 0; h < heads; h++) {
                    target.bufs[i].put(((dst * heads + h) * s) * headDim, crossSpare.bufs[i], ((r * heads + h) * s1) * headDim,
                            s1 * headDim);
                }
            }
            System.arraycopy(newEncMask, r * s1, em, dst * s, s1);
            Arrays.fill(em, dst * s + s1, (dst + 1) * s, 0L);
        }
        cross = target;
        encMask = em;
        source = s;
    }

    /** A prompt longer than the key axis: every running row moves to a key axis of {@code c} positions. */
    private void widen(int c) {
        int n = rows.size();
        Buffers wide = widen(kv, spare, n, cols, c);
        spare = kv;
        kv = wide;
        long[] m = new long[n * c];
        for (int r = 0; r < n; r++) {
            System.arraycopy(mask, r * cols, m, r * c, cols);
        }
        mask = m;
        cols = c;
    }

    /** {@code from}'s first {@code n} rows with {@code c0} key positions, laid out with {@code c1} in {@code to}. */
    private Buffers widen(Buffers from, Buffers to, int n, int c0, int c1) {
        to.ensure(n * heads * c1 * headDim, 0);
        for (int i = 0; i < from.bufs.length; i++) {
            for (int r = 0; r < n; r++) {
                for (int h = 0; h < heads; h++) {
                    to.bufs[i].put(((r * heads + h) * c1) * headDim, from.bufs[i], ((r * heads + h) * c0) * headDim, c0 * headDim);
                }
            }
        }
        return to;
    }

    /**
     * Picks every sequence's next token from its pending logits, then runs one batched decoder call
     * for the sequences that go on. Returns one event per sequence that was decoding.
     */
    public List<Event> step() {
        // Slots freed before this step and not taken by newcomers since: drop them once they are a
        // quarter of the batch (each costs a row of computation per step), and pack the key axis
        // once it is 16 positions longer than the longest row needs: every row holds the whole
        // axis, twice over (past and present), and packing costs one copy of the cache.
        // In the append form the axis has free positions at the end of every row: it is packed
        // down once it has twice the slack a resize leaves.
        int live = size();
        if (live > 0 && (live * 4 <= rows.size() * 3 || cols > longestLiveRow() + (append ? 2 * APPEND_SLACK : 16))) {
            compact();
        }
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
            } else if (append) {
                advanceAppending();
            } else {
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

    /** One decoder call over the last token of every row; the present lands in {@code spare}, which becomes the past. */
    private void advance() throws OrtException {
        int n = rows.size(), c = cols + 1;
        spare.ensure(n * heads * c * headDim, 0);
        long[] grown = decodeLastTokens(spare, new long[] {n, heads, c, headDim});
        for (Row row : rows) {
            row.length += row.finish == null ? 1 : 0;
        }
        Buffers past = kv;
        kv = spare;
        spare = past;
        mask = grown;
        cols = c;
    }

    /**
     * Append form: one decoder call over the last token of every row, attending to the cache as it
     * stands; the new keys and values land in {@code fresh} and are written into each row's next
     * free position. The key axis is widened first when the longest row has no free position.
     */
    private void advanceAppending() throws OrtException {
        int longest = longestLiveRow();
        if (longest >= cols) {
            widen(longest + APPEND_SLACK);
        }
        int n = rows.size();
        fresh.ensure(n * heads * headDim, 0);
        decodeLastTokens(fresh, new long[] {n, heads, 1, headDim});
        // a row's positions are contiguous from the start of its axis: the next free one is its length
        for (int r = 0; r < n; r++) {
            Row row = rows.get(r);
            if (row.finish != null) {
                continue;
            }
            int col = row.length++;
            for (int i = 0; i < kv.bufs.length; i++) {
                FloatBuffer src = fresh.bufs[i], dst = kv.bufs[i];
                for (int h = 0; h < heads; h++) {
                    dst.put(((r * heads + h) * cols + col) * headDim, src, (r * heads + h) * headDim, headDim);
                }
            }
            mask[r * cols + col] = 1;
        }
    }

    /**
     * One decoder call over the last token of every row (free slots compute a pad token, never
     * read) at its next position, attending to the cache in {@code kv} and to itself; the key and
     * value outputs, of {@code outShape}, go into {@code outputs}, the logits into
     * {@code pending}. Returns the key mask of the call: the batch's, plus the new position.
     */
    private long[] decodeLastTokens(Buffers outputs, long[] outShape) throws OrtException {
        int n = rows.size(), c = cols + 1;
        long[] ids = new long[n], pos = new long[n];
        long[] withNew = new long[n * c];
        for (int r = 0; r < n; r++) {
            Row row = rows.get(r);
            if (row.finish == null) {
                ids[r] = row.out[row.outLen - 1];
                pos[r] = row.length;
            } else {
                ids[r] = pkg.special().pad();
            }
            System.arraycopy(mask, r * cols, withNew, r * c, cols);
            withNew[r * c + cols] = 1;
        }
        List<AutoCloseable> temp = new ArrayList<>();
        try {
            Map<String, OnnxTensor> in = new HashMap<>();
            Map<String, OnnxTensor> out = new HashMap<>();
            long[] pastShape = {n, heads, cols, headDim};
            for (int i = 0; i < pastNames.length; i++) {
                in.put(pastNames[i], keep(temp, tensor(kv.bufs[i], pastShape)));
                out.put(presentNames[i], keep(temp, tensor(outputs.bufs[i], outShape)));
            }
            addCross(in, n, temp);
            logitsBuffer = atLeast(logitsBuffer, n * vocab);
            out.put("logits", keep(temp, tensor(logitsBuffer, new long[] {n, 1, vocab})));
            keep(temp, decode(ids, pos, withNew, n, 1, in, out, temp));
            if (pending.length != n * vocab) {
                pending = new float[n * vocab];
            }
            logitsBuffer.get(0, pending, 0, n * vocab);
        } finally {
            temp.forEach(DecodeBatch::close);
        }
        return withNew;
    }

    /** Free key positions left at the end of the axis when it is laid out anew: some in the append form, none otherwise. */
    private int slack() {
        return append ? APPEND_SLACK : 0;
    }

    /** The cross-attention inputs of encoder-decoder models, over the batch's {@code n} slots. */
    private void addCross(Map<String, OnnxTensor> in, int n, List<AutoCloseable> temp) throws OrtException {
        if (!pkg.isEncoderDecoder()) {
            return;
        }
        long[] shape = {n, heads, source, headDim};
        for (int i = 0; i < crossNames.length; i++) {
            in.put(crossNames[i], keep(temp, tensor(cross.bufs[i], shape)));
        }
        in.put("encoder_attention_mask", keep(temp, longTensor(ENC_MASK, encMask, n * source, new long[] {n, source})));
    }

    /**
     * Embeds {@code ids} at {@code pos} and runs the decoder with the other inputs in {@code in},
     * writing its outputs into the tensors of {@code out}.
     */
    private OrtSession.Result decode(long[] ids, long[] pos, long[] m, int n, int t, Map<String, OnnxTensor> in,
                                     Map<String, OnnxTensor> out, List<AutoCloseable> temp) throws OrtException {
        OnnxTensor i = keep(temp, longTensor(IDS, ids, ids.length, new long[] {n, t}));
        OnnxTensor p = keep(temp, longTensor(POS, pos, pos.length, new long[] {n, t}));
        OrtSession.Result emb = keep(temp, model.session(ModelPackage.EMBEDDING).run(Map.of("input_ids", i, "position_ids", p)));
        Map<String, OnnxTensor> all = new HashMap<>(in);
        all.put("embeddings", (OnnxTensor) emb.get(0));
        all.put("attention_mask", keep(temp, longTensor(MASK, m, m.length, new long[] {n, m.length / n})));
        return model.session(ModelPackage.DECODER).run(all, out);
    }

    /**
     * A tensor of {@code shape} holding {@code data[0, len)}, in a direct buffer kept for the
     * purpose: ONNX Runtime copies a heap array into a new direct buffer of its own, which would
     * hold native memory until the next garbage collection, at every step.
     */
    private OnnxTensor longTensor(int which, long[] data, int len, long[] shape) throws OrtException {
        java.nio.ByteBuffer b = longScratch[which];
        if (b == null || b.capacity() < len * Long.BYTES) {
            DirectMemory.free(b);
            int cap = b == null ? 0 : b.capacity();
            b = DirectMemory.allocate(Math.max(len * Long.BYTES, cap + cap / 4));
            longScratch[which] = b;
        }
        LongBuffer view = b.asLongBuffer();
        view.put(data, 0, len).flip();
        return OnnxTensor.createTensor(env, view, shape);
    }

    /** A tensor of {@code shape} over the start of {@code buf} (no copy: ONNX Runtime uses the buffer's memory). */
    private OnnxTensor tensor(FloatBuffer buf, long[] shape) throws OrtException {
        long size = 1;
        for (long d : shape) {
            size *= d;
        }
        return OnnxTensor.createTensor(env, buf.duplicate().clear().limit((int) size), shape);
    }

    /**
     * Drops finished rows, and packs each remaining row's key positions to the front of a key axis
     * as long as its longest row: rows that joined later have holes where they attended to
     * nothing, and in a batch that never empties the axis would otherwise grow with every step.
     */
    private void compact() {
        int[] keep = new int[rows.size()];
        int n = 0;
        for (int r = 0; r < rows.size(); r++) {
            if (rows.get(r).finish == null) {
                keep[n++] = r;
            }
        }
        keep = Arrays.copyOf(keep, n);
        // each kept row's runs of attended positions: [start, length] pairs
        int[][] runs = new int[n][];
        int c = 0;
        for (int i = 0; i < n; i++) {
            int base = keep[i] * cols, count = 0, k = 0;
            int[] rr = new int[2 * cols];
            for (int j = 0; j < cols; ) {
                if (mask[base + j] == 0) {
                    j++;
                    continue;
                }
                int from = j;
                while (j < cols && mask[base + j] != 0) {
                    j++;
                }
                rr[k++] = from;
                rr[k++] = j - from;
                count += j - from;
            }
            runs[i] = Arrays.copyOf(rr, k);
            c = Math.max(c, count);
        }
        c += slack();
        spare.ensure(n * heads * c * headDim, 0);
        for (int b = 0; b < kv.bufs.length; b++) {
            FloatBuffer src = kv.bufs[b], dst = spare.bufs[b];
            for (int i = 0; i < n; i++) {
                for (int h = 0; h < heads; h++) {
                    int from = (keep[i] * heads + h) * cols, to = (i * heads + h) * c;
                    for (int k = 0; k < runs[i].length; k += 2) {
                        dst.put(to * headDim, src, (from + runs[i][k]) * headDim, runs[i][k + 1] * headDim);
                        to += runs[i][k + 1];
                    }
                }
            }
        }
        Buffers old = kv;
        kv = spare;
        spare = old;
        long[] m = new long[n * c];
        float[] pend = new float[n * vocab];
        List<Row> kept = new ArrayList<>();
        for (int i = 0; i < n; i++) {
            int count = 0;
            for (int k = 1; k < runs[i].length; k += 2) {
                count += runs[i][k];
            }
            Arrays.fill(m, i * c, i * c + count, 1L);
            System.arraycopy(pending, keep[i] * vocab, pend, i * vocab, vocab);
            kept.add(rows.get(keep[i]));
        }
        if (pkg.isEncoderDecoder()) {
            int rowSize = heads * source * headDim;
            crossSpare.ensure(n * rowSize, 0);
            long[] em = new long[n * source];
            for (int b = 0; b < cross.bufs.length; b++) {
                for (int i = 0; i < n; i++) {
                    crossSpare.bufs[b].put(i * rowSize, cross.bufs[b], keep[i] * rowSize, rowSize);
                }
            }
            for (int i = 0; i < n; i++) {
                System.arraycopy(encMask, keep[i] * source, em, i * source, source);
            }
            Buffers oldCross = cross;
            cross = crossSpare;
            crossSpare = oldCross;
            encMask = em;
        }
        mask = m;
        cols = c;
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

    /** Empties the batch: every row has finished. The buffers stay for the next sequences. */
    private void clear() {
        rows.clear();
        mask = new long[0];
        cols = 0;
        encMask = new long[0];
        source = 0;
        pending = new float[0];
    }

    private static FloatBuffer atLeast(FloatBuffer buf, int floats) {
        return buf.capacity() >= floats ? buf : directFloats(Math.max(floats, buf.capacity() + buf.capacity() / 4));
    }

    /** A native-order direct buffer: ONNX Runtime uses it as a tensor's memory without copying it. */
    private static FloatBuffer directFloats(int n) {
        return DirectMemory.allocateFloats(n).asFloatBuffer();
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

    /** Empties the batch and lets go of its buffers (freed with their last reference). */
    @Override
    public void close() {
        clear();
        finishedRows.clear();
        for (Buffers b : List.of(kv, spare, fresh, cross, crossSpare, crossWide)) {
            b.free();
        }
        logitsBuffer = directFloats(0);
        prefillLogits = directFloats(0);
        hiddenScratch = directFloats(0);
        for (int i = 0; i < longScratch.length; i++) {
            DirectMemory.free(longScratch[i]);
            longScratch[i] = null;
        }
    }
}
