package org.seqstream.decoder;

import org.apache.kafka.clients.consumer.ConsumerConfig;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.consumer.KafkaConsumer;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerConfig;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.common.TopicPartition;
import org.apache.kafka.common.serialization.ByteArrayDeserializer;
import org.apache.kafka.common.serialization.StringDeserializer;
import org.apache.kafka.common.serialization.StringSerializer;
import org.junit.jupiter.api.Test;
import org.seqstream.pipeline.LocalPipeline;
import org.seqstream.pipeline.decoder.DecoderTopology;
import org.seqstream.runtime.Generator;
import org.seqstream.runtime.ModelCatalog;
import org.seqstream.runtime.SamplingParams;
import org.seqstream.schemas.SequenceResult;
import org.seqstream.schemas.TokenEvent;
import org.seqstream.schemas.Topics;
import org.seqstream.testing.EmbeddedKafka;

import java.net.ServerSocket;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeMap;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The decoder service jar as a process of its own, started on a backlog of encoded requests,
 * killed with SIGKILL mid-generation and started again on an empty state directory (its stores
 * come back from their changelogs). A read_committed reader counts every record: one result per request, equal to the reference
 * generator, and on seq.stream every token index of every request exactly once, the deltas
 * spelling the output.
 */
class DecoderCrashIT {
    private static final Path ROOT = Path.of(System.getProperty("seq.repo.root", "../.."));
    private static final List<String> INPUTS = List.of(
            "the rent is one thousand two hundred dollars", "wake me at six fifteen a m please",
            "our flight is on the fourth of july twenty twenty six", "only seven percent replied",
            "a coffee costs four dollars and fifty cents", "zero errors were found");
    private static final int REQUESTS = 400;

    /** What the reader saw of one request. */
    private static final class Seen {
        final List<SequenceResult> results = new ArrayList<>();
        final Map<Integer, List<String>> tokens = new TreeMap<>();
    }

    @Test
    void aDecoderKilledMidGenerationResumesWithoutLosingOrRepeatingAResultOrAToken() throws Exception {
        Path dir = Files.createTempDirectory("seq-decoder-crash-");
        try (EmbeddedKafka kafka = EmbeddedKafka.start(0, dir.resolve("kafka"), true);
             ModelCatalog models = ModelCatalog.load(ROOT.resolve("models"))) {
            String bootstrap = kafka.bootstrapServers();
            try (LocalPipeline encoding = LocalPipeline.start(models, new LocalPipeline.Settings(bootstrap,
                    Set.of("tokenizer", "embedding", "encoder"), 4, dir.resolve("local"), DecoderTopology.Config.DEFAULT,
                    Map.of(), "crash-it"))) {
                // Given sampled requests of both models, and their reference outputs
                Map<String, String> expected = new HashMap<>();
                Map<String, String> json = new HashMap<>();
                for (int i = 0; i < REQUESTS; i++) {
                    String model = i % 2 == 0 ? "itn-seq2seq" : "itn-gpt", text = INPUTS.get(i % INPUTS.size()), id = "c" + i;
                    SamplingParams p = new SamplingParams(128, 0.8, 0, 0.95, 1000 + i);
                    expected.put(id, new Generator(models.sessions(model), models.tokenizer(model))
                            .generate(List.of(new Generator.Request(models.tokenizer(model).encode(text), p))).get(0).text());
                    json.put(id, "{\"id\":\"" + id + "\",\"model\":\"" + model + "\",\"text\":\"" + text
                            + "\",\"params\":{\"max_new_tokens\":128,\"temperature\":0.8,\"top_p\":0.95,\"seed\":" + (1000 + i) + "}}");
                }
                Map<String, Seen> seen = new HashMap<>();
                int port = freePort();
                try (KafkaProducer<String, String> producer = new KafkaProducer<>(Map.of(
                        ProducerConfig.BOOTSTRAP_SERVERS_CONFIG, bootstrap), new StringSerializer(), new StringSerializer())) {
                    json.forEach((id, value) -> producer.send(new ProducerRecord<>(Topics.REQUESTS.name(), id, value)));
                    producer.flush();
                }
                // A decoder that keeps up with arrivals (a fast machine) holds only a sequence or two, and
                // its last commit may hold none mid-generation: it starts once every request is encoded, a
                // backlog that keeps its batch full
                assertEquals(REQUESTS, encoded(bootstrap, REQUESTS, Duration.ofSeconds(180)), "requests encoded");
                Process decoder = startDecoder(bootstrap, dir.resolve("state-1"), port, dir.resolve("decoder-1.log"));
                try (KafkaConsumer<String, byte[]> reader = reader(bootstrap, Topics.RESULTS.name(), Topics.STREAM.name());
                     KafkaConsumer<String, byte[]> watcher = reader(bootstrap, Topics.RESULTS.name())) {
                    // When the decoder is killed once a fifth of the results are in (watched on seq.results
                    // alone: the reader of both topics lags behind the token events)
                    Map<String, Seen> watched = new HashMap<>();
                    int before = readUntil(watcher, watched, REQUESTS / 5, Duration.ofSeconds(180));
                    long activeAtKill = 0;
                    for (long end = System.nanoTime() + 10_000_000_000L; activeAtKill == 0 && System.nanoTime() < end; ) {
                        activeAtKill = metric(port, "seq_decoder_active_sequences");
                    }
                    decoder.destroyForcibly().waitFor();
                    assertTrue(before >= REQUESTS / 5 && before < REQUESTS, "results before the kill: " + before);
                    // And started again on an empty state directory
                    decoder = startDecoder(bootstrap, dir.resolve("state-2"), port, dir.resolve("decoder-2.log"));
                    readUntil(reader, seen, REQUESTS, Duration.ofSeconds(240));
                    // The killed decoder's open transaction holds read_committed readers back on its
                    // partitions until it times out (the new instance has another transactional id):
                    // read until every result's token events are in, then a little more for late duplicates
                    long end = System.nanoTime() + Duration.ofSeconds(60).toNanos();
                    while (!streamsComplete(seen) && System.nanoTime() < end) {
                        read(reader, seen);
                    }
                    readFor(reader, seen, Duration.ofSeconds(3));
                    long resumed = metric(port, "seq_decoder_resumed_sequences_total");
                    System.out.printf("DecoderCrashIT: killed after %d results with %d sequences active; %d resumed%n",
                            before, activeAtKill, resumed);
                    // Then every request has one result, the reference output
                    for (var e : expected.entrySet()) {
                        Seen s = seen.get(e.getKey());
                        assertTrue(s != null && s.results.size() == 1, e.getKey() + ": " + (s == null ? 0 : s.results.size()) + " results");
                        assertEquals(e.getValue(), s.results.get(0).getOutputText(), e.getKey());
                        // And its token events hold every index once, spelling the output
                        StringBuilder text = new StringBuilder();
                        int next = 0;
                        for (var t : s.tokens.entrySet()) {
                            assertEquals(next++, t.getKey(), e.getKey() + ": token indexes " + s.tokens.keySet());
                            assertEquals(1, t.getValue().size(), e.getKey() + ": token " + t.getKey() + " seen " + t.getValue().size() + " times");
                            text.append(t.getValue().get(0));
                        }
                        assertEquals(e.getValue(), text.toString(), e.getKey() + ": streamed text");
                    }
                    // And the kill landed mid-generation: sequences were decoding, and the new instance resumed them
                    assertTrue(activeAtKill > 0, "no sequence was decoding at the kill");
                    assertTrue(resumed > 0, "the restarted decoder resumed nothing");
                } finally {
                    decoder.destroy();
                    decoder.waitFor();
                }
            }
        }
    }

    private static Process startDecoder(String bootstrap, Path stateDir, int httpPort, Path log) throws Exception {
        // seq.decoder.jar: another build of the service to check (an older one, say)
        Path jar = Path.of(System.getProperty("seq.decoder.jar", ROOT.resolve("services/decoder/target/quarkus-app/quarkus-run.jar").toString()));
        assertTrue(Files.exists(jar), "the decoder service jar is built before the integration tests: " + jar);
        ProcessBuilder pb = new ProcessBuilder(Path.of(System.getProperty("java.home"), "bin", "java").toString(),
                "-Xmx256m", "-jar", jar.toString());
        pb.environment().putAll(Map.of("KAFKA_BOOTSTRAP_SERVERS", bootstrap, "SEQ_MODELS_DIR", ROOT.resolve("models").toString(),
                "SEQ_DEVICE", "cpu", "SEQ_ONNX_THREADS", "1", "SEQ_HTTP_PORT", String.valueOf(httpPort),
                "SEQ_STATE_DIR", stateDir.toString(), "SEQ_SESSION_TIMEOUT_MS", "6000", "SEQ_DECODER_MAX_ACTIVE", "16"));
        pb.redirectErrorStream(true).redirectOutput(log.toFile());
        return pb.start();
    }

    private static KafkaConsumer<String, byte[]> reader(String bootstrap, String... topics) {
        KafkaConsumer<String, byte[]> c = new KafkaConsumer<>(Map.of(ConsumerConfig.BOOTSTRAP_SERVERS_CONFIG, bootstrap,
                ConsumerConfig.ISOLATION_LEVEL_CONFIG, "read_committed", ConsumerConfig.ENABLE_AUTO_COMMIT_CONFIG, false),
                new StringDeserializer(), new ByteArrayDeserializer());
        List<TopicPartition> parts = new ArrayList<>();
        for (String topic : topics) {
            c.partitionsFor(topic).forEach(pi -> parts.add(new TopicPartition(topic, pi.partition())));
        }
        c.assign(parts);
        c.seekToBeginning(parts);
        return c;
    }

    /** Counts the distinct requests on seq.encoded (read_committed) until there are {@code n} or the time is up. */
    private static int encoded(String bootstrap, int n, Duration max) {
        Set<String> ids = new java.util.HashSet<>();
        try (KafkaConsumer<String, byte[]> c = reader(bootstrap, Topics.ENCODED.name())) {
            long end = System.nanoTime() + max.toNanos();
            while (ids.size() < n && System.nanoTime() < end) {
                c.poll(Duration.ofMillis(200)).forEach(r -> ids.add(r.key()));
            }
        }
        return ids.size();
    }

    /** Reads until {@code results} requests have a result or the time is up; returns how many have one. */
    private static int readUntil(KafkaConsumer<String, byte[]> c, Map<String, Seen> seen, int results, Duration max) {
        long end = System.nanoTime() + max.toNanos();
        while (answered(seen) < results && System.nanoTime() < end) {
            read(c, seen);
        }
        return answered(seen);
    }

    private static void readFor(KafkaConsumer<String, byte[]> c, Map<String, Seen> seen, Duration d) {
        long end = System.nanoTime() + d.toNanos();
        while (System.nanoTime() < end) {
            read(c, seen);
        }
    }

    private static void read(KafkaConsumer<String, byte[]> c, Map<String, Seen> seen) {
        for (ConsumerRecord<String, byte[]> r : c.poll(Duration.ofMillis(200))) {
            Seen s = seen.computeIfAbsent(r.key(), k -> new Seen());
            if (r.topic().equals(Topics.RESULTS.name())) {
                s.results.add(Topics.RESULTS.valueSerde().deserializer().deserialize(r.topic(), r.value()));
            } else {
                TokenEvent ev = Topics.STREAM.valueSerde().deserializer().deserialize(r.topic(), r.value());
                s.tokens.computeIfAbsent(ev.getIndex(), i -> new ArrayList<>()).add(ev.getTextDelta());
            }
        }
    }

    /** Whether every request with a result has as many token events as it generated tokens. */
    private static boolean streamsComplete(Map<String, Seen> seen) {
        return seen.values().stream().filter(x -> !x.results.isEmpty())
                .allMatch(x -> x.tokens.size() >= x.results.get(0).getUsage().getGeneratedTokens());
    }

    private static int answered(Map<String, Seen> seen) {
        return (int) seen.values().stream().filter(s -> !s.results.isEmpty()).count();
    }

    /** A metric of the decoder on {@code port}. */
    private static long metric(int port, String name) throws Exception {
        HttpClient http = HttpClient.newBuilder().version(HttpClient.Version.HTTP_1_1).build();
        HttpResponse<String> r = http.send(HttpRequest.newBuilder(URI.create("http://localhost:" + port + "/q/metrics")).build(),
                HttpResponse.BodyHandlers.ofString());
        for (String line : r.body().split("\n")) {
            if (line.startsWith(name + " ") || line.startsWith(name + "{")) {
                return (long) Double.parseDouble(line.substring(line.lastIndexOf(' ') + 1));
            }
        }
        throw new AssertionError("no " + name + " in " + r.body().length() + " bytes of metrics");
    }

    private static int freePort() throws Exception {
        try (ServerSocket s = new ServerSocket(0)) {
            return s.getLocalPort();
        }
    }
}
