package org.seqstream.pipeline.decoder;

import org.seqstream.runtime.DecodeBatch;
import org.seqstream.runtime.ModelCatalog;
import org.seqstream.runtime.Generation;

import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Deque;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.locks.Condition;
import java.util.concurrent.locks.ReentrantLock;

/**
 * The decoding work of one stream thread: one continuous batch per model over the sequences of
 * every task the thread runs, at most {@code maxActive} at once, and the queue of those waiting.
 *
 * <p>Two sides. The stream thread's side ({@link #enqueue}, {@link #refill}, {@link #release},
 * and the tasks' {@link Owner} callbacks) reads the stores: a queued sequence is loaded from its
 * task's store only when a slot is about to be free, so a long queue stays in the stores, not in
 * memory. The decoding side ({@link #runOnce}: admit, step, deliver) runs on a decode thread of
 * its own by default, so that decoding never waits for the stream thread's polls and
 * transaction commits, nor they for a decoding step; with {@code decodeThread} off it runs
 * inside the stream thread's punctuation instead.
 *
 * <p>Whatever a step produces for a task waits in the task's outbox until the task's next
 * punctuation writes it to the stores and topics, within the task's transaction. A crash loses
 * at most deliveries not yet written; the resumed sequence regenerates them identically, because
 * a sampled token depends only on the seed, the step and the tokens before.
 */
final class DecodeEngine {
    /** Something a step produced for a task. */
    sealed interface Delivery permits Admitted, Token, Finished {
    }

    /** The sequence joined the batch. */
    record Admitted(String key) implements Delivery {
    }

    /** A generated token ({@code hasToken} false for the end of sequence, which is not emitted). */
    record Token(String key, String model, int index, long token, boolean hasToken, boolean last) implements Delivery {
    }

    /** The sequence finished. */
    record Finished(String key, String model, Generation generation) implements Delivery {
    }

    /** Where the engine reads a queued sequence from and sends what it produces to: a task. */
    interface Owner {
        /** The sequence {@code key} as stored by the owner, or null if it is gone. Stream thread only. */
        Queued load(String key);

        /** Called from the decoding side: must be thread-safe. */
        void deliver(Delivery d);
    }

    /** A sequence ready to join a batch of {@code model}. */
    record Queued(String model, DecodeBatch.Sequence sequence) {
    }

    private record Waiting(Owner owner, String key, long sinceNanos) {
    }

    private record Ready(Owner owner, Queued queued, long sinceNanos) {
    }

    private record Removal(Owner owner, CompletableFuture<Void> done) {
    }

    /**
     * A running batch takes newcomers in groups: each join is a prefill call of its own. Newcomers
     * join when a quarter of the running batch is waiting, or when the first has waited this long,
     * or at once into an empty batch.
     */
    private static final long MAX_ADMISSION_WAIT_NANOS = 20_000_000L;

    /** Deliveries that tasks have not taken yet, beyond which the engine stops stepping until they do. */
    private static final long MAX_UNDELIVERED = 100_000;

    private static final AtomicInteger THREADS = new AtomicInteger();

    private final ModelCatalog models;
    private final DecoderTopology.Config config;
    private final DecoderMetrics metrics;

    // stream thread only
    private final Deque<Waiting> waiting = new ArrayDeque<>();
    private final Set<Owner> owners = new LinkedHashSet<>();

    // shared, under lock
    private final ReentrantLock lock = new ReentrantLock();
    private final Condition work = lock.newCondition();
    private final Deque<Ready> ready = new ArrayDeque<>();
    private final List<Removal> removals = new ArrayList<>();
    private boolean running = true;

    // decoding side only
    private final Map<String, DecodeBatch> batches = new LinkedHashMap<>();
    private final Map<String, Owner> active = new HashMap<>();
    private final Map<String, String> activeModel = new HashMap<>();

    private final AtomicInteger activeCount = new AtomicInteger();
    private final AtomicLong undelivered = new AtomicLong();
    private volatile Throwable failure;
    private final Thread thread;

    DecodeEngine(ModelCatalog models, DecoderTopology.Config config, DecoderMetrics metrics) {
        this.models = models;
        this.config = config;
        this.metrics = metrics;
        if (config.decodeThread()) {
            thread = new Thread(this::loop, "seq-decode-" + THREADS.incrementAndGet());
            thread.setDaemon(true);
            thread.start();
        } else {
            thread = null;
        }
    }

    void register(Owner owner) {
        owners.add(owner);
    }

    /**
     * The owner's task is closing (shut down or moved away): its sequences leave the batch and the
     * queue. Returns once the decoding side has dropped them, so that nothing more is delivered to
     * the owner and a task that takes the same sequences over can queue them again.
     */
    void release(Owner owner) {
        owners.remove(owner);
        waiting.removeIf(w -> w.owner() == owner);
        Removal removal = new Removal(owner, new CompletableFuture<>());
        lock.lock();
        try {
            ready.removeIf(r -> r.owner() == owner);
            removals.add(removal);
            work.signalAll();
        } finally {
            lock.unlock();
        }
        if (thread == null || !thread.isAlive()) {
            applyRemovals();   // no decode thread (any more): nothing else touches the batches
        } else {
            awaitRemoval(removal);
        }
        if (owners.isEmpty()) {
            shutdown();
        }
        publishGauges();
    }

    private void awaitRemoval(Removal removal) {
        try {
            removal.done().get(60, TimeUnit.SECONDS);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        } catch (Exception e) {
            // the decode thread failed or is stuck; it is shut down with the engine
        }
    }

    /** Stops the decode thread and frees the batches; the engine is not used afterwards. */
    private void shutdown() {
        lock.lock();
        try {
            running = false;
            work.signalAll();
        } finally {
            lock.unlock();
        }
        if (thread != null) {
            try {
                thread.join(60_000);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
        } else {
            closeBatches();
        }
    }

    private void closeBatches() {
        batches.values().forEach(DecodeBatch::close);
        batches.clear();
        active.clear();
        activeModel.clear();
        activeCount.set(0);
    }

    boolean isIdle() {
        return owners.isEmpty();
    }

    /** Sequences waiting for a slot: queued in the stores, and loaded ready to join. */
    int queued() {
        lock.lock();
        try {
            return waiting.size() + ready.size();
        } finally {
            lock.unlock();
        }
    }

    /** Queues a sequence: at the back, or at the front for one that was decoding before (it resumes). */
    void enqueue(Owner owner, String key, boolean front) {
        if (front) {
            waiting.addFirst(new Waiting(owner, key, System.nanoTime()));
        } else {
            waiting.addLast(new Waiting(owner, key, System.nanoTime()));
        }
    }

    /**
     * Stream thread: loads waiting sequences from their stores for the slots that the decoding
     * side can fill now (free slots, at most {@code maxActive} loaded at once).
     */
    void refill() {
        if (waiting.isEmpty()) {
            return;
        }
        lock.lock();
        try {
            int room = config.maxActive() - activeCount.get() - ready.size();
            boolean added = false;
            while (room > 0 && !waiting.isEmpty()) {
                Waiting w = waiting.pollFirst();
                Queued q = w.owner().load(w.key());
                if (q == null) {
                    continue;
                }
                ready.addLast(new Ready(w.owner(), q, w.sinceNanos()));
                room--;
                added = true;
            }
            if (added) {
                work.signalAll();
            }
        } finally {
            lock.unlock();
        }
        publishGauges();
    }

    /** The owner took {@code n} deliveries. */
    void delivered(int n) {
        if (undelivered.addAndGet(-n) < 0) {
            undelivered.set(0);
        }
        if (thread != null && n > 0) {
            lock.lock();
            try {
                work.signalAll();
            } finally {
                lock.unlock();
            }
        }
    }

    /** Sequences decoding now. */
    int active() {
        return activeCount.get();
    }

    /** Why the decode thread stopped, if it failed: the stream thread rethrows it (and is replaced). */
    void checkFailure() {
        Throwable t = failure;
        if (t != null) {
            throw new IllegalStateException("the decode thread failed: " + t.getMessage(), t);
        }
    }

    /** Whether decoding runs in the stream thread's punctuation (no decode thread). */
    boolean inline() {
        return thread == null;
    }

    /**
     * Whether {@code owner} drives the engine from the stream thread: one task of the thread does,
     * so that a round of the stream thread's loop (process records, punctuate every task, commit)
     * refills (and, inline, decodes) once, not once per task; the others only take their deliveries.
     */
    boolean drives(Owner owner) {
        return !owners.isEmpty() && owners.iterator().next() == owner;
    }

    private void loop() {
        try {
            while (true) {
                lock.lock();
                try {
                    while (running && !hasWork()) {
                        work.await(100, TimeUnit.MILLISECONDS);
                    }
                    if (!running) {
                        break;
                    }
                } finally {
                    lock.unlock();
                }
                runOnce();
            }
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        } catch (Throwable t) {
            failure = t;
        } finally {
            applyRemovals();
            closeBatches();
            failAll();
        }
    }

    /** Lets everyone waiting on a removal go on once the decode thread has ended. */
    private void failAll() {
        lock.lock();
        try {
            removals.forEach(r -> r.done().complete(null));
            removals.clear();
        } finally {
            lock.unlock();
        }
    }

    private boolean hasWork() {
        if (!removals.isEmpty()) {
            return true;
        }
        if (undelivered.get() > MAX_UNDELIVERED) {
            return false;
        }
        return activeCount.get() > 0 || !ready.isEmpty();
    }

    /** The decoding side, once: drops released sequences, admits ready ones while slots are free, steps each batch. */
    void runOnce() {
        applyRemovals();
        if (undelivered.get() > MAX_UNDELIVERED) {
            return;
        }
        admit();
        for (var e : batches.entrySet()) {
            String model = e.getKey();
            DecodeBatch batch = e.getValue();
            if (batch.size() == 0) {
                continue;
            }
            long start = System.nanoTime();
            int size = batch.size();
            List<DecodeBatch.Event> events = batch.step();
            metrics.step(size, System.nanoTime() - start, (int) events.stream().filter(DecodeBatch.Event::hasToken).count());
            for (DecodeBatch.Event ev : events) {
                send(ev.key(), new Token(ev.key(), model, ev.index(), ev.token(), ev.hasToken(), ev.finished()));
            }
            batch.takeFinished(models.tokenizer(model)).forEach((key, g) -> {
                send(key, new Finished(key, model, g));
                active.remove(key);
                activeModel.remove(key);
            });
        }
        activeCount.set(active.size());
        metrics.active(active.size());
    }

    private void applyRemovals() {
        List<Removal> todo;
        lock.lock();
        try {
            if (removals.isEmpty()) {
                return;
            }
            todo = new ArrayList<>(removals);
            removals.clear();
        } finally {
            lock.unlock();
        }
        for (Removal r : todo) {
            Map<String, List<String>> gone = new HashMap<>();
            active.entrySet().removeIf(e -> {
                if (e.getValue() != r.owner()) {
                    return false;
                }
                gone.computeIfAbsent(activeModel.remove(e.getKey()), m -> new ArrayList<>()).add(e.getKey());
                return true;
            });
            gone.forEach((model, keys) -> batches.get(model).remove(keys));
            activeCount.set(active.size());
            r.done().complete(null);
        }
    }

    private void send(String key, Delivery d) {
        Owner o = active.get(key);
        if (o != null) {
            undelivered.incrementAndGet();
            o.deliver(d);
        }
    }

    private void admit() {
        Map<String, List<DecodeBatch.Sequence>> byModel = new LinkedHashMap<>();
        lock.lock();
        try {
            if (ready.isEmpty()) {
                return;
            }
            int free = config.maxActive() - active.size();
            boolean due = active.isEmpty() || ready.size() >= Math.min(free, Math.max(1, active.size() / 4))
                    || System.nanoTime() - ready.peekFirst().sinceNanos() >= MAX_ADMISSION_WAIT_NANOS;
            if (!due) {
                return;
            }
            while (active.size() < config.maxActive() && !ready.isEmpty()) {
                Ready r = ready.pollFirst();
                String key = r.queued().sequence().key();
                if (active.containsKey(key)) {
                    continue;
                }
                byModel.computeIfAbsent(r.queued().model(), m -> new ArrayList<>()).add(r.queued().sequence());
                active.put(key, r.owner());
                activeModel.put(key, r.queued().model());
                send(key, new Admitted(key));
            }
        } finally {
            lock.unlock();
        }
        activeCount.set(active.size());
        byModel.forEach((model, seqs) -> {
            long start = System.nanoTime();
            batches.computeIfAbsent(model, m -> new DecodeBatch(models.sessions(m), models.tokenizer(m), false)).admit(seqs);
            metrics.admitted(seqs.size(), System.nanoTime() - start);
        });
    }

    private void publishGauges() {
        metrics.active(activeCount.get());
        metrics.waiting(queued());
    }
}
