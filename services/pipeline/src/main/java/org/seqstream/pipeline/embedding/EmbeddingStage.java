package org.seqstream.pipeline.embedding;

import org.apache.kafka.clients.producer.ProducerRecord;
import org.seqstream.pipeline.BatchStageLoop;
import org.seqstream.pipeline.ModelGroups;
import org.seqstream.pipeline.Results;
import org.seqstream.pipeline.Tensors;
import org.seqstream.runtime.ModelCatalog;
import org.seqstream.runtime.ModelPackage;
import org.seqstream.runtime.SourceEncoder;
import org.seqstream.schemas.SequenceEmbeddings;
import org.seqstream.schemas.SequenceEncoded;
import org.seqstream.schemas.SequenceTokens;
import org.seqstream.schemas.StageTiming;
import org.seqstream.schemas.Topics;

import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Optional;

/**
 * The embedding stage: seq.tokens to seq.embeddings, one embedding-graph call per model and
 * micro-batch. Decoder-only models have no encoder, so their sequences go straight to
 * seq.encoded (the decoder embeds its own prompt) without an extra hop.
 */
public final class EmbeddingStage implements BatchStageLoop.Handler<SequenceTokens> {
    public static final String STAGE = "embedding";
    static final String MODEL_ERROR = "model_error";

    private final ModelCatalog models;

    public EmbeddingStage(ModelCatalog models) {
        this.models = models;
    }

    @Override
    public List<ProducerRecord<String, byte[]>> handle(List<BatchStageLoop.Input<SequenceTokens>> batch) {
        List<ProducerRecord<String, byte[]>> out = new ArrayList<>();
        Map<String, List<BatchStageLoop.Input<SequenceTokens>>> groups = ModelGroups.byModel(batch, i -> i.value().getModel());
        groups.forEach((model, inputs) -> out.addAll(handleModel(model, inputs)));
        return out;
    }

    private List<ProducerRecord<String, byte[]>> handleModel(String model, List<BatchStageLoop.Input<SequenceTokens>> inputs) {
        long start = System.nanoTime();
        Optional<ModelPackage> pkg = models.find(model);
        List<ProducerRecord<String, byte[]>> out = new ArrayList<>();
        if (pkg.isEmpty()) {
            inputs.forEach(i -> out.add(error(i.value(), "unknown_model", "unknown model '" + model + "'", start)));
            return out;
        }
        if (!pkg.get().isEncoderDecoder()) {
            for (var i : inputs) {
                out.add(encoded(i.value(), start));
            }
            return out;
        }
        float[][] emb;
        try {
            emb = new SourceEncoder(models.sessions(model)).embed(
                    inputs.stream().map(i -> i.value().getTokenIds().stream().mapToLong(Long::longValue).toArray()).toList());
        } catch (RuntimeException e) {
            inputs.forEach(i -> out.add(error(i.value(), MODEL_ERROR, e.getMessage(), start)));
            return out;
        }
        int d = pkg.get().dModel();
        for (int r = 0; r < inputs.size(); r++) {
            SequenceTokens t = inputs.get(r).value();
            SequenceEmbeddings e = SequenceEmbeddings.newBuilder()
                    .setId(t.getId()).setModel(t.getModel()).setTokenIds(t.getTokenIds())
                    .setEmbeddings(Tensors.float32(emb[r], 0, t.getTokenIds().size(), d))
                    .setTruncated(t.getTruncated()).setParams(t.getParams()).setMetadata(t.getMetadata())
                    .setTimings(timings(t.getTimings(), start)).setCreatedAtMs(t.getCreatedAtMs()).build();
            out.add(new ProducerRecord<>(Topics.EMBEDDINGS.name(), t.getId(),
                    Topics.EMBEDDINGS.valueSerde().serializer().serialize(Topics.EMBEDDINGS.name(), e)));
        }
        return out;
    }

    private static ProducerRecord<String, byte[]> encoded(SequenceTokens t, long start) {
        SequenceEncoded e = SequenceEncoded.newBuilder()
                .setId(t.getId()).setModel(t.getModel()).setTokenIds(t.getTokenIds()).setEncoderHiddenStates(null)
                .setTruncated(t.getTruncated()).setParams(t.getParams()).setMetadata(t.getMetadata())
                .setTimings(timings(t.getTimings(), start)).setCreatedAtMs(t.getCreatedAtMs()).build();
        return new ProducerRecord<>(Topics.ENCODED.name(), t.getId(),
                Topics.ENCODED.valueSerde().serializer().serialize(Topics.ENCODED.name(), e));
    }

    private static ProducerRecord<String, byte[]> error(SequenceTokens t, String code, String message, long start) {
        return Results.errorRecord(t.getId(), t.getModel(), STAGE, code, message, t.getMetadata(),
                timings(t.getTimings(), start), t.getCreatedAtMs());
    }

    private static List<StageTiming> timings(List<StageTiming> before, long start) {
        return Results.timings(before, STAGE, start);
    }
}
