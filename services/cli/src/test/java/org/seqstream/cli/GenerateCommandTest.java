package org.seqstream.cli;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import org.junit.jupiter.api.Test;
import picocli.CommandLine;

import java.io.ByteArrayInputStream;
import java.io.ByteArrayOutputStream;
import java.io.InputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

class GenerateCommandTest {
    private static final ObjectMapper JSON = new ObjectMapper();

    record Run(int exit, List<JsonNode> lines, String stderr) {
    }

    static Run run(String stdin, String... args) throws Exception {
        InputStream in = System.in;
        PrintStream out = System.out, err = System.err;
        ByteArrayOutputStream o = new ByteArrayOutputStream(), e = new ByteArrayOutputStream();
        try {
            System.setIn(new ByteArrayInputStream(stdin.getBytes(StandardCharsets.UTF_8)));
            System.setOut(new PrintStream(o, true, StandardCharsets.UTF_8));
            System.setErr(new PrintStream(e, true, StandardCharsets.UTF_8));
            int exit = new CommandLine(new Seqctl()).execute(args);
            List<JsonNode> lines = new ArrayList<>();
            for (String line : o.toString(StandardCharsets.UTF_8).split("\n")) {
                if (!line.isBlank()) {
                    lines.add(JSON.readTree(line));
                }
            }
            return new Run(exit, lines, e.toString(StandardCharsets.UTF_8));
        } finally {
            System.setIn(in);
            System.setOut(out);
            System.setErr(err);
        }
    }

    @Test
    void everyBadLineGetsItsOwnErrorAndTheOthersStillGetOutputsInOrder() throws Exception {
        // Given good lines mixed with an empty line, a line too long and unknown characters
        int max = 256;   // above both shipped packages' source limit
        String stdin = String.join("\n", "wake me at six fifteen a m please", "", "x".repeat(max + 1),
                "\u00c7af\u00e9 at nine p m", "only seven percent replied") + "\n";
        for (String model : List.of("itn-seq2seq", "itn-gpt")) {
            // When generate reads them in batches of two
            Run r = run(stdin, "generate", "--model", model, "--device", "cpu", "--batch-size", "2");
            // Then there is one JSON line per input, in input order
            assertEquals(0, r.exit(), r.stderr());
            assertEquals(5, r.lines().size());
            assertEquals("wake me at 6:15 am please", r.lines().get(0).get("output").asText());
            assertEquals("stop", r.lines().get(0).get("finish_reason").asText());
            assertEquals(25, r.lines().get(0).get("generated_tokens").asInt());
            assertEquals("empty input", r.lines().get(1).get("error").asText());
            assertTrue(r.lines().get(2).get("error").asText().contains("at most "), r.lines().get(2).toString());
            assertTrue(r.lines().get(2).get("error").asText().contains((max + 1) + " characters"), r.lines().get(2).toString());
            assertTrue(r.lines().get(3).get("error").asText().contains("'\u00c7' at 0"));
            assertTrue(r.lines().get(3).get("error").asText().contains("'\u00e9' at 3"));
            assertFalse(r.lines().get(3).has("output"));
            assertEquals("only 7% replied", r.lines().get(4).get("output").asText());
            assertEquals("only seven percent replied", r.lines().get(4).get("input").asText());
        }
    }

    @Test
    void maxNewTokensCutsTheOutputWithFinishReasonLength() throws Exception {
        Run r = run("only seven percent replied\n", "generate", "--model", "itn-gpt", "--device", "cpu", "--max-new-tokens", "4");
        assertEquals("only", r.lines().get(0).get("output").asText());
        assertEquals("length", r.lines().get(0).get("finish_reason").asText());
    }

    @Test
    void anInvalidOptionFailsTheRunWithItsName() throws Exception {
        Run r = run("one\n", "generate", "--model", "itn-gpt", "--device", "cpu", "--top-p", "0");
        assertEquals(2, r.exit());
        assertTrue(r.stderr().contains("top_p"), r.stderr());
    }

    @Test
    void anUnknownModelFailsWithItsName() throws Exception {
        Run r = run("one\n", "generate", "--model", "no-such-model", "--device", "cpu");
        assertTrue(r.exit() != 0);
        assertTrue(r.stderr().contains("no-such-model"), r.stderr());
    }
}
