package org.seqstream.cli;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import org.seqstream.runtime.Generation;
import org.seqstream.runtime.Generator;
import org.seqstream.runtime.SamplingParams;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;

import java.io.BufferedReader;
import java.io.File;
import java.io.InputStreamReader;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.Callable;

/**
 * In-process generation throughput: the Java generator at each batch size, next to the PyTorch
 * eager generator on the same inputs in the same run when a Python with torch and onnx is found.
 * Prints a markdown table; tokens/s = generated tokens / wall seconds of the best of the rounds.
 */
@Command(name = "bench", mixinStandardHelpOptions = true,
        description = "Benchmark in-process generation (tokens/s), Java next to PyTorch eager.")
final class BenchCommand implements Callable<Integer> {
    private static final ObjectMapper JSON = new ObjectMapper();

    @Option(names = "--models", defaultValue = "itn-seq2seq,itn-gpt", split = ",", paramLabel = "NAMES")
    List<String> names;

    @Option(names = "--batch-sizes", defaultValue = "1,32", split = ",", paramLabel = "N,N")
    List<Integer> batchSizes;

    @Option(names = "--sentences", defaultValue = "64", paramLabel = "N",
            description = "Inputs per round, from the test split (default: ${DEFAULT-VALUE}).")
    int sentences;

    @Option(names = "--rounds", defaultValue = "3", paramLabel = "N", description = "Timed rounds; the best counts.")
    int rounds;

    @Option(names = "--python", defaultValue = "/usr/bin/python3", paramLabel = "EXE",
            description = "Python with torch and onnx for the PyTorch baseline; 'none' skips it (default: ${DEFAULT-VALUE}).")
    String python;

    @Option(names = "--inputs", paramLabel = "TSV", description = "Input sentences (default: models/eval/itn-test.tsv).")
    Path inputs;

    @Mixin
    ModelOptions models;

    @Override
    public Integer call() throws Exception {
        if (models.threads == 0) {
            models.threads = Runtime.getRuntime().availableProcessors();
        }
        Path tsv = inputs != null ? inputs : models.modelsDir().resolve("eval").resolve("itn-test.tsv");
        List<String> texts = Corpus.read(tsv).first(sentences).inputs();
        System.out.println(org.seqstream.runtime.TimerResolution.line() + "\n");
        System.out.printf("%d sentences from %s, greedy, %d threads, best of %d rounds%n%n", texts.size(), tsv,
                models.threads, rounds);
        System.out.println("| model | batch | Java tokens/s | PyTorch eager tokens/s | Java / PyTorch |");
        System.out.println("|---|---:|---:|---:|---:|");
        for (String name : names) {
            Map<Integer, Double> java = javaTokensPerSecond(name, texts);
            Map<Integer, Double> torch = torchTokensPerSecond(name, tsv);
            for (int b : batchSizes) {
                Double t = torch.get(b);
                System.out.printf("| %s | %d | %.0f | %s | %s |%n", name, b, java.get(b),
                        t == null ? "n/a" : String.format("%.0f", t), t == null ? "n/a" : String.format("%.2f", java.get(b) / t));
            }
        }
        return 0;
    }

    private Map<Integer, Double> javaTokensPerSecond(String name, List<String> texts) {
        Map<Integer, Double> result = new LinkedHashMap<>();
        try (ModelOptions.Opened m = models.open(name)) {
            Generator gen = new Generator(m.model(), m.tokenizer());
            List<Generator.Request> all = new ArrayList<>();
            for (String t : texts) {
                all.add(new Generator.Request(m.tokenizer().encode(t), SamplingParams.greedy(m.pkg().maxNewTokens())));
            }
            for (int b : batchSizes) {
                runAll(gen, all, b);                                  // warm-up
                double best = Double.MAX_VALUE;
                long tokens = 0;
                for (int r = 0; r < rounds; r++) {
                    long start = System.nanoTime();
                    tokens = runAll(gen, all, b);
                    best = Math.min(best, (System.nanoTime() - start) / 1e9);
                }
                result.put(b, tokens / best);
                System.err.printf("java %s batch %d: %d tokens in %.3f s%n", name, b, tokens, best);
            }
        }
        return result;
    }

    private static long runAll(Generator gen, List<Generator.Request> all, int batch) {
        long tokens = 0;
        for (int i = 0; i < all.size(); i += batch) {
            for (Generation g : gen.generate(all.subList(i, Math.min(all.size(), i + batch)))) {
                tokens += g.generatedTokens();
            }
        }
        return tokens;
    }

    /** Runs models/training/bench.py; an empty map when Python, torch or onnx is missing. */
    private Map<Integer, Double> torchTokensPerSecond(String name, Path tsv) throws Exception {
        Map<Integer, Double> result = new LinkedHashMap<>();
        if ("none".equals(python) || !new File(python).canExecute()) {
            System.err.println("PyTorch baseline skipped: no Python at " + python);
            return result;
        }
        Path training = Path.of(System.getProperty("seq.repo.root", ".")).resolve("models").resolve("training");
        List<String> cmd = List.of(python, "bench.py", "--package", models.modelsDir().resolve(name).toAbsolutePath().toString(),
                "--inputs", tsv.toAbsolutePath().toString(), "--sentences", String.valueOf(sentences),
                "--batch-sizes", String.join(",", batchSizes.stream().map(String::valueOf).toList()),
                "--threads", String.valueOf(models.threads), "--rounds", String.valueOf(rounds));
        ProcessBuilder pb = new ProcessBuilder(cmd).directory(training.toFile()).redirectError(ProcessBuilder.Redirect.INHERIT);
        pb.environment().put("OPENBLAS_NUM_THREADS", String.valueOf(models.threads));
        Process p = pb.start();
        try (BufferedReader out = new BufferedReader(new InputStreamReader(p.getInputStream(), StandardCharsets.UTF_8))) {
            for (String line; (line = out.readLine()) != null; ) {
                JsonNode n = JSON.readTree(line);
                result.put(n.get("batch").asInt(), n.get("tokens").asDouble() / n.get("seconds").asDouble());
                System.err.printf("pytorch %s %s batch %d: %d tokens in %.3f s%n", n.get("torch").asText(), name,
                        n.get("batch").asInt(), n.get("tokens").asLong(), n.get("seconds").asDouble());
            }
        }
        if (p.waitFor() != 0) {
            System.err.println("PyTorch baseline failed for " + name + " (exit " + p.exitValue()
                    + "); it needs torch and onnx: apt-get install python3-torch python3-onnx");
            result.clear();
        }
        return result;
    }
}
