package org.seqstream.runtime;

import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

import java.net.URISyntaxException;
import java.nio.file.Path;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The three decoder forms a package may ship: GroupQueryAttention over each row's own length
 * (present written into the past's memory), one returning only the new positions' keys and
 * values (appended to the cache), and one returning past and new together. The test packages
 * (models/training/test_packages.py) hold the same random weights in every form.
 */
class DecoderFormsTest {
    private static final List<String> INPUTS = java.util.stream.Stream.concat(DecodeBatchTest.INPUTS.stream(),
            java.util.stream.Stream.of("call me at nine", "it weighs three point five kilograms and costs twelve euros")).toList();

    private record Opened(ModelPackage pkg, OnnxModel model, TextTokenizer tokenizer) {
    }

    private static Opened open(String name) {
        try {
            Path dir = Path.of(DecoderFormsTest.class.getResource("/packages/" + name).toURI());
            ModelPackage pkg = ModelPackage.load(dir);
            return new Opened(pkg, OnnxModel.open(pkg, Device.CPU, 1), new TextTokenizer(pkg));
        } catch (URISyntaxException e) {
            throw new IllegalStateException(e);
        }
    }

    /** Every input joins one running batch, a new one every fourth step; sampled, logits recorded. */
    private static Map<String, Generation> decode(Opened m, int[] keyPositions) {
        Map<String, Generation> got = new HashMap<>();
        try (DecodeBatch batch = new DecodeBatch(m.model(), m.tokenizer(), true)) {
            int next = 0;
            for (int step = 0; step < 2000 && got.size() < INPUTS.size(); step++) {
                if (next < INPUTS.size() && step % 4 == 0) {
                    long[] ids = m.tokenizer().encode(INPUTS.get(next));
                    float[] hidden = null;
                    if (m.pkg().isEncoderDecoder()) {
                        SourceEncoder enc = new SourceEncoder(m.model());
                        hidden = enc.encode(List.of(enc.embed(List.of(ids))[0]))[0];
                    }
                    SamplingParams p = new SamplingParams(100, 1.0, 0, 1.0, 40 + next);
                    batch.admit(List.of(new DecodeBatch.Sequence("s" + next, ids, hidden, new long[0], p)));
                    next++;
                }
                batch.step();
                got.putAll(batch.takeFinished(m.tokenizer()));
                keyPositions[0] = Math.max(keyPositions[0], batch.keyPositions());
            }
        }
        return got;
    }

    @ParameterizedTest
    @ValueSource(strings = {"seq2seq", "gpt"})
    void everyDecoderFormGeneratesTheSameTokensFromTheSameLogits(String arch) {
        // Given one model in every form
        Opened concatenating = open("tiny-" + arch + "-concat");
        assertEquals(DecoderGraph.Form.CONCAT, DecoderGraph.form(concatenating.pkg()));
        int[] concatPositions = {0};
        Map<String, Generation> c = decode(concatenating, concatPositions);
        assertEquals(INPUTS.size(), c.size());
        concatenating.model().close();
        for (DecoderGraph.Form form : List.of(DecoderGraph.Form.RAGGED, DecoderGraph.Form.APPEND)) {
            Opened other = open("tiny-" + arch + "-" + (form == DecoderGraph.Form.RAGGED ? "ragged" : "append"));
            assertEquals(form, DecoderGraph.form(other.pkg()));
            // When the same sampled requests join a running batch of each
            int[] positions = {0};
            Map<String, Generation> a = decode(other, positions);
            // Then every sequence gets the same tokens, chosen from the same logits (to float rounding)
            assertEquals(INPUTS.size(), a.size());
            int longest = 0;
            for (String key : a.keySet()) {
                Generation x = a.get(key), y = c.get(key);
                assertArrayEquals(y.ids(), x.ids(), form + " " + key);
                assertEquals(y.finishReason(), x.finishReason(), key);
                assertEquals(y.stepLogits().size(), x.stepLogits().size(), key);
                for (int s = 0; s < x.stepLogits().size(); s++) {
                    assertArrayEquals(y.stepLogits().get(s), x.stepLogits().get(s), 1e-4f, form + " " + key + " step " + s);
                }
                longest = Math.max(longest, x.ids().length);
            }
            // and the outputs were long enough for the cache's axis to be resized several times
            assertTrue(longest > 4 * CapacityKvCache.SLACK, "longest output " + longest);
            assertTrue(positions[0] > 0 && concatPositions[0] > 0);
            other.model().close();
        }
    }
}
