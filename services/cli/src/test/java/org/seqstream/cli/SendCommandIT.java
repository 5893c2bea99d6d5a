package org.seqstream.cli;

import com.fasterxml.jackson.databind.JsonNode;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.seqstream.pipeline.decoder.DecoderTopology;

import java.util.List;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** Every kind of bad input through `seqctl send` on the real broker and all four stages. */
class SendCommandIT {
    private static RunningPipeline stack;

    @BeforeAll
    static void start() throws Exception {
        stack = RunningPipeline.start("send-it", DecoderTopology.Config.DEFAULT);
    }

    @AfterAll
    static void stop() {
        stack.close();
    }

    private static String code(JsonNode line) {
        return line.path("error_code").asText("");
    }

    @Test
    void everyBadLineGetsItsErrorAndTheOthersTheirOutputs() throws Exception {
        String good1 = "wake me at six fifteen a m please", good2 = "only seven percent replied";
        List<String> lines = List.of(
                "{\"id\":\"ok-1\",\"text\":\"" + good1 + "\"}",
                "{\"id\":\"empty\",\"text\":\"\"}",
                "{\"id\":\"long\",\"text\":\"" + "ab ".repeat(90) + "\"}",
                "{\"id\":\"cut\",\"text\":\"" + "ab ".repeat(90) + "\",\"params\":{\"truncate\":true}}",
                "{\"id\":\"chars\",\"text\":\"Caf\u00e9\"}",
                "{\"id\":\"model\",\"model\":\"no-such-model\",\"text\":\"one\"}",
                "{\"id\":\"p-max0\",\"text\":\"one\",\"params\":{\"max_new_tokens\":-1}}",
                "{\"id\":\"p-max\",\"text\":\"one\",\"params\":{\"max_new_tokens\":100000}}",
                "{\"id\":\"p-temp\",\"text\":\"one\",\"params\":{\"temperature\":-0.5}}",
                "{\"id\":\"p-topp\",\"text\":\"one\",\"params\":{\"top_p\":1.5}}",
                "{\"id\":\"p-topk\",\"text\":\"one\",\"params\":{\"top_k\":-1}}",
                "{\"text\":\"" + good2 + "\"}",
                "{\"id\":\"ok-1\",\"text\":\"a different text under the same id\"}",
                "this line is not json",
                "{\"id\":\"big\",\"text\":\"one\",\"metadata\":{\"pad\":\"" + "x".repeat(100_000) + "\"}}",
                "{\"id\":\"huge\",\"text\":\"one\",\"metadata\":{\"pad\":\"" + "x".repeat(2_000_000) + "\"}}",
                "{\"id\":\"ok-2\",\"text\":\"" + good2 + "\"}");
        for (String model : List.of("itn-seq2seq", "itn-gpt")) {
            String stdin = String.join("\n", lines.stream().map(l -> l.replace("\"id\":\"", "\"id\":\"" + model + "-")).toList()) + "\n";
            GenerateCommandTest.Run r = GenerateCommandTest.run(stdin, "send", "--bootstrap", stack.bootstrap(),
                    "--model", model, "--json", "--timeout", "120", "--linger", "2");
            assertEquals(0, r.exit(), r.stderr());
            List<JsonNode> out = r.lines();
            assertEquals(lines.size(), out.size());
            GenerateCommandTest.Run ref = GenerateCommandTest.run(good1 + "\n" + good2 + "\n" + "ab ".repeat(90) + "\n",
                    "generate", "--model", model, "--device", "cpu", "--truncate");
            assertEquals(ref.lines().get(0).get("output").asText(), out.get(0).get("output").asText());
            assertEquals("empty_input", code(out.get(1)));
            assertEquals("tokenizer", out.get(1).get("stage").asText());
            assertEquals("input_too_long", code(out.get(2)));
            assertEquals(ref.lines().get(2).get("output").asText(), out.get(3).get("output").asText());
            assertTrue(out.get(3).get("truncated").asBoolean());
            assertEquals("unknown_characters", code(out.get(4)));
            assertEquals("unknown_model", code(out.get(5)));
            for (int i = 6; i <= 10; i++) {
                assertEquals("invalid_parameters", code(out.get(i)), out.get(i).toString());
            }
            // no id: the pipeline assigns one, and the result reports it
            assertEquals(ref.lines().get(1).get("output").asText(), out.get(11).get("output").asText());
            assertFalse(out.get(11).get("id").asText().isEmpty());
            // a repeated id is answered once: the line gets the first request's result
            assertEquals(out.get(0).get("output").asText(), out.get(12).get("output").asText());
            assertEquals("invalid_json", code(out.get(13)));
            assertEquals("send", out.get(13).get("stage").asText());
            assertEquals("request_too_large", code(out.get(14)));
            assertEquals("record_too_large", code(out.get(15)));
            assertEquals(ref.lines().get(1).get("output").asText(), out.get(16).get("output").asText());
            assertTrue(r.stderr().contains(lines.size() + " sent, " + lines.size() + " completed, 0 lost, 0 duplicated"), r.stderr());
        }
    }
}
