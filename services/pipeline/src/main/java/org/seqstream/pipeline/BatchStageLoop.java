package org.seqstream.pipeline;

import org.apache.kafka.clients.consumer.ConsumerConfig;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.consumer.ConsumerRecords;
import org.apache.kafka.clients.consumer.KafkaConsumer;
import org.apache.kafka.clients.consumer.OffsetAndMetadata;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerConfig;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.common.KafkaException;
import org.apache.kafka.common.TopicPartition;
import org.apache.kafka.common.errors.ProducerFencedException;
import org.apache.kafka.common.errors.SerializationException;
import org.apache.kafka.common.errors.WakeupException;
import org.apache.kafka.common.serialization.ByteArrayDeserializer;
import org.apache.kafka.common.serialization.ByteArraySerializer;
import org.apache.kafka.common.serialization.Deserializer;
import org.apache.kafka.common.serialization.StringDeserializer;
import org.apache.kafka.common.serialization.StringSerializer;
import org.seqstream.schemas.Topics;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;

/**
 * An exactly-once consume-transform-produce loop for the stateless neural stages (embedding,
 * encoder). Each poll is one micro-batch: the handler runs the model once per model name over
 * the batch, and the outputs and the consumed offsets commit in one transaction.
 *
 * <p>Why not a Kafka Streams processor: a processor sees one record at a time, and holding
 * records back for a batch across a commit would lose them on a crash under exactly-once.
 */
public final class BatchStageLoop<I> implements Runnable, AutoCloseable {
    private static final Logger LOG = LoggerFactory.getLogger(BatchStageLoop.class);

    /** One decoded input and the record it came from. */
    public record Input<I>(ConsumerRecord<String, byte[]> record, I value) {
    }

    /** The stage's work on one micro-batch: outputs, already serialized. */
    @FunctionalInterface
    public interface Handler<I> {
        List<ProducerRecord<String, byte[]>> handle(List<Input<I>> batch);
    }

    private final String stage;
    private final String topic;
    private final Deserializer<I> deserializer;
    private final Handler<I> handler;
    private final KafkaConsumer<String, byte[]> consumer;
    private final Map<String, Object> producerConfig;
    private KafkaProducer<String, byte[]> producer;
    private volatile boolean running = true;
    private final java.util.concurrent.atomic.LongAdder aborted = new java.util.concurrent.atomic.LongAdder();
    private volatile long lastPollMs;
    private final java.util.concurrent.atomic.LongAdder handled = new java.util.concurrent.atomic.LongAdder();
    private final java.util.concurrent.atomic.LongAdder batches = new java.util.concurrent.atomic.LongAdder();
    private final java.util.concurrent.atomic.LongAdder handleNanos = new java.util.concurrent.atomic.LongAdder();
    private volatile int lastBatch;
    private Thread thread;

    /**
     * @param clientConfig settings for both clients (bootstrap servers, security); consumer- and
     *                     producer-only keys can be given with "consumer." and "producer." prefixes
     */
    public BatchStageLoop(String stage, String topic, Deserializer<I> deserializer, Handler<I> handler,
                          Map<String, Object> clientConfig, String groupId, String transactionalId, int maxPollRecords) {
        this.stage = stage;
        this.topic = topic;
        this.deserializer = deserializer;
        this.handler = handler;
        Map<String, Object> c = common(clientConfig, "consumer.");
        c.put(ConsumerConfig.GROUP_ID_CONFIG, groupId);
        c.put(ConsumerConfig.ENABLE_AUTO_COMMIT_CONFIG, false);
        c.put(ConsumerConfig.ISOLATION_LEVEL_CONFIG, "read_committed");
        c.put(ConsumerConfig.AUTO_OFFSET_RESET_CONFIG, "earliest");
        c.put(ConsumerConfig.MAX_POLL_RECORDS_CONFIG, maxPollRecords);
        // A crashed instance's partitions move to the others after this long (the broker's minimum is 6 s).
        c.putIfAbsent(ConsumerConfig.SESSION_TIMEOUT_MS_CONFIG, 10_000);
        c.putIfAbsent(ConsumerConfig.HEARTBEAT_INTERVAL_MS_CONFIG, 3_000);
        this.consumer = new KafkaConsumer<>(c, new StringDeserializer(), new ByteArrayDeserializer());
        Map<String, Object> p = common(clientConfig, "producer.");
        p.put(ProducerConfig.TRANSACTIONAL_ID_CONFIG, transactionalId);
        p.put(ProducerConfig.ENABLE_IDEMPOTENCE_CONFIG, true);
        p.put(ProducerConfig.LINGER_MS_CONFIG, 0);
        // A transaction left open by a crash blocks read_committed readers until it times out.
        p.putIfAbsent(ProducerConfig.TRANSACTION_TIMEOUT_CONFIG, 10_000);
        this.producerConfig = p;
        this.producer = new KafkaProducer<>(p, new StringSerializer(), new ByteArraySerializer());
    }

    private static Map<String, Object> common(Map<String, Object> config, String prefix) {
        Map<String, Object> out = new HashMap<>();
        config.forEach((k, v) -> {
            if (k.startsWith(prefix)) {
                out.put(k.substring(prefix.length()), v);
            } else if (!k.startsWith("consumer.") && !k.startsWith("producer.")) {
                out.put(k, v);
            }
        });
        return out;
    }

    @Override
    public void run() {
        try {
            untilDone(() -> producer.initTransactions(), "starting its transactional producer");
            consumer.subscribe(List.of(topic));
            while (running) {
                ConsumerRecords<String, byte[]> records = consumer.poll(Duration.ofMillis(100));
                lastPollMs = System.currentTimeMillis();
                if (records.isEmpty()) {
                    continue;
                }
                try {
                    producer.beginTransaction();
                    for (ProducerRecord<String, byte[]> out : transform(records)) {
                        producer.send(out);
                    }
                    producer.sendOffsetsToTransaction(nextOffsets(records), consumer.groupMetadata());
                    producer.commitTransaction();
                } catch (ProducerFencedException e) {
                    LOG.error("{}: fenced by a newer instance with the same transactional id; stopping", stage);
                    return;
                } catch (KafkaException e) {
                    // Not committed (broker gone, partitions moved, ...): abort, then read the batch
                    // again from the last committed offsets.
                    LOG.warn("{}: transaction aborted, the batch will be processed again: {}", stage, e.getMessage());
                    aborted.increment();
                    abort();
                    untilDone(() -> rewind(records), "rewinding to the committed offsets");
                }
            }
        } catch (ProducerFencedException e) {
            LOG.error("{}: fenced by a newer instance with the same transactional id; stopping", stage);
        } catch (WakeupException e) {
            if (running) {
                throw e;
            }
        } finally {
            consumer.close();
            producer.close();
        }
    }

    /** Aborts the open transaction; if the producer cannot, a new one with the same id aborts it on start. */
    private void abort() {
        try {
            producer.abortTransaction();
        } catch (KafkaException e) {
            LOG.warn("{}: cannot abort ({}); starting a new producer", stage, e.getMessage());
            producer.close(Duration.ZERO);
            producer = new KafkaProducer<>(producerConfig, new StringSerializer(), new ByteArraySerializer());
            untilDone(() -> producer.initTransactions(), "restarting its transactional producer");
        }
    }

    /** Runs {@code step} until it succeeds or the loop stops, retrying each second while the broker is away. */
    private void untilDone(Runnable step, String what) {
        for (int attempt = 1; running; attempt++) {
            try {
                step.run();
                return;
            } catch (ProducerFencedException | WakeupException e) {
                throw e;
            } catch (KafkaException e) {
                LOG.warn("{}: {} failed (attempt {}), retrying: {}", stage, what, attempt, e.getMessage());
                try {
                    Thread.sleep(1000);
                } catch (InterruptedException ie) {
                    Thread.currentThread().interrupt();
                    running = false;
                }
            }
        }
    }

    private List<ProducerRecord<String, byte[]>> transform(ConsumerRecords<String, byte[]> records) {
        List<ProducerRecord<String, byte[]>> out = new ArrayList<>();
        List<Input<I>> batch = new ArrayList<>();
        for (ConsumerRecord<String, byte[]> r : records) {
            try {
                I value = deserializer.deserialize(r.topic(), r.value());
                if (value == null) {
                    throw new SerializationException("empty record value");
                }
                batch.add(new Input<>(r, value));
            } catch (SerializationException e) {
                out.add(deadLetter(r, e.getMessage()));
            }
        }
        if (!batch.isEmpty()) {
            long start = System.nanoTime();
            out.addAll(handler.handle(batch));
            handleNanos.add(System.nanoTime() - start);
            handled.add(batch.size());
            batches.increment();
            lastBatch = batch.size();
        }
        return out;
    }

    private ProducerRecord<String, byte[]> deadLetter(ConsumerRecord<String, byte[]> r, String reason) {
        var meta = new org.apache.kafka.streams.processor.api.RecordMetadata() {
            public String topic() { return r.topic(); }
            public int partition() { return r.partition(); }
            public long offset() { return r.offset(); }
        };
        return new ProducerRecord<>(Topics.DLQ.name(), null, r.key(), r.value(),
                DeadLetters.headers(r.headers(), stage, reason, Optional.of(meta)));
    }

    private static Map<TopicPartition, OffsetAndMetadata> nextOffsets(ConsumerRecords<String, byte[]> records) {
        Map<TopicPartition, OffsetAndMetadata> offsets = new HashMap<>();
        for (TopicPartition tp : records.partitions()) {
            List<ConsumerRecord<String, byte[]>> rs = records.records(tp);
            offsets.put(tp, new OffsetAndMetadata(rs.get(rs.size() - 1).offset() + 1));
        }
        return offsets;
    }

    private void rewind(ConsumerRecords<String, byte[]> records) {
        Map<TopicPartition, OffsetAndMetadata> committed = consumer.committed(records.partitions());
        for (TopicPartition tp : records.partitions()) {
            OffsetAndMetadata o = committed.get(tp);
            if (o != null) {
                consumer.seek(tp, o.offset());
            } else {
                consumer.seekToBeginning(List.of(tp));
            }
        }
    }

    /** Records handled so far. */
    public long records() { return handled.sum(); }

    /** Transactions aborted (and their batches processed again) so far. */
    public long abortedTransactions() { return aborted.sum(); }

    /** Micro-batches handled so far. */
    public long batches() { return batches.sum(); }

    /** Size of the last micro-batch. */
    public int lastBatchSize() { return lastBatch; }

    /** Seconds spent in the stage's model calls so far. */
    public double handleSeconds() { return handleNanos.sum() / 1e9; }

    /** Runs the loop on a thread of its own. */
    public synchronized BatchStageLoop<I> start() {
        thread = new Thread(this, "seq-" + stage);
        thread.start();
        return this;
    }

    /** Ready: the loop runs and polled the broker within the last {@code withinMs}. */
    public boolean ready(long withinMs) {
        return running && thread != null && thread.isAlive() && System.currentTimeMillis() - lastPollMs < withinMs;
    }

    /** Stops the loop after the batch in progress and waits for its thread to close the clients. */
    @Override
    public void close() {
        running = false;
        consumer.wakeup();
        Thread t = thread;
        if (t != null && t != Thread.currentThread()) {
            try {
                t.join(30_000);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
        }
    }
}
