package org.seqstream.runtime;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

import java.io.IOException;
import java.util.ArrayList;
import java.util.List;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** The Java runtime against the golden outputs PyTorch wrote when the package was exported. */
class ParityTest {
    private static final double MAX_RELATIVE_ERROR = 1e-4;

    private static JsonNode golden(Shipped.Loaded m) throws IOException {
        return new ObjectMapper().readTree(m.pkg().goldenFile().toFile());
    }

    @ParameterizedTest
    @ValueSource(strings = {Shipped.SEQ2SEQ, Shipped.GPT})
    void stepLogitsMatchPyTorchWithinRelativeError(String name) throws IOException {
        // Given the golden logits of a few inputs, one row per decoding step
        Shipped.Loaded m = Shipped.load(name);
        Generator gen = m.generator(true);
        for (JsonNode g : golden(m).get("logits")) {
            // When the KV-cached generator decodes the same input greedily
            Generation out = gen.generate(List.of(new Generator.Request(
                    m.tokenizer().encode(g.get("input").asText()), SamplingParams.greedy(m.pkg().maxNewTokens())))).get(0);
            // Then every step's logits agree: ||java - torch|| / ||torch|| <= 1e-4
            JsonNode rows = g.get("logits");
            assertEquals(rows.size(), out.stepLogits().size(), "steps for " + g.get("input"));
            double diff = 0, ref = 0;
            for (int s = 0; s < rows.size(); s++) {
                float[] java = out.stepLogits().get(s);
                for (int v = 0; v < java.length; v++) {
                    double r = rows.get(s).get(v).asDouble();
                    diff += (java[v] - r) * (java[v] - r);
                    ref += r * r;
                }
            }
            double rel = Math.sqrt(diff / ref);
            assertTrue(rel <= MAX_RELATIVE_ERROR, name + " relative error " + rel + " for " + g.get("input"));
        }
    }

    @ParameterizedTest
    @ValueSource(strings = {Shipped.SEQ2SEQ, Shipped.GPT})
    void greedyOutputsEqualPyTorchOnEveryGoldenSentence(String name) throws IOException {
        // Given the golden greedy outputs of test sentences
        Shipped.Loaded m = Shipped.load(name);
        JsonNode greedy = golden(m).get("greedy");
        List<Generator.Request> batch = new ArrayList<>();
        for (JsonNode g : greedy) {
            batch.add(new Generator.Request(m.tokenizer().encode(g.get("input").asText()), SamplingParams.greedy(m.pkg().maxNewTokens())));
        }
        // When they are generated in one batch
        List<Generation> out = m.generator(false).generate(batch);
        // Then every output and every token id is identical
        for (int i = 0; i < greedy.size(); i++) {
            JsonNode g = greedy.get(i);
            assertEquals(g.get("output").asText(), out.get(i).text(), "output for " + g.get("input"));
            long[] ids = new long[g.get("ids").size()];
            for (int j = 0; j < ids.length; j++) {
                ids[j] = g.get("ids").get(j).asLong();
            }
            assertEquals(java.util.Arrays.toString(ids), java.util.Arrays.toString(out.get(i).ids()));
            assertEquals(Generation.STOP, out.get(i).finishReason());
        }
    }
}
