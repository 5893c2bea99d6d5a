package org.seqstream.cli;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import org.apache.kafka.clients.consumer.ConsumerConfig;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.consumer.KafkaConsumer;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerConfig;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.common.TopicPartition;
import org.apache.kafka.common.errors.RecordTooLargeException;
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
import java.util.concurrent.ConcurrentHashMap;

/**
 * Publishes one request per stdin line, waits for every result on seq.results and prints one JSON
 * line per input in input order. Exit code 1 when a result is missing at the timeout.
 *
 * <p>Each request carries {@code seqctl.send} in its metadata, which every result echoes, so a
 * result is matched to its line even when the pipeline assigned the id. A summary line on stderr
 * counts results missing and results seen more than once.
 */
@Command(name = "send", mixinStandardHelpOptions = true,
        description = "Publish one request per stdin line and print each result as one JSON line, in input order.")
final class SendCommand implements Callable<Integer> {
    private static final ObjectMapper JSON = new ObjectMapper();
    static final String TAG = "seqctl.send";

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

    @Option(names = "--json", description = "Each line is a JSON request ({\"id\":…,\"model\":…,\"text\":…,\"params\":{…}}); "
            + "fields it leaves out take the values of the options. Without an id, the pipeline assigns one.")
    boolean json;

    @Option(names = "--linger", defaultValue = "0", paramLabel = "S",
            description = "After the last result, keep reading S seconds more to count late duplicates (default: ${DEFAULT-VALUE}).")
    double linger;

    @Option(names = "--retries", defaultValue = "5", paramLabel = "N",
            description = "Send a request refused with a retryable error (overloaded) again with the same id, up to N times, "
                    + "waiting 0.2 s, 0.4 s, ... (at most 5 s) between tries (default: ${DEFAULT-VALUE}).")
    int retries;

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
        Summary s = sendAll(new Settings(bootstrap, model, generation, truncate, json, timeout, linger, stream, retries), lines, out);
        System.err.println(s);
        if (s.lost() > 0) {
            System.err.println("seqctl send: " + s.lost() + " of " + lines.size() + " results missing after " + timeout + " s");
            return 1;
        }
        return 0;
    }

    record Settings(String bootstrap, String model, GenerationOptions generation, boolean truncate, boolean json,
                    double timeout, double linger, boolean stream, int retries, boolean streamLines) {
        Settings(String bootstrap, String model, GenerationOptions generation, boolean truncate, boolean json,
                 double timeout, double linger, boolean stream, int retries) {
            this(bootstrap, model, generation, truncate, json, timeout, linger, stream, retries, false);
        }
    }

    /** A request's stream as one line on stderr: its token events' text in order, then how it ended. */
    private static void printStream(SequenceResult r, Map<String, StringBuilder> streamed) {
        StringBuilder text = streamed.remove(r.getId());
        try {
            System.err.println("  stream " + r.getId() + ": " + JSON.writeValueAsString(text == null ? "" : text.toString())
                    + " (" + (r.getError() != null ? r.getError().getCode() : r.getFinishReason()) + ")");
        } catch (com.fasterxml.jackson.core.JsonProcessingException e) {
            throw new IllegalStateException(e);
        }
    }

    /** Backoff before the {@code attempt}th retry (1-based): 0.2 s doubling, at most 5 s. */
    static long backoffNanos(int attempt) {
        return Math.min(5_000L, 200L << Math.min(attempt - 1, 10)) * 1_000_000L;
    }

    /** Counts of one run: lines sent, lines answered, lines without a result, extra results seen; requests sent again after a retryable error. */
    record Summary(int sent, int completed, int lost, int duplicated, int retried) {
        @Override
        public String toString() {
            return sent + " sent, " + completed + " completed, " + lost + " lost, " + duplicated + " duplicated";
        }
    }

    /** One input line as published: its id (empty when the pipeline assigns it), key and bytes, or why it was not sent. */
    private record Outgoing(String id, String key, byte[] value, LocalError localError) {
    }

    /** Why a line got no result from the pipeline: it was not sent, or the producer refused it. */
    private record LocalError(String code, String message) {
    }

    /**
     * Publishes one request per line, prints one JSON line per input in input order as results
     * arrive (token events on stderr with {@code stream}).
     */
    static Summary sendAll(Settings s, List<String> lines, PrintStream out) throws Exception {
        String run = UUID.randomUUID().toString().substring(0, 8);
        int n = lines.size();
        List<Outgoing> outgoing = new ArrayList<>();
        for (int i = 0; i < n; i++) {
            outgoing.add(request(s, run, i, lines.get(i)));
        }
        Map<String, Object> base = Map.of(ProducerConfig.BOOTSTRAP_SERVERS_CONFIG, s.bootstrap());
        Map<String, Object> cc = new HashMap<>(base);
        cc.put(ConsumerConfig.ISOLATION_LEVEL_CONFIG, "read_committed");
        cc.put(ConsumerConfig.ENABLE_AUTO_COMMIT_CONFIG, false);
        SequenceResult[] results = new SequenceResult[n];
        int[] seen = new int[n];
        long[] sentAt = new long[n], doneAt = new long[n];
        Map<String, Integer> lineOfId = new HashMap<>();
        // streamLines: each request's token events, and its result once they have all come
        Map<String, StringBuilder> streamed = new HashMap<>();
        Map<String, Integer> streamedCount = new HashMap<>();
        Map<String, SequenceResult> streamPending = new HashMap<>();
        Map<Integer, LocalError> failed = new ConcurrentHashMap<>();
        int[] attempts = new int[n];
        long[] retryAt = new long[n];
        try (KafkaConsumer<String, byte[]> c = new KafkaConsumer<>(cc, new StringDeserializer(), new ByteArrayDeserializer());
             KafkaProducer<String, byte[]> p = new KafkaProducer<>(base, new StringSerializer(), new ByteArraySerializer())) {
            // Read from the current end of the result topics, before anything is sent.
            List<TopicPartition> parts = new ArrayList<>();
            for (String topic : s.stream() ? List.of(Topics.RESULTS.name(), Topics.STREAM.name()) : List.of(Topics.RESULTS.name())) {
                c.partitionsFor(topic).forEach(pi -> parts.add(new TopicPartition(pi.topic(), pi.partition())));
            }
            c.assign(parts);
            c.seekToEnd(parts);
            parts.forEach(c::position);
            for (int i = 0; i < n; i++) {
                Outgoing o = outgoing.get(i);
                sentAt[i] = System.nanoTime();
                if (o.localError() != null) {
                    continue;
                }
                if (!o.id().isEmpty()) {
                    lineOfId.putIfAbsent(o.id(), i);
                }
                int line = i;
                p.send(new ProducerRecord<>(Topics.REQUESTS.name(), o.key(), o.value()), (md, e) -> {
                    if (e != null) {
                        failed.put(line, new LocalError(e instanceof RecordTooLargeException ? "record_too_large" : "send_failed",
                                e.getMessage()));
                    }
                });
            }
            p.flush();
            int retried = 0;
            long deadline = System.nanoTime() + (long) (s.timeout() * 1e9);
            long lingerUntil = Long.MAX_VALUE;
            int printed = 0;
            while (System.nanoTime() < Math.min(deadline, lingerUntil)) {
                for (int i = 0; i < n; i++) {
                    if (retryAt[i] != 0 && System.nanoTime() >= retryAt[i]) {
                        retryAt[i] = 0;
                        Outgoing o = outgoing.get(i);
                        p.send(new ProducerRecord<>(Topics.REQUESTS.name(), o.key(), o.value()));
                        retried++;
                    }
                }
                for (ConsumerRecord<String, byte[]> rec : c.poll(Duration.ofMillis(100))) {
                    if (rec.topic().equals(Topics.STREAM.name())) {
                        if (lineOfId.containsKey(rec.key())) {
                            TokenEvent ev = Topics.STREAM.valueSerde().deserializer().deserialize(rec.topic(), rec.value());
                            if (s.streamLines()) {
                                streamed.computeIfAbsent(ev.getId(), k -> new StringBuilder()).append(ev.getTextDelta());
                                streamedCount.merge(ev.getId(), 1, Integer::sum);
                                SequenceResult done = streamPending.get(ev.getId());
                                if (done != null && streamedCount.get(ev.getId()) >= done.getUsage().getGeneratedTokens()) {
                                    printStream(streamPending.remove(ev.getId()), streamed);
                                }
                            } else {
                                System.err.println(ev.getId() + " #" + ev.getIndex() + " " + JSON.writeValueAsString(ev.getTextDelta()));
                            }
                        }
                        continue;
                    }
                    SequenceResult r = Topics.RESULTS.valueSerde().deserializer().deserialize(rec.topic(), rec.value());
                    int i = lineOf(r, run);
                    if (i < 0) {
                        continue;
                    }
                    if (seen[i] == 0 && r.getError() != null && r.getError().getRetryable() && attempts[i] < s.retries()
                            && outgoing.get(i).key() != null && retryAt[i] == 0) {
                        // refused for now (overloaded): the same request again, same id, after a pause
                        retryAt[i] = System.nanoTime() + backoffNanos(++attempts[i]);
                        continue;
                    }
                    if (seen[i]++ == 0) {
                        if (s.streamLines() && s.stream()) {
                            // token events and result come in one transaction, but from two topics:
                            // the line waits for the events still on their way
                            if (streamedCount.getOrDefault(r.getId(), 0) >= r.getUsage().getGeneratedTokens()) {
                                printStream(r, streamed);
                            } else {
                                streamPending.put(r.getId(), r);
                            }
                        }
                        results[i] = r;
                        doneAt[i] = System.nanoTime();
                        lineOfId.putIfAbsent(r.getId(), i);
                    }
                }
                while (printed < n && answered(printed, outgoing, results, lineOfId, failed)) {
                    out.println(line(printed, lines.get(printed), outgoing, results, lineOfId, failed, sentAt, doneAt));
                    printed++;
                }
                if (printed == n && lingerUntil == Long.MAX_VALUE) {
                    lingerUntil = System.nanoTime() + (long) (s.linger() * 1e9);
                }
            }
            for (SequenceResult r : streamPending.values()) {
                printStream(r, streamed);
            }
            int lost = 0, duplicated = 0;
            for (int i = 0; i < n; i++) {
                duplicated += Math.max(0, seen[i] - 1);
            }
            for (int i = printed; i < n; i++) {
                if (answered(i, outgoing, results, lineOfId, failed)) {
                    out.println(line(i, lines.get(i), outgoing, results, lineOfId, failed, sentAt, doneAt));
                } else {
                    lost++;
                    Map<String, Object> rec = new LinkedHashMap<>();
                    rec.put("id", outgoing.get(i).id());
                    rec.put("input", lines.get(i));
                    rec.put("error", "no result within " + s.timeout() + " s");
                    rec.put("error_code", "timeout");
                    out.println(JSON.writeValueAsString(rec));
                }
            }
            if (retried > 0) {
                System.err.println("seqctl send: " + retried + " requests sent again after a retryable error");
            }
            return new Summary(n, n - lost, lost, duplicated, retried);
        }
    }

    /** The line a result answers, from the tag its metadata echoes; -1 for another run's. */
    private static int lineOf(SequenceResult r, String run) {
        String tag = r.getMetadata() == null ? null : r.getMetadata().get(TAG);
        if (tag == null || !tag.startsWith(run + ":")) {
            return -1;
        }
        try {
            return Integer.parseInt(tag.substring(run.length() + 1));
        } catch (NumberFormatException e) {
            return -1;
        }
    }

    /** The result of line {@code i}: its own, or for a repeated id the result of the line that first had it. */
    private static SequenceResult resultOf(int i, List<Outgoing> outgoing, SequenceResult[] results, Map<String, Integer> lineOfId) {
        if (results[i] != null) {
            return results[i];
        }
        String id = outgoing.get(i).id();
        Integer first = id.isEmpty() ? null : lineOfId.get(id);
        return first == null || first == i ? null : results[first];
    }

    private static boolean answered(int i, List<Outgoing> outgoing, SequenceResult[] results, Map<String, Integer> lineOfId,
                                    Map<Integer, LocalError> failed) {
        return outgoing.get(i).localError() != null || failed.containsKey(i) || resultOf(i, outgoing, results, lineOfId) != null;
    }

    private static Outgoing request(Settings s, String run, int i, String line) {
        String tag = run + ":" + i;
        GenerationOptions g = s.generation();
        if (!s.json()) {
            String id = "send-" + run + "-" + i;
            GenerationParams params = GenerationParams.newBuilder().setMaxNewTokens(g.maxNewTokensOr(0))
                    .setTemperature(g.temperature).setTopK(g.topK).setTopP(g.topP)
                    .setSeed(g.seed == null ? 0 : g.seed).setRandomSeed(g.seed == null).setTruncate(s.truncate()).setStop(g.stop).build();
            SequenceRequest r = SequenceRequest.newBuilder().setId(id).setModel(s.model()).setText(line)
                    .setParams(params).setMetadata(Map.of(TAG, tag)).setCreatedAtMs(System.currentTimeMillis()).build();
            return new Outgoing(id, id, Topics.REQUESTS.valueSerde().serializer().serialize(Topics.REQUESTS.name(), r), null);
        }
        JsonNode node;
        try {
            node = JSON.readTree(line);
        } catch (Exception e) {
            node = null;
        }
        if (node == null || !node.isObject()) {
            return new Outgoing("", null, null, new LocalError("invalid_json", "the line is not a JSON object"));
        }
        ObjectNode req = (ObjectNode) node;
        String id = req.path("id").asText("");
        if (!req.hasNonNull("model")) {
            req.put("model", s.model());
        }
        ObjectNode params = req.path("params").isObject() ? (ObjectNode) req.get("params") : req.putObject("params");
        if (!params.has("max_new_tokens") && g.maxNewTokens != null) params.put("max_new_tokens", g.maxNewTokens);
        if (!params.has("temperature")) params.put("temperature", g.temperature);
        if (!params.has("top_k")) params.put("top_k", g.topK);
        if (!params.has("top_p")) params.put("top_p", g.topP);
        if (!params.has("seed") && g.seed != null) params.put("seed", g.seed);
        if (!params.has("truncate")) params.put("truncate", s.truncate());
        if (!params.has("stop") && !g.stop.isEmpty()) g.stop.forEach(params.putArray("stop")::add);
        ObjectNode meta = req.path("metadata").isObject() ? (ObjectNode) req.get("metadata") : req.putObject("metadata");
        meta.put(TAG, tag);
        if (!req.has("created_at_ms")) {
            req.put("created_at_ms", System.currentTimeMillis());
        }
        try {
            return new Outgoing(id, id.isEmpty() ? null : id, JSON.writeValueAsBytes(req), null);
        } catch (Exception e) {
            return new Outgoing(id, null, null, new LocalError("invalid_json", e.getMessage()));
        }
    }

    private static String line(int i, String input, List<Outgoing> outgoing, SequenceResult[] results,
                               Map<String, Integer> lineOfId, Map<Integer, LocalError> failed, long[] sentAt, long[] doneAt)
            throws Exception {
        Outgoing o = outgoing.get(i);
        Map<String, Object> rec = new LinkedHashMap<>();
        SequenceResult r = resultOf(i, outgoing, results, lineOfId);
        rec.put("id", r != null ? r.getId() : o.id());
        rec.put("input", input);
        if (o.localError() != null || r == null) {
            LocalError f = o.localError() != null ? o.localError() : failed.get(i);
            rec.put("error", f.message());
            rec.put("error_code", f.code());
            rec.put("stage", "send");
            return JSON.writeValueAsString(rec);
        }
        if (r.getError() != null) {
            rec.put("error", r.getError().getMessage());
            rec.put("error_code", r.getError().getCode());
            rec.put("stage", r.getError().getStage());
        } else {
            rec.put("output", r.getOutputText());
            rec.put("finish_reason", r.getFinishReason());
            if (r.getSeed() != null) {
                rec.put("seed", r.getSeed());
            }
            rec.put("generated_tokens", r.getUsage().getGeneratedTokens());
            if (r.getTruncated()) {
                rec.put("truncated", true);
            }
        }
        long done = doneAt[i] != 0 ? doneAt[i] : System.nanoTime();
        rec.put("latency_ms", (done - sentAt[i]) / 1_000_000);
        if (!r.getTimings().isEmpty()) {
            Map<String, Long> timings = new LinkedHashMap<>();
            r.getTimings().forEach(t -> timings.merge(t.getStage(), Math.round(t.getMillis()), Long::sum));
            rec.put("stage_ms", timings);
        }
        return JSON.writeValueAsString(rec);
    }
}
