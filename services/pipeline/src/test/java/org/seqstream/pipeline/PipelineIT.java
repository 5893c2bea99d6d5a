package org.seqstream.pipeline;

import org.apache.kafka.clients.consumer.ConsumerConfig;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.consumer.KafkaConsumer;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerConfig;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.common.serialization.ByteArrayDeserializer;
import org.apache.kafka.common.serialization.ByteArraySerializer;
import org.apache.kafka.common.serialization.StringDeserializer;
import org.apache.kafka.common.serialization.StringSerializer;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.seqstream.pipeline.decoder.DecoderTopology;
import org.seqstream.runtime.Generator;
import org.seqstream.runtime.ModelCatalog;
import org.seqstream.runtime.SamplingParams;
import org.seqstream.schemas.SequenceResult;
import org.seqstream.schemas.Topics;
import org.seqstream.testing.EmbeddedKafka;

import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Duration;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** Through all four stages on a real broker, for both models: outputs equal the reference generator, once each. */
class PipelineIT {
    private static final List<String> INPUTS = List.of(
            "the rent is one thousand two hundred dollars",
            "wake me at six fifteen a m please",
            "zero errors were found",
            "our flight is on the fourth of july twenty twenty six",
            "a coffee costs four dollars and fifty cents",
            "only seven percent replied",
            "she finished in the twenty second place",
            "i counted three hundred and four birds");

    @Test
    void everyRequestGetsExactlyOneResultEqualToTheReferenceGenerator(@TempDir Path state) throws Exception {
        ModelCatalog models = ModelCatalog.load(Path.of(System.getProperty("seq.repo.root", "../..")).resolve("models"));
        try (EmbeddedKafka kafka = EmbeddedKafka.start();
             LocalPipeline pipeline = LocalPipeline.start(models, new LocalPipeline.Settings(kafka.bootstrapServers(),
                     Set.copyOf(LocalPipeline.STAGES), 4, state, DecoderTopology.Config.DEFAULT, Map.of(), "it"))) {
            Map<String, String> expected = new HashMap<>();
            try (KafkaProducer<String, byte[]> p = new KafkaProducer<>(Map.of(ProducerConfig.BOOTSTRAP_SERVERS_CONFIG,
                    kafka.bootstrapServers()), new StringSerializer(), new ByteArraySerializer())) {
                for (String model : List.of("itn-seq2seq", "itn-gpt")) {
                    Generator gen = new Generator(models.sessions(model), models.tokenizer(model));
                    for (int i = 0; i < INPUTS.size(); i++) {
                        boolean sampled = i % 2 == 1;
                        String id = model + "-" + i;
                        String params = sampled ? "{\"temperature\":0.9,\"top_k\":5,\"seed\":" + i + "}" : "{}";
                        String json = "{\"id\":\"" + id + "\",\"model\":\"" + model + "\",\"text\":\"" + INPUTS.get(i)
                                + "\",\"params\":" + params + "}";
                        p.send(new ProducerRecord<>(Topics.REQUESTS.name(), id, json.getBytes(StandardCharsets.UTF_8)));
                        SamplingParams sp = sampled ? new SamplingParams(128, 0.9, 5, 1.0, i) : SamplingParams.greedy(128);
                        expected.put(id, gen.generate(List.of(new Generator.Request(
                                models.tokenizer(model).encode(INPUTS.get(i)), sp))).get(0).text());
                    }
                }
                // and one request the tokenizer refuses
                p.send(new ProducerRecord<>(Topics.REQUESTS.name(), "bad",
                        "{\"id\":\"bad\",\"model\":\"itn-gpt\",\"text\":\"\"}".getBytes(StandardCharsets.UTF_8)));
            }
            Map<String, SequenceResult> results = new HashMap<>();
            int received = 0;
            try (KafkaConsumer<String, byte[]> c = new KafkaConsumer<>(Map.of(
                    ConsumerConfig.BOOTSTRAP_SERVERS_CONFIG, kafka.bootstrapServers(),
                    ConsumerConfig.GROUP_ID_CONFIG, "it-results", ConsumerConfig.AUTO_OFFSET_RESET_CONFIG, "earliest",
                    ConsumerConfig.ISOLATION_LEVEL_CONFIG, "read_committed"), new StringDeserializer(), new ByteArrayDeserializer())) {
                c.subscribe(List.of(Topics.RESULTS.name()));
                long end = System.currentTimeMillis() + 120_000;
                while (results.size() < expected.size() + 1 && System.currentTimeMillis() < end) {
                    for (ConsumerRecord<String, byte[]> r : c.poll(Duration.ofMillis(200))) {
                        received++;
                        results.put(r.key(), Topics.RESULTS.valueSerde().deserializer().deserialize(r.topic(), r.value()));
                    }
                }
                // a little longer, to catch a duplicate that would follow
                long settle = System.currentTimeMillis() + 1500;
                while (System.currentTimeMillis() < settle) {
                    received += c.poll(Duration.ofMillis(200)).count();
                }
            }
            assertEquals(expected.size() + 1, results.size());
            assertEquals(expected.size() + 1, received, "one result per request");
            for (var e : expected.entrySet()) {
                SequenceResult r = results.get(e.getKey());
                assertNull(r.getError(), e.getKey());
                assertEquals(e.getValue(), r.getOutputText(), e.getKey());
            }
            assertEquals("empty_input", results.get("bad").getError().getCode());
            assertTrue(results.get("itn-seq2seq-0").getTimings().stream().map(t -> t.getStage()).toList()
                    .containsAll(List.of("tokenizer", "embedding", "encoder", "decoder")));
        } finally {
            models.close();
        }
    }

    /**
     * The decoder's stream thread is woken when decoding produced something, so its output does
     * not wait for the poll to time out: with a poll of ten seconds, requests sent one after
     * another are each answered in well under that, equal to the reference generator.
     */
    @Test
    void outputDoesNotWaitForTheStreamThreadsPollToTimeOut(@TempDir Path state) throws Exception {
        ModelCatalog models = ModelCatalog.load(Path.of(System.getProperty("seq.repo.root", "../..")).resolve("models"));
        String model = "itn-gpt";
        try (EmbeddedKafka kafka = EmbeddedKafka.start();
             LocalPipeline pipeline = LocalPipeline.start(models, new LocalPipeline.Settings(kafka.bootstrapServers(),
                     Set.copyOf(LocalPipeline.STAGES), 1, state, DecoderTopology.Config.DEFAULT,
                     Map.of("poll.ms", 10_000), "it"));
             KafkaProducer<String, byte[]> p = new KafkaProducer<>(Map.of(ProducerConfig.BOOTSTRAP_SERVERS_CONFIG,
                     kafka.bootstrapServers()), new StringSerializer(), new ByteArraySerializer());
             KafkaConsumer<String, byte[]> c = new KafkaConsumer<>(Map.of(
                     ConsumerConfig.BOOTSTRAP_SERVERS_CONFIG, kafka.bootstrapServers(),
                     ConsumerConfig.GROUP_ID_CONFIG, "it-wake", ConsumerConfig.AUTO_OFFSET_RESET_CONFIG, "earliest",
                     ConsumerConfig.ISOLATION_LEVEL_CONFIG, "read_committed"), new StringDeserializer(), new ByteArrayDeserializer())) {
            c.subscribe(List.of(Topics.RESULTS.name()));
            Generator gen = new Generator(models.sessions(model), models.tokenizer(model));
            for (int i = 0; i < 4; i++) {
                String id = "wake-" + i, text = INPUTS.get(i);
                String json = "{\"id\":\"" + id + "\",\"model\":\"" + model + "\",\"text\":\"" + text + "\"}";
                long sent = System.nanoTime();
                p.send(new ProducerRecord<>(Topics.REQUESTS.name(), id, json.getBytes(StandardCharsets.UTF_8)));
                p.flush();
                SequenceResult result = null;
                while (result == null && System.nanoTime() - sent < 120_000_000_000L) {
                    for (ConsumerRecord<String, byte[]> r : c.poll(Duration.ofMillis(200))) {
                        if (r.key().equals(id)) {
                            result = Topics.RESULTS.valueSerde().deserializer().deserialize(r.topic(), r.value());
                        }
                    }
                }
                double seconds = (System.nanoTime() - sent) / 1e9;
                System.err.printf("%s answered after %.2f s%n", id, seconds);
                assertTrue(result != null, id + ": no result");
                // The first one also waits for the stages to start: Kafka Streams takes up restored
                // tasks only between polls. After that, no poll timeout is on the way.
                assertTrue(i == 0 || seconds < 3, id + " took " + seconds + " s; poll.ms is 10 s");
                String want = gen.generate(List.of(new Generator.Request(models.tokenizer(model).encode(text),
                        SamplingParams.greedy(128)))).get(0).text();
                assertEquals(want, result.getOutputText(), id);
            }
        } finally {
            models.close();
        }
    }
}
