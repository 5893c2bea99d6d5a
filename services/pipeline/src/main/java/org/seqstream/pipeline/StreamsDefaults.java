package org.seqstream.pipeline;

import org.apache.kafka.clients.consumer.ConsumerConfig;
import org.apache.kafka.streams.StreamsConfig;

import java.util.LinkedHashMap;
import java.util.Map;

/**
 * The Kafka Streams settings of the stages that run as Kafka Streams applications (tokenizer,
 * decoder), defined once: {@link LocalPipeline} applies them, and each service's
 * application.properties states them as {@code kafka-streams.*} defaults, which a test checks
 * against this class.
 */
public final class StreamsDefaults {
    /**
     * The longest a stage leaves its output uncommitted, which is when it becomes visible to
     * read_committed readers. Commits come sooner by the work (see {@link EagerCommit}): the
     * tokenizer commits once a poll's records are done, the decoder once a result is ready; the
     * interval bounds the rest (the decoder's token events between results).
     */
    public static final int TOKENIZER_COMMIT_MS = 20, DECODER_COMMIT_MS = 50;
    /**
     * After this long without heartbeats a crashed instance's partitions move to the others (the
     * broker's minimum is 6 s; Kafka's default, 45 s, makes failover slow).
     */
    public static final int SESSION_TIMEOUT_MS = 10_000, HEARTBEAT_INTERVAL_MS = 3_000;
    /**
     * The tokenizer's task reads seq.requests and seq.results: it processes whatever has arrived
     * rather than waiting to fetch both in timestamp order (a retry that overtakes the refusal it
     * answers is held until the refusal comes, see TokenizerTopology).
     */
    public static final int TOKENIZER_MAX_TASK_IDLE_MS = -1;

    private StreamsDefaults() {
    }

    /** The settings of {@code stage} ({@code tokenizer} or {@code decoder}), without its id, state directory and servers. */
    public static Map<String, Object> of(String stage) {
        Map<String, Object> p = new LinkedHashMap<>();
        p.put(StreamsConfig.PROCESSING_GUARANTEE_CONFIG, StreamsConfig.EXACTLY_ONCE_V2);
        p.put(StreamsConfig.ROCKSDB_CONFIG_SETTER_CLASS_CONFIG, BoundedRocksDB.class.getName());
        p.put(StreamsConfig.consumerPrefix(ConsumerConfig.SESSION_TIMEOUT_MS_CONFIG), SESSION_TIMEOUT_MS);
        p.put(StreamsConfig.consumerPrefix(ConsumerConfig.HEARTBEAT_INTERVAL_MS_CONFIG), HEARTBEAT_INTERVAL_MS);
        switch (stage) {
            case "tokenizer" -> {
                p.put(StreamsConfig.COMMIT_INTERVAL_MS_CONFIG, TOKENIZER_COMMIT_MS);
                p.put(StreamsConfig.MAX_TASK_IDLE_MS_CONFIG, TOKENIZER_MAX_TASK_IDLE_MS);
            }
            case "decoder" -> {
                p.put(StreamsConfig.COMMIT_INTERVAL_MS_CONFIG, DECODER_COMMIT_MS);
            }
            default -> throw new IllegalArgumentException("not a Kafka Streams stage: " + stage);
        }
        return p;
    }
}
