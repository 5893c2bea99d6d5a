package org.seqstream.pipeline;

import org.apache.kafka.clients.admin.Admin;
import org.apache.kafka.clients.consumer.Consumer;
import org.apache.kafka.clients.consumer.ConsumerRebalanceListener;
import org.apache.kafka.clients.consumer.ConsumerRecords;
import org.apache.kafka.clients.producer.Producer;
import org.apache.kafka.common.TopicPartition;
import org.apache.kafka.common.errors.WakeupException;
import org.apache.kafka.streams.KafkaClientSupplier;
import org.apache.kafka.streams.processor.internals.DefaultKafkaClientSupplier;

import java.lang.reflect.InvocationHandler;
import java.lang.reflect.InvocationTargetException;
import java.lang.reflect.Method;
import java.lang.reflect.Proxy;
import java.time.Duration;
import java.util.Collection;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.locks.LockSupport;

/**
 * The Kafka clients of a Kafka Streams application whose stream threads can be woken out of
 * their poll by another thread, and can tell when the records of a poll are all processed.
 *
 * <p>A stream thread waits for records in {@code poll}; work that another thread hands it (the
 * decoder's decode thread produces tokens) would otherwise wait for the poll to time out, so a
 * short {@code poll.ms} was needed, whose real length depends on the machine's timer. Here the
 * main consumer of each stream thread comes wrapped: {@link Waker#wake()} makes its poll return
 * at once (through {@link Consumer#wakeup()}), so the thread's wall-clock punctuators run and
 * write the work, and {@code poll.ms} can stay long. Kafka Streams itself never calls
 * {@code wakeup()} on its main consumer; a wake-up that lands on another consumer call than
 * {@code poll} is absorbed and the call repeated.
 *
 * <p>Pass an instance to {@code new KafkaStreams(topology, props, supplier)} (the Quarkus
 * services produce it as a bean). A processor finds its thread's waker with
 * {@link #ofCurrentThread()}; under any other client supplier (a test driver) there is none, and
 * the processor falls back to its punctuation period.
 */
public final class StreamWakeups implements KafkaClientSupplier {
    private static final Map<Thread, Waker> BY_THREAD = new ConcurrentHashMap<>();

    private final KafkaClientSupplier clients = new DefaultKafkaClientSupplier();

    /** The waker of the calling stream thread, if its application was built with this supplier. */
    public static Optional<Waker> ofCurrentThread() {
        return Optional.ofNullable(BY_THREAD.get(Thread.currentThread()));
    }

    @Override
    public Admin getAdmin(Map<String, Object> config) {
        return clients.getAdmin(config);
    }

    @Override
    public Producer<byte[], byte[]> getProducer(Map<String, Object> config) {
        return clients.getProducer(config);
    }

    @Override
    @SuppressWarnings("unchecked")
    public Consumer<byte[], byte[]> getConsumer(Map<String, Object> config) {
        Waker waker = new Waker(clients.getConsumer(config));
        return (Consumer<byte[], byte[]>) Proxy.newProxyInstance(Consumer.class.getClassLoader(),
                new Class<?>[] {Consumer.class}, waker);
    }

    @Override
    public Consumer<byte[], byte[]> getRestoreConsumer(Map<String, Object> config) {
        return clients.getRestoreConsumer(config);
    }

    @Override
    public Consumer<byte[], byte[]> getGlobalConsumer(Map<String, Object> config) {
        return clients.getGlobalConsumer(config);
    }

    /**
     * One stream thread's main consumer, with a way to wake the thread and a count of the polled
     * records not yet processed.
     */
    public static final class Waker implements InvocationHandler {
        private static final int BUSY = 0, POLLING = 1, WOKEN = 2;

        private final Consumer<byte[], byte[]> consumer;
        private final AtomicInteger state = new AtomicInteger(BUSY);
        private volatile boolean pending;
        private volatile long notBeforeMs;
        private Thread thread;
        // stream thread only
        private long unprocessed;

        Waker(Consumer<byte[], byte[]> consumer) {
            this.consumer = consumer;
        }

        /**
         * Any thread: work for the stream thread has arrived. Its poll returns now, or its next
         * poll does not wait.
         */
        public void wake() {
            pending = true;
            if (state.compareAndSet(POLLING, WOKEN)) {
                consumer.wakeup();
            }
        }

        /**
         * Stream thread: a punctuator that runs every {@code periodMs} (wall clock) took the work
         * handed in until now, at {@code timestampMs}. A later wake-up returns from the poll when
         * that punctuator is due again, not before (it would find nothing to run).
         */
        public void taken(long timestampMs, long periodMs) {
            pending = false;
            notBeforeMs = timestampMs + periodMs;
        }

        /**
         * Stream thread: one record of the polls has been processed. True when that was the last
         * one polled, which is when the thread's work is done until the next poll (a commit then
         * covers all of it).
         */
        public boolean processed() {
            if (unprocessed > 0) {
                unprocessed--;
            }
            return unprocessed == 0;
        }

        /** Stream thread: whether records of its polls are still to be processed. */
        public boolean behind() {
            return unprocessed > 0;
        }

        private ConsumerRecords<byte[], byte[]> poll(Duration timeout) {
            if (thread == null) {
                thread = Thread.currentThread();
                BY_THREAD.put(thread, this);
            }
            ConsumerRecords<byte[], byte[]> records = ConsumerRecords.empty();
            state.set(POLLING);
            try {
                if (pending) {
                    untilDue();
                    records = consumer.poll(Duration.ZERO);
                } else {
                    records = consumer.poll(timeout);
                }
            } catch (WakeupException e) {
                untilDue();
            } finally {
                state.set(BUSY);
            }
            unprocessed += records.count();
            return records;
        }

        /** Waits (blocked, not spinning) until the punctuator that takes the work is due. */
        private void untilDue() {
            for (long left = notBeforeMs - System.currentTimeMillis(); left > 0; left = notBeforeMs - System.currentTimeMillis()) {
                LockSupport.parkNanos(Math.min(left, 2) * 1_000_000L);
            }
        }

        /**
         * Kafka Streams creates and restores the tasks of newly assigned partitions after the
         * poll that assigned them returns: that poll returns at once, not after poll.ms.
         */
        private ConsumerRebalanceListener returningOnRebalance(ConsumerRebalanceListener l) {
            return new ConsumerRebalanceListener() {
                @Override
                public void onPartitionsRevoked(Collection<TopicPartition> partitions) {
                    l.onPartitionsRevoked(partitions);
                }

                @Override
                public void onPartitionsAssigned(Collection<TopicPartition> partitions) {
                    l.onPartitionsAssigned(partitions);
                    if (state.compareAndSet(POLLING, WOKEN)) {
                        consumer.wakeup();
                    }
                }

                @Override
                public void onPartitionsLost(Collection<TopicPartition> partitions) {
                    l.onPartitionsLost(partitions);
                }
            };
        }

        @Override
        public Object invoke(Object proxy, Method method, Object[] args) throws Throwable {
            String name = method.getName();
            if (name.equals("poll") && args != null && args.length == 1 && args[0] instanceof Duration d) {
                return poll(d);
            }
            if (name.equals("close")) {
                BY_THREAD.remove(thread, this);
            }
            if (args != null) {
                for (int i = 0; i < args.length; i++) {
                    if (args[i] instanceof ConsumerRebalanceListener l) {
                        args[i] = returningOnRebalance(l);
                    }
                }
            }
            for (int attempt = 0; ; attempt++) {
                try {
                    return method.invoke(consumer, args);
                } catch (InvocationTargetException e) {
                    if (e.getCause() instanceof WakeupException && attempt == 0 && !name.equals("close")) {
                        continue;   // our wake-up, landed after the poll it was meant for
                    }
                    throw e.getCause();
                }
            }
        }
    }
}
