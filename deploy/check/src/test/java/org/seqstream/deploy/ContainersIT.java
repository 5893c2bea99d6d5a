package org.seqstream.deploy;

import com.github.dockerjava.api.DockerClient;
import org.apache.kafka.clients.consumer.ConsumerConfig;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.consumer.KafkaConsumer;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerConfig;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.common.serialization.ByteArrayDeserializer;
import org.apache.kafka.common.serialization.StringDeserializer;
import org.apache.kafka.common.serialization.StringSerializer;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.Test;
import org.seqstream.pipeline.LocalPipeline;
import org.seqstream.runtime.Generator;
import org.seqstream.runtime.ModelCatalog;
import org.seqstream.runtime.SamplingParams;
import org.seqstream.schemas.SequenceResult;
import org.seqstream.schemas.TokenEvent;
import org.seqstream.schemas.Topics;
import org.seqstream.testing.EmbeddedKafka;
import org.testcontainers.DockerClientFactory;
import org.testcontainers.containers.GenericContainer;
import org.testcontainers.containers.wait.strategy.Wait;
import org.testcontainers.images.builder.ImageFromDockerfile;

import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The four service images, built by Testcontainers from the project's Dockerfiles (on what Maven
 * built in this run), run as containers on the host's network against a real broker; requests
 * of both models are answered as the reference generator answers them, with the decoder
 * container killed (SIGKILL) and started again under load; then the gateway image answers a
 * completion and a stream over HTTP in front of them. A read_committed reader counts every
 * result and token event. Runs whenever a Docker engine answers; skipped with the reason otherwise.
 */
class ContainersIT {
    private static final Path ROOT = DeployManifestsTest.ROOT;
    private static final Map<String, Integer> PORTS = DeployManifestsTest.STAGES;
    private static final List<String> INPUTS = List.of(
            "the rent is one thousand two hundred dollars", "wake me at six fifteen a m please",
            "our flight is on the fourth of july twenty twenty six", "only seven percent replied",
            "a coffee costs four dollars and fifty cents", "zero errors were found");
    private static final int REQUESTS = 240;

    @Test
    void theServiceImagesAnswerBothModelsAndADecoderContainerKilledUnderLoadLosesNothing() throws Exception {
        Assumptions.assumeTrue(DockerClientFactory.instance().isDockerAvailable(),
                "no Docker engine answers (.ci/run installs and starts one; or start dockerd)");
        String base = baseImage();
        for (String stage : PORTS.keySet()) {
            Assumptions.assumeTrue(Files.isDirectory(app(stage)), app(stage) + " is missing: run ./mvnw package first");
        }
        Assumptions.assumeTrue(Files.isDirectory(app("gateway")), app("gateway") + " is missing: run ./mvnw package first");
        Path dir = Files.createTempDirectory("seq-containers-");
        List<GenericContainer<?>> containers = new ArrayList<>();
        try (EmbeddedKafka kafka = EmbeddedKafka.start(0, dir.resolve("kafka"), true);
             ModelCatalog models = ModelCatalog.load(ROOT.resolve("models"))) {
            String bootstrap = kafka.bootstrapServers();
            LocalPipeline.createTopics(bootstrap, 4, Map.of());
            Map<String, GenericContainer<?>> byStage = new LinkedHashMap<>();
            for (var e : PORTS.entrySet()) {
                GenericContainer<?> c = new GenericContainer<>(image(e.getKey(), base))
                        .withNetworkMode("host")
                        .withEnv("KAFKA_BOOTSTRAP_SERVERS", bootstrap)
                        .withEnv("SEQ_HTTP_PORT", String.valueOf(e.getValue()))
                        .withEnv("SEQ_INSTANCE_ID", e.getKey() + "-it")
                        .waitingFor(Wait.forLogMessage(".*Listening on.*", 1).withStartupTimeout(Duration.ofMinutes(3)));
                containers.add(c);
                c.start();
                byStage.put(e.getKey(), c);
            }
            for (int port : PORTS.values()) {
                awaitReady(port);
            }
            // Given requests of both models, sampled with seeds, and their reference outputs
            Map<String, String> expected = new HashMap<>();
            Map<String, String> json = new LinkedHashMap<>();
            for (int i = 0; i < REQUESTS; i++) {
                String model = i % 2 == 0 ? "itn-seq2seq" : "itn-gpt", text = INPUTS.get(i % INPUTS.size()), id = "t" + i;
                SamplingParams p = new SamplingParams(128, 0.8, 0, 0.95, 2000 + i);
                expected.put(id, new Generator(models.sessions(model), models.tokenizer(model))
                        .generate(List.of(new Generator.Request(models.tokenizer(model).encode(text), p))).get(0).text());
                json.put(id, "{\"id\":\"" + id + "\",\"model\":\"" + model + "\",\"text\":\"" + text
                        + "\",\"params\":{\"max_new_tokens\":128,\"temperature\":0.8,\"top_p\":0.95,\"seed\":" + (2000 + i) + "}}");
            }
            Map<String, List<SequenceResult>> results = new HashMap<>();
            Map<String, Map<Integer, List<String>>> tokens = new HashMap<>();
            try (KafkaConsumer<String, byte[]> reader = reader(bootstrap);
                 KafkaProducer<String, String> producer = new KafkaProducer<>(Map.of(
                         ProducerConfig.BOOTSTRAP_SERVERS_CONFIG, bootstrap), new StringSerializer(), new StringSerializer())) {
                json.forEach((id, value) -> producer.send(new ProducerRecord<>(Topics.REQUESTS.name(), id, value)));
                producer.flush();
                // When the decoder container is killed once it has finished a fifth of the requests (its own
                // count: the reader of results and token events lags behind), and started again
                int decoderPort = PORTS.get("decoder");
                long end = System.nanoTime() + Duration.ofMinutes(3).toNanos();
                double before = 0;
                while ((before = metric(decoderPort, "seq_decoder_finished_sequences_total")) < REQUESTS / 5 && System.nanoTime() < end) {
                    read(reader, results, tokens);
                }
                DockerClient docker = DockerClientFactory.instance().client();
                String decoder = byStage.get("decoder").getContainerId();
                docker.killContainerCmd(decoder).withSignal("KILL").exec();
                docker.startContainerCmd(decoder).exec();
                assertTrue(before >= REQUESTS / 5 && before < REQUESTS, "finished before the kill: " + before);
                awaitReady(PORTS.get("decoder"));
                // The killed decoder's open transaction holds read_committed readers back until it times out
                end = System.nanoTime() + Duration.ofMinutes(4).toNanos();
                while ((results.size() < REQUESTS || !complete(results, tokens)) && System.nanoTime() < end) {
                    read(reader, results, tokens);
                }
                for (long more = System.nanoTime() + 3_000_000_000L; System.nanoTime() < more; ) {
                    read(reader, results, tokens);   // late duplicates would show here
                }
                // And the kill landed mid-generation: the restarted container resumed stored sequences
                assertTrue(metric(PORTS.get("decoder"), "seq_decoder_resumed_sequences_total") > 0, "the restarted decoder resumed nothing");
            }
            // Then every request has one result, the reference output, spelled by its token events once each
            for (var e : expected.entrySet()) {
                List<SequenceResult> r = results.getOrDefault(e.getKey(), List.of());
                assertEquals(1, r.size(), e.getKey() + ": results");
                assertEquals(e.getValue(), r.get(0).getOutputText(), e.getKey());
                StringBuilder text = new StringBuilder();
                int next = 0;
                for (var t : tokens.getOrDefault(e.getKey(), Map.of()).entrySet()) {
                    assertEquals(next++, t.getKey(), e.getKey() + ": token indexes");
                    assertEquals(1, t.getValue().size(), e.getKey() + ": token " + t.getKey() + " events");
                    text.append(t.getValue().get(0));
                }
                assertEquals(e.getValue(), text.toString(), e.getKey() + ": streamed text");
            }
            // And the gateway image answers over HTTP in front of them: the same request as t0, a completion and a stream
            int http;
            try (java.net.ServerSocket free = new java.net.ServerSocket(0)) {
                http = free.getLocalPort();
            }
            GenericContainer<?> gateway = new GenericContainer<>(image("gateway", base))
                    .withNetworkMode("host")
                    .withEnv("KAFKA_BOOTSTRAP_SERVERS", bootstrap)
                    .withEnv("SEQ_HTTP_PORT", String.valueOf(http))
                    .waitingFor(Wait.forLogMessage(".*Listening on.*", 1).withStartupTimeout(Duration.ofMinutes(3)));
            containers.add(gateway);
            gateway.start();
            awaitReady(http);
            String body = "{\"model\":\"itn-seq2seq\",\"prompt\":\"" + INPUTS.get(0)
                    + "\",\"max_tokens\":128,\"temperature\":0.8,\"top_p\":0.95,\"seed\":2000";
            HttpClient client = HttpClient.newBuilder().version(HttpClient.Version.HTTP_1_1).build();
            HttpResponse<String> completion = client.send(HttpRequest.newBuilder(URI.create("http://localhost:" + http + "/v1/completions"))
                    .header("Content-Type", "application/json").timeout(Duration.ofMinutes(1))
                    .POST(HttpRequest.BodyPublishers.ofString(body + "}")).build(), HttpResponse.BodyHandlers.ofString());
            assertEquals(200, completion.statusCode(), completion.body());
            assertEquals(expected.get("t0"), new com.fasterxml.jackson.databind.ObjectMapper().readTree(completion.body())
                    .path("choices").path(0).path("text").asText(), completion.body());
            HttpResponse<String> stream = client.send(HttpRequest.newBuilder(URI.create("http://localhost:" + http + "/v1/completions"))
                    .header("Content-Type", "application/json").timeout(Duration.ofMinutes(1))
                    .POST(HttpRequest.BodyPublishers.ofString(body + ",\"stream\":true}")).build(), HttpResponse.BodyHandlers.ofString());
            StringBuilder streamed = new StringBuilder();
            for (String line : stream.body().split("\n")) {
                if (line.startsWith("data: {")) {
                    streamed.append(new com.fasterxml.jackson.databind.ObjectMapper().readTree(line.substring(6))
                            .path("choices").path(0).path("text").asText());
                }
            }
            assertTrue(stream.body().endsWith("data: [DONE]\n\n"), stream.body());
            assertEquals(expected.get("t0"), streamed.toString());
        } finally {
            containers.forEach(GenericContainer::stop);
        }
    }

    /** eclipse-temurin:17-jre where it is here or can be pulled, else the one deploy/images/base.sh builds. */
    private static String baseImage() {
        DockerClient docker = DockerClientFactory.instance().client();
        for (String image : List.of(System.getProperty("seq.it.base-image", "eclipse-temurin:17-jre"), "seqstream/jre:17")) {
            try {
                docker.inspectImageCmd(image).exec();
                return image;
            } catch (RuntimeException absent) {
                // try the next
            }
        }
        Assumptions.abort("no base image: neither eclipse-temurin:17-jre nor seqstream/jre:17 is here (deploy/images/base.sh builds the second)");
        return null;
    }

    private static Path app(String stage) {
        return ROOT.resolve("services").resolve(stage).resolve("target/quarkus-app");
    }

    /** The stage's image from its Dockerfile, with only what the Dockerfile copies in its context. */
    private static ImageFromDockerfile image(String stage, String base) {
        String dockerfile = "services/" + stage + "/Dockerfile";
        return new ImageFromDockerfile("seqstream-it/" + stage, true)
                .withFileFromPath(dockerfile, ROOT.resolve(dockerfile))
                .withFileFromPath("models/itn-seq2seq", ROOT.resolve("models/itn-seq2seq"))
                .withFileFromPath("models/itn-gpt", ROOT.resolve("models/itn-gpt"))
                .withFileFromPath("services/" + stage + "/target/quarkus-app", app(stage))
                .withDockerfilePath(dockerfile)
                .withBuildArg("BASE_IMAGE", base);
    }

    private static void awaitReady(int port) throws Exception {
        HttpClient http = HttpClient.newBuilder().version(HttpClient.Version.HTTP_1_1).connectTimeout(Duration.ofSeconds(2)).build();
        HttpRequest ready = HttpRequest.newBuilder(URI.create("http://localhost:" + port + "/q/health/ready")).build();
        for (long end = System.nanoTime() + Duration.ofMinutes(3).toNanos(); System.nanoTime() < end; Thread.sleep(200)) {
            try {
                if (http.send(ready, HttpResponse.BodyHandlers.discarding()).statusCode() == 200) {
                    return;
                }
            } catch (java.io.IOException notYet) {
                // not listening yet
            }
        }
        throw new AssertionError("localhost:" + port + " was not ready within 3 minutes");
    }

    private static double metric(int port, String name) throws Exception {
        String body = HttpClient.newBuilder().version(HttpClient.Version.HTTP_1_1).build().send(HttpRequest.newBuilder(URI.create("http://localhost:" + port + "/q/metrics")).build(),
                HttpResponse.BodyHandlers.ofString()).body();
        return body.lines().filter(l -> l.startsWith(name + " ") || l.startsWith(name + "{"))
                .mapToDouble(l -> Double.parseDouble(l.substring(l.lastIndexOf(' ') + 1))).sum();
    }

    private static KafkaConsumer<String, byte[]> reader(String bootstrap) {
        KafkaConsumer<String, byte[]> c = new KafkaConsumer<>(Map.of(
                ConsumerConfig.BOOTSTRAP_SERVERS_CONFIG, bootstrap,
                ConsumerConfig.GROUP_ID_CONFIG, "containers-it",
                ConsumerConfig.AUTO_OFFSET_RESET_CONFIG, "earliest",
                ConsumerConfig.ISOLATION_LEVEL_CONFIG, "read_committed"), new StringDeserializer(), new ByteArrayDeserializer());
        c.subscribe(List.of(Topics.RESULTS.name(), Topics.STREAM.name()));
        return c;
    }

    private static void read(KafkaConsumer<String, byte[]> c, Map<String, List<SequenceResult>> results,
                             Map<String, Map<Integer, List<String>>> tokens) {
        for (ConsumerRecord<String, byte[]> r : c.poll(Duration.ofMillis(200))) {
            if (r.topic().equals(Topics.RESULTS.name())) {
                SequenceResult res = Topics.RESULTS.valueSerde().deserializer().deserialize(r.topic(), r.value());
                results.computeIfAbsent(res.getId(), k -> new ArrayList<>()).add(res);
            } else {
                TokenEvent t = Topics.STREAM.valueSerde().deserializer().deserialize(r.topic(), r.value());
                tokens.computeIfAbsent(t.getId(), k -> new TreeMap<>()).computeIfAbsent(t.getIndex(), k -> new ArrayList<>())
                        .add(t.getTextDelta());
            }
        }
    }

    /** Whether every result's token events are in: their deltas spell its output. */
    private static boolean complete(Map<String, List<SequenceResult>> results, Map<String, Map<Integer, List<String>>> tokens) {
        return results.values().stream().allMatch(r -> {
            StringBuilder text = new StringBuilder();
            tokens.getOrDefault(r.get(0).getId(), Map.of()).values().forEach(v -> text.append(v.get(0)));
            return r.get(0).getOutputText() == null || text.toString().equals(r.get(0).getOutputText());
        });
    }
}
