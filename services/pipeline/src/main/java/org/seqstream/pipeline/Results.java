package org.seqstream.pipeline;

import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.common.header.Headers;
import org.apache.kafka.common.header.internals.RecordHeaders;
import org.seqstream.schemas.SequenceError;
import org.seqstream.schemas.SequenceResult;
import org.seqstream.schemas.StageTiming;
import org.seqstream.schemas.Topics;
import org.seqstream.schemas.Usage;

import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Set;

/** Terminal records for seq.results. */
public final class Results {
    /** The decoder's queue was full: the request may be sent again with the same id. */
    public static final String OVERLOADED = "overloaded";
    /** Error codes after which the same request, sent again with the same id, may succeed. */
    public static final Set<String> RETRYABLE = Set.of(OVERLOADED);
    /**
     * Header of a retryable error result (value "true"): the tokenizer forgets the id, so that a
     * retry with it is answered, without deserializing every result.
     */
    public static final String RETRYABLE_HEADER = "seq.retryable";

    private Results() {
    }

    /** The error result of a request that {@code stage} refused; retryable if its code is in {@link #RETRYABLE}. */
    public static SequenceResult error(String id, String model, String stage, String code, String message,
                                       Map<String, String> metadata, List<StageTiming> timings, long createdAtMs) {
        return SequenceResult.newBuilder()
                .setId(id)
                .setModel(model == null ? "" : model)
                .setUsage(Usage.newBuilder().build())
                .setError(SequenceError.newBuilder().setStage(stage).setCode(code).setMessage(message)
                        .setRetryable(RETRYABLE.contains(code)).build())
                .setMetadata(metadata)
                .setTimings(timings)
                .setCreatedAtMs(createdAt(createdAtMs))
                .build();
    }

    /** A request's creation time as results carry it: the given one, else now (a record that did not say). */
    public static long createdAt(long createdAtMs) {
        return createdAtMs > 0 ? createdAtMs : System.currentTimeMillis();
    }

    /** The headers a result record carries: {@link #RETRYABLE_HEADER} for a retryable error. */
    public static Headers headers(SequenceResult result) {
        Headers h = new RecordHeaders();
        if (result.getError() != null && result.getError().getRetryable()) {
            h.add(RETRYABLE_HEADER, "true".getBytes(StandardCharsets.UTF_8));
        }
        return h;
    }

    /** {@link #error} as a serialized seq.results record keyed by the request id. */
    public static ProducerRecord<String, byte[]> errorRecord(String id, String model, String stage, String code,
                                                             String message, Map<String, String> metadata,
                                                             List<StageTiming> timings, long createdAtMs) {
        SequenceResult r = error(id, model, stage, code, message, metadata, timings, createdAtMs);
        return new ProducerRecord<>(Topics.RESULTS.name(), null, id,
                Topics.RESULTS.valueSerde().serializer().serialize(Topics.RESULTS.name(), r), headers(r));
    }

    /** {@code before} plus this stage's time since {@code startNanos}. */
    public static List<StageTiming> timings(List<StageTiming> before, String stage, long startNanos) {
        List<StageTiming> t = new ArrayList<>(before);
        t.add(StageTiming.newBuilder().setStage(stage).setMillis((System.nanoTime() - startNanos) / 1e6).build());
        return t;
    }
}
