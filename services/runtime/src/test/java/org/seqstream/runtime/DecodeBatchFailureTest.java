package org.seqstream.runtime;

import ai.onnxruntime.OrtException;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

import java.nio.FloatBuffer;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** A bad sequence costs only itself: it fails with an error, and the rest of its batch decodes as if it were not there. */
class DecodeBatchFailureTest {
    private static final SamplingParams SAMPLED = new SamplingParams(100, 0.7, 0, 0.95, 9);

    private static DecodeBatch.Sequence good(Shipped.Loaded m, String key, String text) {
        long[] ids = m.tokenizer().encode(text);
        return new DecodeBatch.Sequence(key, ids, hidden(m, ids), new long[0], SAMPLED);
    }

    private static float[] hidden(Shipped.Loaded m, long[] ids) {
        if (!m.pkg().isEncoderDecoder()) {
            return null;
        }
        SourceEncoder enc = new SourceEncoder(m.model());
        return enc.encode(List.of(enc.embed(List.of(ids))[0]))[0];
    }

    private static Map<String, Generation> decodeAll(DecodeBatch batch, List<DecodeBatch.Sequence> seqs, Shipped.Loaded m) {
        Map<String, Generation> got = new HashMap<>();
        batch.admit(seqs);
        got.putAll(batch.takeFinished(m.tokenizer()));
        for (int i = 0; i < 500 && batch.size() > 0; i++) {
            batch.step();
            got.putAll(batch.takeFinished(m.tokenizer()));
        }
        return got;
    }

    private static void assertReferenceOutputs(Shipped.Loaded m, Map<String, Generation> got) {
        for (int i = 0; i < DecodeBatchTest.INPUTS.size(); i++) {
            long[] ids = m.tokenizer().encode(DecodeBatchTest.INPUTS.get(i));
            Generation ref = m.generator(false).generate(List.of(new Generator.Request(ids, SAMPLED))).get(0);
            Generation g = got.get("ok" + i);
            assertNull(g.error(), "ok" + i);
            assertEquals(ref.text(), g.text(), "ok" + i);
        }
    }

    @ParameterizedTest
    @ValueSource(strings = {Shipped.SEQ2SEQ, Shipped.GPT})
    void invalidSequencesFailAloneWithTheirCause(String name) {
        // Given good sequences and, among them, sequences no tokenizer would have let through
        Shipped.Loaded m = Shipped.load(name);
        List<DecodeBatch.Sequence> seqs = new ArrayList<>();
        for (int i = 0; i < DecodeBatchTest.INPUTS.size(); i++) {
            seqs.add(good(m, "ok" + i, DecodeBatchTest.INPUTS.get(i)));
        }
        long[] ids = m.tokenizer().encode("zero errors were found");
        float[] h = hidden(m, ids);
        Map<String, String> bad = new HashMap<>();
        seqs.add(new DecodeBatch.Sequence("zero-max", ids, h, new long[0], SamplingParams.greedy(0)));
        bad.put("zero-max", InputException.INVALID_PARAMETERS);
        long[] outside = ids.clone();
        outside[1] = m.pkg().vocabSize() + 7;
        seqs.add(new DecodeBatch.Sequence("outside", outside, h, new long[0], SAMPLED));
        bad.put("outside", InputException.INVALID_SEQUENCE);
        seqs.add(new DecodeBatch.Sequence("empty", new long[0], new float[0], new long[0], SAMPLED));
        bad.put("empty", InputException.INVALID_SEQUENCE);
        seqs.add(new DecodeBatch.Sequence("negative-generated", ids, h, new long[] {-1}, SAMPLED));
        bad.put("negative-generated", InputException.INVALID_SEQUENCE);
        seqs.add(new DecodeBatch.Sequence("too-long", new long[m.pkg().maxPositions() + 1], h, new long[0], SAMPLED));
        bad.put("too-long", InputException.INPUT_TOO_LONG);
        if (m.pkg().isEncoderDecoder()) {
            seqs.add(new DecodeBatch.Sequence("no-encoder", ids, null, new long[0], SAMPLED));
            bad.put("no-encoder", InputException.INVALID_SEQUENCE);
            seqs.add(new DecodeBatch.Sequence("short-encoder", ids, Arrays.copyOf(h, h.length - 1), new long[0], SAMPLED));
            bad.put("short-encoder", InputException.INVALID_SEQUENCE);
        }
        // When they decode in one batch
        try (DecodeBatch batch = new DecodeBatch(m.model(), m.tokenizer(), false)) {
            Map<String, Generation> got = decodeAll(batch, seqs, m);
            // Then each bad one has an error naming its cause, and the good ones their reference outputs
            bad.forEach((key, code) -> {
                Generation g = got.get(key);
                assertEquals(FinishReason.ERROR, g.reason(), key);
                assertEquals(code, g.error().code(), key + ": " + g.error().message());
                assertTrue(!g.error().message().isBlank());
            });
            assertReferenceOutputs(m, got);
        }
    }

    @ParameterizedTest
    @ValueSource(strings = {Shipped.SEQ2SEQ})
    void nonFiniteLogitsFailOnlyTheirSequence(String name) {
        // Given an encoder output full of NaN for one sequence
        Shipped.Loaded m = Shipped.load(name);
        List<DecodeBatch.Sequence> seqs = new ArrayList<>();
        for (int i = 0; i < DecodeBatchTest.INPUTS.size(); i++) {
            seqs.add(good(m, "ok" + i, DecodeBatchTest.INPUTS.get(i)));
        }
        long[] ids = m.tokenizer().encode("zero errors were found");
        float[] nan = new float[ids.length * m.pkg().dModel()];
        Arrays.fill(nan, Float.NaN);
        seqs.add(2, new DecodeBatch.Sequence("nan", ids, nan, new long[0], SAMPLED));
        try (DecodeBatch batch = new DecodeBatch(m.model(), m.tokenizer(), false)) {
            Map<String, Generation> got = decodeAll(batch, seqs, m);
            // Then it fails with non_finite_logits at its first step, and the others are untouched
            assertEquals(DecodeError.NON_FINITE_LOGITS, got.get("nan").error().code());
            assertEquals(0, got.get("nan").generatedTokens());
            assertReferenceOutputs(m, got);
        }
    }

    /** A token no reference output and no prompt here holds, special tokens aside. */
    private static long unusedToken(Shipped.Loaded m) {
        java.util.Set<Long> used = new java.util.HashSet<>();
        for (String text : DecodeBatchTest.INPUTS) {
            long[] ids = m.tokenizer().encode(text);
            Arrays.stream(ids).forEach(used::add);
            Arrays.stream(m.generator(false).generate(List.of(new Generator.Request(ids, SAMPLED))).get(0).ids()).forEach(used::add);
        }
        SpecialTokens sp = m.pkg().special();
        for (long id = m.pkg().vocabSize() - 1; id >= 0; id--) {
            if (!used.contains(id) && id != sp.pad() && id != sp.bos() && id != sp.eos() && id != sp.sep() && id != sp.unk()) {
                return id;
            }
        }
        throw new IllegalStateException("every token is used");
    }

    @ParameterizedTest
    @ValueSource(strings = {Shipped.SEQ2SEQ, Shipped.GPT})
    void aBatchedCallThatFailsIsRetriedRowByRowSoOnlyTheGuiltySequenceFails(String name) {
        // Given a decoder that throws whenever a call holds the token that one sequence generates
        // at its fifth step (a prefill or a step, batched or alone), as a model can fail on one input
        Shipped.Loaded m = Shipped.load(name);
        List<DecodeBatch.Sequence> seqs = new ArrayList<>();
        for (int i = 0; i < DecodeBatchTest.INPUTS.size(); i++) {
            seqs.add(good(m, "ok" + i, DecodeBatchTest.INPUTS.get(i)));
        }
        long poison = unusedToken(m);
        long[] ids = m.tokenizer().encode("zero errors were found");
        long[] generated = {m.tokenizer().encode("zero")[0], poison};
        seqs.add(new DecodeBatch.Sequence("guilty", ids, hidden(m, ids), generated, SAMPLED));
        DecoderGraph faulty = new DecoderGraph(m.model()) {
            @Override
            FloatBuffer decode(Call call, long[] ids, long[] positions, int n, int t) throws OrtException {
                if (Arrays.stream(ids).anyMatch(id -> id == poison)) {
                    throw new OrtException("injected fault");
                }
                return super.decode(call, ids, positions, n, t);
            }
        };
        // When they decode together, the guilty one joining a running batch
        try (DecodeBatch batch = new DecodeBatch(faulty, m.tokenizer(), false)) {
            Map<String, Generation> got = new HashMap<>();
            batch.admit(seqs.subList(0, seqs.size() - 1));
            batch.step();
            batch.admit(List.of(seqs.get(seqs.size() - 1)));
            got.putAll(decodeAll(batch, List.of(), m));
            // Then only it fails, as decode_failed, and the others give their reference outputs
            assertEquals(DecodeError.DECODE_FAILED, got.get("guilty").error().code());
            assertTrue(got.get("guilty").error().message().contains("injected fault"));
            assertReferenceOutputs(m, got);
        }
    }

    @ParameterizedTest
    @ValueSource(strings = {Shipped.SEQ2SEQ, Shipped.GPT})
    void aStepThatFailsIsRunRowByRowSoOnlyTheGuiltySequenceFails(String name) {
        // Given a decoder whose one-token steps throw beyond a position that only one sequence
        // reaches (a long input, resumed after 40 tokens of its output), batched or alone, while prefills pass
        Shipped.Loaded m = Shipped.load(name);
        List<DecodeBatch.Sequence> seqs = new ArrayList<>();
        for (int i = 0; i < DecodeBatchTest.INPUTS.size(); i++) {
            seqs.add(good(m, "ok" + i, DecodeBatchTest.INPUTS.get(i)));
        }
        long[] ids = m.tokenizer().encode("on the twenty first of december at six fifteen p m we paid one thousand two hundred dollars for the rent");
        long[] output = m.generator(false).generate(List.of(new Generator.Request(ids, SAMPLED))).get(0).ids();
        long[] generated = Arrays.copyOf(output, 40);
        seqs.add(new DecodeBatch.Sequence("guilty", ids, hidden(m, ids), generated, SAMPLED));
        int start = m.pkg().promptLength(ids.length) + generated.length;
        int[] stepFaults = new int[1];
        DecoderGraph faulty = new DecoderGraph(m.model()) {
            @Override
            FloatBuffer decode(Call call, long[] ids, long[] positions, int n, int t) throws OrtException {
                if (t == 1 && Arrays.stream(positions).anyMatch(p -> p >= start)) {
                    stepFaults[0]++;
                    throw new OrtException("injected step fault");
                }
                return super.decode(call, ids, positions, n, t);
            }
        };
        // When they decode in one batch
        try (DecodeBatch batch = new DecodeBatch(faulty, m.tokenizer(), false)) {
            Map<String, Generation> got = decodeAll(batch, seqs, m);
            // Then the batched step failed, then the guilty one's step alone; only it fails
            assertEquals(2, stepFaults[0], String.valueOf(got.get("guilty")));
            assertEquals(DecodeError.DECODE_FAILED, got.get("guilty").error().code());
            assertTrue(got.get("guilty").error().message().contains("injected step fault"));
            assertReferenceOutputs(m, got);
        }
    }
}
