package org.seqstream.runtime;

import ai.onnxruntime.NodeInfo;
import ai.onnxruntime.OrtEnvironment;
import ai.onnxruntime.OrtException;
import ai.onnxruntime.OrtSession;
import ai.onnxruntime.TensorInfo;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * The ONNX Runtime sessions of one package, created once at start-up. Every graph's input and
 * output names, element types and shapes are checked against model.json before the model is used.
 */
public final class OnnxModel implements AutoCloseable {
    private static final Logger LOG = LoggerFactory.getLogger(OnnxModel.class);

    private final ModelPackage pkg;
    private final Device device;
    private final Map<String, OrtSession> sessions = new LinkedHashMap<>();
    private final int threads;

    private OnnxModel(ModelPackage pkg, Device device, int threads) {
        this.pkg = pkg;
        this.device = device;
        this.threads = threads;
    }

    /**
     * Opens every graph of {@code pkg} on {@code device}. {@code intraOpThreads} of 0 lets ONNX
     * Runtime choose. {@code auto} falls back to the CPU with one log line when CUDA is not there.
     */
    public static OnnxModel open(ModelPackage pkg, Device device, int intraOpThreads) {
        return open(pkg, device, intraOpThreads, pkg.graphs().keySet());
    }

    /**
     * Opens the graphs {@code graphs} of {@code pkg} (those it has) now; any other opens when first
     * used. A stage opens only what it runs: at realistic sizes a graph holds hundreds of MB.
     */
    public static OnnxModel open(ModelPackage pkg, Device device, int intraOpThreads, java.util.Set<String> graphs) {
        Device resolved = resolve(device);
        OnnxModel model = new OnnxModel(pkg, resolved, intraOpThreads);
        try {
            for (var e : pkg.graphs().entrySet()) {
                if (graphs.contains(e.getKey())) {
                    model.opened(e.getKey());
                }
            }
        } catch (RuntimeException e) {
            model.close();
            throw e;
        }
        return model;
    }

    private static Device resolve(Device requested) {
        if (requested == Device.CPU) {
            return Device.CPU;
        }
        String why = cudaUnavailableReason();
        if (why == null) {
            return Device.CUDA;
        }
        if (requested == Device.CUDA) {
            throw new IllegalStateException("device 'cuda' requested, but " + why
                    + ". Build with the GPU runtime (./mvnw -Pcuda ...) on a machine with an NVIDIA GPU, or use --device cpu/auto");
        }
        LOG.info("device auto: CUDA not available ({}), running on CPU", why);
        return Device.CPU;
    }

    /** Null when CUDA can be used, else why not. */
    private static String cudaUnavailableReason() {
        if (!OrtEnvironment.getAvailableProviders().contains(ai.onnxruntime.OrtProvider.CUDA)) {
            return "this ONNX Runtime build has no CUDA execution provider (it is the CPU-only onnxruntime artifact)";
        }
        try (OrtSession.SessionOptions so = new OrtSession.SessionOptions()) {
            so.addCUDA(0);
            return null;
        } catch (OrtException e) {
            return "the CUDA execution provider failed to start: " + e.getMessage();
        }
    }

    private OrtSession session(GraphSpec spec, int threads) {
        String path = pkg.dir().resolve(spec.file()).toString();
        try (OrtSession.SessionOptions so = new OrtSession.SessionOptions()) {
            so.setOptimizationLevel(OrtSession.SessionOptions.OptLevel.ALL_OPT);
            if (threads > 0) {
                so.setIntraOpNumThreads(threads);
            }
            so.setInterOpNumThreads(1);
            // Idle worker threads sleep instead of spinning: the stages share machines (and cores)
            // with each other, the broker and the JVM, where spinning pools starve one another.
            so.addConfigEntry("session.intra_op.allow_spinning", "0");
            if (device == Device.CUDA) {
                so.addCUDA(0);
            }
            // Per-operator timings as Chrome trace JSON, one file per session, for profiling.
            String profile = System.getenv("SEQ_ONNX_PROFILE");
            if (profile != null && !profile.isBlank()) {
                so.enableProfiling(java.nio.file.Path.of(profile, pkg.name() + "-" + spec.file().replace(".onnx", "")).toString());
            }
            return OrtEnvironment.getEnvironment().createSession(path, so);
        } catch (OrtException e) {
            throw new PackageException(path + ": ONNX Runtime cannot load the graph: " + e.getMessage(), e);
        }
    }

    private void check(GraphSpec spec, OrtSession s) {
        String file = pkg.dir().resolve(spec.file()).toString();
        try {
            compare(file, "input", spec.inputs(), s.getInputInfo());
            compare(file, "output", spec.outputs(), s.getOutputInfo());
        } catch (OrtException e) {
            throw new PackageException(file + ": cannot read graph inputs and outputs: " + e.getMessage(), e);
        }
    }

    private static void compare(String file, String kind, List<TensorSpec> declared, Map<String, NodeInfo> actual) {
        List<String> names = declared.stream().map(TensorSpec::name).toList();
        if (!names.equals(List.copyOf(actual.keySet()))) {
            throw new PackageException(file + ": graph " + kind + "s are " + actual.keySet()
                    + " but model.json declares " + names);
        }
        for (TensorSpec t : declared) {
            TensorInfo info = (TensorInfo) actual.get(t.name()).getInfo();
            String dtype = info.type.toString().toLowerCase();
            String expectedType = switch (t.dtype()) {
                case "float32" -> "float";
                case "int64" -> "int64";
                default -> t.dtype();
            };
            if (!dtype.equals(expectedType)) {
                throw new PackageException(file + ": " + kind + " '" + t.name() + "' has element type " + dtype
                        + " but model.json declares " + t.dtype());
            }
            if (!Arrays.equals(info.getShape(), t.ortShape())) {
                throw new PackageException(file + ": " + kind + " '" + t.name() + "' has shape "
                        + Arrays.toString(info.getShape()) + " but model.json declares " + t.shape());
            }
        }
    }

    public ModelPackage pkg() { return pkg; }
    public Device device() { return device; }

    /** The session of one graph (embedding, encoder, cross_kv or decoder). */
    public synchronized OrtSession session(String key) {
        if (!pkg.graphs().containsKey(key)) {
            throw new IllegalArgumentException(pkg.name() + " has no '" + key + "' graph");
        }
        return opened(key);
    }

    private synchronized OrtSession opened(String key) {
        OrtSession s = sessions.get(key);
        if (s == null) {
            GraphSpec spec = pkg.graphs().get(key);
            s = session(spec, threads);
            sessions.put(key, s);
            check(spec, s);
        }
        return s;
    }

    @Override
    public synchronized void close() {
        for (OrtSession s : sessions.values()) {
            try {
                s.close();
            } catch (OrtException e) {
                LOG.warn("closing a session of {}: {}", pkg.name(), e.getMessage());
            }
        }
        sessions.clear();
    }
}
