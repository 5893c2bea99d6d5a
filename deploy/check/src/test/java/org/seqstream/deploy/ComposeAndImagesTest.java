package org.seqstream.deploy;

import org.junit.jupiter.api.Test;
import org.seqstream.schemas.Topic;
import org.seqstream.schemas.Topics;
import org.yaml.snakeyaml.Yaml;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeSet;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.Collectors;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** docker-compose.yml and the Dockerfiles against the repository and the services. */
class ComposeAndImagesTest {
    static final Path ROOT = DeployManifestsTest.ROOT;
    /** Images pulled rather than built here (the Kafka image can be the one deploy/images/build.sh makes). */
    static final Set<String> PULLED = Set.of("${KAFKA_IMAGE:-apache/kafka:4.1.2}");

    @SuppressWarnings("unchecked")
    static Map<String, Map<String, Object>> composeServices() throws Exception {
        Map<String, Object> compose = new Yaml().load(Files.readString(ROOT.resolve("docker-compose.yml")));
        return (Map<String, Map<String, Object>>) compose.get("services");
    }

    @Test
    @SuppressWarnings("unchecked")
    void composeBuildsTheFourServicesFromThisRepositoryWithHealthchecks() throws Exception {
        Map<String, Map<String, Object>> services = composeServices();
        for (var e : services.entrySet()) {
            Map<String, Object> s = e.getValue();
            Object build = s.get("build");
            if (build == null) {
                assertTrue(PULLED.contains(String.valueOf(s.get("image"))), e.getKey() + " uses image " + s.get("image"));
                continue;
            }
            Map<String, Object> b = (Map<String, Object>) build;
            Path context = ROOT.resolve(String.valueOf(b.get("context")));
            assertTrue(Files.isDirectory(context), e.getKey() + ": build context " + context + " exists");
            assertTrue(Files.isRegularFile(context.resolve(String.valueOf(b.get("dockerfile")))), e.getKey() + ": Dockerfile exists");
        }
        for (var st : DeployManifestsTest.STAGES.entrySet()) {
            String stage = st.getKey();
            Map<String, Object> s = services.get(stage);
            assertNotNull(s, "compose runs " + stage);
            assertEquals("services/" + stage + "/Dockerfile", ((Map<String, Object>) s.get("build")).get("dockerfile"));
            assertEquals("${SEQ_IMAGE_PREFIX:-seqstream}/" + stage + ":${SEQ_IMAGE_TAG:-0.1.0}", s.get("image"));
            assertEquals("${SEQ_BASE_IMAGE:-eclipse-temurin:17-jre}", ((Map<String, Object>) ((Map<String, Object>) s.get("build")).get("args")).get("BASE_IMAGE"));
            Map<String, Object> env = (Map<String, Object>) s.get("environment");
            assertEquals("kafka:19092", env.get("KAFKA_BOOTSTRAP_SERVERS"), stage);
            assertEquals(String.valueOf(st.getValue()), String.valueOf(env.get("SEQ_HTTP_PORT")), stage);
            List<String> test = (List<String>) ((Map<String, Object>) s.get("healthcheck")).get("test");
            String check = String.join(" ", test);
            assertTrue(check.contains("/dev/tcp/localhost/" + st.getValue()) && check.contains("GET /q/health/ready"), stage + ": " + test);
            Map<String, Object> deps = (Map<String, Object>) s.get("depends_on");
            assertNotNull(deps.get("topics"), stage + " waits for the topics");
        }
        // the topics job creates exactly the registry's topics
        String command = String.join("\n", (List<String>) services.get("topics").get("command"));
        Matcher m = Pattern.compile("(?m)^\\s*create (\\S+) ").matcher(command);
        Set<String> created = new TreeSet<>();
        while (m.find()) {
            created.add(m.group(1));
        }
        assertEquals(Topics.ALL.stream().map(Topic::name).collect(Collectors.toCollection(TreeSet::new)), created);
    }

    @Test
    void everyServiceHasAJvmImageAndTheNeuralDecodingStagesACudaOne() throws Exception {
        for (var st : DeployManifestsTest.STAGES.entrySet()) {
            String stage = st.getKey();
            String jvm = Files.readString(ROOT.resolve("services").resolve(stage).resolve("Dockerfile"));
            assertTrue(jvm.contains("ARG BASE_IMAGE=eclipse-temurin:17-jre\nFROM ${BASE_IMAGE}\n"), stage + " takes its base as a build argument");
            assertTrue(!jvm.contains("RUN ./mvnw") && !jvm.contains("apt-get"), stage + ": nothing is built or fetched inside the image");
            for (String part : List.of("lib/", "quarkus/", "*.jar", "app/")) {
                assertTrue(jvm.contains("COPY services/" + stage + "/target/quarkus-app/" + part + " "), stage + " copies its own " + part);
            }
            assertTrue(jvm.contains("EXPOSE " + st.getValue()), stage + " exposes its port");
            assertTrue(jvm.contains("SEQ_MODELS_DIR=/models"), stage);
            for (String model : List.of("itn-seq2seq", "itn-gpt")) {
                assertTrue(jvm.contains("COPY models/" + model + " "), stage + " bakes in " + model);
                assertTrue(Files.isRegularFile(ROOT.resolve("models").resolve(model).resolve("model.json")));
            }
            Path cuda = ROOT.resolve("services").resolve(stage).resolve("Dockerfile.cuda");
            if (stage.equals("encoder") || stage.equals("decoder")) {
                String c = Files.readString(cuda);
                assertTrue(c.contains("-Pcuda") && c.contains("COPY services/" + stage + "/target/cuda/quarkus-app/app/ "),
                        stage + " copies the -Pcuda build (onnxruntime_gpu)");
                assertTrue(c.contains("FROM ${BASE_IMAGE}") && c.contains("ARG BASE_IMAGE=nvidia/cuda:"), stage + " keeps its CUDA base");
                assertTrue(c.contains("SEQ_DEVICE=cuda"), stage + " runs on cuda");
                assertTrue(c.contains("seqstream/" + stage + "-cuda"), stage + " names the image the gpu overlay uses");
            } else {
                assertTrue(!Files.exists(cuda), stage + " has no CUDA image");
            }
        }
    }

    @Test
    @SuppressWarnings("unchecked")
    void theKafkaImageHasTheToolsTheComposeFileRuns() throws Exception {
        Path kafka = ROOT.resolve("deploy/images/kafka");
        Map<String, Map<String, Object>> services = composeServices();
        String used = String.join(" ", (List<String>) ((Map<String, Object>) services.get("kafka").get("healthcheck")).get("test"))
                + String.join(" ", (List<String>) services.get("topics").get("command"));
        Matcher m = Pattern.compile("/opt/kafka/bin/([a-z-]+\\.sh)").matcher(used);
        int n = 0;
        for (; m.find(); n++) {
            assertTrue(Files.isExecutable(kafka.resolve("bin").resolve(m.group(1))), "the Kafka image has " + m.group(1));
        }
        assertTrue(n >= 2, used);
        assertTrue(Files.readString(kafka.resolve("Dockerfile")).contains("ENTRYPOINT [\"/etc/kafka/docker/run\"]"));
        // compose v1 rejects a top-level name
        Map<String, Object> compose = new Yaml().load(Files.readString(ROOT.resolve("docker-compose.yml")));
        assertTrue(!compose.containsKey("name") && !compose.containsKey("version"), compose.keySet().toString());
    }
}
