package org.seqstream.schemas;

import java.util.Locale;

/**
 * How this process writes results (seq.results) and token events (seq.stream): Avro
 * single-object records (the default) or JSON objects, a per-deployment setting
 * ({@code SEQ_OUTPUT_FORMAT}, or the system property {@code seq.output.format}) for readers that
 * have no Avro schema: kcat, the console consumer, Kafka Connect sinks. Readers in this project
 * take either, record by record ({@link OutputSerde}).
 */
public enum OutputFormat {
    AVRO, JSON;

    private static volatile OutputFormat current = parse(System.getProperty("seq.output.format",
            System.getenv().getOrDefault("SEQ_OUTPUT_FORMAT", "avro")));

    public static OutputFormat parse(String s) {
        try {
            return valueOf(s.trim().toUpperCase(Locale.ROOT));
        } catch (IllegalArgumentException e) {
            throw new IllegalArgumentException("output format must be avro or json, got '" + s + "'");
        }
    }

    public static OutputFormat current() {
        return current;
    }

    /** Sets this process's format (a service sets it from its configuration at start). */
    public static void set(OutputFormat format) {
        current = format;
    }
}
