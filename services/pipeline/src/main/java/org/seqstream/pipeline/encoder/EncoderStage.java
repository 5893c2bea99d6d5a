package org.seqstream.pipeline.encoder;

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
import org.seqstream.schemas.Topics;

import java.util.ArrayList;
import java.util.List;
import java.util.Optional;

/** The encoder stage: seq.embeddings to seq.encoded, one encoder-graph call per model and micro-batch. */
public final class EncoderStage implements BatchStageLoop.Handler<SequenceEmbeddings> {
    public static final String STAGE = "encoder";

    private final ModelCatalog models;

    public EncoderStage(ModelCatalog models) {
        this.models = models;
    }

    @Override
    public List<ProducerRecord<String, byte[]>> handle(List<BatchStageLoop.Input<SequenceEmbeddings>> batch) {
        List<ProducerRecord<String, byte[]>> out = new ArrayList<>();
        ModelGroups.byModel(batch, i -> i.value().getModel()).forEach((model, inputs) -> out.addAll(handleModel(model, inputs)));
        return out;
    }

    private List<ProducerRecord<String, byte[]>> handleModel(String model, List<BatchStageLoop.Input<SequenceEmbeddings>> inputs) {
        long start = System.nanoTime();
        Optional<ModelPackage> pkg = models.find(model).filter(ModelPackage::isEncoderDecoder);
        List<ProducerRecord<String, byte[]>> out = new ArrayList<>();
        if (pkg.isEmpty()) {
            inputs.forEach(i -> out.add(error(i.value(), "unknown_model",
                    "model '" + model + "' is not an encoder-decoder model of this service", start)));
            return out;
        }
        float[][] enc;
        try {
            enc = new SourceEncoder(models.sessions(model)).encode(
                    inputs.stream().map(i -> Tensors.floats(i.value().getEmbeddings())).toList());
        } catch (RuntimeException e) {
            inputs.forEach(i -> out.add(error(i.value(), "model_error", e.getMessage(), start)));
            return out;
        }
        int d = pkg.get().dModel();
        for (int r = 0; r < inputs.size(); r++) {
            SequenceEmbeddings e = inputs.get(r).value();
            SequenceEncoded x = SequenceEncoded.newBuilder()
                    .setId(e.getId()).setModel(e.getModel()).setTokenIds(e.getTokenIds())
                    .setEncoderHiddenStates(Tensors.float32(enc[r], 0, e.getTokenIds().size(), d))
                    .setTruncated(e.getTruncated()).setParams(e.getParams()).setMetadata(e.getMetadata())
                    .setTimings(Results.timings(e.getTimings(), STAGE, start)).setCreatedAtMs(e.getCreatedAtMs()).build();
            out.add(new ProducerRecord<>(Topics.ENCODED.name(), e.getId(),
                    Topics.ENCODED.valueSerde().serializer().serialize(Topics.ENCODED.name(), x)));
        }
        return out;
    }

    private static ProducerRecord<String, byte[]> error(SequenceEmbeddings e, String code, String message, long start) {
        return Results.errorRecord(e.getId(), e.getModel(), STAGE, code, message, e.getMetadata(),
                Results.timings(e.getTimings(), STAGE, start), e.getCreatedAtMs());
    }
}
