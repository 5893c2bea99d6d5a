package org.seqstream.pipeline;

import org.apache.kafka.clients.producer.ProducerRecord;
import org.seqstream.schemas.SequenceError;
import org.seqstream.schemas.SequenceResult;
import org.seqstream.schemas.StageTiming;
import org.seqstream.schemas.Topics;
import org.seqstream.schemas.Usage;

import java.util.ArrayList;
import java.util.List;
import java.util.Map;

/** Terminal records for seq.results. */
public final class Results {
    private Results() {
    }

    /** The error result of a request that {@code stage} refused. */
    public static SequenceResult error(String id, String model, String stage, String code, String message,
                                       Map<String, String> metadata, List<StageTiming> timings, long createdAtMs) {
        return SequenceResult.newBuilder()
                .setId(id)
                .setModel(model == null ? "" : model)
                .setUsage(Usage.newBuilder().build())
                .setError(SequenceError.newBuilder().setStage(stage).setCode(code).setMessage(message).build())
                .setMetadata(metadata)
                .setTimings(timings)
                .setCreatedAtMs(createdAtMs)
                .build();
    }

    /** {@link #error} as a serialized seq.results record keyed by the request id. */
    public static ProducerRecord<String, byte[]> errorRecord(String id, String model, String stage, String code,
                                                             String message, Map<String, String> metadata,
                                                             List<StageTiming> timings, long createdAtMs) {
        return new ProducerRecord<>(Topics.RESULTS.name(), id, Topics.RESULTS.valueSerde().serializer().serialize(
                Topics.RESULTS.name(), error(id, model, stage, code, message, metadata, timings, createdAtMs)));
    }

    /** {@code before} plus this stage's time since {@code startNanos}. */
    public static List<StageTiming> timings(List<StageTiming> before, String stage, long startNanos) {
        List<StageTiming> t = new ArrayList<>(before);
        t.add(StageTiming.newBuilder().setStage(stage).setMillis((System.nanoTime() - startNanos) / 1e6).build());
        return t;
    }
}
