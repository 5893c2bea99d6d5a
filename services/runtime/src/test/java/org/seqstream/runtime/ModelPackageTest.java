package org.seqstream.runtime;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.stream.Stream;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

class ModelPackageTest {

    private static Path copyOf(String name, Path to) throws IOException {
        Path src = Shipped.modelsDir().resolve(name);
        Path dst = to.resolve(name);
        Files.createDirectories(dst);
        try (Stream<Path> files = Files.list(src)) {
            for (Path f : (Iterable<Path>) files::iterator) {
                Files.copy(f, dst.resolve(f.getFileName()));
            }
        }
        return dst;
    }

    private static void editManifest(Path pkg, java.util.function.Consumer<JsonNode> edit) throws IOException {
        ObjectMapper json = new ObjectMapper();
        JsonNode m = json.readTree(pkg.resolve("model.json").toFile());
        edit.accept(m);
        json.writeValue(pkg.resolve("model.json").toFile(), m);
    }

    @Test
    void loadsTheShippedPackagesWithTheirArchitecture() {
        ModelPackage s2s = ModelPackage.load(Shipped.modelsDir().resolve(Shipped.SEQ2SEQ));
        ModelPackage gpt = ModelPackage.load(Shipped.modelsDir().resolve(Shipped.GPT));
        assertEquals(Architecture.ENCODER_DECODER, s2s.architecture());
        assertEquals(Architecture.DECODER_ONLY, gpt.architecture());
        assertEquals(4, s2s.graphs().size());
        assertEquals(2, gpt.graphs().size());
        assertEquals(2, s2s.special().eos());
    }

    @Test
    void aChangedGraphFailsAtLoadNamingTheFileAndTheChecksum(@TempDir Path tmp) throws IOException {
        // Given a package whose decoder graph lost its last bytes
        Path pkg = copyOf(Shipped.SEQ2SEQ, tmp);
        Path decoder = pkg.resolve("decoder.onnx");
        byte[] bytes = Files.readAllBytes(decoder);
        Files.write(decoder, java.util.Arrays.copyOf(bytes, bytes.length - 10), StandardOpenOption.TRUNCATE_EXISTING);
        // When it loads, then the error names the file and the problem
        PackageException e = assertThrows(PackageException.class, () -> ModelPackage.load(pkg));
        assertTrue(e.getMessage().contains("decoder.onnx"), e.getMessage());
        assertTrue(e.getMessage().contains("sha256 mismatch"), e.getMessage());
    }

    @Test
    void aMissingFileFailsAtLoadNamingIt(@TempDir Path tmp) throws IOException {
        Path pkg = copyOf(Shipped.GPT, tmp);
        Files.delete(pkg.resolve("tokenizer.json"));
        PackageException e = assertThrows(PackageException.class, () -> ModelPackage.load(pkg));
        assertTrue(e.getMessage().contains("tokenizer.json") && e.getMessage().contains("missing"), e.getMessage());
    }

    @Test
    void aManifestWithoutADecoderGraphIsRefused(@TempDir Path tmp) throws IOException {
        Path pkg = copyOf(Shipped.GPT, tmp);
        editManifest(pkg, m -> ((ObjectNode) m.get("graphs")).remove("decoder"));
        PackageException e = assertThrows(PackageException.class, () -> ModelPackage.load(pkg));
        assertTrue(e.getMessage().contains("model.json") && e.getMessage().contains("'decoder'"), e.getMessage());
    }

    @Test
    void aGraphThatDisagreesWithTheManifestFailsWhenOpened(@TempDir Path tmp) throws IOException {
        // Given a manifest that declares another name for the embedding graph's output
        Path pkg = copyOf(Shipped.GPT, tmp);
        editManifest(pkg, m -> ((ObjectNode) m.at("/graphs/embedding/outputs/0")).put("name", "hidden"));
        ModelPackage loaded = ModelPackage.load(pkg);
        // When its sessions open, then the mismatch is reported with the graph file
        PackageException e = assertThrows(PackageException.class, () -> OnnxModel.open(loaded, Device.CPU, 1));
        assertTrue(e.getMessage().contains("embedding.onnx") && e.getMessage().contains("hidden"), e.getMessage());
    }

    @Test
    void aMissingPackageDirectoryIsReported(@TempDir Path tmp) {
        PackageException e = assertThrows(PackageException.class, () -> ModelPackage.load(tmp.resolve("nope")));
        assertTrue(e.getMessage().contains("nope"), e.getMessage());
    }
}
