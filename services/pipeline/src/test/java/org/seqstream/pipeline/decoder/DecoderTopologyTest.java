package org.seqstream.pipeline.decoder;

import org.apache.kafka.common.serialization.Serdes;
import org.apache.kafka.streams.KeyValue;
import org.apache.kafka.streams.TestInputTopic;
import org.apache.kafka.streams.TestOutputTopic;
import org.apache.kafka.streams.TopologyTestDriver;
import org.apache.kafka.streams.state.KeyValueIterator;
import org.apache.kafka.streams.state.KeyValueStore;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.seqstream.pipeline.Params;
import org.seqstream.pipeline.Tensors;
import org.seqstream.runtime.Generator;
import org.seqstream.runtime.ModelCatalog;
import org.seqstream.runtime.SourceEncoder;
import org.seqstream.schemas.DecodeProgress;
import org.seqstream.schemas.GenerationParams;
import org.seqstream.schemas.SequenceControl;
import org.seqstream.schemas.SequenceEncoded;
import org.seqstream.schemas.SequenceResult;
import org.seqstream.schemas.TokenEvent;
import org.seqstream.schemas.Topics;

import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

class DecoderTopologyTest {
    private static final List<String> INPUTS = List.of(
            "the rent is one thousand two hundred dollars",
            "wake me at six fifteen a m please",
            "zero errors were found",
            "our flight is on the fourth of july twenty twenty six",
            "only seven percent replied");
    private static ModelCatalog models;

    @BeforeAll
    static void load() {
        models = ModelCatalog.load(Path.of(System.getProperty("seq.repo.root", "../..")).resolve("models"));
    }

    @AfterAll
    static void close() {
        models.close();
    }

    private static SequenceEncoded encoded(String model, String id, String text, GenerationParams p) {
        long[] ids = models.tokenizer(model).encode(text);
        SequenceEncoded.Builder b = SequenceEncoded.newBuilder().setId(id).setModel(model)
                .setTokenIds(Arrays.stream(ids).boxed().toList()).setParams(p);
        if (models.find(model).orElseThrow().isEncoderDecoder()) {
            SourceEncoder enc = new SourceEncoder(models.sessions(model));
            float[] h = enc.encode(List.of(enc.embed(List.of(ids))[0]))[0];
            b.setEncoderHiddenStates(Tensors.float32(h, 0, ids.length, 128));
        }
        return b.build();
    }

    private static String reference(String model, String text, GenerationParams p) {
        Generator gen = new Generator(models.sessions(model), models.tokenizer(model));
        return gen.generate(List.of(new Generator.Request(models.tokenizer(model).encode(text),
                Params.sampling(p, models.find(model).orElseThrow())))).get(0).text();
    }

    /** A driver with the decoder topology, its topics, and a bound on punctuations. */
    private static final class Harness implements AutoCloseable {
        final TopologyTestDriver driver;
        final TestInputTopic<String, byte[]> in;
        final TestOutputTopic<String, SequenceResult> results;
        final TestOutputTopic<String, TokenEvent> stream;

        Harness(DecoderTopology.Config config) {
            driver = new TopologyTestDriver(DecoderTopology.build(models, config));
            in = driver.createInputTopic(Topics.ENCODED.name(), Serdes.String().serializer(), Serdes.ByteArray().serializer());
            results = driver.createOutputTopic(Topics.RESULTS.name(), Serdes.String().deserializer(),
                    Topics.RESULTS.valueSerde().deserializer());
            stream = driver.createOutputTopic(Topics.STREAM.name(), Serdes.String().deserializer(),
                    Topics.STREAM.valueSerde().deserializer());
        }

        void cancel(String id) {
            driver.createInputTopic(Topics.CONTROL.name(), Serdes.String().serializer(), Serdes.ByteArray().serializer())
                    .pipeInput(id, Topics.CONTROL.valueSerde().serializer().serialize(Topics.CONTROL.name(),
                            SequenceControl.newBuilder().setId(id).setAction(Topics.CANCEL).build()));
        }

        void send(SequenceEncoded s) {
            in.pipeInput(s.getId(), Topics.ENCODED.valueSerde().serializer().serialize(Topics.ENCODED.name(), s));
        }

        Map<String, SequenceResult> runUntil(int expected, Map<String, StringBuilder> streamed) {
            Map<String, SequenceResult> out = new HashMap<>();
            // the decode thread works on its own: punctuate until the results are in, a minute at most
            long deadline = System.nanoTime() + 60_000_000_000L;
            while (out.size() < expected && System.nanoTime() < deadline) {
                driver.advanceWallClockTime(Duration.ofMillis(1));
                sleep();
                drainStream(streamed);
                results.readKeyValuesToList().forEach(kv -> assertTrue(out.put(kv.key, kv.value) == null, "duplicate " + kv.key));
            }
            return out;
        }

        private static void sleep() {
            try {
                Thread.sleep(1);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
        }

        void drainStream(Map<String, StringBuilder> streamed) {
            for (KeyValue<String, TokenEvent> kv : stream.readKeyValuesToList()) {
                StringBuilder sb = streamed.computeIfAbsent(kv.key, k -> new StringBuilder());
                assertEquals(kv.value.getIndex(), sb.length(), "token index of " + kv.key);
                sb.append(kv.value.getTextDelta());
            }
        }

        @Override
        public void close() {
            driver.close();
        }
    }

    @Test
    void everySequenceGetsTheReferenceOutputItsTokensAndOneResult() {
        // Given greedy and sampled requests of both models, more than the two active slots
        GenerationParams greedy = GenerationParams.newBuilder().build();
        GenerationParams sampled = GenerationParams.newBuilder().setTemperature(0.8).setTopP(0.9).setSeed(21).build();
        Map<String, String> expected = new HashMap<>();
        try (Harness h = new Harness(DecoderTopology.Config.DEFAULT.withMaxActive(2))) {
            for (String model : List.of("itn-seq2seq", "itn-gpt")) {
                for (int i = 0; i < INPUTS.size(); i++) {
                    GenerationParams p = i % 2 == 0 ? greedy : sampled;
                    String id = model + "-" + i;
                    h.send(encoded(model, id, INPUTS.get(i), p));
                    expected.put(id, reference(model, INPUTS.get(i), p));
                }
            }
            // When the scheduler runs
            Map<String, StringBuilder> streamed = new HashMap<>();
            Map<String, SequenceResult> results = h.runUntil(expected.size(), streamed);
            // Then each request has one result equal to the reference generator, and its token stream spells it
            assertEquals(expected.keySet(), results.keySet());
            for (var e : expected.entrySet()) {
                SequenceResult r = results.get(e.getKey());
                assertEquals(e.getValue(), r.getOutputText(), e.getKey());
                assertEquals("stop", r.getFinishReason());
                assertEquals(e.getValue(), streamed.get(e.getKey()).toString());
                assertEquals(r.getOutputIds().size(), r.getUsage().getGeneratedTokens());
            }
            // And the stores are empty again
            assertEquals(0, count(h.driver.getKeyValueStore(DecoderTopology.PROGRESS_STORE)));
            assertEquals(0, count(h.driver.getKeyValueStore(DecoderTopology.SEQUENCES_STORE)));
        }
    }

    /**
     * Sends the inputs to itn-gpt greedily, runs until every result is in; returns the token events' keys in order.
     * Decoding runs inline, one step per punctuation, so that all four requests are queued before the first step
     * whatever the machine's speed.
     */
    private static List<String> eventOrder(DecoderTopology.Config config, Map<String, String> outputs) {
        List<String> order = new ArrayList<>();
        try (Harness h = new Harness(config.withStepBudget(Duration.ZERO).inline())) {
            for (int i = 0; i < 4; i++) {
                h.send(encoded("itn-gpt", "g" + i, INPUTS.get(i), GenerationParams.newBuilder().build()));
            }
            long deadline = System.nanoTime() + 60_000_000_000L;
            while (outputs.size() < 4 && System.nanoTime() < deadline) {
                h.driver.advanceWallClockTime(Duration.ofMillis(1));
                h.stream.readKeyValuesToList().forEach(kv -> order.add(kv.key));
                h.results.readKeyValuesToList().forEach(kv -> outputs.put(kv.key, kv.value.getOutputText()));
            }
        }
        return order;
    }

    @Test
    void theCacheBudgetHoldsNewcomersBackUntilThereIsRoom() {
        // Given four requests, and a decoder whose cache budget (1 MiB) is below two sequences' full
        // caches (itn-gpt: 2 x (prompt + 128 + 16) positions x 6 layers x 2 x 128 floats, over 2 MiB each)
        Map<String, String> bounded = new HashMap<>(), unbounded = new HashMap<>();
        // When each decoder runs them
        List<String> alone = eventOrder(DecoderTopology.Config.DEFAULT.withCacheMb(1), bounded);
        List<String> together = eventOrder(DecoderTopology.Config.DEFAULT.withCacheMb(1024), unbounded);
        // Then both give every reference output
        for (int i = 0; i < 4; i++) {
            String want = reference("itn-gpt", INPUTS.get(i), GenerationParams.newBuilder().build());
            assertEquals(want, bounded.get("g" + i));
            assertEquals(want, unbounded.get("g" + i));
        }
        // but the bounded one decoded them one at a time (each one's token events in one run),
        // where a budget with room interleaves them in one batch
        assertEquals(4, runs(alone), "runs of token events by sequence: " + alone);
        assertTrue(runs(together) > 4, "the unbounded decoder interleaves its sequences");
    }

    private static int runs(List<String> keys) {
        int n = 0;
        for (int i = 0; i < keys.size(); i++) {
            n += i == 0 || !keys.get(i).equals(keys.get(i - 1)) ? 1 : 0;
        }
        return n;
    }

    @Test
    void unfinishedSequencesResumeFromTheStoreAfterARestart() {
        GenerationParams p = GenerationParams.newBuilder().setTemperature(0.7).setSeed(3).build();
        Map<String, String> expected = new HashMap<>();
        Map<String, SequenceEncoded> seqStore = new HashMap<>();
        Map<String, DecodeProgress> progStore = new HashMap<>();
        Map<String, StringBuilder> streamed = new HashMap<>();
        // Given an instance that decoded a few steps (one per punctuation) and stopped
        try (Harness h = new Harness(DecoderTopology.Config.DEFAULT.withStepBudget(Duration.ZERO).inline())) {
            for (int i = 0; i < INPUTS.size(); i++) {
                String id = "r" + i;
                h.send(encoded("itn-gpt", id, INPUTS.get(i), p));
                expected.put(id, reference("itn-gpt", INPUTS.get(i), p));
            }
            for (int i = 0; i < 6; i++) {
                h.driver.advanceWallClockTime(Duration.ofMillis(1));
            }
            h.drainStream(streamed);
            assertTrue(h.results.isEmpty());
            KeyValueStore<String, SequenceEncoded> s = h.driver.getKeyValueStore(DecoderTopology.SEQUENCES_STORE);
            KeyValueStore<String, DecodeProgress> pr = h.driver.getKeyValueStore(DecoderTopology.PROGRESS_STORE);
            s.all().forEachRemaining(kv -> seqStore.put(kv.key, kv.value));
            pr.all().forEachRemaining(kv -> progStore.put(kv.key, kv.value));
        }
        assertTrue(progStore.values().stream().allMatch(x -> x.getGeneratedIds().size() >= 4), progStore.toString());
        // When a new instance starts over the restored stores
        long before = DecoderMetrics.INSTANCE.resumedSequences();
        try (Harness h = new Harness(DecoderTopology.Config.DEFAULT)) {
            KeyValueStore<String, SequenceEncoded> s = h.driver.getKeyValueStore(DecoderTopology.SEQUENCES_STORE);
            KeyValueStore<String, DecodeProgress> pr = h.driver.getKeyValueStore(DecoderTopology.PROGRESS_STORE);
            seqStore.forEach(s::put);
            progStore.forEach(pr::put);
            Map<String, StringBuilder> after = new HashMap<>();
            progStore.forEach((id, prog) -> after.put(id, new StringBuilder(streamed.get(id).substring(0,
                    prog.getGeneratedIds().size()))));
            Map<String, SequenceResult> results = h.runUntil(expected.size(), after);
            // Then every sequence resumes where its stored progress ended (token indexes continue)
            // and finishes with the output of an uninterrupted run, once
            assertEquals(before + expected.size(), DecoderMetrics.INSTANCE.resumedSequences());
            for (var e : expected.entrySet()) {
                assertEquals(e.getValue(), results.get(e.getKey()).getOutputText(), e.getKey());
                assertEquals(e.getValue(), after.get(e.getKey()).toString());
            }
        }
    }

    @Test
    void aCancelEndsItsSequenceWithTheOutputSoFarAndNothingAfterIt() {
        GenerationParams p = GenerationParams.newBuilder().build();
        Map<String, StringBuilder> streamed = new HashMap<>();
        // one active slot: "run" decodes, "wait" waits behind it; "early" is cancelled before it comes
        try (Harness h = new Harness(DecoderTopology.Config.DEFAULT.withMaxActive(1).withStepBudget(Duration.ZERO).inline())) {
            h.cancel("early");
            h.send(encoded("itn-gpt", "run", INPUTS.get(0), p));
            h.send(encoded("itn-gpt", "wait", INPUTS.get(1), p));
            for (int i = 0; i < 5; i++) {
                h.driver.advanceWallClockTime(Duration.ofMillis(1));   // one step per punctuation
            }
            h.drainStream(streamed);
            int before = streamed.get("run").length();
            assertTrue(before >= 3 && before < reference("itn-gpt", INPUTS.get(0), p).length(), "tokens before the cancel: " + before);
            long cancelledBefore = DecoderMetrics.INSTANCE.cancelledSequences();
            h.cancel("run");
            h.cancel("wait");
            h.send(encoded("itn-gpt", "early", INPUTS.get(2), p));
            Map<String, SequenceResult> results = new HashMap<>();
            h.results.readKeyValuesToList().forEach(kv -> assertTrue(results.put(kv.key, kv.value) == null, "duplicate " + kv.key));
            h.drainStream(streamed);
            for (int i = 0; i < 20; i++) {
                h.driver.advanceWallClockTime(Duration.ofMillis(1));
            }
            // nothing more for any of them
            assertTrue(h.results.isEmpty());
            assertTrue(h.stream.isEmpty());
            assertEquals(Set.of("run", "wait", "early"), results.keySet());
            SequenceResult run = results.get("run");
            assertEquals("cancelled", run.getFinishReason());
            assertEquals(streamed.get("run").toString(), run.getOutputText(), "the output so far: the tokens streamed");
            assertEquals(streamed.get("run").length(), run.getUsage().getGeneratedTokens());
            assertTrue(run.getOutputText().length() >= before);
            for (String id : List.of("wait", "early")) {
                assertEquals("cancelled", results.get(id).getFinishReason(), id);
                assertEquals("", results.get(id).getOutputText(), id);
                assertTrue(!streamed.containsKey(id), id + " streamed nothing");
            }
            assertEquals(cancelledBefore + 3, DecoderMetrics.INSTANCE.cancelledSequences());
            assertEquals(0, count(h.driver.getKeyValueStore(DecoderTopology.SEQUENCES_STORE)));
            assertEquals(0, count(h.driver.getKeyValueStore(DecoderTopology.CANCELLED_STORE)));
        }
    }

    @Test
    void sequencesBeyondTheQueueLimitAreRefusedWithAnErrorResult() {
        // Given one active slot and room for two waiting sequences
        GenerationParams greedy = GenerationParams.newBuilder().build();
        long before = DecoderMetrics.INSTANCE.rejectedSequences();
        try (Harness h = new Harness(new DecoderTopology.Config(1, 2, Duration.ofMillis(1), Duration.ofMillis(10), false, 0))) {
            // When five arrive before the scheduler runs
            for (int i = 0; i < 5; i++) {
                h.send(encoded("itn-gpt", "q" + i, INPUTS.get(i), greedy));
            }
            Map<String, SequenceResult> results = h.runUntil(5, new HashMap<>());
            // Then the first two decode, the other three are refused as overloaded, each once
            assertEquals(5, results.size());
            for (int i = 0; i < 5; i++) {
                SequenceResult r = results.get("q" + i);
                if (i < 2) {
                    assertEquals(reference("itn-gpt", INPUTS.get(i), greedy), r.getOutputText());
                } else {
                    assertEquals("overloaded", r.getError().getCode());
                    assertEquals("decoder", r.getError().getStage());
                    assertTrue(r.getError().getRetryable());
                }
            }
            assertEquals(before + 3, DecoderMetrics.INSTANCE.rejectedSequences());
        }
    }

    private static int count(KeyValueStore<String, ?> store) {
        int n = 0;
        try (KeyValueIterator<String, ?> it = store.all()) {
            while (it.hasNext()) {
                it.next();
                n++;
            }
        }
        return n;
    }

    @Test
    void recordsThatNeverPassedTheTokenizerEachGetOneErrorAndTheRestDecode() {
        // Given valid Avro records published straight to seq.encoded that the decoder cannot decode
        GenerationParams greedy = GenerationParams.newBuilder().build();
        SequenceEncoded good = encoded("itn-seq2seq", "x", "zero errors were found", greedy);
        Map<String, String> bad = new HashMap<>();
        List<SequenceEncoded> crafted = new ArrayList<>();
        crafted.add(SequenceEncoded.newBuilder(good).setId("negative-max").setParams(GenerationParams.newBuilder().setMaxNewTokens(-1).build()).build());
        bad.put("negative-max", "invalid_parameters");
        crafted.add(SequenceEncoded.newBuilder(good).setId("unknown").setModel("no-such-model").build());
        bad.put("unknown", "unknown_model");
        crafted.add(SequenceEncoded.newBuilder(good).setId("outside").setTokenIds(List.of(3L, 99_999L, -4L)).build());
        bad.put("outside", "invalid_sequence");
        crafted.add(SequenceEncoded.newBuilder(good).setId("no-tensor").setEncoderHiddenStates(null).build());
        bad.put("no-tensor", "invalid_sequence");
        crafted.add(SequenceEncoded.newBuilder(good).setId("wrong-shape")
                .setEncoderHiddenStates(Tensors.float32(new float[7 * 64], 0, 7, 64)).build());
        bad.put("wrong-shape", "invalid_sequence");
        crafted.add(SequenceEncoded.newBuilder(good).setId("int-tensor").setEncoderHiddenStates(
                org.seqstream.schemas.Tensor.newBuilder(good.getEncoderHiddenStates()).setDtype(org.seqstream.schemas.DType.INT64).build()).build());
        bad.put("int-tensor", "invalid_sequence");
        crafted.add(SequenceEncoded.newBuilder(good).setId("no-ids").setTokenIds(List.of())
                .setEncoderHiddenStates(Tensors.float32(new float[0], 0, 0, 128)).build());
        bad.put("no-ids", "invalid_sequence");
        crafted.add(SequenceEncoded.newBuilder(encoded("itn-gpt", "y", "zero errors were found", greedy)).setId("gpt-with-tensor")
                .setEncoderHiddenStates(good.getEncoderHiddenStates()).build());
        bad.put("gpt-with-tensor", "invalid_sequence");
        float[] nan = new float[good.getTokenIds().size() * 128];
        java.util.Arrays.fill(nan, Float.NaN);
        crafted.add(SequenceEncoded.newBuilder(good).setId("nan").setEncoderHiddenStates(Tensors.float32(nan, 0, good.getTokenIds().size(), 128)).build());
        bad.put("nan", "non_finite_logits");
        Map<String, String> expected = new HashMap<>();
        long failedBefore = DecoderMetrics.INSTANCE.failedSequences();
        try (Harness h = new Harness(DecoderTopology.Config.DEFAULT.withMaxActive(4))) {
            crafted.forEach(h::send);
            // And requests of both models sent after them
            for (String model : List.of("itn-seq2seq", "itn-gpt")) {
                for (int i = 0; i < INPUTS.size(); i++) {
                    String id = model + "-after-" + i;
                    h.send(encoded(model, id, INPUTS.get(i), greedy));
                    expected.put(id, reference(model, INPUTS.get(i), greedy));
                }
            }
            Map<String, StringBuilder> streamed = new HashMap<>();
            Map<String, SequenceResult> results = h.runUntil(bad.size() + expected.size(), streamed);
            // Then each crafted record has exactly one error result from the decoder, naming its cause
            bad.forEach((id, code) -> {
                SequenceResult r = results.get(id);
                assertTrue(r != null && r.getError() != null, id + ": " + r);
                assertEquals("decoder", r.getError().getStage(), id);
                assertEquals(code, r.getError().getCode(), id + ": " + r.getError().getMessage());
                assertTrue(!streamed.containsKey(id), id + " streamed tokens");
                assertTrue(!r.getError().getRetryable(), id);
                assertTrue(r.getCreatedAtMs() > 0, id);
            });
            // And every request after them its reference output
            expected.forEach((id, text) -> assertEquals(text, results.get(id).getOutputText(), id));
            assertEquals(failedBefore + bad.size(), DecoderMetrics.INSTANCE.failedSequences());
            assertEquals(0, count(h.driver.getKeyValueStore(DecoderTopology.PROGRESS_STORE)));
            assertEquals(0, count(h.driver.getKeyValueStore(DecoderTopology.SEQUENCES_STORE)));
        }
    }

    @Test
    void aStoredSequenceWhoseModelIsGoneEndsWithAnErrorInsteadOfStoppingTheThread() {
        // Given stores restored with a sequence of a model this instance does not serve, and one it does
        GenerationParams greedy = GenerationParams.newBuilder().build();
        SequenceEncoded gone = SequenceEncoded.newBuilder(encoded("itn-gpt", "gone", "zero errors were found", greedy))
                .setModel("removed-model").build();
        SequenceEncoded kept = encoded("itn-gpt", "kept", "zero errors were found", greedy);
        try (Harness h = new Harness(DecoderTopology.Config.DEFAULT)) {
            KeyValueStore<String, SequenceEncoded> s = h.driver.getKeyValueStore(DecoderTopology.SEQUENCES_STORE);
            KeyValueStore<String, DecodeProgress> pr = h.driver.getKeyValueStore(DecoderTopology.PROGRESS_STORE);
            for (SequenceEncoded seq : List.of(gone, kept)) {
                s.put(seq.getId(), seq);
                pr.put(seq.getId(), DecodeProgress.newBuilder().setId(seq.getId()).setAdmitted(true).build());
            }
            // When the instance resumes them
            Map<String, SequenceResult> results = h.runUntil(2, new HashMap<>());
            // Then the orphan has one error result and leaves the stores; the other decodes
            assertEquals("unknown_model", results.get("gone").getError().getCode());
            assertEquals(reference("itn-gpt", "zero errors were found", greedy), results.get("kept").getOutputText());
            assertEquals(0, count(pr));
            assertEquals(0, count(s));
        }
    }

    @Test
    void anUnseededSampledRequestGetsARandomSeedThatItsResultReportsAndThatReplaysIt() {
        // Given two sampled requests of the same input that give no seed
        GenerationParams unseeded = GenerationParams.newBuilder().setTemperature(1.0).setRandomSeed(true).build();
        String text = "our flight is on the fourth of july twenty twenty six";
        try (Harness h = new Harness(DecoderTopology.Config.DEFAULT)) {
            h.send(encoded("itn-gpt", "u1", text, GenerationParams.newBuilder(unseeded).build()));
            h.send(encoded("itn-gpt", "u2", text, GenerationParams.newBuilder(unseeded).build()));
            Map<String, SequenceResult> results = h.runUntil(2, new HashMap<>());
            // Then each result reports the seed it was sampled with; the seeds differ
            Long s1 = results.get("u1").getSeed(), s2 = results.get("u2").getSeed();
            assertTrue(s1 != null && s2 != null && !s1.equals(s2), s1 + " " + s2);
            // And the same request with the reported seed generates the same output
            for (var e : results.entrySet()) {
                GenerationParams replay = GenerationParams.newBuilder().setTemperature(1.0).setSeed(e.getValue().getSeed()).build();
                assertEquals(reference("itn-gpt", text, replay), e.getValue().getOutputText(), e.getKey());
            }
        }
        // And a greedy result reports no seed
        try (Harness h = new Harness(DecoderTopology.Config.DEFAULT)) {
            h.send(encoded("itn-gpt", "g", text, GenerationParams.newBuilder().setRandomSeed(true).build()));
            assertEquals(null, h.runUntil(1, new HashMap<>()).get("g").getSeed());
        }
    }
}
