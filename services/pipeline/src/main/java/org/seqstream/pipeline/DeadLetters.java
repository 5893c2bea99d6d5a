package org.seqstream.pipeline;

import org.apache.kafka.common.errors.SerializationException;
import org.apache.kafka.common.header.Headers;
import org.apache.kafka.common.header.internals.RecordHeaders;
import org.apache.kafka.common.serialization.Deserializer;
import org.apache.kafka.streams.processor.api.ProcessorContext;
import org.apache.kafka.streams.processor.api.Record;
import org.apache.kafka.streams.processor.api.RecordMetadata;

import java.nio.charset.StandardCharsets;
import java.util.Optional;

/** Headers of a record sent to seq.dlq: why, and where the original bytes came from. */
public final class DeadLetters {
    public static final String REASON = "seq.dlq.reason";
    public static final String STAGE = "seq.dlq.stage";
    public static final String TOPIC = "seq.dlq.topic";
    public static final String PARTITION = "seq.dlq.partition";
    public static final String OFFSET = "seq.dlq.offset";

    private DeadLetters() {
    }

    public static Headers headers(Headers original, String stage, String reason, Optional<RecordMetadata> source) {
        Headers h = new RecordHeaders(original.toArray());
        h.add(REASON, bytes(reason));
        h.add(STAGE, bytes(stage));
        source.ifPresent(m -> {
            h.add(TOPIC, bytes(m.topic()));
            h.add(PARTITION, bytes(String.valueOf(m.partition())));
            h.add(OFFSET, bytes(String.valueOf(m.offset())));
        });
        return h;
    }

    private static byte[] bytes(String s) {
        return s.getBytes(StandardCharsets.UTF_8);
    }

    /**
     * The value of {@code record} read with {@code deserializer}; or null after forwarding the
     * record, bytes intact and the reason in headers, to the processor's dead-letter child.
     */
    public static <T> T readOrForward(Record<String, byte[]> record, Deserializer<T> deserializer, String topic,
                                      ProcessorContext<String, Object> context, String stage, String dlqChild) {
        try {
            T value = deserializer.deserialize(topic, record.value());
            if (value == null) {
                throw new SerializationException("empty record value (tombstone)");
            }
            return value;
        } catch (SerializationException e) {
            context.forward(record.withHeaders(headers(record.headers(), stage, e.getMessage(),
                    context.recordMetadata().map(m -> m))), dlqChild);
            return null;
        }
    }
}
