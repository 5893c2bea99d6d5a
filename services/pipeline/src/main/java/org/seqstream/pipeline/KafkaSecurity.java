package org.seqstream.pipeline;

import java.util.HashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.function.Function;

/**
 * The Kafka client settings for SASL, SSL and mTLS that every service passes through to all of
 * its clients. Each is read from the environment variable named after it: {@code KAFKA_} and
 * the property upper-cased with dots as underscores ({@code sasl.jaas.config} from
 * {@code KAFKA_SASL_JAAS_CONFIG}).
 */
public final class KafkaSecurity {
    /** The client properties passed through. */
    public static final List<String> PROPERTIES = List.of(
            "security.protocol",
            "sasl.mechanism",
            "sasl.jaas.config",
            "ssl.truststore.location",
            "ssl.truststore.password",
            "ssl.truststore.type",
            "ssl.keystore.location",
            "ssl.keystore.password",
            "ssl.keystore.type",
            "ssl.key.password",
            "ssl.endpoint.identification.algorithm");

    private KafkaSecurity() {
    }

    /** The environment variable of a client property. */
    public static String envName(String property) {
        return "KAFKA_" + property.toUpperCase(Locale.ROOT).replace('.', '_');
    }

    /**
     * The settings that {@code config} gives (null or empty for those not set), keyed by client
     * property; {@code config} takes a property name as the service reads it, e.g. "kafka." + property.
     */
    public static Map<String, Object> settings(Function<String, String> config) {
        Map<String, Object> out = new HashMap<>();
        for (String p : PROPERTIES) {
            String v = config.apply(p);
            if (v != null && !v.isEmpty()) {
                out.put(p, v);
            }
        }
        return out;
    }
}
