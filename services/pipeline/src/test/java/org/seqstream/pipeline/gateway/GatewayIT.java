package org.seqstream.pipeline.gateway;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.seqstream.pipeline.LocalPipeline;
import org.seqstream.pipeline.decoder.DecoderTopology;
import org.seqstream.runtime.Generator;
import org.seqstream.runtime.ModelCatalog;
import org.seqstream.runtime.SamplingParams;
import org.seqstream.testing.EmbeddedKafka;

import java.io.BufferedReader;
import java.io.InputStreamReader;
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

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The HTTP gateway against a real broker and the four stages: completions equal to the
 * in-process generator (greedy and sampled with a seed), streamed chunks that add up to the same
 * text, a resumed stream that yields exactly the events after the client's last one, and every
 * kind of bad request answered with its status and an OpenAI-format error.
 */
class GatewayIT {
    private static final ObjectMapper JSON = new ObjectMapper();
    private static final List<String> INPUTS = List.of("wake me at six fifteen a m please", "only seven percent replied",
            "the rent is one thousand two hundred dollars", "call me on march third");
    private static EmbeddedKafka kafka;
    private static ModelCatalog models;
    private static LocalPipeline pipeline;
    private static GatewayServer server;
    private static final HttpClient HTTP = HttpClient.newBuilder().version(HttpClient.Version.HTTP_1_1).connectTimeout(Duration.ofSeconds(10)).build();

    @BeforeAll
    static void start() throws Exception {
        Path dir = Files.createTempDirectory("seq-gateway-it-");
        kafka = EmbeddedKafka.start(0, dir.resolve("kafka"), true);
        models = ModelCatalog.load(Path.of(System.getProperty("seq.repo.root", "../..")).resolve("models"));
        pipeline = LocalPipeline.start(models, new LocalPipeline.Settings(kafka.bootstrapServers(), Set.copyOf(LocalPipeline.STAGES),
                2, dir.resolve("state"), DecoderTopology.Config.DEFAULT, Map.of(), "gateway-it"));
        for (int i = 0; i < 600 && !pipeline.running(); i++) {
            Thread.sleep(100);
        }
        server = GatewayServer.start("127.0.0.1", 0, Map.of("bootstrap.servers", kafka.bootstrapServers()), models,
                new GatewayRoutes.Settings(1 << 20, Duration.ofSeconds(120), Duration.ofSeconds(1)));
    }

    @AfterAll
    static void stop() {
        if (server != null) {
            server.close();
        }
        if (pipeline != null) {
            pipeline.close();
        }
        if (models != null) {
            models.close();
        }
        if (kafka != null) {
            kafka.close();
        }
    }

    private static URI uri(String path) {
        return URI.create("http://127.0.0.1:" + server.port() + path);
    }

    private static HttpResponse<String> post(String path, String body) throws Exception {
        return HTTP.send(HttpRequest.newBuilder(uri(path)).header("Content-Type", "application/json")
                .timeout(Duration.ofSeconds(120)).POST(HttpRequest.BodyPublishers.ofString(body)).build(),
                HttpResponse.BodyHandlers.ofString());
    }

    private static String expected(String model, String input, SamplingParams params) {
        Generator gen = new Generator(models.sessions(model), models.tokenizer(model));
        return gen.generate(List.of(new Generator.Request(models.tokenizer(model).encode(input), params))).get(0).text();
    }

    /** One server-sent event: its id (or null) and data. */
    record Event(String id, String data) {
    }

    private static List<Event> events(HttpResponse<java.io.InputStream> resp, int limit) throws Exception {
        List<Event> out = new ArrayList<>();
        try (BufferedReader in = new BufferedReader(new InputStreamReader(resp.body(), StandardCharsets.UTF_8))) {
            String id = null, data = null, line;
            while (out.size() < limit && (line = in.readLine()) != null) {
                if (line.startsWith("id: ")) {
                    id = line.substring(4);
                } else if (line.startsWith("data: ")) {
                    data = line.substring(6);
                } else if (line.isEmpty() && data != null) {
                    out.add(new Event(id, data));
                    id = null;
                    data = null;
                }
            }
        }
        return out;
    }

    private static HttpResponse<java.io.InputStream> stream(String path, String body, String lastEventId) throws Exception {
        HttpRequest.Builder b = HttpRequest.newBuilder(uri(path)).timeout(Duration.ofSeconds(120));
        if (lastEventId != null) {
            b.header("Last-Event-ID", lastEventId);
        }
        b = body == null ? b.GET() : b.header("Content-Type", "application/json").POST(HttpRequest.BodyPublishers.ofString(body));
        return HTTP.send(b.build(), HttpResponse.BodyHandlers.ofInputStream());
    }

    @Test
    void modelsAreListed() throws Exception {
        HttpResponse<String> r = HTTP.send(HttpRequest.newBuilder(uri("/v1/models")).build(), HttpResponse.BodyHandlers.ofString());
        assertEquals(200, r.statusCode());
        List<String> ids = new ArrayList<>();
        JSON.readTree(r.body()).path("data").forEach(m -> ids.add(m.path("id").asText()));
        assertEquals(List.copyOf(models.names()), ids);
        assertEquals(404, HTTP.send(HttpRequest.newBuilder(uri("/v1/models/nope")).build(), HttpResponse.BodyHandlers.ofString()).statusCode());
    }

    @Test
    void completionsEqualTheInProcessGeneratorGreedyAndSampled() throws Exception {
        for (String model : List.of("itn-seq2seq", "itn-gpt")) {
            for (int i = 0; i < INPUTS.size(); i++) {
                String input = INPUTS.get(i);
                boolean sampled = i % 2 == 1;
                String body = "{\"model\":\"" + model + "\",\"prompt\":\"" + input + "\",\"max_tokens\":64"
                        + (sampled ? ",\"temperature\":0.8,\"top_p\":0.9,\"seed\":" + (40 + i) : "") + "}";
                HttpResponse<String> r = post("/v1/completions", body);
                assertEquals(200, r.statusCode(), r.body());
                JsonNode j = JSON.readTree(r.body());
                SamplingParams sp = sampled ? new SamplingParams(64, 0.8, 0, 0.9, 40 + i) : SamplingParams.greedy(64);
                assertEquals(expected(model, input, sp), j.path("choices").path(0).path("text").asText(), model + ": " + input);
                assertEquals("text_completion", j.path("object").asText());
                assertEquals(model, j.path("model").asText());
                assertTrue(j.path("id").asText().startsWith("cmpl-"));
                assertTrue(j.path("usage").path("completion_tokens").asInt() > 0);
                assertEquals(j.path("usage").path("prompt_tokens").asInt() + j.path("usage").path("completion_tokens").asInt(),
                        j.path("usage").path("total_tokens").asInt());
            }
        }
    }

    @Test
    void anArrayOfPromptsGetsOneChoiceEach() throws Exception {
        HttpResponse<String> r = post("/v1/completions", "{\"model\":\"itn-gpt\",\"prompt\":[\"" + INPUTS.get(0) + "\",\""
                + INPUTS.get(2) + "\"]}");
        assertEquals(200, r.statusCode(), r.body());
        JsonNode choices = JSON.readTree(r.body()).path("choices");
        assertEquals(2, choices.size());
        int max = models.find("itn-gpt").orElseThrow().maxNewTokens();
        assertEquals(expected("itn-gpt", INPUTS.get(0), SamplingParams.greedy(max)), choices.path(0).path("text").asText());
        assertEquals(expected("itn-gpt", INPUTS.get(2), SamplingParams.greedy(max)), choices.path(1).path("text").asText());
        assertEquals(1, choices.path(1).path("index").asInt());
    }

    @Test
    void streamedChunksAddUpToTheOutputAndAResumeYieldsExactlyTheRest() throws Exception {
        String model = "itn-seq2seq", input = INPUTS.get(2);
        String text = expected(model, input, SamplingParams.greedy(64));
        List<Event> all = events(stream("/v1/completions", "{\"model\":\"" + model + "\",\"prompt\":\"" + input
                + "\",\"max_tokens\":64,\"stream\":true}", null), Integer.MAX_VALUE);
        assertEquals("[DONE]", all.get(all.size() - 1).data());
        StringBuilder joined = new StringBuilder();
        String requestId = null;
        List<Event> chunks = all.subList(0, all.size() - 1);
        for (int i = 0; i < chunks.size(); i++) {
            JsonNode c = JSON.readTree(chunks.get(i).data());
            joined.append(c.path("choices").path(0).path("text").asText());
            requestId = c.path("id").asText();
            assertEquals(requestId + "/" + i, chunks.get(i).id(), "event ids count the tokens");
            boolean last = i == chunks.size() - 1;
            assertEquals(last, !c.path("choices").path(0).path("finish_reason").isNull(), "only the final chunk has a finish reason");
        }
        assertEquals(text, joined.toString());
        assertTrue(chunks.size() > 6);

        // a client that had k events reconnects: exactly the events after them
        for (int k : List.of(1, 5, chunks.size() - 1, chunks.size())) {
            List<Event> rest = events(stream("/v1/completions/" + requestId + "/events", null, chunks.get(k - 1).id()), Integer.MAX_VALUE);
            assertEquals("[DONE]", rest.get(rest.size() - 1).data());
            List<String> ids = rest.subList(0, rest.size() - 1).stream().map(Event::id).toList();
            assertEquals(chunks.subList(k, chunks.size()).stream().map(Event::id).toList(), ids, "after " + k + " events");
            StringBuilder tail = new StringBuilder();
            for (Event e : rest.subList(0, rest.size() - 1)) {
                tail.append(JSON.readTree(e.data()).path("choices").path(0).path("text").asText());
            }
            StringBuilder head = new StringBuilder();
            for (Event e : chunks.subList(0, k)) {
                head.append(JSON.readTree(e.data()).path("choices").path(0).path("text").asText());
            }
            assertEquals(text, head + tail.toString(), "after " + k + " events");
        }
        // without Last-Event-ID: all of them again
        List<Event> again = events(stream("/v1/completions/" + requestId + "/events", null, null), Integer.MAX_VALUE);
        assertEquals(all.stream().map(Event::id).toList(), again.stream().map(Event::id).toList());
    }

    @Test
    void aStreamDroppedMidwayResumesFromItsLastEvent() throws Exception {
        String model = "itn-gpt", input = INPUTS.get(0);
        String text = expected(model, input, SamplingParams.greedy(64));
        List<Event> first = events(stream("/v1/completions", "{\"model\":\"" + model + "\",\"prompt\":\"" + input
                + "\",\"max_tokens\":64,\"stream\":true}", null), 3);   // then the connection closes
        assertEquals(3, first.size());
        String requestId = JSON.readTree(first.get(0).data()).path("id").asText();
        List<Event> rest = events(stream("/v1/completions/" + requestId + "/events", null, first.get(2).id()), Integer.MAX_VALUE);
        StringBuilder joined = new StringBuilder();
        for (Event e : first) {
            joined.append(JSON.readTree(e.data()).path("choices").path(0).path("text").asText());
        }
        for (Event e : rest.subList(0, rest.size() - 1)) {
            joined.append(JSON.readTree(e.data()).path("choices").path(0).path("text").asText());
        }
        assertEquals(requestId + "/3", rest.get(0).id());
        assertEquals(text, joined.toString());
    }

    @Test
    void aCancelledRequestEndsWithFinishReasonCancelledAndNoEventsAfterIt() throws Exception {
        // a request published straight to Kafka under a gateway id, and cancelled through the gateway at once:
        // the cancel (one hop) reaches the decoder before the request (four)
        String id = CompletionIds.create(System.currentTimeMillis());
        try (org.apache.kafka.clients.producer.KafkaProducer<String, byte[]> p = new org.apache.kafka.clients.producer.KafkaProducer<>(
                Map.of("bootstrap.servers", kafka.bootstrapServers()), new org.apache.kafka.common.serialization.StringSerializer(),
                new org.apache.kafka.common.serialization.ByteArraySerializer())) {
            org.seqstream.schemas.SequenceRequest req = org.seqstream.schemas.SequenceRequest.newBuilder().setId(id).setModel("itn-seq2seq")
                    .setText(INPUTS.get(2)).setParams(org.seqstream.schemas.GenerationParams.newBuilder().build())
                    .setCreatedAtMs(System.currentTimeMillis()).build();
            p.send(new org.apache.kafka.clients.producer.ProducerRecord<>(org.seqstream.schemas.Topics.REQUESTS.name(), id,
                    org.seqstream.schemas.Topics.REQUESTS.valueSerde().serializer().serialize("", req))).get();
        }
        HttpResponse<String> c = post("/v1/completions/" + id + "/cancel", "");
        assertEquals(200, c.statusCode(), c.body());
        assertTrue(JSON.readTree(c.body()).path("cancelled").asBoolean());
        List<Event> events = events(stream("/v1/completions/" + id + "/events", null, null), Integer.MAX_VALUE);
        assertEquals("[DONE]", events.get(events.size() - 1).data());
        JsonNode last = JSON.readTree(events.get(events.size() - 2).data());
        assertEquals("cancelled", last.path("choices").path(0).path("finish_reason").asText(), events.toString());
        assertEquals(id + "/" + (events.size() - 2), events.get(events.size() - 2).id(), "the final chunk follows every token event");
        assertEquals(0, last.path("usage").path("completion_tokens").asInt(), "cancelled before it was decoded");
        assertEquals(404, post("/v1/completions/not-an-id/cancel", "").statusCode());
    }

    @Test
    void badRequestsGetTheirStatusAndAnOpenAiErrorAndTheGatewayKeepsServing() throws Exception {
        record Case(String body, int status, String code) {
        }
        List<Case> cases = List.of(
                new Case("{\"model\":\"itn-gpt\",\"prompt\":", 400, "invalid_json"),
                new Case("[1,2,3]", 400, "invalid_json"),
                new Case("{\"model\":\"no-such-model\",\"prompt\":\"one\"}", 404, "model_not_found"),
                new Case("{\"model\":\"itn-gpt\",\"prompt\":\"one\",\"max_tokens\":0}", 400, "invalid_request"),
                new Case("{\"model\":\"itn-gpt\",\"prompt\":\"\"}", 400, "empty_input"),
                new Case("{\"model\":\"itn-gpt\",\"prompt\":\"" + "ab ".repeat(200) + "\"}", 400, "input_too_long"),
                new Case("{\"model\":\"itn-gpt\",\"prompt\":\"one\",\"temperature\":-1}", 400, "invalid_parameters"),
                new Case("{\"model\":\"itn-gpt\"}", 400, "invalid_request"),
                new Case("{\"model\":\"itn-gpt\",\"prompt\":\"one\",\"n\":2}", 400, "invalid_request"),
                new Case("{\"model\":\"itn-gpt\",\"prompt\":\"one\",\"pad\":\"" + "x".repeat(10 << 20) + "\"}", 413, "request_too_large"),
                new Case("{\"model\":\"itn-gpt\",\"prompt\":\"\",\"stream\":true}", 400, "empty_input"));
        for (Case c : cases) {
            HttpResponse<String> r = post("/v1/completions", c.body());
            String what = c.body().substring(0, Math.min(60, c.body().length()));
            assertEquals(c.status(), r.statusCode(), what + " -> " + r.body());
            assertTrue(r.headers().firstValue("Content-Type").orElse("").startsWith("application/json"), what);
            JsonNode e = JSON.readTree(r.body()).path("error");
            assertEquals(c.code(), e.path("code").asText(), what);
            assertFalse(e.path("message").asText().isEmpty(), what);
            assertFalse(e.path("type").asText().isEmpty(), what);
        }
        assertEquals(404, post("/v1/nothing", "{}").statusCode());
        HttpResponse<String> ok = post("/v1/completions", "{\"model\":\"itn-gpt\",\"prompt\":\"" + INPUTS.get(1) + "\"}");
        assertEquals(200, ok.statusCode(), ok.body());
    }
}
