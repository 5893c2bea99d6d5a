package org.seqstream.cli;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import picocli.CommandLine;

import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

class AccuracyCommandTest {
    private static String run(String... args) {
        PrintStream out = System.out;
        ByteArrayOutputStream o = new ByteArrayOutputStream();
        try {
            System.setOut(new PrintStream(o, true, StandardCharsets.UTF_8));
            assertEquals(0, new CommandLine(new Seqctl()).execute(args));
            return o.toString(StandardCharsets.UTF_8);
        } finally {
            System.setOut(out);
        }
    }

    @Test
    void aClassesColumnGivesExactMatchPerClassEachSentenceInEveryClassItHolds(@TempDir Path dir) throws Exception {
        // Given hand-written expectations: two the model gets right, one it cannot (the expected text is wrong on purpose)
        Path tsv = dir.resolve("eval.tsv");
        Files.write(tsv, List.of(
                "only seven percent replied\tonly 7% replied\tpercent",
                "the exam is on april second at nine a m\tthe exam is on april 2 at 9 am\tdate,time",
                "zero errors were found\tzero errors were found\tcardinal",
                "the kids built a fort\tthe kids built a fort\tplain"));
        // When accuracy runs on it
        String out = run("accuracy", "--model", "itn-seq2seq", "--file", tsv.toString(), "--show-errors", "0");
        // Then each class counts its sentences, and a sentence with two classes counts in both
        List<String> lines = out.lines().toList();
        assertTrue(lines.contains(String.format("%-12s %9s %7s %8s", "class", "sentences", "exact", "match")), out);
        assertTrue(lines.contains(String.format("%-12s %9d %7d %7.2f%%", "cardinal", 1, 0, 0.0)), out);
        assertTrue(lines.contains(String.format("%-12s %9d %7d %7.2f%%", "date", 1, 1, 100.0)), out);
        assertTrue(lines.contains(String.format("%-12s %9d %7d %7.2f%%", "time", 1, 1, 100.0)), out);
        assertTrue(lines.contains(String.format("%-12s %9d %7d %7.2f%%", "percent", 1, 1, 100.0)), out);
        assertTrue(lines.contains(String.format("%-12s %9d %7d %7.2f%%", "plain", 1, 1, 100.0)), out);
        assertTrue(lines.get(lines.size() - 1).startsWith("itn-seq2seq: exact match 3/4 = 75.00% on "), out);
    }

    @Test
    void aFileWithoutClassesPrintsOnlyTheSummary(@TempDir Path dir) throws Exception {
        Path tsv = dir.resolve("eval.tsv");
        Files.write(tsv, List.of("only seven percent replied\tonly 7% replied"));
        String out = run("accuracy", "--model", "itn-gpt", "--file", tsv.toString());
        assertEquals(List.of("itn-gpt: exact match 1/1 = 100.00% on " + tsv), out.lines().toList());
    }
}
