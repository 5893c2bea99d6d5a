package org.seqstream.schemas;

import org.apache.kafka.common.errors.SerializationException;
import org.junit.jupiter.api.Test;

import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.util.HashSet;
import java.util.List;
import java.util.Map;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
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
        assertEquals(0, r.getParams().getMaxNewTokens());   // the model's limit, set by the tokenizer stage
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
        assertEquals(8, new HashSet<>(Topics.ALL.stream().map(Topic::name).toList()).size());
        assertEquals(Topics.ALL.size(), new HashSet<>(Topics.ALL.stream().map(Topic::name).toList()).size());
        assertTrue(Topics.ALL.stream().allMatch(t -> t.name().startsWith("seq.")));
    }

    @Test
    void recordsWrittenWithAFrozenEarlierSchemaAreReadWithTheNewFieldsDefaulted() throws Exception {
        // Given a result and generation parameters encoded with the frozen v1 schemas (no seed, no retryable)
        org.apache.avro.Schema.Parser parser = new org.apache.avro.Schema.Parser();
        java.util.Map<String, org.apache.avro.Schema> v1 = new java.util.HashMap<>();
        for (String f : FrozenSchemas.FILES) {
            try (java.io.InputStream in = FrozenSchemas.class.getResourceAsStream("frozen/v1/" + f)) {
                org.apache.avro.Schema s = parser.parse(in);
                v1.put(s.getName(), s);
            }
        }
        org.apache.avro.Schema resultV1 = v1.get("SequenceResult");
        org.apache.avro.generic.GenericRecord usage = new org.apache.avro.generic.GenericData.Record(resultV1.getField("usage").schema());
        usage.put("prompt_tokens", 3);
        usage.put("generated_tokens", 2);
        org.apache.avro.generic.GenericRecord error = new org.apache.avro.generic.GenericData.Record(
                resultV1.getField("error").schema().getTypes().get(1));
        error.put("stage", "decoder");
        error.put("code", "overloaded");
        error.put("message", "full");
        org.apache.avro.generic.GenericRecord old = new org.apache.avro.generic.GenericData.Record(resultV1);
        old.put("id", "old-1");
        old.put("model", "itn-gpt");
        old.put("output_ids", List.of());
        old.put("usage", usage);
        old.put("error", error);
        old.put("truncated", false);
        old.put("created_at_ms", 7L);
        old.put("metadata", Map.of());
        old.put("timings", List.of());
        java.nio.ByteBuffer bytes = new org.apache.avro.message.BinaryMessageEncoder<org.apache.avro.generic.GenericRecord>(
                org.apache.avro.generic.GenericData.get(), resultV1).encode(old);
        byte[] data = new byte[bytes.remaining()];
        bytes.get(data);
        // When the current serde reads it
        SequenceResult r = Topics.RESULTS.valueSerde().deserializer().deserialize("seq.results", data);
        // Then it is the same result, the fields added since taking their defaults
        assertEquals("old-1", r.getId());
        assertEquals("overloaded", r.getError().getCode());
        assertEquals(false, r.getError().getRetryable());
        assertNull(r.getSeed());
        // And a v1 record that the current schema writes differently is not mistaken for a current one
        assertNotEquals(org.apache.avro.SchemaNormalization.parsingFingerprint64(resultV1),
                org.apache.avro.SchemaNormalization.parsingFingerprint64(SequenceResult.getClassSchema()));
    }
}
