package org.seqstream.pipeline.gateway;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.consumer.KafkaConsumer;
import org.apache.kafka.common.serialization.ByteArrayDeserializer;
import org.apache.kafka.common.serialization.StringDeserializer;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.seqstream.pipeline.LocalPipeline;
import org.seqstream.pipeline.decoder.DecoderTopology;
import org.seqstream.runtime.Generator;
import org.seqstream.runtime.ModelCatalog;
import org.seqstream.runtime.SamplingParams;
import org.seqstream.schemas.SequenceControl;
import org.seqstream.schemas.SequenceRequest;
import org.seqstream.schemas.SequenceResult;
import org.seqstream.schemas.TokenEvent;
import org.seqstream.schemas.Topics;
import org.seqstream.testing.EmbeddedKafka;

import java.io.BufferedReader;
import java.io.InputStream;
import java.io.InputStreamReader;
import java.io.OutputStream;
import java.net.Socket;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import java.util.function.Predicate;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * A streaming client that goes away: the gateway cancels its request once the grace period has
 * passed, and not when a client resumed the stream within it. The requests are held before the
 * decoder (it starts only after the grace), so that the gateway's decision is taken on requests
 * that are still running; then the decoder ends the one that was given up with finish_reason
 * cancelled and no token events after its result, and the resumed stream runs to its end.
 * Everything is read back from the broker: seq.requests, seq.control, seq.stream and seq.results.
 */
class GatewayDisconnectIT {
    private static final ObjectMapper JSON = new ObjectMapper();
    private static final Duration GRACE = Duration.ofSeconds(3);
    /** A long output (over a hundred tokens), so that the decoder reads the cancel before it could finish. */
    private static final String GONE_INPUT = "our team ran one hundred and twenty kilometers per hour on the twenty first of june"
            + " two thousand and nine and sold eleven hundred tickets for nineteen pounds and ninety nine pence each to twelve"
            + " thousand and five people in the nineteen sixties style town";
    private static final String BACK_INPUT = "wake me at six fifteen a m please";
    private static final HttpClient HTTP = HttpClient.newBuilder().version(HttpClient.Version.HTTP_1_1).connectTimeout(Duration.ofSeconds(10)).build();
    private static Path dir;
    private static EmbeddedKafka kafka;
    private static ModelCatalog models;
    private static LocalPipeline upstream, decoder;
    private static GatewayServer server;
    private static Reader reader;

    @BeforeAll
    static void start() throws Exception {
        dir = Files.createTempDirectory("seq-gateway-disconnect-it-");
        kafka = EmbeddedKafka.start(0, dir.resolve("kafka"), true);
        models = ModelCatalog.load(Path.of(System.getProperty("seq.repo.root", "../..")).resolve("models"));
        upstream = start(Set.of("tokenizer", "embedding", "encoder"), "upstream");
        server = GatewayServer.start("127.0.0.1", 0, Map.of("bootstrap.servers", kafka.bootstrapServers()), models,
                new GatewayRoutes.Settings(1 << 20, Duration.ofSeconds(120), GRACE));
        reader = new Reader(kafka.bootstrapServers());
    }

    private static LocalPipeline start(Set<String> stages, String name) throws InterruptedException {
        LocalPipeline p = LocalPipeline.start(models, new LocalPipeline.Settings(kafka.bootstrapServers(), stages, 2,
                dir.resolve("state-" + name), DecoderTopology.Config.DEFAULT, Map.of(), "disconnect-it-" + name));
        for (int i = 0; i < 600 && !p.running(); i++) {
            Thread.sleep(100);
        }
        assertTrue(p.running(), name + " stages did not start");
        return p;
    }

    @AfterAll
    static void stop() {
        if (server != null) {
            server.close();
        }
        for (AutoCloseable c : new AutoCloseable[] {reader, decoder, upstream, models, kafka}) {
            try {
                if (c != null) {
                    c.close();
                }
            } catch (Exception e) {
                // closing the rest matters more
            }
        }
    }

    /** Every record of the four topics, in the order read, with this JVM's clock when it was read. */
    static final class Reader implements AutoCloseable {
        record Seen(String topic, String key, Object value, long atNanos) {
        }

        private final List<Seen> seen = new ArrayList<>();
        private final Thread thread;
        private volatile boolean running = true;

        Reader(String bootstrap) {
            KafkaConsumer<String, byte[]> c = new KafkaConsumer<>(Map.of("bootstrap.servers", bootstrap, "group.id",
                    "disconnect-it-reader", "auto.offset.reset", "earliest", "isolation.level", "read_committed"),
                    new StringDeserializer(), new ByteArrayDeserializer());
            c.subscribe(List.of(Topics.REQUESTS.name(), Topics.CONTROL.name(), Topics.STREAM.name(), Topics.RESULTS.name()));
            thread = new Thread(() -> {
                try (c) {
                    while (running) {
                        for (ConsumerRecord<String, byte[]> r : c.poll(Duration.ofMillis(200))) {
                            Object v = switch (r.topic()) {
                                case "seq.requests" -> Topics.REQUESTS.valueSerde().deserializer().deserialize(r.topic(), r.value());
                                case "seq.control" -> Topics.CONTROL.valueSerde().deserializer().deserialize(r.topic(), r.value());
                                case "seq.stream" -> Topics.STREAM.valueSerde().deserializer().deserialize(r.topic(), r.value());
                                default -> Topics.RESULTS.valueSerde().deserializer().deserialize(r.topic(), r.value());
                            };
                            synchronized (seen) {
                                seen.add(new Seen(r.topic(), r.key(), v, System.nanoTime()));
                                seen.notifyAll();
                            }
                        }
                    }
                }
            }, "disconnect-it-reader");
            thread.start();
        }

        List<Seen> all() {
            synchronized (seen) {
                return List.copyOf(seen);
            }
        }

        /** The first record that matches, waiting for it up to the timeout. */
        Seen await(Predicate<Seen> p, Duration timeout) throws InterruptedException {
            long deadline = System.nanoTime() + timeout.toNanos();
            synchronized (seen) {
                while (true) {
                    for (Seen s : seen) {
                        if (p.test(s)) {
                            return s;
                        }
                    }
                    long left = deadline - System.nanoTime();
                    if (left <= 0) {
                        throw new AssertionError("nothing matched within " + timeout + "; read: " + seen);
                    }
                    TimeUnit.NANOSECONDS.timedWait(seen, left);
                }
            }
        }

        @Override
        public void close() throws InterruptedException {
            running = false;
            thread.join(10_000);
        }
    }

    private static boolean control(Reader.Seen s, String id, String action) {
        return s.topic().equals("seq.control") && s.key().equals(id) && ((SequenceControl) s.value()).getAction().equals(action);
    }

    /**
     * A streaming POST on a raw connection that is closed as soon as the request is on
     * seq.requests: the client went away before its first event. Returns the request id and when.
     */
    private static Reader.Seen postAndGoAway(String model, String input) throws Exception {
        String body = "{\"model\":\"" + model + "\",\"prompt\":\"" + input + "\",\"stream\":true}";
        byte[] bytes = body.getBytes(StandardCharsets.UTF_8);
        try (Socket s = new Socket("127.0.0.1", server.port())) {
            OutputStream out = s.getOutputStream();
            out.write(("POST /v1/completions HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nContent-Length: "
                    + bytes.length + "\r\n\r\n").getBytes(StandardCharsets.US_ASCII));
            out.write(bytes);
            out.flush();
            return reader.await(r -> r.topic().equals("seq.requests") && ((SequenceRequest) r.value()).getText().equals(input),
                    Duration.ofSeconds(30));
        }
    }

    private static String expected(String model, String input) {
        Generator gen = new Generator(models.sessions(model), models.tokenizer(model));
        int max = models.find(model).orElseThrow().maxNewTokens();
        return gen.generate(List.of(new Generator.Request(models.tokenizer(model).encode(input), SamplingParams.greedy(max)))).get(0).text();
    }

    @Test
    void aClientThatGoesAwayIsCancelledAfterTheGraceAndAResumedOneIsNot() throws Exception {
        Reader.Seen gone = postAndGoAway("itn-seq2seq", GONE_INPUT);
        long goneAt = System.nanoTime();
        Reader.Seen back = postAndGoAway("itn-gpt", BACK_INPUT);
        long backAt = System.nanoTime();
        String goneId = gone.key(), backId = back.key();

        // the second client comes back within the grace, with no event seen yet
        CompletableFuture<HttpResponse<InputStream>> resumed = HTTP.sendAsync(HttpRequest.newBuilder(
                URI.create("http://127.0.0.1:" + server.port() + "/v1/completions/" + backId + "/events"))
                .timeout(Duration.ofSeconds(120)).GET().build(), HttpResponse.BodyHandlers.ofInputStream());
        reader.await(s -> control(s, backId, Topics.RESUMED), Duration.ofSeconds(10));

        Reader.Seen cancel = reader.await(s -> control(s, goneId, Topics.CANCEL), GRACE.plusSeconds(20));
        long afterGone = cancel.atNanos() - goneAt;
        assertTrue(afterGone >= GRACE.toNanos(), "cancelled " + afterGone / 1_000_000 + " ms after the client went away, before the grace");

        // past the grace of the resumed one (and a margin for the broker): no cancel for it
        long wait = backAt + GRACE.toNanos() + Duration.ofSeconds(2).toNanos() - System.nanoTime();
        if (wait > 0) {
            Thread.sleep(wait / 1_000_000);
        }
        assertTrue(reader.all().stream().noneMatch(s -> control(s, backId, Topics.CANCEL)), "a resumed stream was cancelled");

        decoder = start(Set.of("decoder"), "decoder");

        // the given-up request: cancelled, with its output so far, and no token event after its result
        Reader.Seen result = reader.await(s -> s.topic().equals("seq.results") && s.key().equals(goneId), Duration.ofSeconds(60));
        SequenceResult r = (SequenceResult) result.value();
        assertEquals("cancelled", r.getFinishReason());
        String full = expected("itn-seq2seq", GONE_INPUT);
        String so = r.getOutputText() == null ? "" : r.getOutputText();
        assertTrue(full.startsWith(so) && so.length() < full.length(), "output so far '" + so + "' of '" + full + "'");

        // the resumed stream runs to its end and spells the whole output
        List<String> texts = new ArrayList<>();
        String finish = null;
        HttpResponse<InputStream> resp = resumed.get(60, TimeUnit.SECONDS);
        assertEquals(200, resp.statusCode());
        try (BufferedReader in = new BufferedReader(new InputStreamReader(resp.body(), StandardCharsets.UTF_8))) {
            for (String line; (line = in.readLine()) != null && !line.equals("data: [DONE]"); ) {
                if (line.startsWith("data: ")) {
                    JsonNode c = JSON.readTree(line.substring(6)).path("choices").path(0);
                    texts.add(c.path("text").asText());
                    if (!c.path("finish_reason").isNull()) {
                        finish = c.path("finish_reason").asText();
                    }
                }
            }
        }
        assertEquals(expected("itn-gpt", BACK_INPUT), String.join("", texts));
        assertEquals("stop", finish);

        // token events of the cancelled request, read until the later request's result: indices
        // 0..n-1 spelling its output so far, n = its generated tokens; an event after it would
        // have an index of n or more
        reader.await(s -> s.topic().equals("seq.results") && s.key().equals(backId), Duration.ofSeconds(30));
        List<TokenEvent> events = reader.all().stream().filter(s -> s.topic().equals("seq.stream") && s.key().equals(goneId))
                .map(s -> (TokenEvent) s.value()).toList();
        StringBuilder spelled = new StringBuilder();
        for (int i = 0; i < events.size(); i++) {
            assertEquals(i, events.get(i).getIndex());
            spelled.append(events.get(i).getTextDelta());
        }
        assertEquals(r.getUsage().getGeneratedTokens(), events.size());
        assertEquals(so, spelled.toString());
        System.out.printf("GatewayDisconnectIT: cancelled %d ms after the client went away (grace %d ms), with %d tokens;"
                + " the resumed stream gave %d chunks%n", afterGone / 1_000_000, GRACE.toMillis(), events.size(), texts.size());
    }
}
