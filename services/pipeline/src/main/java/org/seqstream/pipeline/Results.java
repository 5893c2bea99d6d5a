package org.seqstream.pipeline;

import org.seqstream.schemas.SequenceError;
import org.seqstream.schemas.SequenceResult;
import org.seqstream.schemas.StageTiming;
import org.seqstream.schemas.Usage;

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
}
