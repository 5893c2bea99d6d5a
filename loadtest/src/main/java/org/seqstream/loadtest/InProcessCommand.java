package org.seqstream.loadtest;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.SerializationFeature;
import org.seqstream.runtime.Device;
import org.seqstream.runtime.Generation;
import org.seqstream.runtime.Generator;
import org.seqstream.runtime.ModelCatalog;
import org.seqstream.runtime.SamplingParams;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

import java.nio.file.Path;
import java.util.ArrayList;
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

    @Option(names = "--single", defaultValue = "64", paramLabel = "N", description = "Requests timed alone for the latency (default: ${DEFAULT-VALUE}).")
    int single;

    @Option(names = "--threads", defaultValue = "0", paramLabel = "N", description = "ONNX Runtime intra-op threads (default: ${DEFAULT-VALUE}: its choice).")
    int threads;

    @Option(names = "--max-new-tokens", defaultValue = "128") int maxNewTokens;

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
                for (int round = 0; round < 2; round++) {
                    best = Math.max(best, run(gen, reqs, b));
                }
                System.err.printf("in-process %s batch %d: %.0f tokens/s%n", model, b, best);
                batches.add(Map.of("batch", b, "tokens_per_s", Latencies.round(best)));
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
            doc.put("single_request_ms", alone.summary());
            new ObjectMapper().enable(SerializationFeature.INDENT_OUTPUT).writeValue(out.toFile(), doc);
        }
        return 0;
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
