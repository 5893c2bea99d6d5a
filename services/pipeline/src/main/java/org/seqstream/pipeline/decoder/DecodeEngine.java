package org.seqstream.pipeline.decoder;

import org.seqstream.pipeline.StreamWakeups;
import org.seqstream.runtime.DecodeBatch;
import org.seqstream.runtime.DecodeScheduler;
import org.seqstream.runtime.Generation;
import org.seqstream.runtime.ModelCatalog;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.util.ArrayList;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.locks.Condition;
import java.util.concurrent.locks.ReentrantLock;

/**
 * The decoding work of one stream thread: one continuous batch per model over the sequences of
 * every task the thread runs, scheduled by a {@link DecodeScheduler} (at most {@code maxActive}
 * at once; the rest wait in their tasks' stores).
 *
 * <p>Two sides. The stream thread's side ({@link #enqueue}, {@link #refill}, {@link #release},
 * and the tasks' {@link Owner} callbacks) reads the stores: a queued sequence is loaded from its
 * task's store only when a slot is about to be free. The decoding side ({@link #runOnce}: admit,
 * step, deliver) runs on a decode thread of its own by default, so that decoding never waits for
 * the stream thread's polls and transaction commits, nor they for a decoding step; with
 * {@code decodeThread} off it runs inside the stream thread's punctuation instead. The scheduler
 * is shared under the engine's lock, held only for its short calls.
 *
 * <p>Whatever a step produces for a task waits in the task's outbox until the task's next
 * punctuation writes it to the stores and topics, within the task's transaction. A crash loses
 * at most deliveries not yet written; the resumed sequence regenerates them identically, because
 * a sampled token depends only on the seed, the step and the tokens before. A sequence's last
 * token comes with its end ({@link Finished}), so that both are written in one transaction.
 */
final class DecodeEngine {
    private static final Logger LOG = LoggerFactory.getLogger(DecodeEngine.class);

    /** Something a step produced for a task. */
    sealed interface Delivery permits Admitted, Token, Finished {
    }

    /** The sequence joined the batch. */
    record Admitted(String key) implements Delivery { }

    /** A generated token of a sequence that goes on. */
    record Token(String key, String model, int index, long token) implements Delivery { }

    /** The sequence finished or failed; {@code last} is its last token, if it ended on one. */
    record Finished(String key, String model, Generation generation, Token last) implements Delivery { }

    /** Where the engine reads a queued sequence from and sends what it produces to: a task. */
    interface Owner {
        /** The sequence {@code key} as stored by the owner, or null if it is gone or failed (the owner ends it). Stream thread only. */
        Queued load(String key);

        /** Called from the decoding side: must be thread-safe. */
        void deliver(Delivery d);
    }

    /** A sequence ready to join a batch of {@code model}. */
    record Queued(String model, DecodeBatch.Sequence sequence) { }

    private record Removal(List<String> keys, CompletableFuture<Void> done) { }

    /**
     * How long {@link #release} waits for the decode thread to drop a closing task's sequences:
     * well inside the transaction timeout (10 s under exactly-once), which a stream thread blocked
     * longer would overrun.
     */
    static final long RELEASE_WAIT_MS = 5_000;

    private static final AtomicInteger THREADS = new AtomicInteger();

    private final ModelCatalog models;
    private final DecoderMetrics metrics;

    // stream thread only
    private final Set<Owner> owners = new LinkedHashSet<>();

    // shared, under lock
    private final ReentrantLock lock = new ReentrantLock();
    private final Condition work = lock.newCondition();
    private final DecodeScheduler<Owner> scheduler;
    private final List<Removal> removals = new ArrayList<>();
    private boolean running = true;

    // decoding side only
    private final Map<String, DecodeBatch> batches = new LinkedHashMap<>();
    private final Map<String, Owner> decoding = new HashMap<>();

    private final AtomicInteger activeCount = new AtomicInteger();
    private final AtomicLong undelivered = new AtomicLong();
    private volatile Throwable failure;
    private final Thread thread;
    private final Optional<StreamWakeups.Waker> waker;
    private boolean sent;   // decoding side: deliveries since the last wake-up

    DecodeEngine(ModelCatalog models, DecoderTopology.Config config, DecoderMetrics metrics) {
        this.models = models;
        this.metrics = metrics;
        this.scheduler = new DecodeScheduler<>(config.maxActive(), config.maxQueued(), config.cacheBudgetBytes(),
                (model, seqs) -> models.find(model).map(pkg -> DecodeBatch.cacheBytes(pkg, seqs)).orElse(0L));
        LOG.info("KV cache budget {} MiB{}", config.cacheBudgetBytes() >> 20,
                config.cacheMb() > 0 ? "" : " (" + DecoderTopology.CACHE_SHARE_PERCENT + "% of the direct-memory limit)");
        this.waker = StreamWakeups.ofCurrentThread();
        if (config.decodeThread()) {
            thread = new Thread(this::loop, "seq-decode-" + THREADS.incrementAndGet());
            thread.setDaemon(true);
            thread.start();
        } else {
            thread = null;
        }
    }

    void register(Owner owner) { owners.add(owner); }

    /**
     * The owner's task is closing (shut down or moved away): its sequences leave the batch and the
     * queue. Returns once the decoding side has dropped them (or after {@link #RELEASE_WAIT_MS}),
     * so that nothing more is delivered to the owner and a task that takes the same sequences
     * over can queue them again. They stay in the task's store, where its next owner resumes them.
     */
    void release(Owner owner) {
        owners.remove(owner);
        Removal removal;
        lock.lock();
        try {
            removal = new Removal(scheduler.release(owner), new CompletableFuture<>());
            removals.add(removal);
            work.signalAll();
        } finally {
            lock.unlock();
        }
        awaitRemoval(removal);
        if (owners.isEmpty()) {
            shutdown();
        }
        publishGauges();
    }

    /**
     * Stream thread: the sequence {@code key} leaves the queue or its batch (it was cancelled).
     * Returns once the decoding side has dropped it (or after {@link #RELEASE_WAIT_MS}): nothing
     * is produced for it afterwards, beyond the deliveries made before.
     */
    void drop(String key) {
        Removal removal;
        lock.lock();
        try {
            removal = new Removal(scheduler.cancel(key) ? List.of(key) : List.of(), new CompletableFuture<>());
            removals.add(removal);
            work.signalAll();
        } finally {
            lock.unlock();
        }
        awaitRemoval(removal);
        publishGauges();
    }

    private void awaitRemoval(Removal removal) {
        if (thread == null || !thread.isAlive()) {
            applyRemovals();   // no decode thread (any more): nothing else touches the batches
            return;
        }
        try {
            removal.done().get(RELEASE_WAIT_MS, TimeUnit.MILLISECONDS);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        } catch (Exception e) {
            LOG.warn("the decode thread did not drop {} sequences within {} ms", removal.keys().size(), RELEASE_WAIT_MS);
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
                thread.join(RELEASE_WAIT_MS);
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
        decoding.clear();
        activeCount.set(0);
    }

    boolean isIdle() { return owners.isEmpty(); }

    /** Sequences waiting for a slot: queued in the stores, and loaded ready to join. */
    int queued() { return locked(scheduler::queued); }

    /** Whether a new sequence must be refused: the queue is at its limit. */
    boolean full() { return locked(scheduler::full); }

    /** Queues a sequence: at the back, or at the front for one that was decoding before (it resumes). */
    void enqueue(Owner owner, String key, boolean front) {
        locked(() -> {
            scheduler.enqueue(owner, key, front, System.nanoTime());
            return null;
        });
    }

    /**
     * Stream thread: loads waiting sequences from their stores for the slots that the decoding
     * side can fill now. The stores are read outside the lock, which the decode thread takes at
     * every step.
     */
    void refill() {
        List<DecodeScheduler.Waiting<Owner>> toLoad = locked(scheduler::toLoad);
        if (toLoad.isEmpty()) {
            return;
        }
        List<Queued> loaded = new ArrayList<>();
        for (DecodeScheduler.Waiting<Owner> w : toLoad) {
            loaded.add(w.owner().load(w.key()));
        }
        lock.lock();
        try {
            for (int i = 0; i < toLoad.size(); i++) {
                if (loaded.get(i) != null) {
                    scheduler.loaded(toLoad.get(i), loaded.get(i).model(), loaded.get(i).sequence());
                }
            }
            work.signalAll();
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

    int active() { return activeCount.get(); }

    /** Why the decode thread stopped, if it failed: the stream thread rethrows it (and is replaced). */
    void checkFailure() {
        Throwable t = failure;
        if (t != null) {
            throw new IllegalStateException("the decode thread failed: " + t.getMessage(), t);
        }
    }

    /** Decoding runs in the stream thread's punctuation (no decode thread). */
    boolean inline() {
        return thread == null;
    }

    /**
     * Whether {@code owner} drives the engine from the stream thread: one task of the thread does,
     * so that a round of the stream thread's loop refills (and, inline, decodes) once, not once per
     * task; the others only take their deliveries.
     */
    boolean drives(Owner owner) {
        return !owners.isEmpty() && owners.iterator().next() == owner;
    }

    private void loop() {
        try {
            while (true) {
                lock.lock();
                try {
                    while (running && removals.isEmpty() && !scheduler.hasWork(undelivered.get())) {
                        work.await();
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
            lock.lock();
            try {
                removals.forEach(r -> r.done().complete(null));
                removals.clear();
            } finally {
                lock.unlock();
            }
        }
    }

    /** The decoding side, once: drops released sequences, admits what the scheduler plans, steps each batch. */
    void runOnce() {
        applyRemovals();
        DecodeScheduler.Plan<Owner> plan = locked(() -> scheduler.schedule(System.nanoTime(), undelivered.get()));
        plan.admit().forEach(this::admit);
        if (plan.step()) {
            batches.forEach(this::step);
        }
        activeCount.set(decoding.size());
        metrics.active(decoding.size());
        if (sent && thread != null) {
            // the stream thread writes the deliveries: out of its poll now, not when the poll times out
            sent = false;
            waker.ifPresent(StreamWakeups.Waker::wake);
        }
    }

    /** Inline decoding with sequences left: the stream thread's next poll must not wait for records. */
    void wakeIfBusy() {
        if (thread == null && activeCount.get() > 0) {
            waker.ifPresent(StreamWakeups.Waker::wake);
        }
    }

    /**
     * Stream thread: a punctuation at {@code timestampMs} is taking the deliveries; later ones
     * wake the thread again (without a waker it finds them only when its poll times out).
     */
    void taken(long timestampMs, long periodMs) {
        waker.ifPresent(w -> w.taken(timestampMs, periodMs));
    }

    private void admit(String model, List<DecodeScheduler.Ready<Owner>> ready) {
        List<DecodeBatch.Sequence> seqs = new ArrayList<>();
        for (DecodeScheduler.Ready<Owner> r : ready) {
            String key = r.sequence().key();
            decoding.put(key, r.owner());
            seqs.add(r.sequence());
            send(key, new Admitted(key));
        }
        activeCount.set(decoding.size());
        long start = System.nanoTime();
        DecodeBatch batch = batches.computeIfAbsent(model, m -> new DecodeBatch(models.sessions(m), models.tokenizer(m), false));
        batch.admit(seqs);
        metrics.admitted(seqs.size(), System.nanoTime() - start);
        deliverFinished(model, batch, Map.of());   // sequences that failed to join
    }

    private void step(String model, DecodeBatch batch) {
        if (batch.size() == 0) {
            return;
        }
        long start = System.nanoTime();
        int size = batch.size();
        List<DecodeBatch.Event> events = batch.step();
        metrics.step(size, System.nanoTime() - start, (int) events.stream().filter(DecodeBatch.Event::hasToken).count());
        Map<String, Token> last = new HashMap<>();
        for (DecodeBatch.Event ev : events) {
            Token t = new Token(ev.key(), model, ev.index(), ev.token());
            if (!ev.finished()) {
                send(ev.key(), t);
            } else if (ev.hasToken()) {
                last.put(ev.key(), t);
            }
        }
        deliverFinished(model, batch, last);
    }

    private void deliverFinished(String model, DecodeBatch batch, Map<String, Token> last) {
        Map<String, Generation> done = batch.takeFinished(models.tokenizer(model));
        if (done.isEmpty()) {
            return;
        }
        done.forEach((key, g) -> {
            send(key, new Finished(key, model, g, last.get(key)));
            decoding.remove(key);
        });
        locked(() -> {
            done.keySet().forEach(scheduler::finished);
            return null;
        });
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
            r.keys().forEach(decoding::remove);
            batches.values().forEach(b -> b.remove(r.keys()));
            activeCount.set(decoding.size());
            r.done().complete(null);
        }
    }

    private void send(String key, Delivery d) {
        Owner o = decoding.get(key);
        if (o != null) {
            undelivered.incrementAndGet();
            sent = true;
            o.deliver(d);
        }
    }

    private <T> T locked(java.util.function.Supplier<T> f) {
        lock.lock();
        try {
            return f.get();
        } finally {
            lock.unlock();
        }
    }

    private void publishGauges() {
        metrics.active(activeCount.get());
        metrics.waiting(queued());
    }
}
