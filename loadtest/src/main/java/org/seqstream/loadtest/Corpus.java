package org.seqstream.loadtest;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;

/** Input sentences: the first tab-separated column of each non-empty line. */
final class Corpus {
    private Corpus() {
    }

    static Path defaultFile() {
        String root = System.getProperty("seq.repo.root", ".");
        return Path.of(root, "models", "eval", "itn-test.tsv");
    }

    static List<String> read(Path file) throws IOException {
        Path f = file == null ? defaultFile() : file;
        List<String> lines = Files.readAllLines(f).stream().filter(l -> !l.isBlank()).map(l -> l.split("\t", 2)[0]).toList();
        if (lines.isEmpty()) {
            throw new IOException("no inputs in " + f);
        }
        return lines;
    }
}
