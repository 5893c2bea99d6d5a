package org.seqstream.cli;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

/** A tab-separated evaluation file: spoken form, tab, expected written form. */
record Corpus(List<String> inputs, List<String> expected) {
    static Corpus read(Path file) throws IOException {
        List<String> in = new ArrayList<>(), exp = new ArrayList<>();
        for (String line : Files.readAllLines(file, StandardCharsets.UTF_8)) {
            if (line.isBlank()) {
                continue;
            }
            String[] parts = line.split("\t", -1);
            if (parts.length != 2) {
                throw new IllegalArgumentException(file + ": expected 'spoken<TAB>written' but got: " + line);
            }
            in.add(parts[0]);
            exp.add(parts[1]);
        }
        return new Corpus(List.copyOf(in), List.copyOf(exp));
    }

    Corpus first(int n) {
        return n >= inputs.size() ? this : new Corpus(inputs.subList(0, n), expected.subList(0, n));
    }
}
