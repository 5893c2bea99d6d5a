package org.seqstream.runtime;

import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** Continuous batching: sequences joining a running batch, and sequences resumed from stored tokens. */
class DecodeBatchTest {
    static final List<String> INPUTS = List.of(
            "the rent is one thousand two hundred dollars",
            "wake me at six fifteen a m please",
            "zero errors were found",
            "our flight is on the fourth of july twenty twenty six",
            "a coffee costs four dollars and fifty cents",
            "only seven percent replied");

    private static DecodeBatch.Sequence seq(Shipped.Loaded m, String key, String text, long[] generated, SamplingParams p) {
        long[] ids = m.tokenizer().encode(text);
        float[] hidden = null;
        if (m.pkg().isEncoderDecoder()) {
            SourceEncoder enc = new SourceEncoder(m.model());
            hidden = enc.encode(List.of(enc.embed(List.of(ids))[0]))[0];
        }
        return new DecodeBatch.Sequence(key, ids, hidden, generated, p);
    }

    private static Map<String, Generation> reference(Shipped.Loaded m, SamplingParams p) {
        Map<String, Generation> ref = new HashMap<>();
        for (int i = 0; i < INPUTS.size(); i++) {
            List<Generator.Request> one = List.of(new Generator.Request(m.tokenizer().encode(INPUTS.get(i)), p));
            ref.put("s" + i, m.generator(false).generate(one).get(0));
        }
        return ref;
    }

    @ParameterizedTest
    @ValueSource(strings = {Shipped.SEQ2SEQ, Shipped.GPT})
    void sequencesJoiningARunningBatchGenerateWhatTheyWouldAlone(String name) {
        // Given sampled generation with a seed, each input generated alone as the reference
        Shipped.Loaded m = Shipped.load(name);
        SamplingParams p = new SamplingParams(100, 0.7, 0, 0.95, 5);
        Map<String, Generation> ref = reference(m, p);
        // When the inputs join one batch at different steps
        Map<String, Generation> got = new HashMap<>();
        Map<String, StringBuilder> streamed = new HashMap<>();
        try (DecodeBatch batch = new DecodeBatch(m.model(), false)) {
            int next = 0;
            for (int step = 0; step < 400 && got.size() < INPUTS.size(); step++) {
                if (next < INPUTS.size() && step % 3 == 0) {
                    batch.admit(List.of(seq(m, "s" + next, INPUTS.get(next), new long[0], p)));
                    next++;
                }
                for (DecodeBatch.Event e : batch.step()) {
                    if (e.hasToken()) {
                        streamed.computeIfAbsent(e.key(), k -> new StringBuilder())
                                .append(m.tokenizer().decode(new long[] {e.token()}));
                    }
                }
                got.putAll(batch.takeFinished(m.tokenizer()));
            }
        }
        // Then every output, and its stream of tokens, equals the reference
        for (var e : ref.entrySet()) {
            assertEquals(e.getValue().text(), got.get(e.getKey()).text(), e.getKey());
            assertEquals(e.getValue().text(), streamed.get(e.getKey()).toString(), e.getKey());
            assertEquals(e.getValue().finishReason(), got.get(e.getKey()).finishReason());
        }
    }

    @ParameterizedTest
    @ValueSource(strings = {Shipped.SEQ2SEQ, Shipped.GPT})
    void aSequenceResumedFromItsStoredTokensFinishesAsIfUninterrupted(String name) {
        // Given each reference output, cut after a third of its tokens
        Shipped.Loaded m = Shipped.load(name);
        SamplingParams p = new SamplingParams(100, 0.7, 0, 0.95, 9);
        Map<String, Generation> ref = reference(m, p);
        List<DecodeBatch.Sequence> resumed = new ArrayList<>();
        for (int i = 0; i < INPUTS.size(); i++) {
            long[] ids = ref.get("s" + i).ids();
            resumed.add(seq(m, "s" + i, INPUTS.get(i), Arrays.copyOf(ids, ids.length / 3), p));
        }
        // When decoding resumes from those tokens
        Map<String, Generation> got = new HashMap<>();
        try (DecodeBatch batch = new DecodeBatch(m.model(), false)) {
            batch.admit(resumed);
            while (batch.size() > 0) {
                List<DecodeBatch.Event> events = batch.step();
                assertTrue(events.stream().allMatch(e -> e.index() >= 0));
                got.putAll(batch.takeFinished(m.tokenizer()));
            }
        }
        // Then each finishes with the full reference output
        for (var e : ref.entrySet()) {
            assertEquals(e.getValue().text(), got.get(e.getKey()).text(), e.getKey());
        }
    }

    @ParameterizedTest
    @ValueSource(strings = {Shipped.SEQ2SEQ, Shipped.GPT})
    void removedSequencesLeaveWithoutDisturbingTheOthers(String name) {
        // Given all inputs decoding in one batch
        Shipped.Loaded m = Shipped.load(name);
        SamplingParams p = new SamplingParams(100, 0.7, 0, 0.95, 11);
        Map<String, Generation> ref = reference(m, p);
        Map<String, Generation> got = new HashMap<>();
        List<String> seen = new ArrayList<>();
        try (DecodeBatch batch = new DecodeBatch(m.model(), false)) {
            List<DecodeBatch.Sequence> all = new ArrayList<>();
            for (int i = 0; i < INPUTS.size(); i++) {
                all.add(seq(m, "s" + i, INPUTS.get(i), new long[0], p));
            }
            batch.admit(all);
            batch.step();
            batch.step();
            // When two of them are removed mid-generation
            batch.remove(List.of("s1", "s4"));
            assertEquals(INPUTS.size() - 2, batch.size());
            while (batch.size() > 0) {
                batch.step().forEach(e -> seen.add(e.key()));
                got.putAll(batch.takeFinished(m.tokenizer()));
            }
            // and removing every sequence empties the batch, which then takes new ones
            batch.admit(List.of(seq(m, "again", INPUTS.get(1), new long[0], p)));
            batch.remove(List.of("again"));
            assertEquals(0, batch.size());
            batch.admit(List.of(seq(m, "s1", INPUTS.get(1), new long[0], p)));
            while (batch.size() > 0) {
                batch.step();
                got.putAll(batch.takeFinished(m.tokenizer()));
            }
        }
        // Then they produce nothing more, and every other sequence its reference output
        assertTrue(!seen.contains("s1") && !seen.contains("s4"));
        assertTrue(!got.containsKey("s4"));
        for (var e : ref.entrySet()) {
            if (!e.getKey().equals("s4")) {
                assertEquals(e.getValue().text(), got.get(e.getKey()).text(), e.getKey());
            }
        }
    }

    @ParameterizedTest
    @ValueSource(strings = {Shipped.SEQ2SEQ, Shipped.GPT})
    void aStopStringEndsTheOutputBeforeIt(String name) {
        Shipped.Loaded m = Shipped.load(name);
        long[] src = m.tokenizer().encode("only seven percent replied");
        Generation full = m.generator(false).generate(List.of(new Generator.Request(src, SamplingParams.greedy(100)))).get(0);
        assertEquals("only 7% replied", full.text());
        // stop at "%": the output ends before it, with finish reason stop and its ids cut to match
        SamplingParams stop = new SamplingParams(100, 0, 0, 1.0, 0, List.of("%", "zzz"));
        Generation cut = m.generator(false).generate(List.of(new Generator.Request(src, stop))).get(0);
        assertEquals("only 7", cut.text());
        assertEquals(Generation.STOP, cut.finishReason());
        assertEquals("only 7", m.tokenizer().decode(cut.ids()));
        // a stop string that never appears changes nothing
        SamplingParams never = new SamplingParams(100, 0, 0, 1.0, 0, List.of("@@"));
        assertEquals(full.text(), m.generator(false).generate(List.of(new Generator.Request(src, never))).get(0).text());
        // too many or empty stop strings are refused
        InputException e = org.junit.jupiter.api.Assertions.assertThrows(InputException.class,
                () -> new SamplingParams(10, 0, 0, 1.0, 0, List.of("a", "b", "c", "d", "e")).validate(m.pkg()));
        assertEquals(InputException.INVALID_PARAMETERS, e.code());
        org.junit.jupiter.api.Assertions.assertThrows(InputException.class,
                () -> new SamplingParams(10, 0, 0, 1.0, 0, List.of("")).validate(m.pkg()));
    }

    @ParameterizedTest
    @ValueSource(strings = {Shipped.SEQ2SEQ, Shipped.GPT})
    void aBatchThatNeverEmptiesKeepsItsKeyPositionsBoundedAndItsOutputsExact(String name) {
        // Given sequences joining a running batch every other step, 60 in all, so that it never empties
        Shipped.Loaded m = Shipped.load(name);
        SamplingParams p = new SamplingParams(100, 0.7, 0, 0.95, 13);
        Map<String, Generation> ref = reference(m, p);
        Map<String, Generation> got = new HashMap<>();
        int maxPositions = 0;
        try (DecodeBatch batch = new DecodeBatch(m.model(), false)) {
            int next = 0;
            for (int step = 0; step < 3000 && got.size() < 60; step++) {
                if (next < 60 && step % 2 == 0) {
                    batch.admit(List.of(seq(m, "s" + next, INPUTS.get(next % INPUTS.size()), new long[0], p)));
                    next++;
                }
                batch.step();
                got.putAll(batch.takeFinished(m.tokenizer()));
                maxPositions = Math.max(maxPositions, batch.keyPositions());
            }
        }
        // Then every output equals the input's reference, and the KV cache's axis never grew past
        // what its longest sequence can reach (prompt and max_new_tokens, plus slack)
        assertEquals(60, got.size());
        for (int i = 0; i < 60; i++) {
            assertEquals(ref.get("s" + (i % INPUTS.size())).text(), got.get("s" + i).text(), "s" + i);
        }
        int longest = 0;
        for (int i = 0; i < INPUTS.size(); i++) {
            longest = Math.max(longest, m.pkg().prompt(m.tokenizer().encode(INPUTS.get(i))).length + p.maxNewTokens());
        }
        assertTrue(maxPositions <= longest + CapacityKvCache.SLACK, "key positions " + maxPositions + ", longest reach " + longest);
    }

    @ParameterizedTest
    @ValueSource(strings = {Shipped.SEQ2SEQ, Shipped.GPT})
    void aRaggedCacheIsLaidOutOnceForWhatItsRowsCanReach(String name) {
        // Given a decoder whose cache is ragged, and every input admitted at once with max_new_tokens 40
        Shipped.Loaded m = Shipped.load(name);
        assertEquals(DecoderGraph.Form.RAGGED, DecoderGraph.form(m.pkg()));
        SamplingParams p = new SamplingParams(40, 0.7, 0, 0.95, 3);
        Map<String, Generation> ref = reference(m, p);
        int reach = 0;
        List<DecodeBatch.Sequence> all = new ArrayList<>();
        for (int i = 0; i < INPUTS.size(); i++) {
            all.add(seq(m, "s" + i, INPUTS.get(i), new long[0], p));
            reach = Math.max(reach, m.pkg().prompt(m.tokenizer().encode(INPUTS.get(i))).length + 40);
        }
        Map<String, Generation> got = new HashMap<>();
        List<Integer> axis = new ArrayList<>();
        try (DecodeBatch batch = new DecodeBatch(m.model(), false)) {
            batch.admit(all);
            axis.add(batch.keyPositions());
            while (batch.size() > 0) {
                batch.step();
                got.putAll(batch.takeFinished(m.tokenizer()));
                axis.add(batch.keyPositions());
            }
        }
        // Then the axis was laid out at admission for the longest reach, and never grew while decoding
        assertEquals(reach, axis.get(0));
        for (int i = 1; i < axis.size(); i++) {
            assertTrue(axis.get(i) <= axis.get(i - 1), "axis " + axis);
        }
        // And every output is what the input generates alone
        for (int i = 0; i < INPUTS.size(); i++) {
            assertEquals(ref.get("s" + i).text(), got.get("s" + i).text(), "s" + i);
        }
    }
}
