package org.seqstream.schemas;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

import java.nio.charset.StandardCharsets;
import java.util.List;
import java.util.Map;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** Results and token events as JSON: the shape a reader without Avro sees, and read back either way. */
class OutputSerdeTest {
    private static final SequenceResult RESULT = SequenceResult.newBuilder().setId("r1").setModel("itn-gpt")
            .setOutputText("$1200").setOutputIds(List.of(7L, 8L)).setFinishReason("stop")
            .setUsage(Usage.newBuilder().setPromptTokens(30).setGeneratedTokens(5).build()).setSeed(null)
            .setMetadata(Map.of("user", "u")).setTimings(List.of(StageTiming.newBuilder().setStage("decoder").setMillis(12).build()))
            .setCreatedAtMs(1234).build();

    @AfterEach
    void avroAgain() {
        OutputFormat.set(OutputFormat.AVRO);
    }

    @Test
    void jsonResultsHaveTheSchemasFieldsAndReadBackEqual() throws Exception {
        OutputFormat.set(OutputFormat.JSON);
        byte[] json = Topics.RESULTS.valueSerde().serializer().serialize("seq.results", RESULT);
        JsonNode n = new ObjectMapper().readTree(new String(json, StandardCharsets.UTF_8));
        assertEquals("r1", n.path("id").asText());
        assertEquals("$1200", n.path("output_text").asText());
        assertEquals("stop", n.path("finish_reason").asText());
        assertEquals(5, n.path("usage").path("generated_tokens").asInt());
        assertTrue(n.path("error").isNull());
        assertTrue(n.path("seed").isNull());
        assertEquals(8, n.path("output_ids").path(1).asLong());
        assertEquals("u", n.path("metadata").path("user").asText());
        assertEquals("decoder", n.path("timings").path(0).path("stage").asText());
        assertEquals(RESULT, Topics.RESULTS.valueSerde().deserializer().deserialize("seq.results", json));

        SequenceResult error = SequenceResult.newBuilder(RESULT).setOutputText(null).setFinishReason(null)
                .setError(SequenceError.newBuilder().setStage("tokenizer").setCode("empty_input").setMessage("empty").build()).build();
        byte[] e = Topics.RESULTS.valueSerde().serializer().serialize("seq.results", error);
        assertEquals("empty_input", new ObjectMapper().readTree(e).path("error").path("code").asText());
        assertEquals(error, Topics.RESULTS.valueSerde().deserializer().deserialize("seq.results", e));

        TokenEvent t = TokenEvent.newBuilder().setId("r1").setIndex(3).setTokenId(9).setTextDelta("2").build();
        byte[] tj = Topics.STREAM.valueSerde().serializer().serialize("seq.stream", t);
        assertEquals("{\"id\":\"r1\",\"index\":3,\"token_id\":9,\"text_delta\":\"2\"}", new String(tj, StandardCharsets.UTF_8));
        assertEquals(t, Topics.STREAM.valueSerde().deserializer().deserialize("seq.stream", tj));
    }

    @Test
    void avroStaysTheDefaultAndBothAreReadInOneStream() {
        byte[] avro = Topics.RESULTS.valueSerde().serializer().serialize("seq.results", RESULT);
        assertTrue(AvroSerde.isAvro(avro));
        OutputFormat.set(OutputFormat.JSON);
        byte[] json = Topics.RESULTS.valueSerde().serializer().serialize("seq.results", RESULT);
        assertEquals('{', json[0]);
        assertEquals(RESULT, Topics.RESULTS.valueSerde().deserializer().deserialize("seq.results", avro));
        assertEquals(RESULT, Topics.RESULTS.valueSerde().deserializer().deserialize("seq.results", json));
    }
}
