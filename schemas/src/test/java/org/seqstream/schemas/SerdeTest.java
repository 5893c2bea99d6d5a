package org.seqstream.schemas;

import org.apache.kafka.common.errors.SerializationException;
import org.junit.jupiter.api.Test;

import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.util.HashSet;
import java.util.List;
import java.util.Map;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

class SerdeTest {
    private static SequenceRequest request() {
        return SequenceRequest.newBuilder().setId("r1").setModel("itn-gpt").setText("one dollar")
                .setParams(GenerationParams.newBuilder().setTemperature(0.7).setSeed(5).build())
                .setMetadata(Map.of("user", "ann")).build();
    }

    @Test
    void avroRequestsRoundTrip() {
        byte[] bytes = Topics.REQUESTS.valueSerde().serializer().serialize("seq.requests", request());
        assertTrue(AvroSerde.isAvro(bytes));
        assertEquals(request(), Topics.REQUESTS.valueSerde().deserializer().deserialize("seq.requests", bytes));
    }

    @Test
    void jsonRequestsAreAcceptedWithDefaultsForWhatTheyLeaveOut() {
        String json = "{\"id\":\"r2\",\"model\":\"itn-seq2seq\",\"text\":\"zero errors\",\"params\":{\"top_p\":0.9,\"seed\":11}}";
        SequenceRequest r = Topics.REQUESTS.valueSerde().deserializer()
                .deserialize("seq.requests", json.getBytes(StandardCharsets.UTF_8));
        assertEquals("r2", r.getId());
        assertEquals("zero errors", r.getText());
        assertEquals(0.9, r.getParams().getTopP());
        assertEquals(11L, r.getParams().getSeed());
        assertEquals(false, r.getParams().getRandomSeed());
        assertEquals(128, r.getParams().getMaxNewTokens());
        assertEquals(0.0, r.getParams().getTemperature());
    }

    @Test
    void aJsonRequestWithoutIdKeepsAnEmptyIdForTheTokenizerToAssign() {
        SequenceRequest r = RequestSerde.fromJson("{\"model\":\"itn-gpt\",\"text\":\"one\"}".getBytes(StandardCharsets.UTF_8));
        assertEquals("", r.getId());
        assertNull(r.getTokenIds());
        // no seed given: the decoder is to draw one
        assertEquals(true, r.getParams().getRandomSeed());
    }

    @Test
    void bytesThatAreNeitherAvroNorJsonAreRefusedWithAReason() {
        SerializationException e = assertThrows(SerializationException.class, () -> Topics.REQUESTS.valueSerde()
                .deserializer().deserialize("seq.requests", new byte[] {1, 2, 3, 4}));
        assertTrue(e.getMessage().contains("neither Avro"), e.getMessage());
        e = assertThrows(SerializationException.class, () -> Topics.REQUESTS.valueSerde()
                .deserializer().deserialize("seq.requests", "{not json".getBytes(StandardCharsets.UTF_8)));
        assertTrue(e.getMessage().contains("not valid JSON"), e.getMessage());
    }

    @Test
    void tensorsAndResultsRoundTrip() {
        Tensor t = Tensor.newBuilder().setDtype(DType.FLOAT32).setShape(List.of(2L, 3L))
                .setData(ByteBuffer.wrap(new byte[24])).build();
        SequenceEncoded enc = SequenceEncoded.newBuilder().setId("r3").setModel("itn-seq2seq").setTokenIds(List.of(5L, 6L))
                .setEncoderHiddenStates(t).setParams(GenerationParams.newBuilder().build()).build();
        var serde = Topics.ENCODED.valueSerde();
        assertEquals(enc, serde.deserializer().deserialize("seq.encoded", serde.serializer().serialize("seq.encoded", enc)));
        SequenceResult err = SequenceResult.newBuilder().setId("r4").setModel("x")
                .setUsage(Usage.newBuilder().build())
                .setError(SequenceError.newBuilder().setStage("tokenizer").setCode("unknown_model").setMessage("no x").build())
                .build();
        var rs = Topics.RESULTS.valueSerde();
        assertEquals(err, rs.deserializer().deserialize("seq.results", rs.serializer().serialize("seq.results", err)));
    }

    @Test
    void aRecordOfAnotherSchemaIsRefused() {
        byte[] tokens = Topics.STREAM.valueSerde().serializer().serialize("seq.stream",
                TokenEvent.newBuilder().setId("a").setIndex(0).setTokenId(7).setTextDelta("x").build());
        assertThrows(SerializationException.class,
                () -> Topics.RESULTS.valueSerde().deserializer().deserialize("seq.results", tokens));
    }

    @Test
    void theRegistryNamesEveryTopicOnce() {
        assertEquals(7, new HashSet<>(Topics.ALL.stream().map(Topic::name).toList()).size());
        assertTrue(Topics.ALL.stream().allMatch(t -> t.name().startsWith("seq.")));
    }
}
