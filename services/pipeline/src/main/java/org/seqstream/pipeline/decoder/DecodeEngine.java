package org.seqstream.pipeline.decoder;

import org.seqstream.runtime.DecodeBatch;
import org.seqstream.runtime.Generation;
import org.seqstream.runtime.ModelCatalog;

import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Deque;
import java.util.HashMap;
import java.util.LinkedHashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * The decoding work of one stream thread: one continuous batch per model over the sequences of
 * every task the thread runs, at most {@code maxActive} at once, and one queue of those waiting.
 *
 * <p>Tasks ({@link DecodeProcessor}s) hand sequences in and take their results out. A task's
 * stores and output may only be written while that task runs, so whatever a step produces for a
 * task waits in its {@link Delivery} outbox until the task's next punctuation, a millisecond
 * later. A crash loses at most deliveries not yet written; the resumed sequence regenerates them
 * identically, because a sampled token depends only on the seed, the step and the tokens before.
 *
 * <p>Used from its stream thread only; not thread-safe.
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
        /** The sequence {@code key} as stored by the owner, or null if it is gone. */
        Queued load(String key);

        void deliver(Delivery d);
    }

    /** A sequence ready to join a batch of {@code model}. */
    record Queued(String model, DecodeBatch.Sequence sequence) {
    }

    private record Waiting(Owner owner, String key, long sinceNanos) {
    }

    /**
     * A running batch takes newcomers in groups: joining copies the whole KV cache, so one join
     * per arriving sequence would cost more than the decoding. Newcomers join when a quarter of
     * the running batch is waiting, or when the first has waited this long, or at once into an
     * empty batch.
     */
    private static final long MAX_ADMISSION_WAIT_NANOS = 20_000_000L;

    /** Deliveries that tasks have not taken yet, beyond which the engine stops stepping until they do. */
    private static final long MAX_UNDELIVERED = 100_000;

    private final ModelCatalog models;
    private final DecoderTopology.Config config;
    private final DecoderMetrics metrics;
    private final Map<String, DecodeBatch> batches = new LinkedHashMap<>();
    private final Deque<Waiting> waiting = new ArrayDeque<>();
    private final Map<String, Owner> active = new HashMap<>();
    private final Map<String, String> activeModel = new HashMap<>();
    private final Set<Owner> owners = new LinkedHashSet<>();
    private long undelivered;

    DecodeEngine(ModelCatalog models, DecoderTopology.Config config, DecoderMetrics metrics) {
        this.models = models;
        this.config = config;
        this.metrics = metrics;
    }

    void register(Owner owner) {
        owners.add(owner);
    }

    /** The owner's task is closing (shut down or moved away): its sequences leave the batch and the queue. */
    void release(Owner owner) {
        owners.remove(owner);
        waiting.removeIf(w -> w.owner() == owner);
        Map<String, List<String>> gone = new HashMap<>();
        active.entrySet().removeIf(e -> {
            if (e.getValue() != owner) {
                return false;
            }
            gone.computeIfAbsent(activeModel.remove(e.getKey()), m -> new ArrayList<>()).add(e.getKey());
            return true;
        });
        gone.forEach((model, keys) -> batches.get(model).remove(keys));
        if (owners.isEmpty()) {
            batches.values().forEach(DecodeBatch::close);
            batches.clear();
            undelivered = 0;
        }
        publishGauges();
    }

    boolean isIdle() {
        return owners.isEmpty();
    }

    int queued() {
        return waiting.size();
    }

    /** Queues a sequence: at the back, or at the front for one that was decoding before (it resumes). */
    void enqueue(Owner owner, String key, boolean front) {
        if (front) {
            waiting.addFirst(new Waiting(owner, key, System.nanoTime()));
        } else {
            waiting.addLast(new Waiting(owner, key, System.nanoTime()));
        }
    }

    /** The owner took {@code n} deliveries. */
    void delivered(int n) {
        undelivered = Math.max(0, undelivered - n);
    }

    /** Sequences decoding now. */
    int active() {
        return active.size();
    }

    /**
     * Whether {@code owner} runs the decoding steps: one task of the thread does, so that a
     * round of the stream thread's loop (process records, punctuate every task, commit) spends
     * one step budget, not one per task; the others only take their deliveries.
     */
    boolean drives(Owner owner) {
        return !owners.isEmpty() && owners.iterator().next() == owner;
    }

    /** Admits waiting sequences while slots are free, then runs one decoding step per model. */
    void tick() {
        if (undelivered > MAX_UNDELIVERED) {
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
        publishGauges();
    }

    private void send(String key, Delivery d) {
        Owner o = active.get(key);
        if (o != null) {
            o.deliver(d);
            undelivered++;
        }
    }

    private void admit() {
        if (waiting.isEmpty()) {
            return;
        }
        int free = config.maxActive() - active.size();
        boolean due = active.isEmpty() || waiting.size() >= Math.min(free, Math.max(1, active.size() / 4))
                || System.nanoTime() - waiting.peekFirst().sinceNanos() >= MAX_ADMISSION_WAIT_NANOS;
        if (!due) {
            return;
        }
        Map<String, List<DecodeBatch.Sequence>> byModel = new LinkedHashMap<>();
        while (active.size() < config.maxActive() && !waiting.isEmpty()) {
            Waiting w = waiting.pollFirst();
            Queued q = w.owner().load(w.key());
            if (q == null || active.containsKey(w.key())) {
                continue;
            }
            byModel.computeIfAbsent(q.model(), m -> new ArrayList<>()).add(q.sequence());
            active.put(w.key(), w.owner());
            activeModel.put(w.key(), q.model());
            send(w.key(), new Admitted(w.key()));
        }
        byModel.forEach((model, seqs) -> {
            long start = System.nanoTime();
            batches.computeIfAbsent(model, m -> new DecodeBatch(models.sessions(m), models.tokenizer(m), false)).admit(seqs);
            metrics.admitted(seqs.size(), System.nanoTime() - start);
        });
    }

    private void publishGauges() {
        metrics.active(active.size());
        metrics.waiting(waiting.size());
    }
}
