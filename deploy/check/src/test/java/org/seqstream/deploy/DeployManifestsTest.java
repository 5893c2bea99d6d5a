package org.seqstream.deploy;

import com.fasterxml.jackson.databind.JsonNode;
import io.fabric8.kubernetes.api.model.Container;
import io.fabric8.kubernetes.api.model.EnvFromSource;
import io.fabric8.kubernetes.api.model.EnvVar;
import io.fabric8.kubernetes.api.model.GenericKubernetesResource;
import io.fabric8.kubernetes.api.model.HasMetadata;
import io.fabric8.kubernetes.api.model.PodSpec;
import io.fabric8.kubernetes.api.model.Probe;
import io.fabric8.kubernetes.api.model.Quantity;
import io.fabric8.kubernetes.api.model.apps.Deployment;
import io.fabric8.kubernetes.api.model.apps.StatefulSet;
import io.fabric8.kubernetes.client.utils.Serialization;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;
import org.seqstream.pipeline.KafkaSecurity;
import org.seqstream.schemas.Topic;
import org.seqstream.schemas.Topics;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeSet;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.Collectors;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

/**
 * Renders every overlay of deploy/k8s with {@code kubectl kustomize} and checks the objects
 * against the services: each parses as a Kubernetes object, each stage has a workload, a
 * ScaledObject and the probes, ports and environment its service reads; topics match the
 * registry; GPUs appear in the gpu overlay only.
 */
class DeployManifestsTest {
    static final Path ROOT = Path.of(System.getProperty("seq.repo.root", "../.."));
    /** The HTTP gateway's port. */
    static final int GATEWAY_PORT = 8080;
    static final Map<String, Integer> STAGES = Map.of("tokenizer", 8081, "embedding", 8082, "encoder", 8083, "decoder", 8084);
    /** Input topic and consumer group of each stage. */
    static final Map<String, String[]> INPUT = Map.of(
            "tokenizer", new String[] {Topics.REQUESTS.name(), "seq-tokenizer"},
            "embedding", new String[] {Topics.TOKENS.name(), "seq-embedding"},
            "encoder", new String[] {Topics.EMBEDDINGS.name(), "seq-encoder"},
            "decoder", new String[] {Topics.ENCODED.name(), "seq-decoder"});
    /** Set by the platform, not by the deployment. */
    static final Set<String> PLATFORM_ENV = Set.of("HOSTNAME");

    /** The objects of an overlay, typed where Kubernetes knows the kind. */
    static List<HasMetadata> render(String overlay) throws Exception {
        Process p;
        try {
            p = new ProcessBuilder("kubectl", "kustomize", ROOT.resolve("deploy/k8s/overlays").resolve(overlay).toString())
                    .redirectErrorStream(false).start();
        } catch (IOException e) {
            Assumptions.abort("kubectl is not installed here, so the overlays cannot be rendered: " + e.getMessage());
            throw e;
        }
        String yaml = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        String err = new String(p.getErrorStream().readAllBytes(), StandardCharsets.UTF_8);
        assertTrue(p.waitFor(60, TimeUnit.SECONDS));
        assertEquals(0, p.exitValue(), "kubectl kustomize " + overlay + " failed: " + err);
        List<HasMetadata> out = new ArrayList<>();
        for (String doc : yaml.split("(?m)^---\\s*$")) {
            if (doc.isBlank()) {
                continue;
            }
            Object o = Serialization.unmarshal(doc);
            assertTrue(o instanceof HasMetadata, "not a Kubernetes object in " + overlay + ":\n" + doc);
            HasMetadata h = (HasMetadata) o;
            assertNotNull(h.getApiVersion(), doc);
            assertNotNull(h.getKind(), doc);
            assertNotNull(h.getMetadata().getName(), doc);
            out.add(h);
        }
        return out;
    }

    static PodSpec podSpec(HasMetadata workload) {
        if (workload instanceof Deployment d) {
            return d.getSpec().getTemplate().getSpec();
        }
        return ((StatefulSet) workload).getSpec().getTemplate().getSpec();
    }

    static HasMetadata workload(List<HasMetadata> objects, String stage) {
        List<HasMetadata> w = objects.stream()
                .filter(o -> (o instanceof Deployment || o instanceof StatefulSet) && o.getMetadata().getName().equals("seq-" + stage))
                .toList();
        assertEquals(1, w.size(), "one workload for " + stage);
        return w.get(0);
    }

    static List<GenericKubernetesResource> ofKind(List<HasMetadata> objects, String kind) {
        return objects.stream().filter(o -> o.getKind().equals(kind)).map(o -> (GenericKubernetesResource) o).toList();
    }

    /** The environment variables that a service's application.properties reads. */
    static Set<String> envRead(String stage) throws IOException {
        String props = Files.readString(ROOT.resolve("services").resolve(stage).resolve("src/main/resources/application.properties"));
        Set<String> vars = new TreeSet<>();
        Matcher m = Pattern.compile("\\$\\{([A-Z][A-Z0-9_]*)").matcher(props);
        while (m.find()) {
            vars.add(m.group(1));
        }
        vars.removeAll(PLATFORM_ENV);
        return vars;
    }

    @SuppressWarnings("unchecked")
    @ParameterizedTest
    @ValueSource(strings = {"cpu", "gpu", "dev"})
    void everyOverlayRendersAWorkloadScaledObjectAndProbesPerStage(String overlay) throws Exception {
        List<HasMetadata> objects = render(overlay);
        Map<String, Map<String, String>> configMaps = new HashMap<>();
        objects.stream().filter(o -> o.getKind().equals("ConfigMap") || o.getKind().equals("Secret")).forEach(o -> {
            JsonNode n = Serialization.jsonMapper().valueToTree(o);
            Map<String, String> data = new HashMap<>();
            n.path("data").fields().forEachRemaining(e -> data.put(e.getKey(), e.getValue().asText()));
            configMaps.put(o.getKind() + "/" + o.getMetadata().getName(), data);
        });
        List<GenericKubernetesResource> scaled = ofKind(objects, "ScaledObject");
        for (var e : STAGES.entrySet()) {
            String stage = e.getKey();
            int port = e.getValue();
            HasMetadata w = workload(objects, stage);
            assertEquals(stage.equals("decoder") ? "StatefulSet" : "Deployment", w.getKind(), stage);
            checkContainer(overlay, podSpec(w), stage, port, configMaps);
            // one ScaledObject on the stage's consumer-group lag, no more replicas than partitions
            List<GenericKubernetesResource> so = scaled.stream()
                    .filter(s -> nested(s, "spec", "scaleTargetRef", "name").equals("seq-" + stage)).toList();
            assertEquals(1, so.size(), "one ScaledObject for " + stage);
            Map<String, Object> soSpec = (Map<String, Object>) so.get(0).getAdditionalProperties().get("spec");
            Map<String, Object> trigger = (Map<String, Object>) ((List<?>) soSpec.get("triggers")).get(0);
            assertEquals("kafka", trigger.get("type"));
            Map<String, Object> meta = (Map<String, Object>) trigger.get("metadata");
            assertEquals(INPUT.get(stage)[0], meta.get("topic"), stage);
            assertEquals(INPUT.get(stage)[1], meta.get("consumerGroup"), stage);
            int maxReplicas = ((Number) soSpec.get("maxReplicaCount")).intValue();
            int partitions = partitions(objects, INPUT.get(stage)[0]);
            assertTrue(maxReplicas <= partitions, stage + ": max replicas " + maxReplicas + " > partitions " + partitions);
            assertEquals(w.getKind(), nested(so.get(0), "spec", "scaleTargetRef", "kind"), stage);
        }
        // the gateway: a Deployment (stateless, no lag to scale on) with the same probes and configuration
        HasMetadata gw = workload(objects, "gateway");
        assertEquals("Deployment", gw.getKind());
        checkContainer(overlay, podSpec(gw), "gateway", GATEWAY_PORT, configMaps);
        // every Service targets a stage's port or the gateway's
        objects.stream().filter(o -> o.getKind().equals("Service")).forEach(o -> {
            io.fabric8.kubernetes.api.model.Service s = (io.fabric8.kubernetes.api.model.Service) o;
            String stage = s.getMetadata().getName().substring("seq-".length());
            assertEquals(stage.equals("gateway") ? GATEWAY_PORT : STAGES.get(stage), s.getSpec().getPorts().get(0).getPort(),
                    s.getMetadata().getName());
        });
    }

    /** Probes on the service's health endpoints and port, resources, and every variable the service reads set. */
    private static void checkContainer(String overlay, PodSpec spec, String stage, int port, Map<String, Map<String, String>> configMaps)
            throws IOException {
        Container c = spec.getContainers().get(0);
        // probes on the service's health endpoints and port
        assertEquals(port, c.getPorts().get(0).getContainerPort(), stage);
        String portName = c.getPorts().get(0).getName();
        checkProbe(c.getReadinessProbe(), "/q/health/ready", port, portName, stage);
        checkProbe(c.getLivenessProbe(), "/q/health/live", port, portName, stage);
        assertNotNull(c.getResources().getRequests().get("cpu"), stage);
        assertNotNull(c.getResources().getLimits().get("memory"), stage);
        // the environment covers every variable the service reads
        Map<String, String> env = new HashMap<>();
        for (EnvFromSource from : c.getEnvFrom()) {
            String key = from.getConfigMapRef() != null ? "ConfigMap/" + from.getConfigMapRef().getName()
                    : "Secret/" + from.getSecretRef().getName();
            Map<String, String> data = configMaps.get(key);
            assertNotNull(data, stage + " refers to " + key + ", which the overlay does not render");
            env.putAll(data);
        }
        for (EnvVar v : c.getEnv()) {
            env.put(v.getName(), v.getValue() == null ? "(from " + v.getValueFrom() + ")" : v.getValue());
        }
        Set<String> missing = new TreeSet<>(envRead(stage));
        missing.removeAll(env.keySet());
        assertTrue(missing.isEmpty(), overlay + ": " + stage + " reads " + missing + " but its workload does not set them");
        assertEquals(String.valueOf(port), env.get("SEQ_HTTP_PORT"), stage);
        for (String p : KafkaSecurity.PROPERTIES) {
            assertTrue(env.containsKey(KafkaSecurity.envName(p)), stage + " passes " + KafkaSecurity.envName(p));
        }
    }

    @ParameterizedTest
    @ValueSource(strings = {"cpu", "gpu", "dev"})
    void topicsAreThoseOfTheRegistryAndGpusOnlyInTheGpuOverlay(String overlay) throws Exception {
        List<HasMetadata> objects = render(overlay);
        Set<String> topics = ofKind(objects, "KafkaTopic").stream()
                .map(t -> nested(t, "spec", "topicName")).collect(Collectors.toCollection(TreeSet::new));
        Set<String> registry = Topics.ALL.stream().map(Topic::name).collect(Collectors.toCollection(TreeSet::new));
        assertEquals(registry, topics);
        assertEquals(Topics.ALL.size(), ofKind(objects, "KafkaTopic").size(), "one KafkaTopic per topic");
        Set<String> onGpu = new LinkedHashSet<>();
        for (String stage : STAGES.keySet()) {
            PodSpec spec = podSpec(workload(objects, stage));
            Quantity gpu = spec.getContainers().get(0).getResources().getLimits().get("nvidia.com/gpu");
            if (gpu != null) {
                onGpu.add(stage);
                assertEquals("1", gpu.getAmount(), stage);
                assertEquals("cuda", spec.getContainers().get(0).getEnv().stream()
                        .filter(v -> v.getName().equals("SEQ_DEVICE")).findFirst().map(EnvVar::getValue).orElse(""), stage);
                assertFalse(spec.getTolerations().isEmpty(), stage + " tolerates GPU nodes");
                assertFalse(spec.getNodeSelector().isEmpty(), stage + " selects GPU nodes");
                assertTrue(spec.getContainers().get(0).getImage().contains("cuda"), stage + " runs the CUDA image");
            }
        }
        assertEquals(overlay.equals("gpu") ? Set.of("encoder", "decoder") : Set.of(), onGpu);
    }

    private static int partitions(List<HasMetadata> objects, String topic) {
        return ofKind(objects, "KafkaTopic").stream().filter(t -> nested(t, "spec", "topicName").equals(topic))
                .map(t -> ((Number) ((Map<?, ?>) t.getAdditionalProperties().get("spec")).get("partitions")).intValue())
                .findFirst().orElseThrow(() -> new AssertionError("no KafkaTopic for " + topic));
    }

    private static void checkProbe(Probe p, String path, int port, String portName, String stage) {
        assertNotNull(p, stage + " has a probe on " + path);
        assertEquals(path, p.getHttpGet().getPath(), stage);
        var target = p.getHttpGet().getPort();
        assertTrue(Integer.valueOf(port).equals(target.getIntVal()) || portName.equals(target.getStrVal()),
                stage + " probes port " + target + ", the service listens on " + port);
    }

    @SuppressWarnings("unchecked")
    private static String nested(GenericKubernetesResource r, String... path) {
        Object o = r.getAdditionalProperties();
        for (String p : path) {
            if (!(o instanceof Map<?, ?> m) || !m.containsKey(p)) {
                fail(r.getKind() + "/" + r.getMetadata().getName() + " has no " + String.join(".", path));
            }
            o = ((Map<String, Object>) o).get(p);
        }
        return String.valueOf(o);
    }
}
