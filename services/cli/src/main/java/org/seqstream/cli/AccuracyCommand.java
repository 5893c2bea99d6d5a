package org.seqstream.cli;

import org.seqstream.runtime.Generation;
import org.seqstream.runtime.Generator;
import org.seqstream.runtime.SamplingParams;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.concurrent.Callable;

/**
 * Exact-match accuracy of greedy generation on a spoken/written file, and per class where the
 * file names the classes of each sentence (a sentence counts in every class it holds).
 */
@Command(name = "accuracy", mixinStandardHelpOptions = true,
        description = {"Exact-match accuracy of greedy generation on a TSV of spoken<TAB>written[<TAB>classes] lines.",
                "With a classes column (comma-separated, e.g. money,time; plain for none), also per class:",
                "a sentence counts in every class it holds."})
final class AccuracyCommand implements Callable<Integer> {
    @Option(names = "--model", required = true, paramLabel = "NAME")
    String model;

    @Option(names = "--file", paramLabel = "TSV",
            description = "Evaluation file (default: models/eval/itn-test.tsv, the project's test split).")
    Path file;

    @Option(names = "--show-errors", defaultValue = "10", paramLabel = "N",
            description = "Print up to N mismatches (default: ${DEFAULT-VALUE}).")
    int showErrors;

    @Option(names = "--batch-size", defaultValue = "64", paramLabel = "N")
    int batchSize;

    @Mixin
    ModelOptions models;

    @Override
    public Integer call() throws Exception {
        Path tsv = file != null ? file : models.modelsDir().resolve("eval").resolve("itn-test.tsv");
        Corpus corpus = Corpus.read(tsv);
        try (ModelOptions.Opened m = models.open(model)) {
            Generator gen = new Generator(m.model(), m.tokenizer());
            int correct = 0, shown = 0, n = corpus.inputs().size();
            Map<String, int[]> perClass = new TreeMap<>();   // class -> {sentences, exact}
            for (int i = 0; i < n; i += batchSize) {
                List<Generator.Request> batch = new ArrayList<>();
                for (String in : corpus.inputs().subList(i, Math.min(n, i + batchSize))) {
                    batch.add(new Generator.Request(m.tokenizer().encode(in), SamplingParams.greedy(m.pkg().maxNewTokens())));
                }
                List<Generation> out = gen.generate(batch);
                for (int j = 0; j < out.size(); j++) {
                    String expected = corpus.expected().get(i + j);
                    boolean ok = out.get(j).text().equals(expected);
                    for (String c : corpus.classes().get(i + j)) {
                        int[] counts = perClass.computeIfAbsent(c, k -> new int[2]);
                        counts[0]++;
                        counts[1] += ok ? 1 : 0;
                    }
                    if (ok) {
                        correct++;
                    } else if (shown++ < showErrors) {
                        System.out.printf("  input:    %s%n  expected: %s%n  got:      %s%n",
                                corpus.inputs().get(i + j), expected, out.get(j).text());
                    }
                }
                System.err.printf("\r%d/%d", Math.min(n, i + batchSize), n);
            }
            System.err.println();
            if (!perClass.isEmpty()) {
                System.out.printf("%-12s %9s %7s %8s%n", "class", "sentences", "exact", "match");
                perClass.forEach((c, k) -> System.out.printf("%-12s %9d %7d %7.2f%%%n", c, k[0], k[1], 100.0 * k[1] / k[0]));
            }
            System.out.printf("%s: exact match %d/%d = %.2f%% on %s%n", model, correct, n, 100.0 * correct / n, tsv);
        }
        return 0;
    }
}
