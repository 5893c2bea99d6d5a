package org.seqstream.schemas;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.JsonNodeFactory;
import com.fasterxml.jackson.databind.node.ObjectNode;
import org.apache.avro.Schema;
import org.apache.avro.specific.SpecificData;
import org.apache.avro.specific.SpecificRecord;
import org.apache.kafka.common.errors.SerializationException;

import java.io.IOException;
import java.util.ArrayList;
import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * The serde of an output topic: writes Avro single-object records or JSON objects, as
 * {@link OutputFormat#current()} says; reads both. The JSON shape is the schema's, plainly: an
 * object per record with the schema's field names, {@code null} or the value for a union, arrays
 * and maps as such (see README, "JSON out").
 */
public final class OutputSerde<T extends SpecificRecord> extends AvroSerde<T> {
    private static final ObjectMapper JSON = new ObjectMapper();
    private final Schema schema;
    private final SpecificData model;

    public OutputSerde(Class<T> type, Schema schema) {
        super(type, schema);
        this.schema = schema;
        this.model = new SpecificData(type.getClassLoader());
    }

    @Override
    public byte[] serialize(String topic, T value) {
        if (value == null || OutputFormat.current() == OutputFormat.AVRO) {
            return super.serialize(topic, value);
        }
        try {
            return JSON.writeValueAsBytes(toJson(value, schema));
        } catch (IOException e) {
            throw new SerializationException("cannot write " + schema.getName() + " as JSON for " + topic, e);
        }
    }

    @Override
    @SuppressWarnings("unchecked")
    public T deserialize(String topic, byte[] data) {
        if (data != null && data.length > 0 && data[0] == '{') {
            try {
                return (T) fromJson(JSON.readTree(data), schema);
            } catch (IOException | RuntimeException e) {
                throw new SerializationException("not a JSON " + schema.getName() + " on " + topic + ": " + e.getMessage());
            }
        }
        return super.deserialize(topic, data);
    }

    /** The JSON of one record (the shape written with {@link OutputFormat#JSON}). */
    public static JsonNode toJson(Object value, Schema s) {
        JsonNodeFactory f = JsonNodeFactory.instance;
        if (value == null) {
            return f.nullNode();
        }
        switch (s.getType()) {
            case RECORD -> {
                ObjectNode o = f.objectNode();
                SpecificRecord r = (SpecificRecord) value;
                for (Schema.Field field : s.getFields()) {
                    o.set(field.name(), toJson(r.get(field.pos()), field.schema()));
                }
                return o;
            }
            case UNION -> {
                for (Schema branch : s.getTypes()) {
                    if (branch.getType() != Schema.Type.NULL) {
                        return toJson(value, branch);
                    }
                }
                return f.nullNode();
            }
            case ARRAY -> {
                ArrayNode a = f.arrayNode();
                for (Object item : (List<?>) value) {
                    a.add(toJson(item, s.getElementType()));
                }
                return a;
            }
            case MAP -> {
                ObjectNode o = f.objectNode();
                ((Map<?, ?>) value).forEach((k, v) -> o.set(k.toString(), toJson(v, s.getValueType())));
                return o;
            }
            case STRING, ENUM -> {
                return f.textNode(value.toString());
            }
            case INT -> {
                return f.numberNode((Integer) value);
            }
            case LONG -> {
                return f.numberNode((Long) value);
            }
            case FLOAT -> {
                return f.numberNode((Float) value);
            }
            case DOUBLE -> {
                return f.numberNode((Double) value);
            }
            case BOOLEAN -> {
                return f.booleanNode((Boolean) value);
            }
            default -> throw new IllegalArgumentException("no JSON form for " + s.getType());
        }
    }

    private Object fromJson(JsonNode n, Schema s) {
        if (n == null || n.isNull()) {
            return null;
        }
        switch (s.getType()) {
            case RECORD -> {
                SpecificRecord r = (SpecificRecord) model.newRecord(null, s);
                for (Schema.Field field : s.getFields()) {
                    JsonNode v = n.get(field.name());
                    Object value = v == null ? model.getDefaultValue(field) : fromJson(v, field.schema());
                    r.put(field.pos(), value);
                }
                return r;
            }
            case UNION -> {
                for (Schema branch : s.getTypes()) {
                    if (branch.getType() != Schema.Type.NULL) {
                        return fromJson(n, branch);
                    }
                }
                return null;
            }
            case ARRAY -> {
                List<Object> a = new ArrayList<>();
                n.forEach(item -> a.add(fromJson(item, s.getElementType())));
                return a;
            }
            case MAP -> {
                Map<String, Object> m = new LinkedHashMap<>();
                for (Iterator<Map.Entry<String, JsonNode>> it = n.fields(); it.hasNext(); ) {
                    Map.Entry<String, JsonNode> e = it.next();
                    m.put(e.getKey(), fromJson(e.getValue(), s.getValueType()));
                }
                return m;
            }
            case STRING, ENUM -> {
                return n.asText();
            }
            case INT -> {
                return n.asInt();
            }
            case LONG -> {
                return n.asLong();
            }
            case FLOAT -> {
                return (float) n.asDouble();
            }
            case DOUBLE -> {
                return n.asDouble();
            }
            case BOOLEAN -> {
                return n.asBoolean();
            }
            default -> throw new IllegalArgumentException("no JSON form for " + s.getType());
        }
    }
}
