package org.seqstream.cli;

import com.fasterxml.jackson.databind.ObjectMapper;
import org.apache.kafka.clients.consumer.ConsumerConfig;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.consumer.KafkaConsumer;
import org.apache.kafka.common.PartitionInfo;
import org.apache.kafka.common.TopicPartition;
import org.apache.kafka.common.serialization.ByteArrayDeserializer;
import org.apache.kafka.common.serialization.StringDeserializer;
import org.apache.kafka.common.errors.SerializationException;
import org.seqstream.schemas.OutputSerde;
import org.seqstream.schemas.SequenceResult;
import org.seqstream.schemas.TokenEvent;
import org.seqstream.schemas.Topics;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.Callable;

/** Prints the records of seq.results or seq.stream as JSON lines, whichever format they were written in. */
@Command(name = "tail", mixinStandardHelpOptions = true,
        description = "Print the records of seq.results or seq.stream as JSON lines (Avro or JSON records alike), read_committed,"
                + " until Ctrl-C.")
final class TailCommand implements Callable<Integer> {
    @Option(names = "--bootstrap", required = true, paramLabel = "HOST:PORT")
    String bootstrap;

    @Option(names = "--topic", defaultValue = "seq.results", paramLabel = "seq.results|seq.stream",
            description = "The topic (default: ${DEFAULT-VALUE}).")
    String topic;

    @Option(names = "--from-beginning", description = "From the oldest record kept, not only new ones.")
    boolean fromBeginning;

    @Option(names = "--max", defaultValue = "0", paramLabel = "N", description = "Stop after N records (default: 0, never).")
    long max;

    @Option(names = "--idle", defaultValue = "0", paramLabel = "S",
            description = "Stop after S seconds without a record (default: 0, never).")
    double idle;

    @Override
    public Integer call() throws Exception {
        boolean results = topic.equals(Topics.RESULTS.name());
        if (!results && !topic.equals(Topics.STREAM.name())) {
            System.err.println("seqctl tail: --topic must be " + Topics.RESULTS.name() + " or " + Topics.STREAM.name());
            return 2;
        }
        ObjectMapper json = new ObjectMapper();
        PrintStream out = new PrintStream(System.out, true, StandardCharsets.UTF_8);
        try (KafkaConsumer<String, byte[]> c = new KafkaConsumer<>(java.util.Map.of(ConsumerConfig.BOOTSTRAP_SERVERS_CONFIG, bootstrap,
                ConsumerConfig.ISOLATION_LEVEL_CONFIG, "read_committed", ConsumerConfig.ENABLE_AUTO_COMMIT_CONFIG, false),
                new StringDeserializer(), new ByteArrayDeserializer())) {
            List<PartitionInfo> infos = c.partitionsFor(topic, Duration.ofSeconds(30));
            if (infos == null || infos.isEmpty()) {
                System.err.println("seqctl tail: no topic " + topic + " on " + bootstrap);
                return 1;
            }
            List<TopicPartition> tps = infos.stream().map(i -> new TopicPartition(i.topic(), i.partition())).toList();
            c.assign(tps);
            if (fromBeginning) {
                c.seekToBeginning(tps);
            } else {
                c.seekToEnd(tps);
            }
            long n = 0, last = System.nanoTime();
            while (max <= 0 || n < max) {
                for (ConsumerRecord<String, byte[]> r : c.poll(Duration.ofMillis(200))) {
                    last = System.nanoTime();
                    try {
                        if (results) {
                            SequenceResult v = Topics.RESULTS.valueSerde().deserializer().deserialize(r.topic(), r.value());
                            out.println(json.writeValueAsString(OutputSerde.toJson(v, SequenceResult.getClassSchema())));
                        } else {
                            TokenEvent v = Topics.STREAM.valueSerde().deserializer().deserialize(r.topic(), r.value());
                            out.println(json.writeValueAsString(OutputSerde.toJson(v, TokenEvent.getClassSchema())));
                        }
                    } catch (SerializationException e) {
                        System.err.println("seqctl tail: unreadable record at " + r.topic() + "-" + r.partition() + "@" + r.offset()
                                + ": " + e.getMessage());
                    }
                    if (max > 0 && ++n >= max) {
                        break;
                    }
                }
                if (idle > 0 && System.nanoTime() - last > (long) (idle * 1e9)) {
                    break;
                }
            }
        }
        return 0;
    }
}
