package org.seqstream.runtime;

import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.Deque;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.function.ToIntFunction;

/**
 * Which sequences decode when, for the continuous batches of one decoding thread. Plain state,
 * no Kafka, no ONNX Runtime, no clock of its own (callers pass the time); not thread-safe: its
 * caller serialises every call.
 *
 * <p>The algorithm, in passes:
 * <ol>
 * <li><b>Queue.</b> A new sequence waits at the back ({@link #enqueue}); one that was decoding
 *     before a restart at the front (it resumes). Waiting sequences stay in their owner's store:
 *     beyond {@code maxQueued} waiting, a new one is refused ({@link #full}).</li>
 * <li><b>Load.</b> {@link #toLoad} hands out waiting sequences for the slots that will be free:
 *     {@code maxActive} minus those decoding and those loaded already.</li>
 * <li><b>Admit.</b> {@link #schedule} admits loaded sequences while slots are free, in groups: a
 *     running batch takes newcomers when a {@value #ADMIT_SHARE}th of it is waiting, when the
 *     first has waited {@value #MAX_ADMISSION_WAIT_MS} ms, or at once when the batch is empty (each
 *     join is a prefill call of its own). The batch prefills them in groups of similar prompt
 *     length ({@link #prefillGroups}). With a cache budget, a newcomer joins only while the KV
 *     caches of every batch, each sequence counted at its full length, stay within it
 *     ({@link CacheSize}); the first in line waits for room (order is kept), and a sequence
 *     alone always runs.</li>
 * <li><b>Step.</b> Every batch with sequences steps, unless {@value #MAX_UNDELIVERED} of its
 *     outputs are still unwritten (backpressure: the writer has fallen behind).</li>
 * <li><b>Compact.</b> A batch drops its free slots and packs its key axis when
 *     {@link #compactionDue} says so.</li>
 * </ol>
 *
 * @param <O> who a sequence belongs to (the pipeline: the task whose store holds it)
 */
public final class DecodeScheduler<O> {
    /** The first loaded sequence joins a running batch after this long at the latest. */
    public static final long MAX_ADMISSION_WAIT_MS = 20;
    /** Loaded sequences join a running batch once they are this fraction (1/n) of it. */
    public static final int ADMIT_SHARE = 4;
    /** Prefill groups: the shortest prompt of a group is at least this share of its longest. */
    public static final int PREFILL_SPREAD_PERCENT = 75;
    /** Prefill groups: at most this many positions, every prompt padded to the group's longest (the prefill's buffers hold that many keys and values). */
    public static final int PREFILL_MAX_POSITIONS = 4096;
    /** Free slots are dropped once they are this fraction (1/n) of the batch: each costs a row of every step. */
    public static final int FREE_SLOT_SHARE = 4;
    /** The key axis is packed once it is this many positions longer than its longest row needs (plus the cache's slack), or as its form says. */
    public static final int PACK_AFTER = 16;
    /** Outputs not yet written, beyond which decoding pauses until the writer catches up. */
    public static final long MAX_UNDELIVERED = 100_000;

    /** A sequence waiting in its owner's store. */
    public record Waiting<O>(O owner, String key, long sinceNanos) {
    }

    /** A sequence loaded from its store, ready to join the batch of {@code model}. */
    public record Ready<O>(O owner, String model, DecodeBatch.Sequence sequence, long sinceNanos) {
    }

    /** What to do now: sequences to admit, by model, and whether to step. */
    public record Plan<O>(Map<String, List<Ready<O>>> admit, boolean step) {
    }

    /** The bytes the KV caches of one model's batch may reach holding these sequences (see {@link DecodeBatch#cacheBytes}). */
    @FunctionalInterface
    public interface CacheSize {
        long bytes(String model, List<DecodeBatch.Sequence> sequences);
    }

    private record Active<O>(O owner, String model, DecodeBatch.Sequence sequence) {
    }

    private final int maxActive, maxQueued;
    private final long cacheBudget;
    private final CacheSize cacheSize;
    private final Deque<Waiting<O>> waiting = new ArrayDeque<>();
    private final Deque<Ready<O>> ready = new ArrayDeque<>();
    private final Map<String, Active<O>> active = new LinkedHashMap<>();
    private long heldForCache;

    public DecodeScheduler(int maxActive, int maxQueued) {
        this(maxActive, maxQueued, Long.MAX_VALUE, (model, seqs) -> 0);
    }

    /** At most {@code cacheBudget} bytes of KV cache over every batch, by {@code cacheSize}. */
    public DecodeScheduler(int maxActive, int maxQueued, long cacheBudget, CacheSize cacheSize) {
        if (maxActive < 1 || maxQueued < 0 || cacheBudget < 1) {
            throw new IllegalArgumentException("max active sequences must be >= 1, max queued >= 0 and the cache budget"
                    + " >= 1 byte, got " + maxActive + ", " + maxQueued + " and " + cacheBudget);
        }
        this.maxActive = maxActive;
        this.maxQueued = maxQueued;
        this.cacheBudget = cacheBudget;
        this.cacheSize = cacheSize;
    }

    public void enqueue(O owner, String key, boolean front, long nowNanos) {
        Waiting<O> w = new Waiting<>(owner, key, nowNanos);
        if (front) {
            waiting.addFirst(w);
        } else {
            waiting.addLast(w);
        }
    }

    /** Sequences waiting, in stores or loaded. */
    public int queued() {
        return waiting.size() + ready.size();
    }

    /** Whether a new sequence must be refused: the queue is at its limit. */
    public boolean full() {
        return queued() >= maxQueued;
    }

    public int active() {
        return active.size();
    }

    public boolean isActive(String key) {
        return active.containsKey(key);
    }

    /** The waiting sequences to load now, taken off the queue; hand each back with {@link #loaded}, or drop it. */
    public List<Waiting<O>> toLoad() {
        int room = maxActive - active.size() - ready.size();
        List<Waiting<O>> out = new ArrayList<>();
        while (room-- > 0 && !waiting.isEmpty()) {
            out.add(waiting.pollFirst());
        }
        return out;
    }

    public void loaded(Waiting<O> w, String model, DecodeBatch.Sequence sequence) {
        ready.addLast(new Ready<>(w.owner(), model, sequence, w.sinceNanos()));
    }

    /** Whether {@link #schedule} has anything to do: sequences to step or to admit, and room to write. */
    public boolean hasWork(long undelivered) {
        return undelivered <= MAX_UNDELIVERED && (!active.isEmpty() || !ready.isEmpty());
    }

    /** The next round: which loaded sequences join now (they count as active from here), and whether to step. */
    public Plan<O> schedule(long nowNanos, long undelivered) {
        if (undelivered > MAX_UNDELIVERED) {
            return new Plan<>(Map.of(), false);
        }
        Map<String, List<Ready<O>>> admit = new LinkedHashMap<>();
        int free = maxActive - active.size();
        boolean due = !ready.isEmpty() && (active.isEmpty()
                || ready.size() >= Math.min(free, Math.max(1, active.size() / ADMIT_SHARE))
                || nowNanos - ready.peekFirst().sinceNanos() >= MAX_ADMISSION_WAIT_MS * 1_000_000L);
        while (due && active.size() < maxActive && !ready.isEmpty()) {
            Ready<O> r = ready.peekFirst();
            if (active.containsKey(r.sequence().key())) {
                ready.pollFirst();
                continue;
            }
            if (!active.isEmpty() && !fits(r)) {
                heldForCache++;
                break;
            }
            ready.pollFirst();
            active.put(r.sequence().key(), new Active<>(r.owner(), r.model(), r.sequence()));
            admit.computeIfAbsent(r.model(), m -> new ArrayList<>()).add(r);
        }
        return new Plan<>(admit, !active.isEmpty());
    }

    /** Whether the caches stay within the budget with {@code r} decoding too. */
    private boolean fits(Ready<O> r) {
        if (cacheBudget == Long.MAX_VALUE) {
            return true;
        }
        Map<String, List<DecodeBatch.Sequence>> byModel = new LinkedHashMap<>();
        for (Active<O> a : active.values()) {
            byModel.computeIfAbsent(a.model(), m -> new ArrayList<>()).add(a.sequence());
        }
        byModel.computeIfAbsent(r.model(), m -> new ArrayList<>()).add(r.sequence());
        long total = 0;
        for (Map.Entry<String, List<DecodeBatch.Sequence>> e : byModel.entrySet()) {
            total += cacheSize.bytes(e.getKey(), e.getValue());
        }
        return total <= cacheBudget;
    }

    /** How many times a newcomer waited because the cache budget was full (a counter). */
    public long heldForCache() {
        return heldForCache;
    }

    /** The sequence left its batch (finished or failed). */
    public void finished(String key) {
        active.remove(key);
    }

    /** Forgets one sequence (cancelled), wherever it is; true if it was decoding (drop it from its batch). */
    public boolean cancel(String key) {
        waiting.removeIf(w -> w.key().equals(key));
        ready.removeIf(r -> r.sequence().key().equals(key));
        return active.remove(key) != null;
    }

    /** Forgets everything of {@code owner}; returns its keys that were decoding, to drop from their batches. */
    public List<String> release(O owner) {
        waiting.removeIf(w -> w.owner() == owner);
        ready.removeIf(r -> r.owner() == owner);
        List<String> gone = new ArrayList<>();
        active.entrySet().removeIf(e -> e.getValue().owner() == owner && gone.add(e.getKey()));
        return gone;
    }

    /**
     * Items in groups of similar prompt length, longest first: a prefill pads every prompt of its
     * group to the longest, so prompts of 20 and 98 tokens (decoder-only prompts hold the source)
     * would otherwise cost the short one as much as the long one. A group takes prompts down to
     * {@value #PREFILL_SPREAD_PERCENT}% of its longest, and as many as fit in
     * {@value #PREFILL_MAX_POSITIONS} padded positions (one prompt longer than that is a group
     * alone): the prefill's keys and values of 64 prompts of 256 tokens at GPT-2-small size
     * would take 1.2 GB besides the cache, and a group of 4096 positions keeps the arithmetic
     * as efficient.
     */
    public static <T> List<List<T>> prefillGroups(List<T> items, ToIntFunction<T> promptLength) {
        List<T> sorted = new ArrayList<>(items);
        sorted.sort(Comparator.comparingInt(promptLength).reversed());
        List<List<T>> groups = new ArrayList<>();
        List<T> group = new ArrayList<>();
        int longest = 0;
        for (T item : sorted) {
            int len = promptLength.applyAsInt(item);
            if (!group.isEmpty() && (len * 100 < longest * PREFILL_SPREAD_PERCENT
                    || (long) (group.size() + 1) * longest > PREFILL_MAX_POSITIONS)) {
                groups.add(group);
                group = new ArrayList<>();
            }
            if (group.isEmpty()) {
                longest = len;
            }
            group.add(item);
        }
        if (!group.isEmpty()) {
            groups.add(group);
        }
        return groups;
    }

    /**
     * Whether a batch of {@code slots} rows, {@code live} of them decoding, should drop its free
     * slots and pack its key axis of {@code positions}: once a {@value #FREE_SLOT_SHARE}th of the
     * slots is free, or the axis is longer than {@code packAt} (what its cache's form allows over
     * the longest row, see {@code KvCache.packAt}). Every row holds the whole axis, and packing
     * moves the cache once.
     */
    public static boolean compactionDue(int live, int slots, int positions, int packAt) {
        return live > 0 && ((slots - live) * FREE_SLOT_SHARE >= slots || positions > packAt);
    }
}
