package org.seqstream.loadtest;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.SerializationFeature;
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
import org.seqstream.schemas.Topics;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.UUID;
import java.util.concurrent.Callable;

/**
 * Load against a running pipeline, at a fixed rate (open loop: requests are sent on schedule
 * whether or not earlier ones finished) or a fixed concurrency, one level after another. For
 * each level: time to first token, end-to-end latency and inter-token latency (HdrHistogram),
 * requests/s and tokens/s (the results and token events that arrived within the measured
 * window, over its length). Writes one JSON file with every level.
 */
@Command(name = "run", mixinStandardHelpOptions = true,
        description = "Load a pipeline at fixed rates or concurrencies; write latency and throughput as JSON.")
final class RunCommand implements Callable<Integer> {
    @Option(names = "--bootstrap", required = true, paramLabel = "HOST:PORT")
    String bootstrap;

    @Option(names = "--model", defaultValue = "itn-seq2seq", paramLabel = "NAME")
    String model;

    @Option(names = "--corpus", paramLabel = "FILE",
            description = "Inputs, one per line (first tab-separated column); default: models/eval/itn-test.tsv.")
    Path corpus;

    @Option(names = "--rate", split = ",", paramLabel = "R,R", description = "Requests per second, open loop, one level each.")
    List<Double> rates = new ArrayList<>();

    @Option(names = "--concurrency", split = ",", paramLabel = "C,C", description = "Requests in flight, one level each.")
    List<Integer> concurrencies = new ArrayList<>();

    @Option(names = "--duration", defaultValue = "30", paramLabel = "S", description = "Seconds of measured load per level (default: ${DEFAULT-VALUE}).")
    double duration;

    @Option(names = "--warmup", defaultValue = "5", paramLabel = "S", description = "Seconds of unmeasured load before each level (default: ${DEFAULT-VALUE}).")
    double warmup;

    @Option(names = "--prewarm", defaultValue = "0", paramLabel = "S",
            description = "Seconds of unmeasured load at the highest level before the first level, so that JIT compilation "
                    + "and caches settle (default: ${DEFAULT-VALUE}).")
    double prewarm;

    @Option(names = "--drain", defaultValue = "60", paramLabel = "S", description = "Seconds to wait for outstanding results after a level (default: ${DEFAULT-VALUE}).")
    double drain;

    @Option(names = "--max-new-tokens", defaultValue = "128") int maxNewTokens;
    @Option(names = "--temperature", defaultValue = "0") double temperature;
    @Option(names = "--top-k", defaultValue = "0") int topK;
    @Option(names = "--top-p", defaultValue = "1.0") double topP;
    @Option(names = "--seed", defaultValue = "0") long seed;

    @Option(names = "--label", defaultValue = "", paramLabel = "TEXT", description = "What was loaded, for the report.")
    String label;

    @Option(names = "--out", defaultValue = "pipeline.json", paramLabel = "FILE", description = "Where to write the results (default: ${DEFAULT-VALUE}).")
    Path out;

    @Override
    public Integer call() throws Exception {
        if (rates.isEmpty() == concurrencies.isEmpty()) {
            System.err.println("seqload run: give --rate or --concurrency (a list of levels), not both");
            return 2;
        }
        List<String> inputs = Corpus.read(corpus);
        if (prewarm > 0) {
            double saved = duration, savedWarmup = warmup;
            duration = prewarm;
            warmup = 0;
            if (rates.isEmpty()) {
                level("concurrency", concurrencies.stream().mapToInt(Integer::intValue).max().orElseThrow(), inputs);
            } else {
                level("rate", rates.stream().mapToDouble(Double::doubleValue).max().orElseThrow(), inputs);
            }
            duration = saved;
            warmup = savedWarmup;
            System.err.println("seqload run: pre-warm done; measuring");
        }
        List<Map<String, Object>> levels = new ArrayList<>();
        for (double r : rates) {
            levels.add(level("rate", r, inputs));
        }
        for (int c : concurrencies) {
            levels.add(level("concurrency", c, inputs));
        }
        Map<String, Object> doc = new LinkedHashMap<>();
        doc.put("model", model);
        doc.put("stack", label);
        doc.put("bootstrap", bootstrap);
        doc.put("duration_s", duration);
        doc.put("params", Map.of("max_new_tokens", maxNewTokens, "temperature", temperature, "top_k", topK, "top_p", topP, "seed", seed));
        doc.put("levels", levels);
        new ObjectMapper().enable(SerializationFeature.INDENT_OUTPUT).writeValue(out.toFile(), doc);
        System.err.println("seqload run: wrote " + out);
        return 0;
    }

    private static final class InFlight {
        final long sent;
        final boolean measured;
        long firstToken, lastToken;

        InFlight(long sent, boolean measured) {
            this.sent = sent;
            this.measured = measured;
        }
    }

    private Map<String, Object> level(String mode, double level, List<String> inputs) throws Exception {
        Map<String, Object> base = Map.of(ProducerConfig.BOOTSTRAP_SERVERS_CONFIG, bootstrap);
        Map<String, Object> cc = new HashMap<>(base);
        cc.put(ConsumerConfig.ISOLATION_LEVEL_CONFIG, "read_committed");
        cc.put(ConsumerConfig.MAX_POLL_RECORDS_CONFIG, 5000);
        Map<String, Object> pc = new HashMap<>(base);
        pc.put(ProducerConfig.LINGER_MS_CONFIG, 0);
        Latencies ttft = new Latencies(), e2e = new Latencies(), itl = new Latencies();
        Map<String, InFlight> inflight = new HashMap<>();
        String run = "load-" + UUID.randomUUID().toString().substring(0, 8) + "-";
        GenerationParams params = GenerationParams.newBuilder().setMaxNewTokens(maxNewTokens).setTemperature(temperature)
                .setTopK(topK).setTopP(topP).setSeed(seed).build();
        long sent = 0, completed = 0, errors = 0, tokens = 0, measuredSent = 0;
        try (KafkaConsumer<String, byte[]> c = new KafkaConsumer<>(cc, new StringDeserializer(), new ByteArrayDeserializer());
             KafkaProducer<String, byte[]> p = new KafkaProducer<>(pc, new StringSerializer(), new ByteArraySerializer())) {
            List<TopicPartition> parts = new ArrayList<>();
            for (String topic : List.of(Topics.RESULTS.name(), Topics.STREAM.name())) {
                c.partitionsFor(topic).forEach(pi -> parts.add(new TopicPartition(pi.topic(), pi.partition())));
            }
            c.assign(parts);
            c.seekToEnd(parts);
            parts.forEach(c::position);
            long start = System.nanoTime();
            long measureFrom = start + (long) (warmup * 1e9), measureTo = measureFrom + (long) (duration * 1e9);
            long drainUntil = measureTo + (long) (drain * 1e9);
            long nextProgress = start + 5_000_000_000L, firstMeasuredDone = 0, lastMeasuredDone = 0;
            long measuredTokens = 0, measuredDone = 0, windowTokens = 0, windowResults = 0;
            while (true) {
                long now = System.nanoTime();
                if (now < measureTo) {
                    long due = mode.equals("rate") ? (long) ((now - start) / 1e9 * level) + 1 - sent
                            : (long) level - inflight.size();
                    for (long i = 0; i < due; i++) {
                        String id = run + sent;
                        SequenceRequest r = SequenceRequest.newBuilder().setId(id).setModel(model)
                                .setText(inputs.get((int) (sent % inputs.size()))).setParams(params)
                                .setCreatedAtMs(System.currentTimeMillis()).build();
                        long t = System.nanoTime();
                        boolean measured = t >= measureFrom;
                        inflight.put(id, new InFlight(t, measured));
                        p.send(new ProducerRecord<>(Topics.REQUESTS.name(), id,
                                Topics.REQUESTS.valueSerde().serializer().serialize(Topics.REQUESTS.name(), r)));
                        sent++;
                        measuredSent += measured ? 1 : 0;
                    }
                } else if (inflight.isEmpty() || now > drainUntil) {
                    break;
                }
                // Block until a record arrives or the next thing is due (a send at this rate, the
                // progress line, the end of the window): no short polls, whatever the timer.
                long due = Math.min(nextProgress, now < measureTo ? measureTo : drainUntil);
                if (mode.equals("rate") && now < measureTo) {
                    due = Math.min(due, start + (long) (sent / level * 1e9));
                }
                long waitMs = Math.max(0, Math.min(100, (due - System.nanoTime() + 999_999) / 1_000_000L));
                for (ConsumerRecord<String, byte[]> rec : c.poll(Duration.ofMillis(waitMs))) {
                    long t = System.nanoTime();
                    if (rec.key() != null && rec.key().startsWith(run) && t >= measureFrom && t < measureTo) {
                        // the steady rate: every token event and result of this level inside the window
                        if (rec.topic().equals(Topics.STREAM.name())) {
                            windowTokens++;
                        } else {
                            windowResults++;
                        }
                    }
                    InFlight f = inflight.get(rec.key());
                    if (f == null) {
                        continue;
                    }
                    if (rec.topic().equals(Topics.STREAM.name())) {
                        if (f.firstToken == 0) {
                            f.firstToken = t;
                            if (f.measured) {
                                ttft.recordNanos(t - f.sent);
                            }
                        } else if (f.measured) {
                            itl.recordNanos(t - f.lastToken);
                        }
                        f.lastToken = t;
                        continue;
                    }
                    inflight.remove(rec.key());
                    SequenceResult res = Topics.RESULTS.valueSerde().deserializer().deserialize(rec.topic(), rec.value());
                    completed++;
                    if (res.getError() != null) {
                        errors++;
                    }
                    tokens += res.getUsage().getGeneratedTokens();
                    if (f.measured) {
                        e2e.recordNanos(t - f.sent);
                        measuredTokens += res.getUsage().getGeneratedTokens();
                        measuredDone++;
                        firstMeasuredDone = firstMeasuredDone == 0 ? t : firstMeasuredDone;
                        lastMeasuredDone = t;
                    }
                }
                if (now > nextProgress) {
                    System.err.printf("[%s %s] %.0f s: %d sent, %d done, %d in flight, e2e p50 %.0f ms%n", mode, fmt(level),
                            (now - start) / 1e9, sent, completed, inflight.size(), e2e.percentileMs(50));
                    nextProgress += 5_000_000_000L;
                }
            }
            // Throughput: what arrived within the measured window over its length, the rate the
            // pipeline holds at this load. (The results of the requests sent in the window over
            // the time they took to arrive would count the drain after it, when fewer requests
            // are in flight: at concurrency c, duration D and latency L, about D / (D + L) of it.)
            double window = Math.max(duration, (lastMeasuredDone - measureFrom) / 1e9);
            Map<String, Object> m = new LinkedHashMap<>();
            m.put("mode", mode);
            m.put("level", level);
            m.put("sent", measuredSent);
            m.put("completed", measuredDone);
            m.put("lost", measuredSent - measuredDone);
            m.put("errors", errors);
            m.put("requests_per_s", Latencies.round(windowResults / duration));
            m.put("tokens_per_s", Latencies.round(windowTokens / duration));
            m.put("measured_requests_tokens_per_s", Latencies.round(measuredTokens / window));
            m.put("ttft_ms", ttft.summary());
            m.put("e2e_ms", e2e.summary());
            m.put("itl_ms", itl.summary());
            System.err.printf("[%s %s] done: %d requests, %.1f req/s, %.0f tokens/s, e2e p50 %.0f ms, ttft p50 %.0f ms%n",
                    mode, fmt(level), measuredDone, windowResults / duration, windowTokens / duration, e2e.percentileMs(50),
                    ttft.percentileMs(50));
            return m;
        }
    }

    static String fmt(double v) {
        return v == Math.rint(v) ? String.valueOf((long) v) : String.valueOf(v);
    }
}
