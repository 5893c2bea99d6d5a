package org.seqstream.pipeline;

import org.apache.kafka.clients.admin.NewTopic;
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
import org.seqstream.pipeline.embedding.EmbeddingStage;
import org.seqstream.pipeline.encoder.EncoderStage;
import org.seqstream.runtime.ModelCatalog;
import org.seqstream.runtime.SourceEncoder;
import org.seqstream.schemas.GenerationParams;
import org.seqstream.schemas.SequenceEncoded;
import org.seqstream.schemas.SequenceTokens;
import org.seqstream.schemas.Topics;
import org.seqstream.testing.EmbeddedKafka;

import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;

/** The embedding and encoder stages on a real broker, exactly once, with micro-batches. */
class EncodingStagesIT {

    @Test
    void tokensBecomeEncoderOutputsAndDecoderOnlyRequestsSkipTheEncoder() throws Exception {
        ModelCatalog models = ModelCatalog.load(Path.of(System.getProperty("seq.repo.root", "../..")).resolve("models"));
        try (EmbeddedKafka kafka = EmbeddedKafka.start()) {
            kafka.createTopics(Topics.ALL.stream().map(t -> new NewTopic(t.name(), 2, (short) 1)).toList());
            Map<String, Object> client = Map.of(ProducerConfig.BOOTSTRAP_SERVERS_CONFIG, kafka.bootstrapServers());
            BatchStageLoop<SequenceTokens> embedding = new BatchStageLoop<>(EmbeddingStage.STAGE, Topics.TOKENS.name(),
                    Topics.TOKENS.valueSerde().deserializer(), new EmbeddingStage(models), client, "seq-embedding",
                    "seq-embedding-0", 64);
            BatchStageLoop<org.seqstream.schemas.SequenceEmbeddings> encoder = new BatchStageLoop<>(EncoderStage.STAGE,
                    Topics.EMBEDDINGS.name(), Topics.EMBEDDINGS.valueSerde().deserializer(), new EncoderStage(models),
                    client, "seq-encoder", "seq-encoder-0", 64);
            Thread t1 = new Thread(embedding), t2 = new Thread(encoder);
            t1.start();
            t2.start();
            // Given tokens of both models and one unreadable record
            List<String> texts = List.of("one", "the rent is one thousand two hundred dollars", "zero errors were found");
            try (KafkaProducer<String, byte[]> p = new KafkaProducer<>(Map.of(ProducerConfig.BOOTSTRAP_SERVERS_CONFIG,
                    kafka.bootstrapServers()), new StringSerializer(), new ByteArraySerializer())) {
                for (int i = 0; i < texts.size(); i++) {
                    for (String model : List.of("itn-seq2seq", "itn-gpt")) {
                        long[] ids = models.tokenizer(model).encode(texts.get(i));
                        SequenceTokens t = SequenceTokens.newBuilder().setId(model + "-" + i).setModel(model)
                                .setTokenIds(Arrays.stream(ids).boxed().toList())
                                .setParams(GenerationParams.newBuilder().build()).build();
                        p.send(new ProducerRecord<>(Topics.TOKENS.name(), t.getId(),
                                Topics.TOKENS.valueSerde().serializer().serialize(Topics.TOKENS.name(), t)));
                    }
                }
                p.send(new ProducerRecord<>(Topics.TOKENS.name(), "junk", "junk".getBytes(StandardCharsets.UTF_8)));
            }
            // When the stages run, then seq.encoded gets one record per request
            Map<String, SequenceEncoded> encoded = new HashMap<>();
            List<ConsumerRecord<String, byte[]>> dead = new ArrayList<>();
            try (KafkaConsumer<String, byte[]> c = consumer(kafka)) {
                c.subscribe(List.of(Topics.ENCODED.name(), Topics.DLQ.name()));
                long end = System.currentTimeMillis() + 60_000;
                while ((encoded.size() < 6 || dead.isEmpty()) && System.currentTimeMillis() < end) {
                    for (ConsumerRecord<String, byte[]> r : c.poll(Duration.ofMillis(200))) {
                        if (r.topic().equals(Topics.DLQ.name())) {
                            dead.add(r);
                        } else {
                            encoded.put(r.key(), Topics.ENCODED.valueSerde().deserializer().deserialize(r.topic(), r.value()));
                        }
                    }
                }
            } finally {
                embedding.close();
                encoder.close();
                t1.join();
                t2.join();
            }
            assertEquals(6, encoded.size());
            assertEquals(1, dead.size());
            assertEquals("junk", dead.get(0).key());
            SourceEncoder direct = new SourceEncoder(models.sessions("itn-seq2seq"));
            for (int i = 0; i < texts.size(); i++) {
                // the encoder-decoder model carries the encoder output, equal to running the graphs directly
                long[] ids = models.tokenizer("itn-seq2seq").encode(texts.get(i));
                float[] expected = direct.encode(List.of(direct.embed(List.of(ids))[0]))[0];
                float[] got = Tensors.floats(encoded.get("itn-seq2seq-" + i).getEncoderHiddenStates());
                assertEquals(expected.length, got.length);
                for (int j = 0; j < got.length; j++) {
                    assertEquals(expected[j], got[j], 1e-5);
                }
                assertEquals(List.of("embedding", "encoder"),
                        encoded.get("itn-seq2seq-" + i).getTimings().stream().map(t -> t.getStage()).toList());
                // the decoder-only model skips the encoder
                assertNull(encoded.get("itn-gpt-" + i).getEncoderHiddenStates());
                assertArrayEquals(ids, encoded.get("itn-seq2seq-" + i).getTokenIds().stream().mapToLong(Long::longValue).toArray());
            }
        } finally {
            models.close();
        }
    }

    private static KafkaConsumer<String, byte[]> consumer(EmbeddedKafka kafka) {
        return new KafkaConsumer<>(Map.of(ConsumerConfig.BOOTSTRAP_SERVERS_CONFIG, kafka.bootstrapServers(),
                ConsumerConfig.GROUP_ID_CONFIG, "test", ConsumerConfig.AUTO_OFFSET_RESET_CONFIG, "earliest",
                ConsumerConfig.ISOLATION_LEVEL_CONFIG, "read_committed"), new StringDeserializer(), new ByteArrayDeserializer());
    }
}
