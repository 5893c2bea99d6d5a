package org.seqstream.pipeline;

import org.apache.kafka.clients.admin.Admin;
import org.apache.kafka.clients.admin.AdminClientConfig;
import org.apache.kafka.clients.admin.NewTopic;
import org.apache.kafka.common.errors.TopicExistsException;
import org.apache.kafka.streams.KafkaStreams;
import org.apache.kafka.streams.StreamsConfig;
import org.apache.kafka.streams.Topology;
import org.seqstream.pipeline.decoder.DecoderTopology;
import org.seqstream.pipeline.tokenizer.TokenizerTopology;
import org.seqstream.runtime.ModelCatalog;
import org.seqstream.schemas.Topic;
import org.seqstream.schemas.Topics;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Properties;
import java.util.Set;
import java.util.concurrent.ExecutionException;

/**
 * The four stages in one process against one broker: the local default and the test bed. Each
 * stage runs as it does in its own service (the same topology or loop, the same consumer group),
 * so a local pipeline and separate services can even share the work.
 */
public final class LocalPipeline implements AutoCloseable {
    public static final List<String> STAGES = List.of("tokenizer", "embedding", "encoder", "decoder");

    /**
     * @param partitions partitions of the topics it creates (existing topics are left as they are)
     * @param stateDir   where the decoder keeps its local state stores
     * @param instanceId stable per instance: transactional ids derive from it, so a restarted
     *                   instance aborts the open transaction of the one that died at once
     */
    public record Settings(String bootstrap, Set<String> stages, int partitions, Path stateDir,
                           DecoderTopology.Config decoder, Map<String, Object> clientOverrides, String instanceId) {
    }

    private final List<KafkaStreams> streams = new ArrayList<>();
    private final List<BatchStageLoop<?>> loops = new ArrayList<>();

    private LocalPipeline() {
    }

    public static LocalPipeline start(ModelCatalog models, Settings s) {
        for (String stage : s.stages()) {
            if (!STAGES.contains(stage)) {
                throw new IllegalArgumentException("unknown stage '" + stage + "' (stages: " + String.join(",", STAGES) + ")");
            }
        }
        createTopics(s.bootstrap(), s.partitions(), s.clientOverrides());
        LocalPipeline p = new LocalPipeline();
        Map<String, Object> client = new HashMap<>(s.clientOverrides());
        client.put(AdminClientConfig.BOOTSTRAP_SERVERS_CONFIG, s.bootstrap());
        if (s.stages().contains("tokenizer")) {
            p.startStreams("tokenizer", TokenizerTopology.build(models), s, client);
        }
        if (s.stages().contains("embedding")) {
            p.startLoop(StageLoops.embedding(models, s.bootstrap(), s.clientOverrides(), s.instanceId(), StageLoops.DEFAULT_MAX_BATCH));
        }
        if (s.stages().contains("encoder")) {
            p.startLoop(StageLoops.encoder(models, s.bootstrap(), s.clientOverrides(), s.instanceId(), StageLoops.DEFAULT_MAX_BATCH));
        }
        if (s.stages().contains("decoder")) {
            p.startStreams("decoder", DecoderTopology.build(models, s.decoder()), s, client);
        }
        return p;
    }

    /** Creates every topic of the registry that does not exist yet. */
    public static void createTopics(String bootstrap, int partitions, Map<String, Object> overrides) {
        Map<String, Object> c = new HashMap<>(overrides);
        c.put(AdminClientConfig.BOOTSTRAP_SERVERS_CONFIG, bootstrap);
        try (Admin admin = Admin.create(c)) {
            Set<String> existing = admin.listTopics().names().get();
            List<NewTopic> missing = new ArrayList<>();
            for (Topic<?> t : Topics.ALL) {
                if (!existing.contains(t.name())) {
                    missing.add(new NewTopic(t.name(), partitions, (short) 1));
                }
            }
            if (!missing.isEmpty()) {
                try {
                    admin.createTopics(missing).all().get();
                } catch (ExecutionException e) {
                    if (!(e.getCause() instanceof TopicExistsException)) {
                        throw new IllegalStateException("cannot create topics: " + e.getCause().getMessage(), e);
                    }
                }
            }
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IllegalStateException(e);
        } catch (ExecutionException e) {
            throw new IllegalStateException("cannot list topics on " + bootstrap + ": " + e.getCause().getMessage(), e);
        }
    }

    private void startStreams(String stage, Topology topology, Settings s, Map<String, Object> client) {
        String appId = "seq-" + stage;
        Properties p = new Properties();
        p.putAll(StreamsDefaults.of(stage));
        p.put(StreamsConfig.APPLICATION_ID_CONFIG, appId);
        p.put(StreamsConfig.STATE_DIR_CONFIG, s.stateDir().resolve(appId).toString());
        // Given settings win over these defaults (commit.interval.ms for benchmarks, security).
        p.putAll(client);
        KafkaStreams ks = new KafkaStreams(topology, p, new StreamWakeups());
        ks.setUncaughtExceptionHandler(StreamsErrors.replaceThread(appId));
        ks.start();
        streams.add(ks);
    }

    private void startLoop(BatchStageLoop<?> loop) {
        loops.add(loop.start());
    }

    /** True when every Kafka Streams application runs (loops start at once). */
    public boolean running() {
        return streams.stream().allMatch(k -> k.state() == KafkaStreams.State.RUNNING);
    }

    @Override
    public void close() {
        loops.forEach(BatchStageLoop::close);
        streams.forEach(KafkaStreams::close);
    }
}
