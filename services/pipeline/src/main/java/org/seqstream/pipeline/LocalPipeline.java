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

    /**
     * How often the Kafka Streams stages commit, which is when their output becomes visible to
     * read_committed readers (the services' defaults too): the tokenizer's commits are cheap;
     * the decoder's interrupt decoding, so it commits less often.
     */
    public static final int TOKENIZER_COMMIT_MS = 20, DECODER_COMMIT_MS = 50;

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
            p.startStreams("seq-tokenizer", TokenizerTopology.build(models), TOKENIZER_COMMIT_MS, s, client);
        }
        if (s.stages().contains("embedding")) {
            p.startLoop(StageLoops.embedding(models, s.bootstrap(), s.clientOverrides(), s.instanceId(), 64));
        }
        if (s.stages().contains("encoder")) {
            p.startLoop(StageLoops.encoder(models, s.bootstrap(), s.clientOverrides(), s.instanceId(), 64));
        }
        if (s.stages().contains("decoder")) {
            p.startStreams("seq-decoder", DecoderTopology.build(models, s.decoder()), DECODER_COMMIT_MS, s, client);
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

    private void startStreams(String appId, Topology topology, int commitMs, Settings s, Map<String, Object> client) {
        Properties p = new Properties();
        p.put(StreamsConfig.APPLICATION_ID_CONFIG, appId);
        p.put(StreamsConfig.PROCESSING_GUARANTEE_CONFIG, StreamsConfig.EXACTLY_ONCE_V2);
        p.put(StreamsConfig.STATE_DIR_CONFIG, s.stateDir().resolve(appId).toString());
        p.put(StreamsConfig.COMMIT_INTERVAL_MS_CONFIG, commitMs);
        // The decoder steps from a wall-clock punctuator, which runs between polls: a short poll
        // keeps steps coming when no new record arrives (the default 100 ms caps it at 10 tokens/s).
        p.put(StreamsConfig.POLL_MS_CONFIG, 2);
        p.put(StreamsConfig.ROCKSDB_CONFIG_SETTER_CLASS_CONFIG, BoundedRocksDB.class);
        p.put(StreamsConfig.consumerPrefix(org.apache.kafka.clients.consumer.ConsumerConfig.SESSION_TIMEOUT_MS_CONFIG), 10_000);
        p.put(StreamsConfig.consumerPrefix(org.apache.kafka.clients.consumer.ConsumerConfig.HEARTBEAT_INTERVAL_MS_CONFIG), 3_000);
        // Given settings win over these defaults (commit.interval.ms for benchmarks, security).
        p.putAll(client);
        KafkaStreams ks = new KafkaStreams(topology, p);
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
