package org.seqstream.cli;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

/**
 * A tab-separated evaluation file: spoken form, tab, expected written form, and optionally a
 * tab and the classes of the spans the sentence holds, comma-separated ({@code money,time};
 * {@code plain} for none). Without the third column every sentence's classes are empty.
 */
record Corpus(List<String> inputs, List<String> expected, List<List<String>> classes) {
    static Corpus read(Path file) throws IOException {
        List<String> in = new ArrayList<>(), exp = new ArrayList<>();
        List<List<String>> cls = new ArrayList<>();
        int lineNo = 0;
        for (String line : Files.readAllLines(file, StandardCharsets.UTF_8)) {
            lineNo++;
            if (line.isBlank()) {
                continue;
            }
            String[] parts = line.split("\t", -1);
            if (parts.length != 2 && parts.length != 3) {
                throw new IllegalArgumentException(file + ":" + lineNo + ": expected 'spoken<TAB>written[<TAB>classes]' but got: " + line);
            }
            in.add(parts[0]);
            exp.add(parts[1]);
            cls.add(parts.length == 3 && !parts[2].isBlank() ? List.of(parts[2].split(",")) : List.of());
        }
        return new Corpus(List.copyOf(in), List.copyOf(exp), List.copyOf(cls));
    }

    /** Whether any sentence carries classes. */
    boolean hasClasses() {
        return classes.stream().anyMatch(c -> !c.isEmpty());
    }

    Corpus first(int n) {
        return n >= inputs.size() ? this : new Corpus(inputs.subList(0, n), expected.subList(0, n), classes.subList(0, n));
    }
}
