package org.seqstream.testing;

import kafka.server.KafkaConfig;
import kafka.server.KafkaRaftServer;
import org.apache.kafka.clients.admin.Admin;
import org.apache.kafka.clients.admin.AdminClientConfig;
import org.apache.kafka.clients.admin.NewTopic;
import org.apache.kafka.common.Uuid;
import org.apache.kafka.common.errors.TopicExistsException;
import org.apache.kafka.common.utils.Time;
import org.apache.kafka.metadata.storage.Formatter;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.net.ServerSocket;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Collection;
import java.util.Comparator;
import java.util.HashMap;
import java.util.Map;
import java.util.concurrent.ExecutionException;
import java.util.stream.Stream;

/**
 * A real single-node Kafka broker in KRaft mode (broker and controller in one), started in this
 * JVM from Apache Kafka's own jars. It serves local runs (`seqctl local`) and tests alike.
 * Its storage is formatted on first start; a data directory given by the caller survives restarts.
 */
public final class EmbeddedKafka implements AutoCloseable {
    private final int port;
    private final Path dataDir;
    private final boolean deleteOnClose;
    private KafkaRaftServer server;

    private EmbeddedKafka(int port, Path dataDir, boolean deleteOnClose) {
        this.port = port;
        this.dataDir = dataDir;
        this.deleteOnClose = deleteOnClose;
    }

    /** A broker on a free port with a temporary data directory, removed on close. */
    public static EmbeddedKafka start() {
        try {
            return start(0, Files.createTempDirectory("seq-kafka-"), true);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    /** A broker on {@code port} (0 = any free port) storing its logs in {@code dataDir}. */
    public static EmbeddedKafka start(int port, Path dataDir, boolean deleteOnClose) {
        EmbeddedKafka k = new EmbeddedKafka(port == 0 ? freePort() : port, dataDir, deleteOnClose);
        k.startServer();
        return k;
    }

    private void startServer() {
        int controllerPort = freePort();
        Map<String, Object> p = new HashMap<>();
        p.put("process.roles", "broker,controller");
        p.put("node.id", "1");
        p.put("controller.quorum.voters", "1@localhost:" + controllerPort);
        p.put("listeners", "PLAINTEXT://localhost:" + port + ",CONTROLLER://localhost:" + controllerPort);
        p.put("advertised.listeners", "PLAINTEXT://localhost:" + port);
        p.put("controller.listener.names", "CONTROLLER");
        p.put("inter.broker.listener.name", "PLAINTEXT");
        p.put("listener.security.protocol.map", "PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT");
        p.put("log.dirs", dataDir.toAbsolutePath().toString());
        // One node: every internal topic has one replica.
        p.put("offsets.topic.replication.factor", "1");
        p.put("offsets.topic.num.partitions", "4");
        p.put("transaction.state.log.replication.factor", "1");
        p.put("transaction.state.log.min.isr", "1");
        p.put("transaction.state.log.num.partitions", "4");
        p.put("share.coordinator.state.topic.replication.factor", "1");
        p.put("share.coordinator.state.topic.min.isr", "1");
        p.put("group.initial.rebalance.delay.ms", "0");
        p.put("num.partitions", "4");
        p.put("auto.create.topics.enable", "false");
        KafkaConfig config = new KafkaConfig(p);
        // A data directory formatted before keeps its cluster id: the broker restarts on its data.
        if (!Files.exists(dataDir.resolve("meta.properties"))) try {
            new Formatter()
                    .setNodeId(1)
                    .setClusterId(Uuid.randomUuid().toString())
                    .setControllerListenerName("CONTROLLER")
                    .setMetadataLogDirectory(dataDir.toAbsolutePath().toString())
                    .addDirectory(dataDir.toAbsolutePath().toString())
                    .setIgnoreFormatted(true)
                    .run();
        } catch (Exception e) {
            throw new IllegalStateException("cannot format Kafka storage in " + dataDir + ": " + e.getMessage(), e);
        }
        server = new KafkaRaftServer(config, Time.SYSTEM);
        server.startup();
    }

    public String bootstrapServers() {
        return "localhost:" + port;
    }

    public int port() {
        return port;
    }

    public Path dataDir() {
        return dataDir;
    }

    /** Creates topics that do not exist yet. */
    public void createTopics(Collection<NewTopic> topics) {
        try (Admin admin = Admin.create(Map.of(AdminClientConfig.BOOTSTRAP_SERVERS_CONFIG, bootstrapServers()))) {
            for (NewTopic t : topics) {
                try {
                    admin.createTopics(java.util.List.of(t)).all().get();
                } catch (ExecutionException e) {
                    if (!(e.getCause() instanceof TopicExistsException)) {
                        throw new IllegalStateException("cannot create topic " + t.name() + ": " + e.getCause().getMessage(), e);
                    }
                }
            }
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IllegalStateException(e);
        }
    }

    /** Stops the broker as a crash would not: cleanly, then removes a temporary data directory. */
    @Override
    public void close() {
        if (server != null) {
            server.shutdown();
            server.awaitShutdown();
            server = null;
        }
        if (deleteOnClose) {
            try (Stream<Path> files = Files.walk(dataDir)) {
                files.sorted(Comparator.reverseOrder()).forEach(f -> f.toFile().delete());
            } catch (IOException ignored) {
                // a temporary directory left behind is harmless
            }
        }
    }

    static int freePort() {
        try (ServerSocket s = new ServerSocket(0)) {
            s.setReuseAddress(true);
            return s.getLocalPort();
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }
}
