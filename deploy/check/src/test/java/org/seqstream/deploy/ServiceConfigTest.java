package org.seqstream.deploy;

import org.junit.jupiter.api.Test;
import org.seqstream.pipeline.KafkaSecurity;

import java.nio.file.Files;
import java.util.Map;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** Every service passes the Kafka security settings to its clients, from the documented variables. */
class ServiceConfigTest {
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
