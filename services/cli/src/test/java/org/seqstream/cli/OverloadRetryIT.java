package org.seqstream.cli;

import com.fasterxml.jackson.databind.JsonNode;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.seqstream.pipeline.LocalPipeline;
import org.seqstream.pipeline.decoder.DecoderTopology;
import org.seqstream.runtime.ModelCatalog;
import org.seqstream.testing.EmbeddedKafka;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.stream.IntStream;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** A decoder with one slot and room for one waiting sequence: refusals are retryable, and a retry with the same id is answered. */
class OverloadRetryIT {
    private static final List<String> INPUTS = List.of("zero errors were found", "only seven percent replied",
            "wake me at six fifteen a m please", "the rent is one thousand two hundred dollars");
    private static EmbeddedKafka kafka;
    private static ModelCatalog models;
    private static LocalPipeline pipeline;

    @BeforeAll
    static void start() throws Exception {
        Path dir = Files.createTempDirectory("seq-overload-it-");
        kafka = EmbeddedKafka.start(0, dir.resolve("kafka"), true);
        models = ModelCatalog.load(Path.of(System.getProperty("seq.repo.root", "../..")).resolve("models"));
        pipeline = LocalPipeline.start(models, new LocalPipeline.Settings(kafka.bootstrapServers(),
                Set.copyOf(LocalPipeline.STAGES), 2, dir.resolve("state"),
                DecoderTopology.Config.DEFAULT.withMaxActive(1).withMaxQueued(1), Map.of(), "overload-it"));
        for (int i = 0; i < 600 && !pipeline.running(); i++) {
            Thread.sleep(100);
        }
    }

    @AfterAll
    static void stop() throws Exception {
        pipeline.close();
        models.close();
        kafka.close();
    }

    @Test
    void requestsRefusedAsOverloadedAndRetriedWithTheSameIdGetTheirRealResults() throws Exception {
        // Given 24 requests at once, far more than one slot and one place in the queue
        String stdin = String.join("\n", IntStream.range(0, 24).mapToObj(i -> INPUTS.get(i % INPUTS.size())).toList()) + "\n";
        List<JsonNode> ref = GenerateCommandTest.run(String.join("\n", INPUTS) + "\n", "generate", "--model", "itn-gpt",
                "--device", "cpu").lines();
        // When they are sent without retries, some are refused as overloaded
        GenerateCommandTest.Run once = GenerateCommandTest.run(stdin, "send", "--bootstrap", kafka.bootstrapServers(),
                "--model", "itn-gpt", "--retries", "0", "--timeout", "60");
        assertTrue(once.lines().stream().anyMatch(l -> l.path("error_code").asText().equals("overloaded")), once.lines().toString());
        // When they are sent with retries
        GenerateCommandTest.Run r = GenerateCommandTest.run(stdin, "send", "--bootstrap", kafka.bootstrapServers(),
                "--model", "itn-gpt", "--retries", "30", "--timeout", "120", "--linger", "2");
        // Then every one has its reference output, once, and some were sent again
        assertEquals(0, r.exit(), r.stderr());
        List<JsonNode> out = r.lines();
        assertEquals(24, out.size());
        for (int i = 0; i < 24; i++) {
            assertEquals(ref.get(i % INPUTS.size()).get("output").asText(), out.get(i).path("output").asText(), out.get(i).toString());
        }
        assertTrue(r.stderr().contains("24 sent, 24 completed, 0 lost, 0 duplicated"), r.stderr());
        assertTrue(r.stderr().contains("requests sent again after a retryable error"), r.stderr());
    }
}
