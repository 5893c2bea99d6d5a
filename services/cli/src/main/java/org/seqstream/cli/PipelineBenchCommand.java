package org.seqstream.cli;

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
import org.seqstream.pipeline.LocalPipeline;
import org.seqstream.pipeline.decoder.DecoderMetrics;
import org.seqstream.pipeline.decoder.DecoderTopology;
import org.seqstream.runtime.Device;
import org.seqstream.runtime.Generation;
import org.seqstream.runtime.Generator;
import org.seqstream.runtime.ModelCatalog;
import org.seqstream.runtime.SamplingParams;
import org.seqstream.schemas.GenerationParams;
import org.seqstream.schemas.SequenceRequest;
import org.seqstream.schemas.SequenceResult;
import org.seqstream.schemas.Topics;
import org.seqstream.testing.EmbeddedKafka;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;

import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.Callable;

/**
 * Pipeline throughput against the in-process generator: for each concurrency C, C requests stay
 * in flight through the local pipeline (a new one is sent when one finishes) until every input
 * is answered; next to it, the in-process generator at batch C on the same inputs. Prints a table.
 */
@Command(name = "bench-pipeline", mixinStandardHelpOptions = true,
        description = "Pipeline tokens/s at several concurrencies next to the in-process generator, in one run.")
final class PipelineBenchCommand implements Callable<Integer> {
    @Option(names = "--model", defaultValue = "itn-seq2seq", paramLabel = "NAME")
    String model;

    @Option(names = "--concurrency", defaultValue = "1,8,32,64", split = ",", paramLabel = "N,N")
    List<Integer> concurrency;

    @Option(names = "--requests", defaultValue = "128", paramLabel = "N", description = "Requests per concurrency level.")
    int requests;

    @Option(names = "--commit-ms", paramLabel = "MS",
            description = "Commit interval of both Kafka Streams stages (default: tokenizer 20, decoder 50).")
    Integer commitMs;

    @Option(names = "--step-budget-ms", defaultValue = "10", paramLabel = "MS",
            description = "With --inline: how long the decoder may keep stepping before its thread polls and commits (default: ${DEFAULT-VALUE}).")
    int stepBudgetMs;

    @Option(names = "--inline", description = "Decode in the stream thread's punctuations instead of a decode thread.")
    boolean inline;

    @Option(names = "--client", paramLabel = "KEY=VALUE",
            description = "A Kafka client setting for every stage's clients (repeatable).")
    Map<String, String> client = new java.util.HashMap<>();

    @Mixin
    ModelOptions models;

    private DecoderTopology.Config decoderConfig() {
        DecoderTopology.Config c = DecoderTopology.Config.DEFAULT.withMaxActive(256).withStepBudget(Duration.ofMillis(stepBudgetMs));
        return inline ? c.inline() : c;
    }

    @Override
    public Integer call() throws Exception {
        Path dir = Files.createTempDirectory("seq-bench-");
        List<String> texts = Corpus.read(models.modelsDir().resolve("eval").resolve("itn-test.tsv")).first(requests).inputs();
        try (EmbeddedKafka kafka = EmbeddedKafka.start(0, dir.resolve("kafka"), true);
             ModelCatalog catalog = ModelCatalog.load(models.modelsDir(), Device.parse(models.device), models.threads);
             LocalPipeline pipeline = LocalPipeline.start(catalog, new LocalPipeline.Settings(kafka.bootstrapServers(),
                     Set.copyOf(LocalPipeline.STAGES), 4, dir.resolve("state"), decoderConfig(),
                     overrides(), "bench"))) {
            Generator gen = new Generator(catalog.sessions(model), catalog.tokenizer(model));
            List<Generator.Request> reqs = new ArrayList<>();
            texts.forEach(t -> reqs.add(new Generator.Request(catalog.tokenizer(model).encode(t), SamplingParams.greedy(128))));
            closedLoop(kafka.bootstrapServers(), texts.subList(0, Math.min(16, texts.size())), 8);   // warm-up
            System.out.printf("%s, %d requests per level, greedy, in one process on this machine%n", model, texts.size());
            System.out.println(org.seqstream.runtime.TimerResolution.line() + "\n");
            System.out.println("| concurrency | pipeline tokens/s | pipeline p50 latency ms | in-process tokens/s (batch = concurrency) | pipeline / in-process | mean decoder batch | decoder step time share | join time share | mean step ms | steps/s | mean ms before decoder / in decoder / to client |");
            System.out.println("|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|");
            DecoderMetrics dm = DecoderMetrics.INSTANCE;
            for (int c : concurrency) {
                long steps0 = dm.steps(), tokens0 = dm.tokens(), nanos0 = dm.stepNanos(), wall0 = System.nanoTime();
                long admit0 = dm.admitNanos();
                double[] pipe = closedLoop(kafka.bootstrapServers(), texts, c);
                double meanBatch = (dm.tokens() - tokens0) / (double) Math.max(1, dm.steps() - steps0);
                double stepShare = (dm.stepNanos() - nanos0) / (double) (System.nanoTime() - wall0);
                double stepMs = (dm.stepNanos() - nanos0) / 1e6 / Math.max(1, dm.steps() - steps0);
                double admitShare = (dm.admitNanos() - admit0) / (double) (System.nanoTime() - wall0);
                double stepsPerSecond = (dm.steps() - steps0) / ((System.nanoTime() - wall0) / 1e9);
                long start = System.nanoTime(), tokens = 0;
                for (int i = 0; i < reqs.size(); i += c) {
                    for (Generation g : gen.generate(reqs.subList(i, Math.min(reqs.size(), i + c)))) {
                        tokens += g.generatedTokens();
                    }
                }
                double inproc = tokens / ((System.nanoTime() - start) / 1e9);
                System.out.printf("| %d | %.0f | %.0f | %.0f | %.2f | %.1f | %.0f%% | %.0f%% | %.1f | %.0f | %.0f / %.0f / %.0f |%n", c, pipe[0],
                        pipe[1], inproc, pipe[0] / inproc, meanBatch, 100 * stepShare, 100 * admitShare, stepMs, stepsPerSecond, pipe[2], pipe[3], pipe[4]);
            }
        }
        return 0;
    }

    private Map<String, Object> overrides() {
        Map<String, Object> o = new HashMap<>(client);
        if (commitMs != null) {
            o.put("commit.interval.ms", commitMs);
        }
        return o;
    }

    /** Keeps {@code c} requests in flight until every text is answered; returns tokens/s and p50 latency (ms). */
    private double[] closedLoop(String bootstrap, List<String> texts, int c) throws Exception {
        Map<String, Object> base = Map.of(ProducerConfig.BOOTSTRAP_SERVERS_CONFIG, bootstrap);
        Map<String, Object> cc = new HashMap<>(base);
        cc.put(ConsumerConfig.ISOLATION_LEVEL_CONFIG, "read_committed");
        String run = "bench-" + System.nanoTime() + "-";
        Map<String, Long> sent = new HashMap<>();
        List<Long> latencies = new ArrayList<>();
        double[] split = new double[3];
        Map<String, double[]> hops = new java.util.TreeMap<>();   // mean ms: before the decoder, in the decoder, until visible to the client
        long tokens = 0;
        try (KafkaConsumer<String, byte[]> consumer = new KafkaConsumer<>(cc, new StringDeserializer(), new ByteArrayDeserializer());
             KafkaProducer<String, byte[]> producer = new KafkaProducer<>(base, new StringSerializer(), new ByteArraySerializer())) {
            List<TopicPartition> parts = new ArrayList<>();
            for (String topic : List.of(Topics.RESULTS.name(), Topics.TOKENS.name(), Topics.EMBEDDINGS.name(), Topics.ENCODED.name())) {
                consumer.partitionsFor(topic).forEach(p -> parts.add(new TopicPartition(p.topic(), p.partition())));
            }
            consumer.assign(parts);
            consumer.seekToEnd(parts);
            parts.forEach(consumer::position);
            int next = 0, done = 0;
            long start = System.nanoTime();
            while (done < texts.size()) {
                while (next < texts.size() && next - done < c) {
                    String id = run + next;
                    SequenceRequest r = SequenceRequest.newBuilder().setId(id).setModel(model).setText(texts.get(next))
                            .setParams(GenerationParams.newBuilder().build()).build();
                    sent.put(id, System.nanoTime());
                    producer.send(new ProducerRecord<>(Topics.REQUESTS.name(), id,
                            Topics.REQUESTS.valueSerde().serializer().serialize(Topics.REQUESTS.name(), r)));
                    next++;
                }
                producer.flush();
                for (ConsumerRecord<String, byte[]> rec : consumer.poll(Duration.ofMillis(100))) {
                    if (!rec.topic().equals(Topics.RESULTS.name())) {
                        Long t0 = sent.get(rec.key());
                        if (t0 != null) {
                            hops.computeIfAbsent(rec.topic(), k -> new double[2]);
                            hops.get(rec.topic())[0] += (System.nanoTime() - t0) / 1e6;
                            hops.get(rec.topic())[1]++;
                        }
                        continue;
                    }
                    Long t0 = sent.remove(rec.key());
                    if (t0 != null) {
                        SequenceResult res = Topics.RESULTS.valueSerde().deserializer().deserialize(rec.topic(), rec.value());
                        tokens += res.getUsage().getGeneratedTokens();
                        long total = (System.nanoTime() - t0) / 1_000_000;
                        latencies.add(total);
                        double decoder = res.getTimings().stream().filter(t -> t.getStage().equals("decoder"))
                                .mapToDouble(org.seqstream.schemas.StageTiming::getMillis).sum();
                        double visible = System.currentTimeMillis() - rec.timestamp();
                        split[0] += total - decoder - visible;
                        split[1] += decoder;
                        split[2] += visible;
                        done++;
                    }
                }
            }
            double seconds = (System.nanoTime() - start) / 1e9;
            latencies.sort(Long::compare);
            int n = latencies.size();
            StringBuilder h = new StringBuilder();
            hops.forEach((topic, v) -> h.append(String.format("%s %.0f ms, ", topic, v[0] / v[1])));
            System.err.println("concurrency " + c + ": visible to a read_committed consumer after " + h);
            return new double[] {tokens / seconds, latencies.get(n / 2), split[0] / n, split[1] / n, split[2] / n};
        }
    }
}
