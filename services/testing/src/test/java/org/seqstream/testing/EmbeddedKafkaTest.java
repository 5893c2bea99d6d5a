package org.seqstream.testing;

import org.apache.kafka.clients.admin.NewTopic;
import org.apache.kafka.clients.consumer.ConsumerConfig;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.consumer.KafkaConsumer;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerConfig;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.common.serialization.StringDeserializer;
import org.apache.kafka.common.serialization.StringSerializer;
import org.junit.jupiter.api.Test;

import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;

import static org.junit.jupiter.api.Assertions.assertEquals;

class EmbeddedKafkaTest {
    @Test
    void aRecordProducedTransactionallyIsConsumedBack() throws Exception {
        try (EmbeddedKafka kafka = EmbeddedKafka.start()) {
            kafka.createTopics(List.of(new NewTopic("t", 4, (short) 1)));
            try (KafkaProducer<String, String> p = new KafkaProducer<>(Map.of(
                    ProducerConfig.BOOTSTRAP_SERVERS_CONFIG, kafka.bootstrapServers(),
                    ProducerConfig.TRANSACTIONAL_ID_CONFIG, "tx-1"), new StringSerializer(), new StringSerializer())) {
                p.initTransactions();
                p.beginTransaction();
                p.send(new ProducerRecord<>("t", "k", "v"));
                p.commitTransaction();
            }
            try (KafkaConsumer<String, String> c = new KafkaConsumer<>(Map.of(
                    ConsumerConfig.BOOTSTRAP_SERVERS_CONFIG, kafka.bootstrapServers(),
                    ConsumerConfig.GROUP_ID_CONFIG, "g", ConsumerConfig.AUTO_OFFSET_RESET_CONFIG, "earliest",
                    ConsumerConfig.ISOLATION_LEVEL_CONFIG, "read_committed"), new StringDeserializer(), new StringDeserializer())) {
                c.subscribe(List.of("t"));
                List<ConsumerRecord<String, String>> got = new ArrayList<>();
                long end = System.currentTimeMillis() + 30_000;
                while (got.isEmpty() && System.currentTimeMillis() < end) {
                    c.poll(Duration.ofMillis(200)).forEach(got::add);
                }
                assertEquals(1, got.size());
                assertEquals("v", got.get(0).value());
            }
        }
    }
}
