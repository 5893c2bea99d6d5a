package org.seqstream.schemas;

import org.apache.avro.Schema;
import org.apache.avro.SchemaNormalization;

import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

/**
 * The earlier, frozen versions of every schema (resources {@code frozen/vN/}), which the serdes
 * accept as writers: records written before a schema gained a field (in flight during an upgrade,
 * or kept in the decoder's stores) stay readable, the new fields taking their defaults.
 * {@code SchemaCompatibilityTest} checks that each current schema reads each of them.
 */
final class FrozenSchemas {
    /** Versions frozen so far, oldest first. */
    static final List<String> VERSIONS = List.of("v1");
    /** Every schema file of a version, the shared named types first (the others refer to them). */
    static final List<String> FILES = List.of("GenerationParams.avsc", "Tensor.avsc", "StageTiming.avsc",
            "DecodeProgress.avsc", "SequenceEmbeddings.avsc", "SequenceEncoded.avsc", "SequenceRequest.avsc",
            "SequenceResult.avsc", "SequenceTokens.avsc", "TokenEvent.avsc");

    private static final Map<String, List<Schema>> BY_NAME = load();

    private FrozenSchemas() {
    }

    /** The frozen versions of the record {@code current} names that differ from it. */
    static List<Schema> earlierWriters(Schema current) {
        long now = SchemaNormalization.parsingFingerprint64(current);
        return BY_NAME.getOrDefault(current.getFullName(), List.of()).stream()
                .filter(s -> SchemaNormalization.parsingFingerprint64(s) != now).toList();
    }

    private static Map<String, List<Schema>> load() {
        Map<String, List<Schema>> out = new HashMap<>();
        for (String version : VERSIONS) {
            Schema.Parser parser = new Schema.Parser();
            for (String file : FILES) {
                String path = "frozen/" + version + "/" + file;
                try (InputStream in = FrozenSchemas.class.getResourceAsStream(path)) {
                    if (in == null) {
                        throw new IllegalStateException("missing schema resource " + path);
                    }
                    Schema s = parser.parse(in);
                    out.computeIfAbsent(s.getFullName(), n -> new ArrayList<>()).add(s);
                } catch (IOException e) {
                    throw new UncheckedIOException("cannot read schema resource " + path, e);
                }
            }
        }
        return out;
    }
}
