package org.seqstream.schemas;

import org.apache.avro.Schema;
import org.apache.avro.message.BadHeaderException;
import org.apache.avro.message.BinaryMessageDecoder;
import org.apache.avro.message.BinaryMessageEncoder;
import org.apache.avro.message.MissingSchemaException;
import org.apache.avro.specific.SpecificData;
import org.apache.avro.specific.SpecificRecord;
import org.apache.kafka.common.errors.SerializationException;
import org.apache.kafka.common.serialization.Deserializer;
import org.apache.kafka.common.serialization.Serde;
import org.apache.kafka.common.serialization.Serializer;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.util.List;

/**
 * Avro single-object encoding (a 2-byte marker, the schema's 64-bit fingerprint, then the binary
 * record): self-describing enough to reject foreign bytes, with no schema registry. Earlier
 * versions of the schema can be registered as writers so that old records stay readable.
 */
public class AvroSerde<T extends SpecificRecord> implements Serde<T>, Serializer<T>, Deserializer<T> {
    /** The first two bytes of every single-object encoded record. */
    public static final byte MARKER_0 = (byte) 0xC3, MARKER_1 = (byte) 0x01;

    private final Class<T> type;
    private final BinaryMessageEncoder<T> encoder;
    private final BinaryMessageDecoder<T> decoder;

    public AvroSerde(Class<T> type, Schema schema, List<Schema> earlierWriters) {
        this.type = type;
        // Records are made from the classes of the serde's own class loader, not those that
        // SpecificData.get() (shared by every loader that sees Avro) resolves by name: where Avro
        // is shared (a Quarkus test), those may be another loader's, and the cast fails.
        SpecificData model = new SpecificData(type.getClassLoader());
        this.encoder = new BinaryMessageEncoder<>(model, schema);
        this.decoder = new BinaryMessageDecoder<>(model, schema);
        earlierWriters.forEach(decoder::addSchema);
    }

    /** Reads records written with {@code schema} or with any of its frozen earlier versions ({@link FrozenSchemas}). */
    public AvroSerde(Class<T> type, Schema schema) {
        this(type, schema, FrozenSchemas.earlierWriters(schema));
    }

    /** True when {@code data} starts like an Avro single-object record. */
    public static boolean isAvro(byte[] data) {
        return data != null && data.length >= 10 && data[0] == MARKER_0 && data[1] == MARKER_1;
    }

    @Override
    public byte[] serialize(String topic, T value) {
        if (value == null) {
            return null;
        }
        try {
            ByteBuffer buf = encoder.encode(value);
            byte[] out = new byte[buf.remaining()];
            buf.get(out);
            return out;
        } catch (IOException e) {
            throw new SerializationException("cannot encode " + type.getSimpleName() + " for " + topic, e);
        }
    }

    @Override
    public T deserialize(String topic, byte[] data) {
        if (data == null) {
            return null;
        }
        try {
            return decoder.decode(data);
        } catch (BadHeaderException e) {
            throw new SerializationException("not an Avro single-object record (" + type.getSimpleName() + ") on " + topic);
        } catch (MissingSchemaException e) {
            throw new SerializationException("Avro record on " + topic + " has an unknown schema fingerprint for "
                    + type.getSimpleName(), e);
        } catch (IOException | RuntimeException e) {
            throw new SerializationException("cannot decode " + type.getSimpleName() + " from " + topic + ": " + e.getMessage(), e);
        }
    }

    @Override
    public Serializer<T> serializer() {
        return this;
    }

    @Override
    public Deserializer<T> deserializer() {
        return this;
    }

    @Override
    public void configure(java.util.Map<String, ?> configs, boolean isKey) {
    }

    @Override
    public void close() {
    }
}
