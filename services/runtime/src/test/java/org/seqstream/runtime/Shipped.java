package org.seqstream.runtime;

import java.nio.file.Path;

/** The shipped packages under the repository's models/ folder, opened once per test JVM. */
final class Shipped {
    static final String SEQ2SEQ = "itn-seq2seq";
    static final String GPT = "itn-gpt";

    private static final java.util.Map<String, Loaded> CACHE = new java.util.concurrent.ConcurrentHashMap<>();

    record Loaded(ModelPackage pkg, OnnxModel model, TextTokenizer tokenizer) {
        Generator generator(boolean recordLogits) {
            return new Generator(model, tokenizer, recordLogits);
        }
    }

    static Path modelsDir() {
        return Path.of(System.getProperty("seq.repo.root", "../..")).resolve("models");
    }

    static Loaded load(String name) {
        return CACHE.computeIfAbsent(name, n -> {
            ModelPackage pkg = ModelPackage.load(modelsDir().resolve(n));
            return new Loaded(pkg, OnnxModel.open(pkg, Device.CPU, 2), new TextTokenizer(pkg));
        });
    }

    private Shipped() {
    }
}
