package org.seqstream.cli;

import com.fasterxml.jackson.databind.ObjectMapper;
import org.apache.kafka.clients.consumer.ConsumerConfig;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.consumer.KafkaConsumer;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerConfig;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.common.TopicPartition;
import org.apache.kafka.common.serialization.ByteArrayDeserializer;
import org.apache.kafka.common.serialization.ByteArraySerializer;
import org.apache.kafka.common.serialization.StringDeserializer;
import org.apache.kafka.common.serialization.StringSerializer;
import org.seqstream.schemas.GenerationParams;
import org.seqstream.schemas.SequenceRequest;
import org.seqstream.schemas.SequenceResult;
import org.seqstream.schemas.TokenEvent;
import org.seqstream.schemas.Topics;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;

import java.io.BufferedReader;
import java.io.InputStreamReader;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.UUID;
import java.util.concurrent.Callable;

/**
 * Publishes one request per stdin line, waits for every result on seq.results and prints one JSON
 * line per input in input order. Exit code 1 when a result is missing at the timeout.
 */
@Command(name = "send", mixinStandardHelpOptions = true,
        description = "Publish one request per stdin line and print each result as one JSON line, in input order.")
final class SendCommand implements Callable<Integer> {
    private static final ObjectMapper JSON = new ObjectMapper();

    @Option(names = "--bootstrap", required = true, paramLabel = "HOST:PORT")
    String bootstrap;

    @Option(names = "--model", required = true, paramLabel = "NAME")
    String model;

    @Option(names = "--stream", description = "Show tokens on stderr as they arrive.")
    boolean stream;

    @Option(names = "--timeout", defaultValue = "120", paramLabel = "S",
            description = "Seconds to wait for all results (default: ${DEFAULT-VALUE}).")
    double timeout;

    @Option(names = "--truncate", description = "Cut inputs longer than the model accepts instead of refusing them.")
    boolean truncate;

    @Mixin
    GenerationOptions generation;

    @Override
    public Integer call() throws Exception {
        List<String> lines = new ArrayList<>();
        BufferedReader in = new BufferedReader(new InputStreamReader(System.in, StandardCharsets.UTF_8));
        for (String line; (line = in.readLine()) != null; ) {
            lines.add(line.endsWith("\r") ? line.substring(0, line.length() - 1) : line);
        }
        PrintStream out = new PrintStream(System.out, true, StandardCharsets.UTF_8);
        int missing = sendAll(bootstrap, model, lines, generation, truncate, timeout, stream, out);
        if (missing > 0) {
            System.err.println("seqctl send: " + missing + " of " + lines.size() + " results missing after " + timeout + " s");
            return 1;
        }
        return 0;
    }

    /**
     * Publishes one request per line, prints one JSON line per input in input order as results
     * arrive (token events on stderr with {@code stream}); returns how many results are missing.
     */
    static int sendAll(String bootstrap, String model, List<String> lines, GenerationOptions generation, boolean truncate,
                       double timeout, boolean stream, PrintStream out) throws Exception {
        String run = UUID.randomUUID().toString().substring(0, 8);
        List<String> ids = new ArrayList<>();
        for (int i = 0; i < lines.size(); i++) {
            ids.add("send-" + run + "-" + i);
        }
        Map<String, Object> base = Map.of(ProducerConfig.BOOTSTRAP_SERVERS_CONFIG, bootstrap);
        Map<String, Object> cc = new HashMap<>(base);
        cc.put(ConsumerConfig.ISOLATION_LEVEL_CONFIG, "read_committed");
        cc.put(ConsumerConfig.ENABLE_AUTO_COMMIT_CONFIG, false);
        Map<String, SequenceResult> results = new HashMap<>();
        Map<String, Long> sentAt = new HashMap<>(), doneAt = new HashMap<>();
        try (KafkaConsumer<String, byte[]> c = new KafkaConsumer<>(cc, new StringDeserializer(), new ByteArrayDeserializer());
             KafkaProducer<String, byte[]> p = new KafkaProducer<>(base, new StringSerializer(), new ByteArraySerializer())) {
            // Read from the current end of the result topics, before anything is sent.
            List<TopicPartition> parts = new ArrayList<>();
            for (String topic : stream ? List.of(Topics.RESULTS.name(), Topics.STREAM.name()) : List.of(Topics.RESULTS.name())) {
                c.partitionsFor(topic).forEach(pi -> parts.add(new TopicPartition(pi.topic(), pi.partition())));
            }
            c.assign(parts);
            c.seekToEnd(parts);
            parts.forEach(c::position);
            GenerationParams params = GenerationParams.newBuilder().setMaxNewTokens(generation.maxNewTokens)
                    .setTemperature(generation.temperature).setTopK(generation.topK).setTopP(generation.topP)
                    .setSeed(generation.seed).setTruncate(truncate).build();
            for (int i = 0; i < lines.size(); i++) {
                SequenceRequest r = SequenceRequest.newBuilder().setId(ids.get(i)).setModel(model).setText(lines.get(i))
                        .setParams(params).setCreatedAtMs(System.currentTimeMillis()).build();
                sentAt.put(ids.get(i), System.nanoTime());
                p.send(new ProducerRecord<>(Topics.REQUESTS.name(), ids.get(i),
                        Topics.REQUESTS.valueSerde().serializer().serialize(Topics.REQUESTS.name(), r)));
            }
            p.flush();
            long deadline = System.nanoTime() + (long) (timeout * 1e9);
            int printed = 0;
            while (printed < lines.size() && System.nanoTime() < deadline) {
                for (ConsumerRecord<String, byte[]> rec : c.poll(Duration.ofMillis(100))) {
                    if (!sentAt.containsKey(rec.key())) {
                        continue;
                    }
                    if (rec.topic().equals(Topics.STREAM.name())) {
                        TokenEvent ev = Topics.STREAM.valueSerde().deserializer().deserialize(rec.topic(), rec.value());
                        System.err.println(ev.getId() + " #" + ev.getIndex() + " " + JSON.writeValueAsString(ev.getTextDelta()));
                    } else if (!results.containsKey(rec.key())) {
                        results.put(rec.key(), Topics.RESULTS.valueSerde().deserializer().deserialize(rec.topic(), rec.value()));
                        doneAt.put(rec.key(), System.nanoTime());
                    }
                }
                while (printed < lines.size() && results.containsKey(ids.get(printed))) {
                    String id = ids.get(printed);
                    out.println(line(id, lines.get(printed), results.get(id), (doneAt.get(id) - sentAt.get(id)) / 1_000_000));
                    printed++;
                }
            }
            int missing = 0;
            for (int i = printed; i < lines.size(); i++) {
                String id = ids.get(i);
                SequenceResult r = results.get(id);
                if (r == null) {
                    missing++;
                    Map<String, Object> rec = new LinkedHashMap<>();
                    rec.put("id", id);
                    rec.put("input", lines.get(i));
                    rec.put("error", "no result within " + timeout + " s");
                    out.println(JSON.writeValueAsString(rec));
                } else {
                    out.println(line(id, lines.get(i), r, (doneAt.get(id) - sentAt.get(id)) / 1_000_000));
                }
            }
            return missing;
        }
    }

    private static String line(String id, String input, SequenceResult r, long latencyMs) throws Exception {
        Map<String, Object> rec = new LinkedHashMap<>();
        rec.put("id", id);
        rec.put("input", input);
        if (r.getError() != null) {
            rec.put("error", r.getError().getMessage());
            rec.put("error_code", r.getError().getCode());
            rec.put("stage", r.getError().getStage());
        } else {
            rec.put("output", r.getOutputText());
            rec.put("finish_reason", r.getFinishReason());
            rec.put("generated_tokens", r.getUsage().getGeneratedTokens());
            if (r.getTruncated()) {
                rec.put("truncated", true);
            }
        }
        rec.put("latency_ms", latencyMs);
        return JSON.writeValueAsString(rec);
    }
}
