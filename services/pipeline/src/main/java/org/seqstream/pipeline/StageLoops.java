package org.seqstream.pipeline;

import org.apache.kafka.clients.producer.ProducerConfig;
import org.seqstream.pipeline.embedding.EmbeddingStage;
import org.seqstream.pipeline.encoder.EncoderStage;
import org.seqstream.runtime.ModelCatalog;
import org.seqstream.schemas.SequenceEmbeddings;
import org.seqstream.schemas.SequenceTokens;
import org.seqstream.schemas.Topics;

import java.util.HashMap;
import java.util.Map;

/** The embedding and encoder loops as every deployment runs them: one consumer group per stage. */
public final class StageLoops {
    public static final String EMBEDDING_GROUP = "seq-embedding";
    public static final String ENCODER_GROUP = "seq-encoder";

    private StageLoops() {
    }

    /**
     * @param instanceId stable per instance (a pod name): the transactional id derives from it
     * @param maxBatch   records per micro-batch at most
     */
    public static BatchStageLoop<SequenceTokens> embedding(ModelCatalog models, String bootstrap,
                                                           Map<String, Object> overrides, String instanceId, int maxBatch) {
        return new BatchStageLoop<>(EmbeddingStage.STAGE, Topics.TOKENS.name(), Topics.TOKENS.valueSerde().deserializer(),
                new EmbeddingStage(models), client(bootstrap, overrides), EMBEDDING_GROUP,
                EMBEDDING_GROUP + "-" + instanceId, maxBatch);
    }

    public static BatchStageLoop<SequenceEmbeddings> encoder(ModelCatalog models, String bootstrap,
                                                             Map<String, Object> overrides, String instanceId, int maxBatch) {
        return new BatchStageLoop<>(EncoderStage.STAGE, Topics.EMBEDDINGS.name(), Topics.EMBEDDINGS.valueSerde().deserializer(),
                new EncoderStage(models), client(bootstrap, overrides), ENCODER_GROUP, ENCODER_GROUP + "-" + instanceId,
                maxBatch);
    }

    private static Map<String, Object> client(String bootstrap, Map<String, Object> overrides) {
        Map<String, Object> c = new HashMap<>(overrides);
        c.put(ProducerConfig.BOOTSTRAP_SERVERS_CONFIG, bootstrap);
        return c;
    }
}
