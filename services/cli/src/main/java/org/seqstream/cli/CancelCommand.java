package org.seqstream.cli;

import com.fasterxml.jackson.databind.ObjectMapper;
import org.apache.kafka.clients.consumer.ConsumerConfig;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.consumer.KafkaConsumer;
import org.apache.kafka.clients.consumer.OffsetAndTimestamp;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerConfig;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.common.TopicPartition;
import org.apache.kafka.common.serialization.ByteArrayDeserializer;
import org.apache.kafka.common.serialization.ByteArraySerializer;
import org.apache.kafka.common.serialization.StringDeserializer;
import org.apache.kafka.common.serialization.StringSerializer;
import org.seqstream.pipeline.gateway.Gateway;
import org.seqstream.schemas.SequenceControl;
import org.seqstream.schemas.SequenceResult;
import org.seqstream.schemas.Topics;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;

import java.time.Duration;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.Callable;

/** Cancels requests by id through seq.control, and waits for their results. */
@Command(name = "cancel", mixinStandardHelpOptions = true,
        description = "Cancel requests: the decoder ends each with finish_reason cancelled and the output so far."
                + " Prints each request's result as a JSON line.")
final class CancelCommand implements Callable<Integer> {
    @Parameters(arity = "1..*", paramLabel = "ID", description = "Request ids.")
    List<String> ids;

    @Option(names = "--bootstrap", required = true, paramLabel = "HOST:PORT")
    String bootstrap;

    @Option(names = "--timeout", defaultValue = "30", paramLabel = "S",
            description = "How long to wait for the results (default: ${DEFAULT-VALUE}); 0: do not wait.")
    double timeout;

    @Option(names = "--lookback", defaultValue = "600", paramLabel = "S",
            description = "A result written up to S seconds before the cancel (the request had finished) counts too (default: ${DEFAULT-VALUE}).")
    long lookback;

    @Override
    public Integer call() throws Exception {
        long start = System.currentTimeMillis();
        try (KafkaConsumer<String, byte[]> c = new KafkaConsumer<>(Map.of(ConsumerConfig.BOOTSTRAP_SERVERS_CONFIG, bootstrap,
                ConsumerConfig.ISOLATION_LEVEL_CONFIG, "read_committed", ConsumerConfig.ENABLE_AUTO_COMMIT_CONFIG, false),
                new StringDeserializer(), new ByteArrayDeserializer());
             KafkaProducer<String, byte[]> p = new KafkaProducer<>(Map.of(ProducerConfig.BOOTSTRAP_SERVERS_CONFIG, bootstrap,
                     ProducerConfig.ACKS_CONFIG, "all"), new StringSerializer(), new ByteArraySerializer())) {
            int partitions = c.partitionsFor(Topics.RESULTS.name(), Duration.ofSeconds(30)).size();
            List<TopicPartition> tps = ids.stream().map(id -> new TopicPartition(Topics.RESULTS.name(),
                    Gateway.partitionOf(id, partitions))).distinct().toList();
            c.assign(tps);
            Map<TopicPartition, Long> when = new LinkedHashMap<>();
            tps.forEach(tp -> when.put(tp, start - lookback * 1000));
            Map<TopicPartition, OffsetAndTimestamp> from = c.offsetsForTimes(when);
            Map<TopicPartition, Long> end = c.endOffsets(tps);
            tps.forEach(tp -> c.seek(tp, from.get(tp) == null ? end.get(tp) : from.get(tp).offset()));
            long sent = System.currentTimeMillis();
            for (String id : ids) {
                SequenceControl cancel = SequenceControl.newBuilder().setId(id).setAction(Topics.CANCEL).setCreatedAtMs(start).build();
                p.send(new ProducerRecord<>(Topics.CONTROL.name(), id,
                        Topics.CONTROL.valueSerde().serializer().serialize(Topics.CONTROL.name(), cancel))).get();
            }
            System.err.println("seqctl cancel: " + ids.size() + " cancel" + (ids.size() == 1 ? "" : "s") + " published");
            if (timeout <= 0) {
                return 0;
            }
            ObjectMapper json = new ObjectMapper();
            Map<String, SequenceResult> results = new LinkedHashMap<>();
            long deadline = sent + (long) (timeout * 1000);
            while (results.size() < ids.size() && System.currentTimeMillis() < deadline) {
                for (ConsumerRecord<String, byte[]> r : c.poll(Duration.ofMillis(100))) {
                    if (ids.contains(r.key()) && !results.containsKey(r.key())) {
                        SequenceResult res = Topics.RESULTS.valueSerde().deserializer().deserialize(r.topic(), r.value());
                        results.put(r.key(), res);
                        Map<String, Object> line = new LinkedHashMap<>();
                        line.put("id", r.key());
                        line.put("finish_reason", res.getFinishReason());
                        line.put("output", res.getOutputText());
                        line.put("generated_tokens", res.getUsage().getGeneratedTokens());
                        if (res.getError() != null) {
                            line.put("error_code", res.getError().getCode());
                        }
                        line.put("ms_after_cancel", r.timestamp() - sent);
                        System.out.println(json.writeValueAsString(line));
                        System.out.flush();
                    }
                }
            }
            for (String id : ids) {
                if (!results.containsKey(id)) {
                    System.err.println("seqctl cancel: no result for " + id + " within " + timeout + " s (unknown id, or not decoding yet:"
                            + " the cancel waits for it)");
                }
            }
            return results.size() == ids.size() ? 0 : 1;
        }
    }
}
