package org.seqstream.cli;

import org.seqstream.runtime.Device;
import org.seqstream.runtime.ModelPackage;
import org.seqstream.runtime.OnnxModel;
import org.seqstream.runtime.TextTokenizer;
import picocli.CommandLine.Option;

import java.nio.file.Path;

/** Options every command that opens a model shares. */
final class ModelOptions {
    @Option(names = "--models-dir", paramLabel = "DIR",
            description = "Folder of model packages (default: $SEQ_MODELS_DIR, else the repository's models/).")
    Path modelsDir;

    @Option(names = "--device", defaultValue = "auto", paramLabel = "cpu|cuda|auto",
            description = "Where ONNX Runtime runs (default: ${DEFAULT-VALUE}; auto falls back to cpu).")
    String device;

    @Option(names = "--threads", defaultValue = "0", paramLabel = "N",
            description = "ONNX Runtime intra-op threads per graph; 0 lets it choose (default: ${DEFAULT-VALUE}).")
    int threads;

    Path modelsDir() {
        if (modelsDir != null) {
            return modelsDir;
        }
        String env = System.getenv("SEQ_MODELS_DIR");
        if (env != null && !env.isBlank()) {
            return Path.of(env);
        }
        return Path.of(System.getProperty("seq.repo.root", ".")).resolve("models");
    }

    /** A package with its sessions and tokenizer, open until closed. */
    record Opened(ModelPackage pkg, OnnxModel model, TextTokenizer tokenizer) implements AutoCloseable {
        @Override
        public void close() {
            tokenizer.close();
            model.close();
        }
    }

    Opened open(String name) {
        Path dir = modelsDir().resolve(name);
        if (!dir.toFile().isDirectory()) {
            throw new IllegalArgumentException("unknown model '" + name + "': no package folder " + dir);
        }
        ModelPackage pkg = ModelPackage.load(dir);
        OnnxModel model = OnnxModel.open(pkg, Device.parse(device), threads);
        return new Opened(pkg, model, new TextTokenizer(pkg));
    }
}
