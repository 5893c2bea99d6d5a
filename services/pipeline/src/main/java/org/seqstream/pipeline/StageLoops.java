package org.seqstream.pipeline;

import org.apache.kafka.clients.producer.ProducerConfig;
import org.seqstream.pipeline.embedding.EmbeddingStage;
import org.seqstream.pipeline.encoder.EncoderStage;
import org.seqstream.runtime.Device;
import org.seqstream.runtime.ModelCatalog;
import org.seqstream.schemas.SequenceEmbeddings;
import org.seqstream.schemas.SequenceTokens;
import org.seqstream.schemas.Topics;

import java.nio.file.Path;
import java.util.HashMap;
import java.util.Map;
import java.util.function.Function;

/** The embedding and encoder loops as every deployment runs them: one consumer group per stage. */
public final class StageLoops {
    public static final String EMBEDDING_GROUP = "seq-embedding";
    public static final String ENCODER_GROUP = "seq-encoder";
    /** Records per micro-batch at most (SEQ_MAX_BATCH of the embedding and encoder services). */
    public static final int DEFAULT_MAX_BATCH = 64;

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

    /**
     * A running embedding or encoder stage as its service runs it: the models of
     * {@code seq.models-dir} and the stage's loop. {@code config} reads the service's settings:
     * seq.models-dir, seq.device, seq.onnx.threads, kafka.bootstrap.servers, seq.instance-id, seq.output-format,
     * seq.max-batch, and the client security settings of {@link KafkaSecurity} as "kafka." + property
     * (null when not set).
     */
    public static final class Running implements AutoCloseable {
        private final ModelCatalog models;
        private final BatchStageLoop<?> loop;

        private Running(ModelCatalog models, BatchStageLoop<?> loop) {
            this.models = models;
            this.loop = loop;
        }

        public static Running start(String stage, Function<String, String> config) {
            String format = config.apply("seq.output-format");
            if (format != null) {
                org.seqstream.schemas.OutputFormat.set(org.seqstream.schemas.OutputFormat.parse(format));   // its error results
            }
            ModelCatalog models = ModelCatalog.load(Path.of(config.apply("seq.models-dir")),
                    Device.parse(config.apply("seq.device")), Integer.parseInt(config.apply("seq.onnx.threads")))
                    .opening(stage.equals(EncoderStage.STAGE) ? ModelCatalog.ENCODER_GRAPHS : ModelCatalog.EMBEDDING_GRAPHS);
            String bootstrap = config.apply("kafka.bootstrap.servers");
            String instance = config.apply("seq.instance-id");
            int maxBatch = Integer.parseInt(config.apply("seq.max-batch"));
            Map<String, Object> security = KafkaSecurity.settings(p -> config.apply("kafka." + p));
            BatchStageLoop<?> loop = switch (stage) {
                case EmbeddingStage.STAGE -> embedding(models, bootstrap, security, instance, maxBatch);
                case EncoderStage.STAGE -> encoder(models, bootstrap, security, instance, maxBatch);
                default -> throw new IllegalArgumentException("no loop stage named " + stage);
            };
            return new Running(models, loop.start());
        }

        /** Ready while the loop runs and polled the broker within the last 30 seconds. */
        public boolean ready() {
            return loop.ready(30_000);
        }

        /** The loop, for its counters (records, batches, last batch size, model seconds). */
        public BatchStageLoop<?> loop() {
            return loop;
        }

        public String modelNames() {
            return String.join(",", models.names());
        }

        @Override
        public void close() {
            loop.close();
            models.close();
        }
    }
}
