package org.seqstream.runtime;

import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

import java.util.ArrayList;
import java.util.List;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

class GeneratorTest {
    private static final List<String> INPUTS = List.of(
            "the rent is one thousand two hundred dollars",
            "wake me at six fifteen a m please",
            "zero errors were found",
            "she finished in the twenty second place",
            "a coffee costs four dollars and fifty cents",
            "only seven percent replied");

    private static List<Generator.Request> requests(Shipped.Loaded m, List<String> texts, SamplingParams p) {
        List<Generator.Request> out = new ArrayList<>();
        texts.forEach(t -> out.add(new Generator.Request(m.tokenizer().encode(t), p)));
        return out;
    }

    private static List<String> texts(List<Generation> gs) {
        return gs.stream().map(Generation::text).toList();
    }

    @ParameterizedTest
    @ValueSource(strings = {Shipped.SEQ2SEQ, Shipped.GPT})
    void aSeedGivesTheSameSampleWhateverTheBatch(String name) {
        // Given hot sampling with a fixed seed
        Shipped.Loaded m = Shipped.load(name);
        Generator gen = m.generator(false);
        SamplingParams hot = new SamplingParams(60, 30.0, 0, 1.0, 42);
        // When each input runs alone and all of them run in one batch
        List<String> alone = new ArrayList<>();
        for (String in : INPUTS) {
            alone.add(gen.generate(requests(m, List.of(in), hot)).get(0).text());
        }
        List<String> together = texts(gen.generate(requests(m, INPUTS, hot)));
        // Then the outputs are the same
        assertEquals(alone, together);
        // And another seed gives other samples (at this temperature at least one differs)
        List<String> other = texts(gen.generate(requests(m, INPUTS, new SamplingParams(60, 30.0, 0, 1.0, 7))));
        assertNotEquals(together, other);
    }

    @ParameterizedTest
    @ValueSource(strings = {Shipped.SEQ2SEQ, Shipped.GPT})
    void topKOfOneIsGreedy(String name) {
        Shipped.Loaded m = Shipped.load(name);
        Generator gen = m.generator(false);
        assertEquals(texts(gen.generate(requests(m, INPUTS, SamplingParams.greedy(128)))),
                texts(gen.generate(requests(m, INPUTS, new SamplingParams(128, 5.0, 1, 1.0, 3)))));
    }

    @ParameterizedTest
    @ValueSource(strings = {Shipped.SEQ2SEQ, Shipped.GPT})
    void stopsAtMaxNewTokensWithFinishReasonLength(String name) {
        Shipped.Loaded m = Shipped.load(name);
        List<Generation> out = m.generator(false).generate(requests(m, INPUTS.subList(0, 2), SamplingParams.greedy(5)));
        for (Generation g : out) {
            assertEquals(5, g.generatedTokens());
            assertEquals(Generation.LENGTH, g.finishReason());
        }
    }

    @ParameterizedTest
    @ValueSource(strings = {Shipped.SEQ2SEQ, Shipped.GPT})
    void requestsWithDifferentParametersShareABatch(String name) {
        // Given one greedy and one length-limited request in the same batch
        Shipped.Loaded m = Shipped.load(name);
        List<Generator.Request> batch = List.of(
                new Generator.Request(m.tokenizer().encode(INPUTS.get(0)), SamplingParams.greedy(128)),
                new Generator.Request(m.tokenizer().encode(INPUTS.get(1)), SamplingParams.greedy(3)));
        List<Generation> out = m.generator(false).generate(batch);
        // Then each follows its own parameters: the first as if alone, the second cut at 3 tokens
        Generation alone = m.generator(false).generate(batch.subList(0, 1)).get(0);
        assertEquals(alone.text(), out.get(0).text());
        assertEquals(Generation.STOP, out.get(0).finishReason());
        assertEquals(3, out.get(1).generatedTokens());
    }

    @ParameterizedTest
    @ValueSource(strings = {Shipped.SEQ2SEQ, Shipped.GPT})
    void invalidParametersAreRefusedWithTheirName(String name) {
        Shipped.Loaded m = Shipped.load(name);
        Generator gen = m.generator(false);
        long[] ids = m.tokenizer().encode("one");
        assertMessage(gen, ids, new SamplingParams(0, 0, 0, 1, 0), "max_new_tokens");
        assertMessage(gen, ids, new SamplingParams(m.pkg().maxNewTokens() + 1, 0, 0, 1, 0), "max_new_tokens");
        assertMessage(gen, ids, new SamplingParams(10, -1, 0, 1, 0), "temperature");
        assertMessage(gen, ids, new SamplingParams(10, 1, -1, 1, 0), "top_k");
        assertMessage(gen, ids, new SamplingParams(10, 1, 0, 0, 0), "top_p");
        assertMessage(gen, ids, new SamplingParams(10, 1, 0, 1.5, 0), "top_p");
    }

    private static void assertMessage(Generator gen, long[] ids, SamplingParams p, String expected) {
        InputException e = assertThrows(InputException.class,
                () -> gen.generate(List.of(new Generator.Request(ids, p))));
        assertTrue(e.getMessage().contains(expected), e.getMessage());
    }
}
