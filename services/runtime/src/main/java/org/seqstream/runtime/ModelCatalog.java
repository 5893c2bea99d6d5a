package org.seqstream.runtime;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.TreeMap;
import java.util.concurrent.ConcurrentHashMap;
import java.util.stream.Stream;

/**
 * Every model package of a directory ({@code SEQ_MODELS_DIR}), by name. All packages are loaded
 * and verified up front, so a broken one stops a service at start-up; tokenizers open on first use.
 */
public final class ModelCatalog implements AutoCloseable {
    private final Path dir;
    private final Map<String, ModelPackage> packages;
    private final Map<String, TextTokenizer> tokenizers = new ConcurrentHashMap<>();
    private final Map<String, OnnxModel> sessions = new ConcurrentHashMap<>();
    private final Device device;
    private final int threads;
    private final Set<String> graphs;   // null: all

    private ModelCatalog(Path dir, Map<String, ModelPackage> packages, Device device, int threads, Set<String> graphs) {
        this.dir = dir;
        this.packages = packages;
        this.device = device;
        this.threads = threads;
        this.graphs = graphs;
    }

    /** The graphs each stage runs; the others of a package are not opened in its process. */
    public static final Set<String> EMBEDDING_GRAPHS = Set.of("embedding"), ENCODER_GRAPHS = Set.of("encoder"),
            DECODER_GRAPHS = Set.of("embedding", "cross_kv", "decoder");

    /**
     * This catalog, but a model's sessions open only {@code graphs} at first use (others when a
     * caller asks for them): a service opens the graphs of its stage.
     */
    public ModelCatalog opening(Set<String> graphs) {
        return new ModelCatalog(dir, packages, device, threads, Set.copyOf(graphs));
    }

    /** Loads every package of {@code dir}; its graphs will run on the CPU with ONNX Runtime's default threads. */
    public static ModelCatalog load(Path dir) {
        return load(dir, Device.CPU, 0);
    }

    /** Loads every subfolder of {@code dir} that holds a model.json; graphs open on {@code device} when first used. */
    public static ModelCatalog load(Path dir, Device device, int threads) {
        if (!Files.isDirectory(dir)) {
            throw new PackageException("models directory " + dir + " does not exist");
        }
        Map<String, ModelPackage> found = new TreeMap<>();
        try (Stream<Path> sub = Files.list(dir)) {
            for (Path p : (Iterable<Path>) sub.sorted()::iterator) {
                if (Files.isRegularFile(p.resolve(ModelPackage.MANIFEST))) {
                    ModelPackage pkg = ModelPackage.load(p);
                    found.put(pkg.name(), pkg);
                }
            }
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
        if (found.isEmpty()) {
            throw new PackageException("models directory " + dir + " holds no model package (no */model.json)");
        }
        return new ModelCatalog(dir, found, device, threads, null);
    }

    public Path dir() { return dir; }

    public Set<String> names() {
        return packages.keySet();
    }

    public Optional<ModelPackage> find(String name) {
        return Optional.ofNullable(packages.get(name));
    }

    /** The tokenizer of a known model. */
    public TextTokenizer tokenizer(String name) {
        ModelPackage pkg = packages.get(name);
        if (pkg == null) {
            throw new IllegalArgumentException("unknown model " + name);
        }
        return tokenizers.computeIfAbsent(name, n -> new TextTokenizer(pkg));
    }

    /** The ONNX Runtime sessions of a known model, opened once. */
    public OnnxModel sessions(String name) {
        ModelPackage pkg = packages.get(name);
        if (pkg == null) {
            throw new IllegalArgumentException("unknown model " + name);
        }
        return sessions.computeIfAbsent(name, n -> graphs == null ? OnnxModel.open(pkg, device, threads)
                : OnnxModel.open(pkg, device, threads, graphs));
    }

    @Override
    public void close() {
        tokenizers.values().forEach(TextTokenizer::close);
        tokenizers.clear();
        sessions.values().forEach(OnnxModel::close);
        sessions.clear();
    }
}
