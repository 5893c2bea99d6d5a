package org.seqstream.runtime;

import ai.onnxruntime.OnnxTensor;
import ai.onnxruntime.OnnxValue;
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
 * The reference generator: batched, KV-cached autoregressive decoding with the package's ONNX
 * graphs. Every request of a batch has its own parameters; greedy or sampled, it stops at the
 * end-of-sequence token or at its max_new_tokens. What this class generates is what the
 * pipeline's decoder must generate.
 *
 * <p>The KV cache stays in ONNX Runtime tensors: each step's {@code present_*} outputs are the
 * next step's {@code past_*} inputs without a copy. When a quarter of the rows have finished,
 * the batch is compacted so finished rows stop costing compute.
 */
public final class Generator {
    /** One sequence to generate: source token ids (from {@link TextTokenizer#encode}) and its parameters. */
    public record Request(long[] sourceIds, SamplingParams params) {
    }

    private final OnnxModel model;
    private final ModelPackage pkg;
    private final TextTokenizer tokenizer;
    private final boolean recordLogits;
    private final OrtEnvironment env = OrtEnvironment.getEnvironment();

    public Generator(OnnxModel model, TextTokenizer tokenizer) {
        this(model, tokenizer, false);
    }

    /** With {@code recordLogits}, every {@link Generation} carries the logits of each of its steps. */
    public Generator(OnnxModel model, TextTokenizer tokenizer, boolean recordLogits) {
        this.model = model;
        this.pkg = model.pkg();
        this.tokenizer = tokenizer;
        this.recordLogits = recordLogits;
    }

    /** The decoder prompt: {@code <bos>} for encoder-decoder models, {@code <bos> source <sep>} for decoder-only. */
    public long[] prompt(long[] sourceIds) {
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

    /** Checks a request's parameters and that it fits the model's positions; throws {@link InputException}. */
    public void check(Request r) {
        checkFits(pkg, r.sourceIds().length, r.params());
    }

    /** {@link #check} for a source of {@code sourceLength} tokens, without a generator at hand. */
    public static void checkFits(ModelPackage pkg, int sourceLength, SamplingParams p) {
        p.validate(pkg);
        int prompt = pkg.isEncoderDecoder() ? 1 : sourceLength + 2;
        if (prompt + p.maxNewTokens() > pkg.maxPositions() || sourceLength > pkg.maxPositions()) {
            throw new InputException(InputException.INPUT_TOO_LONG, "input of " + sourceLength
                    + " tokens plus max_new_tokens " + p.maxNewTokens() + " exceeds the " + pkg.maxPositions()
                    + " positions of " + pkg.name());
        }
    }

    /** Generates every request of {@code batch} together; results in request order. */
    public List<Generation> generate(List<Request> batch) {
        if (batch.isEmpty()) {
            return List.of();
        }
        batch.forEach(this::check);
        try (Run run = new Run(batch)) {
            return run.generate();
        } catch (OrtException e) {
            throw new IllegalStateException("ONNX Runtime failed while generating with " + pkg.name() + ": "
                    + e.getMessage(), e);
        }
    }

    /** The state of one batch while it decodes. Rows are compacted as sequences finish. */
    private final class Run implements AutoCloseable {
        final List<Request> requests;
        final int vocab = pkg.vocabSize();
        final long[][] out;          // generated ids per request
        final int[] outLen;
        final String[] finish;
        final List<List<float[]>> logitsLog = new ArrayList<>();

        int[] rowRequest;            // request index of each row
        int[] length;                // real decoder tokens of each row so far = next position
        long[] mask;                 // [rows, cols] key mask over past + current tokens
        int cols;
        Map<String, OnnxTensor> past = new HashMap<>();
        Map<String, OnnxTensor> cross = new HashMap<>();
        OnnxTensor encMask;
        final List<AutoCloseable> owned = new ArrayList<>();
        OrtSession.Result pastResult; // holds the current past tensors when they come from a run

        Run(List<Request> requests) {
            this.requests = requests;
            int n = requests.size();
            out = new long[n][];
            outLen = new int[n];
            finish = new String[n];
            for (int i = 0; i < n; i++) {
                out[i] = new long[requests.get(i).params().maxNewTokens()];
                logitsLog.add(new ArrayList<>());
            }
            rowRequest = new int[n];
            Arrays.setAll(rowRequest, i -> i);
        }

        List<Generation> generate() throws OrtException {
            int rows = requests.size();
            if (pkg.isEncoderDecoder()) {
                encode();
            }
            long[][] prompts = new long[rows][];
            for (int r = 0; r < rows; r++) {
                prompts[r] = prompt(requests.get(r).sourceIds());
            }
            int t = Arrays.stream(prompts).mapToInt(p -> p.length).max().orElseThrow();
            long[] ids = new long[rows * t];
            long[] pos = new long[rows * t];
            length = new int[rows];
            cols = t;
            mask = new long[rows * t];
            for (int r = 0; r < rows; r++) {
                for (int j = 0; j < prompts[r].length; j++) {
                    ids[r * t + j] = prompts[r][j];
                    pos[r * t + j] = j;
                    mask[r * t + j] = 1;
                }
                length[r] = prompts[r].length;
            }
            emptyPast(rows);
            float[] logits = decode(ids, pos, rows, t);
            int[] lastIndex = new int[rows];
            for (int r = 0; r < rows; r++) {
                lastIndex[r] = length[r] - 1;
            }
            while (true) {
                int active = choose(logits, t, lastIndex);
                if (active == 0) {
                    break;
                }
                if (active < rowRequest.length && active * 4 <= rowRequest.length * 3) {
                    compact();
                }
                rows = rowRequest.length;
                t = 1;
                ids = new long[rows];
                pos = new long[rows];
                lastIndex = new int[rows];
                long[] grown = new long[rows * (cols + 1)];
                for (int r = 0; r < rows; r++) {
                    int q = rowRequest[r];
                    ids[r] = finish[q] == null ? out[q][outLen[q] - 1] : pkg.special().pad();
                    pos[r] = length[r]++;
                    System.arraycopy(mask, r * cols, grown, r * (cols + 1), cols);
                    grown[r * (cols + 1) + cols] = 1;
                }
                mask = grown;
                cols++;
                logits = decode(ids, pos, rows, t);
            }
            List<Generation> result = new ArrayList<>(requests.size());
            for (int q = 0; q < requests.size(); q++) {
                long[] ids_ = Arrays.copyOf(out[q], outLen[q]);
                result.add(new Generation(ids_, tokenizer.decode(ids_), finish[q], List.copyOf(logitsLog.get(q))));
            }
            return result;
        }

        /** Picks each active row's next token; returns how many rows are still active. */
        int choose(float[] logits, int t, int[] lastIndex) {
            int active = 0;
            for (int r = 0; r < rowRequest.length; r++) {
                int q = rowRequest[r];
                if (finish[q] != null) {
                    continue;
                }
                int off = (r * t + lastIndex[r]) * vocab;
                if (recordLogits) {
                    logitsLog.get(q).add(Arrays.copyOfRange(logits, off, off + vocab));
                }
                SamplingParams p = requests.get(q).params();
                int tok = Sampler.next(logits, off, vocab, p, outLen[q]);
                if (tok == pkg.special().eos()) {
                    finish[q] = Generation.STOP;
                    continue;
                }
                out[q][outLen[q]++] = tok;
                if (outLen[q] >= p.maxNewTokens()) {
                    finish[q] = Generation.LENGTH;
                    continue;
                }
                active++;
            }
            return active;
        }

        /** Runs the encoder and computes the cross-attention keys and values once for the batch. */
        void encode() throws OrtException {
            int rows = requests.size();
            int s = requests.stream().mapToInt(r -> r.sourceIds().length).max().orElseThrow();
            long[] ids = new long[rows * s];
            long[] pos = new long[rows * s];
            long[] m = new long[rows * s];
            for (int r = 0; r < rows; r++) {
                long[] src = requests.get(r).sourceIds();
                for (int j = 0; j < src.length; j++) {
                    ids[r * s + j] = src[j];
                    pos[r * s + j] = j;
                    m[r * s + j] = 1;
                }
            }
            encMask = own(longTensor(m, rows, s));
            try (OrtSession.Result emb = embed(ids, pos, rows, s);
                 OrtSession.Result enc = model.session(ModelPackage.ENCODER).run(Map.of(
                         "embeddings", (OnnxTensor) emb.get(0), "attention_mask", encMask))) {
                OrtSession.Result kv = own(model.session(ModelPackage.CROSS_KV).run(
                        Map.of("encoder_hidden_states", (OnnxTensor) enc.get(0))));
                for (Map.Entry<String, OnnxValue> e : kv) {
                    cross.put(e.getKey(), (OnnxTensor) e.getValue());
                }
            }
        }

        OrtSession.Result embed(long[] ids, long[] pos, int rows, int t) throws OrtException {
            try (OnnxTensor i = longTensor(ids, rows, t); OnnxTensor p = longTensor(pos, rows, t)) {
                return model.session(ModelPackage.EMBEDDING).run(Map.of("input_ids", i, "position_ids", p));
            }
        }

        /** One decoder call over t new tokens per row; returns logits [rows, t, vocab]. */
        float[] decode(long[] ids, long[] pos, int rows, int t) throws OrtException {
            OrtSession.Result result;
            try (OrtSession.Result emb = embed(ids, pos, rows, t); OnnxTensor m = longTensor(mask, rows, cols)) {
                Map<String, OnnxTensor> in = new HashMap<>(past);
                in.put("embeddings", (OnnxTensor) emb.get(0));
                in.put("attention_mask", m);
                if (pkg.isEncoderDecoder()) {
                    in.putAll(cross);
                    in.put("encoder_attention_mask", encMask);
                }
                result = model.session(ModelPackage.DECODER).run(in);
            }
            releasePast();
            pastResult = result;
            for (int i = 0; i < pkg.decoderLayers(); i++) {
                past.put("past_key_" + i, (OnnxTensor) result.get("present_key_" + i).orElseThrow());
                past.put("past_value_" + i, (OnnxTensor) result.get("present_value_" + i).orElseThrow());
            }
            FloatBuffer fb = ((OnnxTensor) result.get("logits").orElseThrow()).getFloatBuffer();
            float[] logits = new float[fb.remaining()];
            fb.get(logits);
            return logits;
        }

        void emptyPast(int rows) throws OrtException {
            long[] shape = {rows, pkg.nHeads(), 0, pkg.headDim()};
            for (int i = 0; i < pkg.decoderLayers(); i++) {
                past.put("past_key_" + i, OnnxTensor.createTensor(env, FloatBuffer.allocate(0), shape));
                past.put("past_value_" + i, OnnxTensor.createTensor(env, FloatBuffer.allocate(0), shape));
            }
        }

        /** Closes the current past tensors (those of the last run, or the initial empty ones). */
        void releasePast() {
            if (pastResult != null) {
                pastResult.close();
                pastResult = null;
            } else {
                past.values().forEach(OnnxTensor::close);
            }
            past.clear();
        }

        /** Drops finished rows from every batched tensor. */
        void compact() throws OrtException {
            int[] keep = new int[rowRequest.length];
            int n = 0;
            for (int r = 0; r < rowRequest.length; r++) {
                if (finish[rowRequest[r]] == null) {
                    keep[n++] = r;
                }
            }
            keep = Arrays.copyOf(keep, n);
            Map<String, OnnxTensor> newPast = new HashMap<>();
            for (var e : past.entrySet()) {
                newPast.put(e.getKey(), gather(e.getValue(), keep));
            }
            releasePast();
            past = newPast;
            if (pkg.isEncoderDecoder()) {
                Map<String, OnnxTensor> newCross = new HashMap<>();
                for (var e : cross.entrySet()) {
                    newCross.put(e.getKey(), own(gather(e.getValue(), keep)));
                }
                cross = newCross;
                encMask = own(gather(encMask, keep));
            }
            long[] m = new long[n * cols];
            int[] rr = new int[n];
            int[] len = new int[n];
            for (int i = 0; i < n; i++) {
                System.arraycopy(mask, keep[i] * cols, m, i * cols, cols);
                rr[i] = rowRequest[keep[i]];
                len[i] = length[keep[i]];
            }
            mask = m;
            rowRequest = rr;
            length = len;
        }

        /** A new tensor holding rows {@code keep} (first axis) of {@code t}. */
        OnnxTensor gather(OnnxTensor t, int[] keep) throws OrtException {
            long[] shape = t.getInfo().getShape();
            int rowSize = (int) (Arrays.stream(shape).reduce(1, (a, b) -> a * b) / shape[0]);
            shape = shape.clone();
            shape[0] = keep.length;
            if (t.getInfo().type == ai.onnxruntime.OnnxJavaType.INT64) {
                LongBuffer src = t.getLongBuffer();
                long[] dst = new long[keep.length * rowSize];
                for (int i = 0; i < keep.length; i++) {
                    src.position(keep[i] * rowSize);
                    src.get(dst, i * rowSize, rowSize);
                }
                return OnnxTensor.createTensor(env, LongBuffer.wrap(dst), shape);
            }
            FloatBuffer src = t.getFloatBuffer();
            float[] dst = new float[keep.length * rowSize];
            for (int i = 0; i < keep.length; i++) {
                src.position(keep[i] * rowSize);
                src.get(dst, i * rowSize, rowSize);
            }
            return OnnxTensor.createTensor(env, FloatBuffer.wrap(dst), shape);
        }

        OnnxTensor longTensor(long[] data, int rows, int cols) throws OrtException {
            return OnnxTensor.createTensor(env, LongBuffer.wrap(data), new long[] {rows, cols});
        }

        <T extends AutoCloseable> T own(T resource) {
            owned.add(resource);
            return resource;
        }

        @Override
        public void close() {
            releasePast();
            for (int i = owned.size() - 1; i >= 0; i--) {
                try {
                    owned.get(i).close();
                } catch (Exception ignored) {
                    // closing native memory does not fail in practice; nothing to recover
                }
            }
        }
    }
}
