package org.seqstream.schemas;

import org.apache.avro.Schema;
import org.apache.avro.SchemaCompatibility;
import org.apache.avro.SchemaNormalization;
import org.junit.jupiter.api.Test;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.stream.Stream;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Every schema against each of its frozen earlier versions (src/main/resources/org/seqstream/schemas/frozen/vN, which the serdes also read as earlier writers), both
 * ways: a new reader reads old records, and an old reader reads new ones. Changing a schema means
 * keeping it compatible, or freezing a new version deliberately.
 */
class SchemaCompatibilityTest {
    private static final List<String> IMPORTS_FIRST = List.of("GenerationParams.avsc", "Tensor.avsc", "StageTiming.avsc");

    /** Parses a folder of .avsc files, the shared named types first. */
    static Map<String, Schema> parse(Path dir) throws IOException {
        Schema.Parser parser = new Schema.Parser();
        List<Path> files = new ArrayList<>();
        IMPORTS_FIRST.forEach(f -> files.add(dir.resolve(f)));
        try (Stream<Path> all = Files.list(dir)) {
            all.filter(p -> p.toString().endsWith(".avsc") && !IMPORTS_FIRST.contains(p.getFileName().toString()))
                    .sorted().forEach(files::add);
        }
        Map<String, Schema> out = new LinkedHashMap<>();
        for (Path f : files) {
            Schema s = parser.parse(f.toFile());
            out.put(s.getFullName(), s);
        }
        return out;
    }

    private static Path schemasDir() {
        return Path.of("src/main/avro");
    }

    @Test
    void everySchemaIsFullyCompatibleWithEveryFrozenVersion() throws IOException {
        Map<String, Schema> current = parse(schemasDir());
        List<Path> versions;
        try (Stream<Path> v = Files.list(Path.of("src/main/resources/org/seqstream/schemas/frozen"))) {
            versions = v.sorted().toList();
        }
        assertFalse(versions.isEmpty(), "no frozen versions");
        for (Path version : versions) {
            for (var frozen : parse(version).entrySet()) {
                Schema now = current.get(frozen.getKey());
                assertTrue(now != null, frozen.getKey() + " of " + version + " was removed");
                assertCompatible(now, frozen.getValue(), "current reads " + version);
                assertCompatible(frozen.getValue(), now, version + " reads current");
            }
        }
    }

    @Test
    void anIncompatibleChangeIsDetected() throws IOException {
        // Given a result schema whose id turned into an int
        Schema frozen = parse(schemasDir()).get("org.seqstream.schemas.TokenEvent");
        Schema changed = new Schema.Parser().parse(frozen.toString().replace("\"name\":\"index\",\"type\":\"int\"",
                "\"name\":\"index\",\"type\":\"string\""));
        // Then the check reports it
        assertEquals(SchemaCompatibility.SchemaCompatibilityType.INCOMPATIBLE,
                SchemaCompatibility.checkReaderWriterCompatibility(changed, frozen).getType());
    }

    @Test
    void theGeneratedClassesAreTheSchemasOfThisFolder() throws IOException {
        Map<String, Schema> current = parse(schemasDir());
        // Parsing canonical form: what the single-object fingerprint covers (no Java-only properties).
        for (Schema generated : List.of(SequenceRequest.getClassSchema(), SequenceTokens.getClassSchema(),
                SequenceEmbeddings.getClassSchema(), SequenceEncoded.getClassSchema(), TokenEvent.getClassSchema(),
                SequenceResult.getClassSchema())) {
            assertEquals(SchemaNormalization.toParsingForm(current.get(generated.getFullName())),
                    SchemaNormalization.toParsingForm(generated), generated.getFullName());
        }
    }

    private static void assertCompatible(Schema reader, Schema writer, String what) {
        var result = SchemaCompatibility.checkReaderWriterCompatibility(reader, writer);
        assertEquals(SchemaCompatibility.SchemaCompatibilityType.COMPATIBLE, result.getType(),
                reader.getFullName() + ": " + what + ": " + result.getDescription());
    }
}
