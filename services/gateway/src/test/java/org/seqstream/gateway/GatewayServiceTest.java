package org.seqstream.gateway;

import io.quarkus.test.common.QuarkusTestResource;
import io.quarkus.test.common.http.TestHTTPResource;
import io.quarkus.test.junit.QuarkusTest;
import org.junit.jupiter.api.Test;
import org.seqstream.runtime.Generator;
import org.seqstream.runtime.ModelCatalog;
import org.seqstream.runtime.SamplingParams;

import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.time.Duration;
import java.util.List;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The gateway as the Quarkus service runs it, on its own HTTP server and configuration, in front
 * of a real broker and the four stages: health, models, a completion equal to the reference
 * generator, a stream, and the service's own body limit giving way to the API's 413.
 */
@QuarkusTest
@QuarkusTestResource(KafkaResource.class)
class GatewayServiceTest {
    private static final HttpClient HTTP = HttpClient.newBuilder().version(HttpClient.Version.HTTP_1_1).build();

    @TestHTTPResource("/")
    URI base;

    private HttpResponse<String> get(String path) throws Exception {
        return HTTP.send(HttpRequest.newBuilder(base.resolve(path)).timeout(Duration.ofSeconds(60)).build(),
                HttpResponse.BodyHandlers.ofString());
    }

    private HttpResponse<String> post(String path, String body) throws Exception {
        return HTTP.send(HttpRequest.newBuilder(base.resolve(path)).header("Content-Type", "application/json")
                .timeout(Duration.ofSeconds(120)).POST(HttpRequest.BodyPublishers.ofString(body)).build(),
                HttpResponse.BodyHandlers.ofString());
    }

    @Test
    void servesCompletionsStreamsAndErrors() throws Exception {
        HttpResponse<String> ready = get("/q/health/ready");
        assertEquals(200, ready.statusCode(), ready.body());
        assertTrue(get("/v1/models").body().contains("\"id\":\"itn-seq2seq\""));

        String input = "only seven percent replied";
        String expected;
        try (ModelCatalog models = ModelCatalog.load(KafkaResource.MODELS)) {
            expected = new Generator(models.sessions("itn-seq2seq"), models.tokenizer("itn-seq2seq"))
                    .generate(List.of(new Generator.Request(models.tokenizer("itn-seq2seq").encode(input), SamplingParams.greedy(64))))
                    .get(0).text();
        }
        HttpResponse<String> r = post("/v1/completions", "{\"model\":\"itn-seq2seq\",\"prompt\":\"" + input + "\",\"max_tokens\":64}");
        assertEquals(200, r.statusCode(), r.body());
        assertTrue(r.body().contains("\"text\":\"" + expected + "\""), r.body());

        HttpResponse<String> s = post("/v1/completions", "{\"model\":\"itn-seq2seq\",\"prompt\":\"" + input + "\",\"stream\":true}");
        assertEquals(200, s.statusCode());
        assertTrue(s.headers().firstValue("Content-Type").orElse("").startsWith("text/event-stream"));
        assertTrue(s.body().endsWith("data: [DONE]\n\n"), s.body());
        assertTrue(s.body().contains("\"finish_reason\":\"stop\""), s.body());

        HttpResponse<String> big = post("/v1/completions", "{\"model\":\"itn-gpt\",\"prompt\":\"" + "x".repeat(10 << 20) + "\"}");
        assertEquals(413, big.statusCode());
        assertTrue(big.body().contains("\"code\":\"request_too_large\""), big.body());
        assertEquals(404, post("/v1/completions", "{\"model\":\"nope\",\"prompt\":\"one\"}").statusCode());
        assertTrue(get("/q/metrics").body().contains("seq_gateway_completions_total 1.0"));
    }
}
