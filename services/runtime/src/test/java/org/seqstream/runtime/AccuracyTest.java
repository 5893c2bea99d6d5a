package org.seqstream.runtime;

import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

import java.io.IOException;
import java.nio.file.Files;
import java.util.ArrayList;
import java.util.List;

import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Exact-match accuracy of the shipped packages on the first sentences of the project's test
 * split (models/eval/itn-test.tsv); `./seqctl accuracy` reports it on the whole split.
 */
class AccuracyTest {
    private static final int SENTENCES = 400;

    @ParameterizedTest
    @CsvSource({"itn-seq2seq, 0.98", "itn-gpt, 0.95"})
    void greedyOutputsMeetTheAccuracyBarOnTheTestSplit(String name, double bar) throws IOException {
        Shipped.Loaded m = Shipped.load(name);
        List<String[]> rows = Files.readAllLines(Shipped.modelsDir().resolve("eval/itn-test.tsv")).stream()
                .limit(SENTENCES).map(l -> l.split("\t")).toList();
        List<Generator.Request> batch = new ArrayList<>();
        rows.forEach(r -> batch.add(new Generator.Request(m.tokenizer().encode(r[0]), SamplingParams.greedy(m.pkg().maxNewTokens()))));
        int correct = 0;
        for (int i = 0; i < batch.size(); i += 64) {
            List<Generation> out = m.generator(false).generate(batch.subList(i, Math.min(batch.size(), i + 64)));
            for (int j = 0; j < out.size(); j++) {
                correct += out.get(j).text().equals(rows.get(i + j)[1]) ? 1 : 0;
            }
        }
        double acc = correct / (double) rows.size();
        assertTrue(acc >= bar, name + " exact match " + acc + " below " + bar);
    }
}
