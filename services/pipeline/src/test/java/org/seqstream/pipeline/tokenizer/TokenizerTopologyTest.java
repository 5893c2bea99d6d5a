package org.seqstream.pipeline.tokenizer;

import org.apache.kafka.common.header.Header;
import org.apache.kafka.common.serialization.Serdes;
import org.apache.kafka.streams.TestInputTopic;
import org.apache.kafka.streams.TestOutputTopic;
import org.apache.kafka.streams.TopologyTestDriver;
import org.apache.kafka.streams.test.TestRecord;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.seqstream.pipeline.DeadLetters;
import org.seqstream.runtime.ModelCatalog;
import org.seqstream.schemas.GenerationParams;
import org.seqstream.schemas.SequenceRequest;
import org.seqstream.schemas.SequenceResult;
import org.seqstream.schemas.SequenceTokens;
import org.seqstream.schemas.Topics;

import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

class TokenizerTopologyTest {
    private static ModelCatalog models;
    private TopologyTestDriver driver;
    private TestInputTopic<String, byte[]> requests;
    private TestOutputTopic<String, SequenceTokens> tokens;
    private TestOutputTopic<String, SequenceResult> results;
    private TestOutputTopic<String, byte[]> dlq;

    @BeforeAll
    static void loadModels() {
        models = ModelCatalog.load(Path.of(System.getProperty("seq.repo.root", "../..")).resolve("models"));
    }

    @AfterAll
    static void closeModels() {
        models.close();
    }

    @BeforeEach
    void start() {
        start(new TopologyTestDriver(TokenizerTopology.build(models)));
    }

    private void start(TopologyTestDriver d) {
        driver = d;
        requests = driver.createInputTopic(Topics.REQUESTS.name(), Serdes.String().serializer(), Serdes.ByteArray().serializer());
        tokens = driver.createOutputTopic(Topics.TOKENS.name(), Serdes.String().deserializer(),
                Topics.TOKENS.valueSerde().deserializer());
        results = driver.createOutputTopic(Topics.RESULTS.name(), Serdes.String().deserializer(),
                Topics.RESULTS.valueSerde().deserializer());
        dlq = driver.createOutputTopic(Topics.DLQ.name(), Serdes.String().deserializer(), Serdes.ByteArray().deserializer());
    }

    @AfterEach
    void stop() {
        driver.close();
    }

    private void sendJson(String key, String json) {
        requests.pipeInput(key, json.getBytes(StandardCharsets.UTF_8));
    }

    private SequenceResult onlyError() {
        assertTrue(tokens.isEmpty(), "no tokens expected");
        List<SequenceResult> r = results.readValuesToList();
        assertEquals(1, r.size());
        return r.get(0);
    }

    @Test
    void aJsonRequestBecomesTokensKeyedByItsId() {
        sendJson("r1", "{\"id\":\"r1\",\"model\":\"itn-gpt\",\"text\":\"one dollar\",\"params\":{\"seed\":4},\"metadata\":{\"u\":\"x\"}}");
        TestRecord<String, SequenceTokens> out = tokens.readRecord();
        assertEquals("r1", out.key());
        assertEquals(10, out.value().getTokenIds().size());
        assertEquals(4L, out.value().getParams().getSeed());
        assertEquals(Map.of("u", "x"), out.value().getMetadata());
        assertEquals("tokenizer", out.value().getTimings().get(0).getStage());
        assertTrue(results.isEmpty());
    }

    @Test
    void anAvroRequestIsAcceptedToo() {
        SequenceRequest r = SequenceRequest.newBuilder().setId("a1").setModel("itn-seq2seq").setText("zero")
                .setParams(GenerationParams.newBuilder().build()).build();
        requests.pipeInput("a1", Topics.REQUESTS.valueSerde().serializer().serialize("seq.requests", r));
        assertEquals(4, tokens.readValue().getTokenIds().size());
    }

    @Test
    void maxNewTokensLeftOutIsTheModelsLimitAndAGivenOneIsKept() {
        // Given a JSON request without max_new_tokens, an Avro one with the schema's default, and one that sets it
        sendJson("j", "{\"id\":\"j\",\"model\":\"itn-gpt\",\"text\":\"one\"}");
        SequenceRequest r = SequenceRequest.newBuilder().setId("a").setModel("itn-seq2seq").setText("one")
                .setParams(GenerationParams.newBuilder().build()).build();
        requests.pipeInput("a", Topics.REQUESTS.valueSerde().serializer().serialize("seq.requests", r));
        sendJson("g", "{\"id\":\"g\",\"model\":\"itn-gpt\",\"text\":\"one\",\"params\":{\"max_new_tokens\":7}}");
        // Then the tokens carry each model's own limit, or the given value
        Map<String, Integer> max = new java.util.HashMap<>();
        tokens.readValuesToList().forEach(t -> max.put(t.getId(), t.getParams().getMaxNewTokens()));
        assertEquals(Map.of("j", models.find("itn-gpt").orElseThrow().maxNewTokens(),
                "a", models.find("itn-seq2seq").orElseThrow().maxNewTokens(), "g", 7), max);
        assertTrue(results.isEmpty());
    }

    @Test
    void aRequestWithoutIdGetsOneAndKeepsIt() {
        sendJson(null, "{\"model\":\"itn-gpt\",\"text\":\"one\"}");
        TestRecord<String, SequenceTokens> out = tokens.readRecord();
        assertFalse(out.key().isEmpty());
        assertEquals(out.key(), out.value().getId());
        sendJson("from-key", "{\"model\":\"itn-gpt\",\"text\":\"one\"}");
        assertEquals("from-key", tokens.readValue().getId());
    }

    @Test
    void everyRefusalIsOneErrorResultNamingTheStageAndReason() {
        sendJson("e1", "{\"id\":\"e1\",\"model\":\"itn-gpt\",\"text\":\"\"}");
        assertEquals("empty_input", onlyError().getError().getCode());
        int max = models.find("itn-gpt").orElseThrow().maxSourceLength();
        sendJson("e2", "{\"id\":\"e2\",\"model\":\"itn-gpt\",\"text\":\"" + "a".repeat(max + 1) + "\"}");
        assertEquals("input_too_long", onlyError().getError().getCode());
        sendJson("e3", "{\"id\":\"e3\",\"model\":\"itn-gpt\",\"text\":\"Hellö\"}");
        SequenceResult r = onlyError();
        assertEquals("unknown_characters", r.getError().getCode());
        assertEquals("tokenizer", r.getError().getStage());
        assertEquals("e3", r.getId());
        sendJson("e4", "{\"id\":\"e4\",\"model\":\"nope\",\"text\":\"one\"}");
        r = onlyError();
        assertEquals("unknown_model", r.getError().getCode());
        assertTrue(r.getError().getMessage().contains("itn-gpt"), r.getError().getMessage());
        int n = 0;
        for (String params : List.of("{\"max_new_tokens\":-1}", "{\"max_new_tokens\":1000}", "{\"temperature\":-1}",
                "{\"top_p\":0}", "{\"top_p\":1.5}", "{\"top_k\":-2}")) {
            String id = "p" + n++;
            sendJson(id, "{\"id\":\"" + id + "\",\"model\":\"itn-seq2seq\",\"text\":\"one\",\"params\":" + params + "}");
            assertEquals("invalid_parameters", onlyError().getError().getCode(), params);
        }
    }

    @Test
    void truncationIsOptInAndReported() {
        int max = models.find("itn-seq2seq").orElseThrow().maxSourceLength();
        sendJson("t1", "{\"id\":\"t1\",\"model\":\"itn-seq2seq\",\"text\":\"" + "ab ".repeat(max / 3 + 1) + "\",\"params\":{\"truncate\":true}}");
        SequenceTokens t = tokens.readValue();
        assertEquals(max, t.getTokenIds().size());
        assertTrue(t.getTruncated());
    }

    @Test
    void bytesThatAreNoRequestGoToTheDeadLetterTopicIntact() {
        byte[] garbage = {0x00, 0x01, 0x02, (byte) 0xff};
        requests.pipeInput("g", garbage);
        TestRecord<String, byte[]> d = dlq.readRecord();
        assertEquals("g", d.key());
        assertEquals(List.of((byte) 0, (byte) 1, (byte) 2, (byte) -1), List.of(d.value()[0], d.value()[1], d.value()[2], d.value()[3]));
        Header reason = d.headers().lastHeader(DeadLetters.REASON);
        assertTrue(new String(reason.value(), StandardCharsets.UTF_8).contains("neither Avro"));
        assertEquals("seq.requests", new String(d.headers().lastHeader(DeadLetters.TOPIC).value(), StandardCharsets.UTF_8));
        assertEquals("0", new String(d.headers().lastHeader(DeadLetters.OFFSET).value(), StandardCharsets.UTF_8));
        assertTrue(tokens.isEmpty() && results.isEmpty());
        // And the stage keeps going
        sendJson("ok", "{\"id\":\"ok\",\"model\":\"itn-gpt\",\"text\":\"one\"}");
        assertEquals("ok", tokens.readKeyValue().key);
    }

    @Test
    void aRetriedIdIsAnsweredOnceEvenWithOtherContent() {
        long before = TokenizerMetrics.INSTANCE.duplicates();
        sendJson("d1", "{\"id\":\"d1\",\"model\":\"itn-gpt\",\"text\":\"one dollar\"}");
        sendJson("d1", "{\"id\":\"d1\",\"model\":\"itn-gpt\",\"text\":\"one dollar\"}");
        sendJson("d1", "{\"id\":\"d1\",\"model\":\"itn-gpt\",\"text\":\"two dollars\"}");
        // an id refused once is not tried again either
        sendJson("d2", "{\"id\":\"d2\",\"model\":\"nope\",\"text\":\"one\"}");
        sendJson("d2", "{\"id\":\"d2\",\"model\":\"itn-gpt\",\"text\":\"one\"}");
        List<SequenceTokens> out = tokens.readValuesToList();
        assertEquals(1, out.size());
        assertEquals(10, out.get(0).getTokenIds().size());
        assertEquals(1, results.readValuesToList().size());
        assertEquals(before + 3, TokenizerMetrics.INSTANCE.duplicates());
    }

    @Test
    void aRequestKeyedOtherwiseIsRekeyedByItsIdAndStillAnsweredOnce() {
        long before = TokenizerMetrics.INSTANCE.rekeyed();
        sendJson("some-key", "{\"id\":\"k1\",\"model\":\"itn-gpt\",\"text\":\"one\"}");
        sendJson(null, "{\"id\":\"k1\",\"model\":\"itn-gpt\",\"text\":\"one\"}");
        List<TestRecord<String, SequenceTokens>> out = tokens.readRecordsToList();
        assertEquals(1, out.size());
        assertEquals("k1", out.get(0).key());
        assertEquals(before + 2, TokenizerMetrics.INSTANCE.rekeyed());
    }

    @Test
    void aRequestOverTheSizeLimitGetsAnErrorNamingTheLimit() {
        driver.close();
        driver = new TopologyTestDriver(TokenizerTopology.build(models,
                new TokenizerTopology.Config(200, java.time.Duration.ofMinutes(5))));
        start(driver);
        sendJson("big", "{\"id\":\"big\",\"model\":\"itn-gpt\",\"text\":\"one\",\"metadata\":{\"pad\":\""
                + "x".repeat(300) + "\"}}");
        SequenceResult r = onlyError();
        assertEquals("request_too_large", r.getError().getCode());
        assertEquals("big", r.getId());
        assertTrue(r.getError().getMessage().contains("200"), r.getError().getMessage());
        sendJson("small", "{\"id\":\"small\",\"model\":\"itn-gpt\",\"text\":\"one\"}");
        assertEquals("small", tokens.readKeyValue().key);
    }

    @Test
    void idsAreForgottenAfterTheWindow() {
        driver.close();
        driver = new TopologyTestDriver(TokenizerTopology.build(models,
                new TokenizerTopology.Config(65536, java.time.Duration.ofSeconds(30))));
        start(driver);
        sendJson("w", "{\"id\":\"w\",\"model\":\"itn-gpt\",\"text\":\"one\"}");
        sendJson("w", "{\"id\":\"w\",\"model\":\"itn-gpt\",\"text\":\"one\"}");
        assertEquals(1, tokens.readValuesToList().size());
        driver.advanceWallClockTime(java.time.Duration.ofSeconds(40));
        sendJson("w", "{\"id\":\"w\",\"model\":\"itn-gpt\",\"text\":\"one\"}");
        assertEquals(1, tokens.readValuesToList().size());
    }

    @Test
    void anIdRefusedWithARetryableErrorIsAnsweredWhenRetriedAndOthersStayDeduplicated() {
        // Given two answered requests
        org.apache.kafka.streams.TestInputTopic<String, byte[]> resultsIn = driver.createInputTopic(Topics.RESULTS.name(),
                Serdes.String().serializer(), Serdes.ByteArray().serializer());
        String json = "{\"id\":\"%s\",\"model\":\"itn-gpt\",\"text\":\"one dollar\"}";
        sendJson("o1", json.formatted("o1"));
        sendJson("e1", json.formatted("e1"));
        assertEquals(2, tokens.readValuesToList().size());
        // When the decoder refuses o1 as overloaded (retryable) and e1 with an error that is not
        for (var r : List.of(
                org.seqstream.pipeline.Results.error("o1", "itn-gpt", "decoder", org.seqstream.pipeline.Results.OVERLOADED, "full", Map.of(), List.of(), 1),
                org.seqstream.pipeline.Results.error("e1", "itn-gpt", "decoder", "invalid_sequence", "bad", Map.of(), List.of(), 1))) {
            assertEquals(r.getId().equals("o1"), r.getError().getRetryable());
            org.apache.kafka.common.header.Headers headers = org.seqstream.pipeline.Results.headers(r);
            resultsIn.pipeInput(new org.apache.kafka.streams.test.TestRecord<>(r.getId(),
                    Topics.RESULTS.valueSerde().serializer().serialize(Topics.RESULTS.name(), r), headers));
        }
        // And both are sent again with the same ids
        sendJson("o1", json.formatted("o1"));
        sendJson("e1", json.formatted("e1"));
        // Then only the retryable one is tokenized again; the other stays a duplicate
        List<String> again = tokens.readKeyValuesToList().stream().map(kv -> kv.key).toList();
        assertEquals(List.of("o1"), again);
        // And once answered again, o1 is deduplicated as before
        sendJson("o1", json.formatted("o1"));
        assertTrue(tokens.isEmpty());
    }

    @Test
    void aRetryThatOvertakesItsRefusalIsHeldAndAnsweredWhenTheRefusalComes() {
        org.apache.kafka.streams.TestInputTopic<String, byte[]> resultsIn = driver.createInputTopic(Topics.RESULTS.name(),
                Serdes.String().serializer(), Serdes.ByteArray().serializer());
        String json = "{\"id\":\"%s\",\"model\":\"itn-gpt\",\"text\":\"%s\"}";
        // Given requests r1 and d1, answered by the tokenizer
        sendJson("r1", json.formatted("r1", "one dollar"));
        sendJson("d1", json.formatted("d1", "two dollars"));
        assertEquals(2, tokens.readValuesToList().size());
        // When each is sent again before its result is read (the retry of r1 with other text)
        sendJson("r1", json.formatted("r1", "three dollars"));
        sendJson("d1", json.formatted("d1", "two dollars"));
        // Then neither is tokenized yet
        assertTrue(tokens.isEmpty());
        // When r1's result is a retryable refusal and d1's a real result
        for (var r : List.of(
                org.seqstream.pipeline.Results.error("r1", "itn-gpt", "decoder", org.seqstream.pipeline.Results.OVERLOADED, "full", Map.of(), List.of(), 1),
                org.seqstream.pipeline.Results.error("d1", "itn-gpt", "decoder", "invalid_sequence", "bad", Map.of(), List.of(), 1))) {
            resultsIn.pipeInput(new org.apache.kafka.streams.test.TestRecord<>(r.getId(),
                    Topics.RESULTS.valueSerde().serializer().serialize(Topics.RESULTS.name(), r), org.seqstream.pipeline.Results.headers(r)));
        }
        // Then the held retry of r1 is tokenized, with its own text, and d1's duplicate is dropped
        var again = tokens.readKeyValuesToList();
        assertEquals(List.of("r1"), again.stream().map(kv -> kv.key).toList());
        String expected = models.tokenizer("itn-gpt").decode(again.get(0).value.getTokenIds().stream()
                .mapToLong(Long::longValue).toArray());
        assertTrue(expected.contains("three dollars"), expected);
        // And a later refusal of d1 finds nothing held
        var late = org.seqstream.pipeline.Results.error("d1", "itn-gpt", "decoder", org.seqstream.pipeline.Results.OVERLOADED, "full", Map.of(), List.of(), 1);
        resultsIn.pipeInput(new org.apache.kafka.streams.test.TestRecord<>("d1",
                Topics.RESULTS.valueSerde().serializer().serialize(Topics.RESULTS.name(), late), org.seqstream.pipeline.Results.headers(late)));
        assertTrue(tokens.isEmpty());
    }
}
