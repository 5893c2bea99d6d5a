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
    /** Images pulled rather than built here. */
    static final Set<String> PULLED = Set.of("apache/kafka:4.1.2");

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
            assertEquals("seqstream/" + stage + ":0.1.0", s.get("image"));
            Map<String, Object> env = (Map<String, Object>) s.get("environment");
            assertEquals("kafka:19092", env.get("KAFKA_BOOTSTRAP_SERVERS"), stage);
            assertEquals(String.valueOf(st.getValue()), String.valueOf(env.get("SEQ_HTTP_PORT")), stage);
            List<String> test = (List<String>) ((Map<String, Object>) s.get("healthcheck")).get("test");
            assertTrue(String.join(" ", test).contains("localhost:" + st.getValue() + "/q/health/ready"), stage + ": " + test);
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
            assertTrue(jvm.contains("-pl services/" + stage + " "), stage + " builds its own module");
            assertTrue(jvm.contains("/src/services/" + stage + "/target/quarkus-app/"), stage + " copies its own app");
            assertTrue(jvm.contains("EXPOSE " + st.getValue()), stage + " exposes its port");
            assertTrue(jvm.contains("SEQ_MODELS_DIR=/models"), stage);
            for (String model : List.of("itn-seq2seq", "itn-gpt")) {
                assertTrue(jvm.contains("COPY models/" + model + " "), stage + " bakes in " + model);
                assertTrue(Files.isRegularFile(ROOT.resolve("models").resolve(model).resolve("model.json")));
            }
            Path cuda = ROOT.resolve("services").resolve(stage).resolve("Dockerfile.cuda");
            if (stage.equals("encoder") || stage.equals("decoder")) {
                String c = Files.readString(cuda);
                assertTrue(c.contains("-Pcuda"), stage + " builds with onnxruntime_gpu");
                assertTrue(c.contains("SEQ_DEVICE=cuda"), stage + " runs on cuda");
                assertTrue(c.contains("seqstream/" + stage + "-cuda"), stage + " names the image the gpu overlay uses");
            } else {
                assertTrue(!Files.exists(cuda), stage + " has no CUDA image");
            }
        }
    }
}
