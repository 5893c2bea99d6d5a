package org.seqstream.deploy;

import org.junit.jupiter.api.Test;
import org.seqstream.pipeline.KafkaSecurity;

import java.nio.file.Files;
import java.util.Map;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Every service passes the Kafka security settings to its clients, from the documented variables;
 * and every setting with a default states the one the code defines, which the README documents.
 */
class ServiceConfigTest {
    private static final java.util.List<String> SERVICES = java.util.List.of("tokenizer", "embedding", "encoder", "decoder");
    private static final java.util.regex.Pattern VARIABLE = java.util.regex.Pattern.compile("^\\$\\{([A-Z_]+):(.*)}$");

    private static java.util.Properties properties(String service) throws Exception {
        java.util.Properties p = new java.util.Properties();
        try (var in = Files.newBufferedReader(DeployManifestsTest.ROOT.resolve("services").resolve(service)
                .resolve("src/main/resources/application.properties"))) {
            p.load(in);
        }
        return p;
    }

    /** A property's default: the part after ':' of "${VARIABLE:default}", else the value itself. */
    private static String defaultOf(java.util.Properties p, String key) {
        String v = p.getProperty(key);
        assertTrue(v != null, "no " + key);
        java.util.regex.Matcher m = VARIABLE.matcher(v);
        return m.matches() ? m.group(2) : v;
    }

    @Test
    void theStreamsServicesStateTheSharedStreamsDefaults() throws Exception {
        for (String stage : java.util.List.of("tokenizer", "decoder")) {
            java.util.Properties p = properties(stage);
            org.seqstream.pipeline.StreamsDefaults.of(stage).forEach((k, v) ->
                    assertEquals(String.valueOf(v), defaultOf(p, "kafka-streams." + k), stage + ": kafka-streams." + k));
        }
    }

    @Test
    void theServicesDefaultsAreTheStagesDefaults() throws Exception {
        var decoder = org.seqstream.pipeline.decoder.DecoderTopology.Config.DEFAULT;
        java.util.Properties d = properties("decoder");
        assertEquals(String.valueOf(decoder.maxActive()), defaultOf(d, "seq.decoder.max-active"));
        assertEquals(String.valueOf(decoder.maxQueued()), defaultOf(d, "seq.decoder.max-queued"));
        assertEquals(String.valueOf(decoder.decodeThread()), defaultOf(d, "seq.decoder.decode-thread"));
        assertEquals(decoder.stepEvery(), java.time.Duration.parse(defaultOf(d, "seq.decoder.step-every")));
        assertEquals(decoder.stepBudget(), java.time.Duration.parse(defaultOf(d, "seq.decoder.step-budget")));
        var tokenizer = org.seqstream.pipeline.tokenizer.TokenizerTopology.Config.DEFAULT;
        java.util.Properties t = properties("tokenizer");
        assertEquals(String.valueOf(tokenizer.maxRequestBytes()), defaultOf(t, "seq.tokenizer.max-request-bytes"));
        assertEquals(tokenizer.dedupWindow(), java.time.Duration.parse(defaultOf(t, "seq.tokenizer.dedup-window")));
        for (String stage : java.util.List.of("embedding", "encoder")) {
            assertEquals(String.valueOf(org.seqstream.pipeline.StageLoops.DEFAULT_MAX_BATCH), defaultOf(properties(stage), "seq.max-batch"), stage);
        }
    }

    @Test
    void theReadmeDocumentsEachServiceVariableWithItsDefault() throws Exception {
        // README rows: | `VARIABLE` | default | meaning |
        Map<String, String> documented = new java.util.HashMap<>();
        for (String line : Files.readAllLines(DeployManifestsTest.ROOT.resolve("README.md"))) {
            java.util.regex.Matcher m = java.util.regex.Pattern.compile("^\\| `([A-Z_]+)` \\| ([^|]*) \\|").matcher(line);
            if (m.find()) {
                documented.put(m.group(1), m.group(2).replace("`", "").trim());
            }
        }
        int checked = 0;
        for (String service : SERVICES) {
            java.util.Properties p = properties(service);
            for (String key : p.stringPropertyNames()) {
                java.util.regex.Matcher m = VARIABLE.matcher(p.getProperty(key));
                if (!m.matches() || m.group(2).isEmpty() || m.group(2).contains("$") || !documented.containsKey(m.group(1))) {
                    continue;
                }
                String doc = documented.get(m.group(1)).replace("<stage>", service);
                assertTrue(doc.contains(m.group(2)), service + ": README documents " + m.group(1) + " as '" + doc
                        + "', its default is " + m.group(2));
                checked++;
            }
        }
        assertTrue(checked >= 20, "only " + checked + " documented defaults checked");
    }
    @Test
    void everyServiceMapsEverySecurityVariableToItsClients() throws Exception {
        Map<String, String> prefix = Map.of("tokenizer", "kafka-streams.", "decoder", "kafka-streams.",
                "embedding", "kafka.", "encoder", "kafka.");
        for (var e : prefix.entrySet()) {
            String props = Files.readString(DeployManifestsTest.ROOT.resolve("services").resolve(e.getKey())
                    .resolve("src/main/resources/application.properties"));
            for (String p : KafkaSecurity.PROPERTIES) {
                String line = e.getValue() + p + "=${" + KafkaSecurity.envName(p);
                assertTrue(props.contains("\n" + line + ":"), e.getKey() + " lacks " + line);
            }
        }
    }

    @Test
    void variableNamesFollowTheProperty() {
        assertEquals("KAFKA_SASL_JAAS_CONFIG", KafkaSecurity.envName("sasl.jaas.config"));
        Map<String, Object> s = KafkaSecurity.settings(p -> p.equals("security.protocol") ? "SASL_SSL"
                : p.equals("ssl.truststore.location") ? "" : null);
        assertEquals(Map.of("security.protocol", "SASL_SSL"), s);
    }
}
