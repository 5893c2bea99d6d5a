package org.seqstream.pipeline;

import org.apache.kafka.common.header.Headers;
import org.apache.kafka.common.header.internals.RecordHeaders;
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
}
