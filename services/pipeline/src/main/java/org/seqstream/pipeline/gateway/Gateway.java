package org.seqstream.pipeline.gateway;

import org.apache.kafka.clients.consumer.ConsumerConfig;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.consumer.KafkaConsumer;
import org.apache.kafka.clients.consumer.OffsetAndTimestamp;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerConfig;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.common.PartitionInfo;
import org.apache.kafka.common.TopicPartition;
import org.apache.kafka.common.errors.WakeupException;
import org.apache.kafka.common.serialization.ByteArrayDeserializer;
import org.apache.kafka.common.serialization.ByteArraySerializer;
import org.apache.kafka.common.serialization.StringDeserializer;
import org.apache.kafka.common.serialization.StringSerializer;
import org.apache.kafka.common.utils.Utils;
import org.seqstream.schemas.SequenceControl;
import org.seqstream.schemas.SequenceRequest;
import org.seqstream.schemas.SequenceResult;
import org.seqstream.schemas.TokenEvent;
import org.seqstream.schemas.Topics;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CopyOnWriteArraySet;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.atomic.LongAdder;

/**
 * The gateway's Kafka side: publishes requests to seq.requests and hands each subscriber the
 * token events (seq.stream) and the result (seq.results) of its request, read_committed.
 *
 * <p>One reader thread follows every partition of both topics from the end (no consumer group:
 * every gateway instance sees every result, so any instance can answer any request). A
 * subscription registers before its request is published, so nothing is missed. A resumed
 * subscription first replays its request's events from Kafka: the request id carries its creation
 * time ({@link CompletionIds}), and its records lie on the partition its key hashes to, from that
 * time on. The gateway keeps no state that Kafka does not hold.
 */
public final class Gateway implements AutoCloseable {
    private static final Logger LOG = LoggerFactory.getLogger(Gateway.class);
    /** Replay starts this long before a request's creation time (clock skew between hosts). */
    static final long REPLAY_SLACK_MS = 5_000;

    /** What a subscriber receives, on the gateway's reader thread: tokens in index order, then the result once. */
    public interface Listener {
        void token(TokenEvent event);

        void result(SequenceResult result);
    }

    private final Map<String, Object> client;
    private final KafkaProducer<String, byte[]> producer;
    private final KafkaConsumer<String, byte[]> reader;
    private final Map<String, Set<Subscription>> subscribers = new ConcurrentHashMap<>();
    private final ExecutorService replays = Executors.newCachedThreadPool(r -> {
        Thread t = new Thread(r, "seq-gateway-replay");
        t.setDaemon(true);
        return t;
    });
    private final int partitions;
    private final Thread thread;
    private volatile boolean running = true;
    private volatile boolean ready;
    private final LongAdder published = new LongAdder(), replayed = new LongAdder(), cancels = new LongAdder();
    /** Requests whose stream a gateway resumed (seq.control), by when this instance saw it. */
    private final Map<String, Long> resumedAt = new ConcurrentHashMap<>();
    private static final long RESUMED_MEMORY_NANOS = 600_000_000_000L;

    /**
     * @param clientConfig bootstrap servers and any client settings (security), for the producer
     *                     and the consumers
     */
    public Gateway(Map<String, Object> clientConfig) {
        this.client = Map.copyOf(clientConfig);
        Map<String, Object> p = new HashMap<>(client);
        p.put(ProducerConfig.ENABLE_IDEMPOTENCE_CONFIG, true);
        p.put(ProducerConfig.ACKS_CONFIG, "all");
        p.put(ProducerConfig.LINGER_MS_CONFIG, 0);
        this.producer = new KafkaProducer<>(p, new StringSerializer(), new ByteArraySerializer());
        this.reader = consumer();
        List<TopicPartition> all = new ArrayList<>();
        int n = 0;   // partitions of seq.stream (seq.results has as many)
        for (String topic : List.of(Topics.STREAM.name(), Topics.RESULTS.name(), Topics.CONTROL.name())) {
            List<PartitionInfo> infos = reader.partitionsFor(topic, Duration.ofSeconds(30));
            if (infos == null || infos.isEmpty()) {
                throw new IllegalStateException("topic " + topic + " does not exist on " + client.get("bootstrap.servers"));
            }
            infos.forEach(i -> all.add(new TopicPartition(i.topic(), i.partition())));
            if (topic.equals(Topics.STREAM.name())) {
                n = infos.size();
            }
        }
        this.partitions = n;
        reader.assign(all);
        reader.seekToEnd(all);
        all.forEach(reader::position);   // resolve the end now: a request published after this is seen
        this.thread = new Thread(this::read, "seq-gateway-reader");
        thread.setDaemon(true);
        thread.start();
    }

    private KafkaConsumer<String, byte[]> consumer() {
        Map<String, Object> c = new HashMap<>(client);
        c.put(ConsumerConfig.ISOLATION_LEVEL_CONFIG, "read_committed");
        c.put(ConsumerConfig.ENABLE_AUTO_COMMIT_CONFIG, false);
        c.put(ConsumerConfig.AUTO_OFFSET_RESET_CONFIG, "latest");
        c.remove(ConsumerConfig.GROUP_ID_CONFIG);
        return new KafkaConsumer<>(c, new StringDeserializer(), new ByteArrayDeserializer());
    }

    /** Whether the reader follows every partition. */
    public boolean ready() {
        return ready && thread.isAlive();
    }

    public long published() {
        return published.sum();
    }

    public long replayed() {
        return replayed.sum();
    }

    public long cancels() {
        return cancels.sum();
    }

    /** Publishes a cancel for the request: the decoder ends it with finish_reason cancelled and the output so far. */
    public void cancel(String id) {
        control(id, Topics.CANCEL);
        cancels.increment();
    }

    /** Whether a gateway (any instance) resumed the request's stream after {@code sinceNanos} (this JVM's clock). */
    public boolean resumedSince(String id, long sinceNanos) {
        Long at = resumedAt.get(id);
        return at != null && at - sinceNanos >= 0;
    }

    private void control(String id, String action) {
        SequenceControl c = SequenceControl.newBuilder().setId(id).setAction(action).setCreatedAtMs(System.currentTimeMillis()).build();
        producer.send(new ProducerRecord<>(Topics.CONTROL.name(), id, Topics.CONTROL.valueSerde().serializer().serialize(Topics.CONTROL.name(), c)));
    }

    /** Requests with a subscriber waiting on this instance. */
    public int waiting() {
        return subscribers.size();
    }

    /**
     * Subscribes {@code listener} to the request, then publishes it. The returned subscription
     * ends by itself after the result; close it to stop listening sooner.
     */
    public Subscription submit(SequenceRequest request, Listener listener) {
        Subscription s = subscribe(request.getId(), -1, listener, false);
        producer.send(new ProducerRecord<>(Topics.REQUESTS.name(), request.getId(),
                Topics.REQUESTS.valueSerde().serializer().serialize(Topics.REQUESTS.name(), request)), (md, e) -> {
                    if (e != null) {
                        s.failed(e);
                    }
                });
        published.increment();
        return s;
    }

    /**
     * Subscribes {@code listener} to a request published before: the events after token index
     * {@code after} (-1: all) are replayed from Kafka, then the live rest follows, without gaps or
     * repeats; the result comes last (replayed too, if it was written already).
     */
    public Subscription resume(String id, int after, long createdAtMs, Listener listener) {
        Subscription s = subscribe(id, after, listener, true);
        control(id, Topics.RESUMED);   // the instance that lost the stream does not cancel it
        replays.execute(() -> {
            try {
                replay(s, createdAtMs);
            } catch (RuntimeException e) {
                LOG.warn("replay of {} failed: {}", id, e.toString());
                s.failed(e);
            } finally {
                s.endReplay();
            }
        });
        replayed.increment();
        return s;
    }

    private Subscription subscribe(String id, int after, Listener listener, boolean replaying) {
        Subscription s = new Subscription(id, after, listener, replaying, this::unsubscribe);
        subscribers.computeIfAbsent(id, k -> new CopyOnWriteArraySet<>()).add(s);
        return s;
    }

    private void unsubscribe(Subscription s) {
        subscribers.computeIfPresent(s.id(), (k, set) -> {
            set.remove(s);
            return set.isEmpty() ? null : set;
        });
    }

    /** The partition that records keyed {@code id} go to, as the producers' default partitioner places them. */
    int partitionOf(String id) {
        return partitionOf(id, partitions);
    }

    /** The partition of {@code partitions} that the producers' default partitioner puts records keyed {@code id} on. */
    public static int partitionOf(String id, int partitions) {
        return Utils.toPositive(Utils.murmur2(id.getBytes(StandardCharsets.UTF_8))) % partitions;
    }

    private void replay(Subscription s, long createdAtMs) {
        int p = partitionOf(s.id());
        List<TopicPartition> tps = List.of(new TopicPartition(Topics.STREAM.name(), p), new TopicPartition(Topics.RESULTS.name(), p));
        try (KafkaConsumer<String, byte[]> c = consumer()) {
            c.assign(tps);
            Map<TopicPartition, Long> end = c.endOffsets(tps);   // read_committed: the last stable offsets
            Map<TopicPartition, Long> when = new HashMap<>();
            tps.forEach(tp -> when.put(tp, Math.max(0, createdAtMs - REPLAY_SLACK_MS)));
            Map<TopicPartition, OffsetAndTimestamp> from = c.offsetsForTimes(when);
            for (TopicPartition tp : tps) {
                OffsetAndTimestamp o = from.get(tp);
                c.seek(tp, o == null ? end.get(tp) : o.offset());
            }
            while (!s.closed() && tps.stream().anyMatch(tp -> c.position(tp) < end.get(tp))) {
                for (ConsumerRecord<String, byte[]> r : c.poll(Duration.ofMillis(200))) {
                    if (s.id().equals(r.key()) && r.offset() < end.get(new TopicPartition(r.topic(), r.partition()))) {
                        dispatch(r, List.of(s), true);
                    }
                }
            }
        }
    }

    private void read() {
        try {
            ready = true;
            while (running) {
                for (ConsumerRecord<String, byte[]> r : reader.poll(Duration.ofMillis(100))) {
                    if (r.topic().equals(Topics.CONTROL.name())) {
                        resumed(r);
                        continue;
                    }
                    Set<Subscription> subs = r.key() == null ? null : subscribers.get(r.key());
                    if (subs != null) {
                        dispatch(r, subs, false);
                    }
                }
                long now = System.nanoTime();
                subscribers.values().forEach(set -> set.forEach(s -> s.tick(now)));
                resumedAt.values().removeIf(t -> now - t > RESUMED_MEMORY_NANOS);
            }
        } catch (WakeupException e) {
            if (running) {
                LOG.error("the gateway's reader stopped", e);
            }
        } catch (RuntimeException e) {
            LOG.error("the gateway's reader stopped", e);
        } finally {
            ready = false;
            reader.close();
        }
    }

    private void resumed(ConsumerRecord<String, byte[]> r) {
        try {
            SequenceControl c = Topics.CONTROL.valueSerde().deserializer().deserialize(r.topic(), r.value());
            if (Topics.RESUMED.equals(c.getAction())) {
                resumedAt.put(c.getId(), System.nanoTime());
            }
        } catch (RuntimeException e) {
            LOG.warn("unreadable record on {} for {}: {}", r.topic(), r.key(), e.getMessage());
        }
    }

    private static void dispatch(ConsumerRecord<String, byte[]> r, Iterable<Subscription> subs, boolean replay) {
        try {
            if (r.topic().equals(Topics.STREAM.name())) {
                TokenEvent e = Topics.STREAM.valueSerde().deserializer().deserialize(r.topic(), r.value());
                subs.forEach(s -> s.token(e, replay));
            } else {
                SequenceResult res = Topics.RESULTS.valueSerde().deserializer().deserialize(r.topic(), r.value());
                subs.forEach(s -> s.result(res, replay));
            }
        } catch (RuntimeException e) {
            LOG.warn("unreadable record on {} for {}: {}", r.topic(), r.key(), e.getMessage());
        }
    }

    @Override
    public void close() {
        running = false;
        reader.wakeup();
        try {
            thread.join(5_000);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
        replays.shutdownNow();
        producer.close(Duration.ofSeconds(5));
    }
}
