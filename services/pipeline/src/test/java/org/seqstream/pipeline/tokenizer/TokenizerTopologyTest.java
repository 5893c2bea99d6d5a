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
        driver = new TopologyTestDriver(TokenizerTopology.build(models));
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
        sendJson("e2", "{\"id\":\"e2\",\"model\":\"itn-gpt\",\"text\":\"" + "a".repeat(97) + "\"}");
        assertEquals("input_too_long", onlyError().getError().getCode());
        sendJson("e3", "{\"id\":\"e3\",\"model\":\"itn-gpt\",\"text\":\"Hello\"}");
        SequenceResult r = onlyError();
        assertEquals("unknown_characters", r.getError().getCode());
        assertEquals("tokenizer", r.getError().getStage());
        assertEquals("e3", r.getId());
        sendJson("e4", "{\"id\":\"e4\",\"model\":\"nope\",\"text\":\"one\"}");
        r = onlyError();
        assertEquals("unknown_model", r.getError().getCode());
        assertTrue(r.getError().getMessage().contains("itn-gpt"), r.getError().getMessage());
        for (String params : List.of("{\"max_new_tokens\":0}", "{\"max_new_tokens\":1000}", "{\"temperature\":-1}",
                "{\"top_p\":0}", "{\"top_p\":1.5}", "{\"top_k\":-2}")) {
            sendJson("p", "{\"id\":\"p\",\"model\":\"itn-seq2seq\",\"text\":\"one\",\"params\":" + params + "}");
            assertEquals("invalid_parameters", onlyError().getError().getCode(), params);
        }
    }

    @Test
    void truncationIsOptInAndReported() {
        sendJson("t1", "{\"id\":\"t1\",\"model\":\"itn-seq2seq\",\"text\":\"" + "ab ".repeat(40) + "\",\"params\":{\"truncate\":true}}");
        SequenceTokens t = tokens.readValue();
        assertEquals(96, t.getTokenIds().size());
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
}
