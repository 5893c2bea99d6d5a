package org.seqstream.cli;

import com.fasterxml.jackson.databind.JsonNode;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.seqstream.pipeline.decoder.DecoderTopology;

import java.util.List;
import java.util.stream.IntStream;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** A decoder with one slot and room for one waiting sequence: refusals are retryable, and a retry with the same id is answered. */
class OverloadRetryIT {
    private static final List<String> INPUTS = List.of("zero errors were found", "only seven percent replied",
            "wake me at six fifteen a m please", "the rent is one thousand two hundred dollars");
    private static RunningPipeline stack;

    @BeforeAll
    static void start() throws Exception {
        stack = RunningPipeline.start("overload-it", DecoderTopology.Config.DEFAULT.withMaxActive(1).withMaxQueued(1));
    }

    @AfterAll
    static void stop() {
        stack.close();
    }

    @Test
    void requestsRefusedAsOverloadedAndRetriedWithTheSameIdGetTheirRealResults() throws Exception {
        // Given 24 requests at once, far more than one slot and one place in the queue
        String stdin = String.join("\n", IntStream.range(0, 24).mapToObj(i -> INPUTS.get(i % INPUTS.size())).toList()) + "\n";
        List<JsonNode> ref = GenerateCommandTest.run(String.join("\n", INPUTS) + "\n", "generate", "--model", "itn-gpt",
                "--device", "cpu").lines();
        // When they are sent without retries, some are refused as overloaded
        GenerateCommandTest.Run once = GenerateCommandTest.run(stdin, "send", "--bootstrap", stack.bootstrap(),
                "--model", "itn-gpt", "--retries", "0", "--timeout", "60");
        assertTrue(once.lines().stream().anyMatch(l -> l.path("error_code").asText().equals("overloaded")), once.lines().toString());
        // When they are sent with retries
        GenerateCommandTest.Run r = GenerateCommandTest.run(stdin, "send", "--bootstrap", stack.bootstrap(),
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
