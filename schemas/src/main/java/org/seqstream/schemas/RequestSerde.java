package org.seqstream.schemas;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import org.apache.kafka.common.errors.SerializationException;
import org.apache.kafka.common.serialization.Deserializer;
import org.apache.kafka.common.serialization.Serde;
import org.apache.kafka.common.serialization.Serializer;

import java.io.IOException;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.Iterator;
import java.util.List;
import java.util.Map;

/**
 * Requests written as Avro single-object records, or as JSON so that kafka-console-producer or
 * any language can publish one:
 * <pre>{"id":"r1","model":"itn-seq2seq","text":"...","params":{"max_new_tokens":64,"temperature":0.7,"seed":3}}</pre>
 * Serialization always writes Avro. Bytes that are neither fail with a {@link SerializationException}.
 */
public final class RequestSerde implements Serde<SequenceRequest>, Serializer<SequenceRequest>, Deserializer<SequenceRequest> {
    private static final ObjectMapper JSON = new ObjectMapper();
    private final AvroSerde<SequenceRequest> avro = new AvroSerde<>(SequenceRequest.class, SequenceRequest.getClassSchema());

    @Override
    public byte[] serialize(String topic, SequenceRequest value) {
        return avro.serialize(topic, value);
    }

    @Override
    public SequenceRequest deserialize(String topic, byte[] data) {
        if (data == null) {
            return null;
        }
        if (AvroSerde.isAvro(data)) {
            return avro.deserialize(topic, data);
        }
        int i = 0;
        while (i < data.length && Character.isWhitespace(data[i])) {
            i++;
        }
        if (i < data.length && data[i] == '{') {
            return fromJson(data);
        }
        throw new SerializationException("request on " + topic + " is neither Avro single-object encoding nor a JSON object");
    }

    /** Parses a JSON request; a missing id stays empty so that the tokenizer stage assigns one. */
    public static SequenceRequest fromJson(byte[] data) {
        JsonNode n;
        try {
            n = JSON.readTree(data);
        } catch (IOException e) {
            throw new SerializationException("request is not valid JSON: " + e.getMessage());
        }
        if (n == null || !n.isObject()) {
            throw new SerializationException("request JSON must be an object");
        }
        GenerationParams.Builder p = GenerationParams.newBuilder();
        JsonNode params = n.path("params");
        // no seed given: the decoder draws one (and reports it), rather than every such request sampling with seed 0
        p.setRandomSeed(!params.has("seed") || params.get("seed").isNull());
        if (params.isObject()) {
            if (params.has("max_new_tokens")) p.setMaxNewTokens(params.get("max_new_tokens").asInt());
            if (params.has("temperature")) p.setTemperature(params.get("temperature").asDouble());
            if (params.has("top_k")) p.setTopK(params.get("top_k").asInt());
            if (params.has("top_p")) p.setTopP(params.get("top_p").asDouble());
            if (params.hasNonNull("seed")) p.setSeed(params.get("seed").asLong());
            if (params.has("truncate")) p.setTruncate(params.get("truncate").asBoolean());
            if (params.has("stop")) {
                List<String> stop = new ArrayList<>();
                params.get("stop").forEach(s -> stop.add(s.asText()));
                p.setStop(stop);
            }
        } else if (!params.isMissingNode() && !params.isNull()) {
            throw new SerializationException("request 'params' must be an object");
        }
        SequenceRequest.Builder r = SequenceRequest.newBuilder()
                .setId(n.path("id").asText(""))
                .setModel(n.path("model").asText(""))
                .setText(n.hasNonNull("text") ? n.get("text").asText() : null)
                .setParams(p.build())
                .setCreatedAtMs(n.path("created_at_ms").asLong(0));
        if (n.path("token_ids").isArray()) {
            List<Long> ids = new ArrayList<>();
            n.get("token_ids").forEach(t -> ids.add(t.asLong()));
            r.setTokenIds(ids);
        }
        Map<String, String> meta = new HashMap<>();
        for (Iterator<Map.Entry<String, JsonNode>> it = n.path("metadata").fields(); it.hasNext(); ) {
            Map.Entry<String, JsonNode> e = it.next();
            meta.put(e.getKey(), e.getValue().asText());
        }
        r.setMetadata(meta);
        return r.build();
    }

    @Override
    public Serializer<SequenceRequest> serializer() {
        return this;
    }

    @Override
    public Deserializer<SequenceRequest> deserializer() {
        return this;
    }

    @Override
    public void configure(java.util.Map<String, ?> configs, boolean isKey) {
    }

    @Override
    public void close() {
    }
}
