package org.seqstream.runtime;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;

import java.io.IOException;
import java.io.InputStream;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.ArrayList;
import java.util.HexFormat;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * A model package: a folder with model.json, tokenizer.json, golden.json and one ONNX graph per
 * stage. {@link #load} reads the manifest and checks that every file it names exists and has the
 * declared sha256, so a broken package fails here, naming the file, rather than at first use.
 */
public final class ModelPackage {
    public static final String MANIFEST = "model.json";
    public static final String EMBEDDING = "embedding";
    public static final String ENCODER = "encoder";
    public static final String CROSS_KV = "cross_kv";
    public static final String DECODER = "decoder";

    private static final ObjectMapper JSON = new ObjectMapper();

    private final Path dir;
    private final String name;
    private final Architecture architecture;
    private final int dModel, nHeads, headDim, vocabSize, decoderLayers, maxPositions, maxSourceLength, maxNewTokens;
    private final SpecialTokens special;
    private final Map<String, GraphSpec> graphs;
    private final Path tokenizerFile, goldenFile;

    private ModelPackage(Path dir, JsonNode m) {
        this.dir = dir;
        this.name = text(m, "name");
        this.architecture = Architecture.of(text(m, "architecture"));
        this.dModel = integer(m, "d_model");
        this.nHeads = integer(m, "n_heads");
        this.headDim = integer(m, "head_dim");
        this.vocabSize = integer(m, "vocab_size");
        this.decoderLayers = integer(m, "n_decoder_layers");
        this.maxPositions = integer(m, "max_positions");
        this.maxSourceLength = integer(m, "max_source_length");
        this.maxNewTokens = integer(m, "max_new_tokens");
        JsonNode s = required(m, "special_tokens");
        this.special = new SpecialTokens(integer(s, "pad"), integer(s, "bos"), integer(s, "eos"),
                integer(s, "unk"), integer(s, "sep"));
        this.tokenizerFile = dir.resolve(text(required(m, "tokenizer"), "file"));
        this.goldenFile = dir.resolve(text(required(m, "golden"), "file"));
        this.graphs = new LinkedHashMap<>();
        JsonNode g = required(m, "graphs");
        List<String> needed = architecture == Architecture.ENCODER_DECODER
                ? List.of(EMBEDDING, ENCODER, CROSS_KV, DECODER) : List.of(EMBEDDING, DECODER);
        for (String key : needed) {
            if (!g.has(key)) {
                throw fail("declares no '" + key + "' graph, which an " + architecture.id() + " model needs");
            }
            graphs.put(key, graph(g.get(key)));
        }
    }

    /** Reads and verifies the package in {@code dir}. */
    public static ModelPackage load(Path dir) {
        Path manifest = dir.resolve(MANIFEST);
        if (!Files.isDirectory(dir)) {
            throw new PackageException("model package " + dir + " does not exist or is not a directory");
        }
        JsonNode m;
        try {
            m = JSON.readTree(manifest.toFile());
        } catch (IOException e) {
            throw new PackageException(manifest + ": cannot read the manifest: " + e.getMessage(), e);
        }
        ModelPackage pkg = new ModelPackage(dir, m);
        pkg.verify(pkg.required(m, "tokenizer"));
        pkg.verify(pkg.required(m, "golden"));
        pkg.graphs.values().forEach(g -> pkg.verifyFile(g.file(), g.sha256()));
        return pkg;
    }

    private void verify(JsonNode fileEntry) {
        verifyFile(text(fileEntry, "file"), text(fileEntry, "sha256"));
    }

    private void verifyFile(String file, String expected) {
        Path p = dir.resolve(file);
        String actual;
        try (InputStream in = Files.newInputStream(p)) {
            MessageDigest md = MessageDigest.getInstance("SHA-256");
            byte[] buf = new byte[1 << 16];
            for (int n; (n = in.read(buf)) > 0; ) {
                md.update(buf, 0, n);
            }
            actual = HexFormat.of().formatHex(md.digest());
        } catch (NoSuchFileException e) {
            throw new PackageException(p + ": file missing (model.json lists it)");
        } catch (IOException e) {
            throw new PackageException(p + ": cannot read: " + e.getMessage(), e);
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException(e);
        }
        if (!actual.equalsIgnoreCase(expected)) {
            throw new PackageException(p + ": sha256 mismatch: model.json says " + expected + ", file has " + actual
                    + " (the file was changed or corrupted)");
        }
    }

    private GraphSpec graph(JsonNode g) {
        return new GraphSpec(text(g, "file"), text(g, "sha256"), tensors(required(g, "inputs")),
                tensors(required(g, "outputs")));
    }

    private List<TensorSpec> tensors(JsonNode arr) {
        List<TensorSpec> out = new ArrayList<>();
        for (JsonNode t : arr) {
            List<Object> shape = new ArrayList<>();
            for (JsonNode d : required(t, "shape")) {
                shape.add(d.isNumber() ? (Object) d.longValue() : d.asText());
            }
            out.add(new TensorSpec(text(t, "name"), text(t, "dtype"), List.copyOf(shape)));
        }
        return List.copyOf(out);
    }

    private JsonNode required(JsonNode n, String field) {
        JsonNode v = n.get(field);
        if (v == null || v.isNull()) {
            throw fail("has no '" + field + "'");
        }
        return v;
    }

    private String text(JsonNode n, String field) {
        return required(n, field).asText();
    }

    private int integer(JsonNode n, String field) {
        JsonNode v = required(n, field);
        if (!v.canConvertToInt()) {
            throw fail("'" + field + "' is not an integer: " + v);
        }
        return v.intValue();
    }

    private PackageException fail(String problem) {
        return new PackageException(dir.resolve(MANIFEST) + ": " + problem);
    }

    /** The decoder prompt: {@code <bos>} for encoder-decoder models, {@code <bos> source <sep>} for decoder-only. */
    public long[] prompt(long[] sourceIds) {
        if (isEncoderDecoder()) {
            return new long[] {special.bos()};
        }
        long[] p = new long[promptLength(sourceIds.length)];
        p[0] = special.bos();
        System.arraycopy(sourceIds, 0, p, 1, sourceIds.length);
        p[p.length - 1] = special.sep();
        return p;
    }

    /** Length of the {@link #prompt} of a source of {@code sourceLength} tokens. */
    public int promptLength(int sourceLength) {
        return isEncoderDecoder() ? 1 : sourceLength + 2;
    }

    public Path dir() { return dir; }
    public String name() { return name; }
    public Architecture architecture() { return architecture; }
    public boolean isEncoderDecoder() { return architecture == Architecture.ENCODER_DECODER; }
    public int dModel() { return dModel; }
    public int nHeads() { return nHeads; }
    public int headDim() { return headDim; }
    public int vocabSize() { return vocabSize; }
    public int decoderLayers() { return decoderLayers; }
    public int maxPositions() { return maxPositions; }
    /** Longest accepted input, in characters (= tokens for the character tokenizer). */
    public int maxSourceLength() { return maxSourceLength; }
    /** Upper limit of max_new_tokens for a request. */
    public int maxNewTokens() { return maxNewTokens; }
    public SpecialTokens special() { return special; }
    public Map<String, GraphSpec> graphs() { return graphs; }
    public GraphSpec graph(String key) { return graphs.get(key); }
    public Path tokenizerFile() { return tokenizerFile; }
    public Path goldenFile() { return goldenFile; }
}
