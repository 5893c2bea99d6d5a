package org.seqstream.gateway;

import io.quarkus.test.common.QuarkusTestResourceLifecycleManager;
import org.seqstream.pipeline.LocalPipeline;
import org.seqstream.testing.EmbeddedKafka;

import java.io.IOException;
import java.net.ServerSocket;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;

/**
 * A real broker, and the four stages behind the gateway under test as the service jars that the
 * reactor built before this module, each a process of its own, as they run in production.
 */
public class KafkaResource implements QuarkusTestResourceLifecycleManager {
    static final Path ROOT = Path.of(System.getProperty("seq.repo.root", "../.."));
    static final Path MODELS = ROOT.resolve("models");
    private EmbeddedKafka kafka;
    private final List<Process> stages = new ArrayList<>();

    @Override
    public Map<String, String> start() {
        kafka = EmbeddedKafka.start();
        LocalPipeline.createTopics(kafka.bootstrapServers(), 2, Map.of());
        try {
            List<Integer> ports = new ArrayList<>();
            for (String stage : LocalPipeline.STAGES) {
                Path jar = ROOT.resolve("services").resolve(stage).resolve("target/quarkus-app/quarkus-run.jar");
                if (!Files.exists(jar)) {
                    throw new IllegalStateException("the " + stage + " service jar is built before this test (./mvnw install): " + jar);
                }
                int port;
                try (ServerSocket s = new ServerSocket(0)) {
                    port = s.getLocalPort();
                }
                ProcessBuilder pb = new ProcessBuilder(Path.of(System.getProperty("java.home"), "bin", "java").toString(),
                        "-Xmx256m", "-XX:+UseSerialGC", "-jar", jar.toString());
                pb.environment().putAll(Map.of("KAFKA_BOOTSTRAP_SERVERS", kafka.bootstrapServers(), "SEQ_MODELS_DIR", MODELS.toString(),
                        "SEQ_DEVICE", "cpu", "SEQ_ONNX_THREADS", "1", "SEQ_HTTP_PORT", String.valueOf(port),
                        "SEQ_INSTANCE_ID", "gateway-test-" + stage, "SEQ_STATE_DIR", kafka.dataDir().resolve("state-" + stage).toString()));
                pb.redirectErrorStream(true).redirectOutput(kafka.dataDir().resolve(stage + ".log").toFile());
                stages.add(pb.start());
                ports.add(port);
            }
            HttpClient http = HttpClient.newBuilder().version(HttpClient.Version.HTTP_1_1).build();
            for (int port : ports) {
                awaitReady(http, port);
            }
        } catch (IOException | InterruptedException e) {
            stop();
            throw new IllegalStateException("cannot start the stages: " + e.getMessage(), e);
        }
        return Map.of("kafka.bootstrap.servers", kafka.bootstrapServers(), "seq.models-dir", MODELS.toString());
    }

    private void awaitReady(HttpClient http, int port) throws InterruptedException {
        long end = System.nanoTime() + Duration.ofSeconds(180).toNanos();
        while (System.nanoTime() < end) {
            try {
                if (http.send(HttpRequest.newBuilder(URI.create("http://localhost:" + port + "/q/health/ready")).build(),
                        HttpResponse.BodyHandlers.discarding()).statusCode() == 200) {
                    return;
                }
            } catch (IOException e) {
                // not listening yet
            }
            Thread.sleep(500);
        }
        throw new IllegalStateException("a stage on port " + port + " did not become ready; logs in " + kafka.dataDir());
    }

    @Override
    public void stop() {
        for (Process p : stages) {
            p.destroy();
        }
        for (Process p : stages) {
            try {
                if (!p.waitFor(20, java.util.concurrent.TimeUnit.SECONDS)) {
                    p.destroyForcibly();
                }
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
        }
        stages.clear();
        if (kafka != null) {
            kafka.close();
        }
    }
}
