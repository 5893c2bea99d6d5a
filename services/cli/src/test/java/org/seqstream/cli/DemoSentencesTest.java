package org.seqstream.cli;

import com.fasterxml.jackson.databind.JsonNode;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The sentences `seqctl demo` sends come out as written by hand, and an input of exactly the packages' 256-character
 * limit is accepted and has every span normalised, for both shipped models.
 */
class DemoSentencesTest {
    /** 256 characters: a date, a time, money, a measure, a telephone number and a cardinal in one sentence. */
    static final String LONGEST = "on the third of march twenty twenty five at half past nine a m we had paid four hundred and"
            + " twelve dollars and fifty cents for two point five kilograms of coffee and called five five five one two three"
            + " four five six seven about the order number forty seven";
    /** Its spans' written forms, in order. */
    static final List<String> LONGEST_SPANS = List.of("on march 3, 2025 at 9:30 am", "$412.50 for 2.5 kg", "555-123-4567",
            "number 47");

    static List<String[]> demoSentences() throws IOException {
        List<String[]> rows = new ArrayList<>();
        try (BufferedReader r = new BufferedReader(new InputStreamReader(
                DemoSentencesTest.class.getResourceAsStream("/demo-sentences.tsv"), StandardCharsets.UTF_8))) {
            r.lines().filter(l -> !l.isBlank()).forEach(l -> rows.add(l.split("\t")));
        }
        return rows;
    }

    @ParameterizedTest
    @ValueSource(strings = {"itn-seq2seq", "itn-gpt"})
    void everyDemoSentenceComesOutAsWrittenAndAFullLengthInputIsNormalised(String model) throws Exception {
        // Given the demo's sentences (spoken, written by hand) and a 256-character input
        List<String[]> rows = demoSentences();
        assertEquals(256, LONGEST.length());
        StringBuilder stdin = new StringBuilder();
        rows.forEach(r -> stdin.append(r[0]).append('\n'));
        stdin.append(LONGEST).append('\n');
        // When seqctl generate normalises them greedily, with its default limits
        GenerateCommandTest.Run run = GenerateCommandTest.run(stdin.toString(), "generate", "--model", model, "--device", "cpu");
        // Then each demo output is the written form, ended by the model itself
        assertEquals(0, run.exit(), run.stderr());
        assertEquals(rows.size() + 1, run.lines().size());
        for (int i = 0; i < rows.size(); i++) {
            JsonNode line = run.lines().get(i);
            assertEquals(rows.get(i)[1], line.path("output").asText(null), model + ": " + rows.get(i)[0]);
            assertEquals("stop", line.path("finish_reason").asText(), model + ": " + rows.get(i)[0]);
        }
        // and the full-length input is accepted, finished, and holds every span's written form in order
        JsonNode longest = run.lines().get(rows.size());
        assertEquals("stop", longest.path("finish_reason").asText(), longest.toString());
        String out = longest.path("output").asText("");
        int from = 0;
        for (String span : LONGEST_SPANS) {
            int at = out.indexOf(span, from);
            assertTrue(at >= from, model + ": '" + span + "' not in order in " + out);
            from = at + span.length();
        }
        assertTrue(out.startsWith("on march 3, 2025") && out.endsWith("about the order number 47"), out);
    }
}
