package org.seqstream.loadtest;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.SerializationFeature;
import org.seqstream.runtime.DecodeBatch;
import org.seqstream.runtime.Device;
import org.seqstream.runtime.Generation;
import org.seqstream.runtime.Generator;
import org.seqstream.runtime.ModelCatalog;
import org.seqstream.runtime.OnnxModel;
import org.seqstream.runtime.SamplingParams;
import org.seqstream.runtime.SourceEncoder;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

import java.nio.file.Path;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Deque;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.Callable;

/**
 * The baseline: the in-process generator (the same runtime as the pipeline's stages) on the same
 * inputs, at each batch size, and the latency of one request generated alone (tokenizing,
 * encoding and decoding).
 */
@Command(name = "inprocess", mixinStandardHelpOptions = true,
        description = "The in-process generator's tokens/s per batch size and single-request latency, as JSON.")
final class InProcessCommand implements Callable<Integer> {
    @Option(names = "--model", defaultValue = "itn-seq2seq", paramLabel = "NAME")
    String model;

    @Option(names = "--models-dir", paramLabel = "DIR", description = "Folder of model packages (default: the repository's models/).")
    Path modelsDir;

    @Option(names = "--corpus", paramLabel = "FILE")
    Path corpus;

    @Option(names = "--batch-sizes", defaultValue = "1,8,32,64", split = ",", paramLabel = "N,N")
    List<Integer> batchSizes;

    @Option(names = "--requests", defaultValue = "256", paramLabel = "N", description = "Inputs per batch size (default: ${DEFAULT-VALUE}).")
    int requests;

    @Option(names = "--batches-per-size", defaultValue = "0", paramLabel = "K",
            description = "At batch size b, only the first max(b, K x b) of the inputs (at most --requests): small"
                    + " batches reach their steady rate on a few inputs, and long outputs at batch 1 would take"
                    + " minutes; 0: all of them at every size (default: ${DEFAULT-VALUE}).")
    int batchesPerSize;

    @Option(names = "--single", defaultValue = "64", paramLabel = "N", description = "Requests timed alone for the latency (default: ${DEFAULT-VALUE}).")
    int single;

    @Option(names = "--threads", defaultValue = "0", paramLabel = "N", description = "ONNX Runtime intra-op threads (default: ${DEFAULT-VALUE}: its choice).")
    int threads;

    @Option(names = "--max-new-tokens", defaultValue = "128") int maxNewTokens;

    @Option(names = "--continuous", defaultValue = "64", paramLabel = "N",
            description = "Also decode every input through one continuous batch of up to N sequences, newcomers joining"
                    + " as others finish (as the pipeline's decoder does), and report where its time goes; 0: skip"
                    + " (default: ${DEFAULT-VALUE}).")
    int continuous;

    @Option(names = "--out", defaultValue = "inprocess.json", paramLabel = "FILE")
    Path out;

    @Override
    public Integer call() throws Exception {
        Path dir = modelsDir != null ? modelsDir : Path.of(System.getProperty("seq.repo.root", "."), "models");
        List<String> inputs = Corpus.read(corpus);
        try (ModelCatalog catalog = ModelCatalog.load(dir, Device.CPU, threads)) {
            Generator gen = new Generator(catalog.sessions(model), catalog.tokenizer(model));
            SamplingParams p = SamplingParams.greedy(maxNewTokens);
            List<Generator.Request> reqs = new ArrayList<>();
            for (int i = 0; i < requests; i++) {
                reqs.add(new Generator.Request(catalog.tokenizer(model).encode(inputs.get(i % inputs.size())), p));
            }
            run(gen, reqs.subList(0, Math.min(64, reqs.size())), 16);   // warm-up
            List<Map<String, Object>> batches = new ArrayList<>();
            for (int b : batchSizes) {
                double best = 0;
                List<Generator.Request> some = batchesPerSize > 0
                        ? reqs.subList(0, Math.min(reqs.size(), Math.max(b, batchesPerSize * b))) : reqs;
                for (int round = 0; round < 2; round++) {
                    best = Math.max(best, run(gen, some, b));
                }
                System.err.printf("in-process %s batch %d: %.0f tokens/s%n", model, b, best);
                batches.add(Map.of("batch", b, "tokens_per_s", Latencies.round(best), "inputs", some.size()));
            }
            Map<String, Object> cont = null;
            if (continuous > 0) {
                cont = continuous(catalog, reqs, continuous);
                continuous(catalog, reqs, continuous);
                Map<String, Object> again = continuous(catalog, reqs, continuous);
                if ((double) again.get("tokens_per_s") > (double) cont.get("tokens_per_s")) {
                    cont = again;
                }
                System.err.printf("in-process %s continuous batch of %d: %.0f tokens/s, mean batch %.1f, %.0f%% of the"
                        + " time joining sequences, %.0f%% stepping%n", model, continuous, cont.get("tokens_per_s"),
                        cont.get("mean_batch"), 100 * (double) cont.get("join_share"), 100 * (double) cont.get("step_share"));
            }
            Latencies alone = new Latencies();
            for (int i = 0; i < single; i++) {
                String text = inputs.get(i % inputs.size());
                long t0 = System.nanoTime();
                gen.generate(List.of(new Generator.Request(catalog.tokenizer(model).encode(text), p)));
                alone.recordNanos(System.nanoTime() - t0);
            }
            System.err.printf("in-process %s single request: p50 %.1f ms%n", model, alone.percentileMs(50));
            Map<String, Object> doc = new LinkedHashMap<>();
            doc.put("model", model);
            doc.put("threads", threads);
            doc.put("batches", batches);
            if (cont != null) {
                doc.put("continuous", cont);
            }
            doc.put("single_request_ms", alone.summary());
            new ObjectMapper().enable(SerializationFeature.INDENT_OUTPUT).writeValue(out.toFile(), doc);
        }
        return 0;
    }

    /**
     * Decodes every request through one {@link DecodeBatch} of up to {@code capacity} sequences:
     * newcomers join in groups once a quarter of the batch is free, as the pipeline's decoder
     * admits them under load. Encoder outputs are computed beforehand (the encoder is its own
     * stage in the pipeline); the time is split into joining (prefill and merge) and stepping.
     */
    private Map<String, Object> continuous(ModelCatalog catalog, List<Generator.Request> reqs, int capacity) {
        OnnxModel m = catalog.sessions(model);
        float[][] hidden = new float[reqs.size()][];
        if (m.pkg().isEncoderDecoder()) {
            SourceEncoder enc = new SourceEncoder(m);
            hidden = enc.encode(Arrays.asList(enc.embed(reqs.stream().map(Generator.Request::sourceIds).toList())));
        }
        Deque<DecodeBatch.Sequence> waiting = new ArrayDeque<>();
        for (int i = 0; i < reqs.size(); i++) {
            waiting.add(new DecodeBatch.Sequence("r" + i, reqs.get(i).sourceIds(), hidden[i], new long[0], reqs.get(i).params()));
        }
        long joinNanos = 0, stepNanos = 0, tokens = 0, steps = 0, rowsStepped = 0;
        long start = System.nanoTime();
        try (DecodeBatch batch = new DecodeBatch(m, catalog.tokenizer(model), false)) {
            int active = 0;
            while (active > 0 || !waiting.isEmpty()) {
                int free = capacity - active;
                if (!waiting.isEmpty() && (active == 0 || free >= Math.max(1, capacity / 4))) {
                    List<DecodeBatch.Sequence> group = new ArrayList<>();
                    while (group.size() < free && !waiting.isEmpty()) {
                        group.add(waiting.poll());
                    }
                    long t0 = System.nanoTime();
                    batch.admit(group);
                    joinNanos += System.nanoTime() - t0;
                    active += group.size();
                }
                long t0 = System.nanoTime();
                rowsStepped += batch.size();
                for (DecodeBatch.Event e : batch.step()) {
                    tokens += e.hasToken() ? 1 : 0;
                }
                active -= batch.takeFinished(catalog.tokenizer(model)).size();
                stepNanos += System.nanoTime() - t0;
                steps++;
            }
        }
        double wall = (System.nanoTime() - start) / 1e9;
        Map<String, Object> r = new LinkedHashMap<>();
        r.put("capacity", capacity);
        r.put("tokens_per_s", Latencies.round(tokens / wall));
        r.put("mean_batch", Latencies.round((double) rowsStepped / steps));
        r.put("mean_step_ms", Latencies.round(stepNanos / 1e6 / steps));
        r.put("join_share", Latencies.round(joinNanos / 1e9 / wall));
        r.put("step_share", Latencies.round(stepNanos / 1e9 / wall));
        return r;
    }

    /** Generates every request in batches of {@code b}; returns tokens/s. */
    private static double run(Generator gen, List<Generator.Request> reqs, int b) {
        long start = System.nanoTime(), tokens = 0;
        for (int i = 0; i < reqs.size(); i += b) {
            for (Generation g : gen.generate(reqs.subList(i, Math.min(reqs.size(), i + b)))) {
                tokens += g.generatedTokens();
            }
        }
        return tokens / ((System.nanoTime() - start) / 1e9);
    }
}
