package org.seqstream.runtime;

import ai.onnxruntime.OrtException;

import java.util.Arrays;

/**
 * The self-attention KV cache of a batch, one row per slot: per layer keys and values
 * [slots, heads, positions, head_dim] in direct buffers it owns, and the key mask
 * [slots, positions] saying which positions each row attends to (a row's positions may sit
 * anywhere on the axis: position ids are explicit). One subclass per decoder form
 * ({@link DecoderGraph#form}).
 *
 * <p>{@code kv} holds the cache. A relayout (placement into wider rows, compaction) moves rows
 * within it, so the cache needs no second copy of itself; only its growth does, for as long as
 * a buffer is copied into its larger successor. {@code target} is where the past-and-present
 * form's decoder writes its present (unused by the other forms).
 */
abstract sealed class KvCache implements AutoCloseable permits CapacityKvCache, SwappingKvCache {
    protected final DecoderGraph graph;
    protected final int heads, headDim;
    protected TensorBuffers kv, target;
    protected long[] mask = new long[0];
    protected int slots, positions;

    KvCache(DecoderGraph graph) {
        this.graph = graph;
        this.heads = graph.pkg().nHeads();
        this.headDim = graph.pkg().headDim();
        kv = new TensorBuffers(graph.pastNames().length);
        target = new TensorBuffers(graph.pastNames().length);
    }

    static KvCache of(DecoderGraph graph) {
        return switch (graph.form()) {
            case RAGGED -> new RaggedKvCache(graph);
            case APPEND -> new AppendingKvCache(graph);
            case CONCAT -> new SwappingKvCache(graph);
        };
    }

    /**
     * Whether the decoder reads every position of the axis (weighing those a row does not attend
     * to by zero, so they must hold finite values: zero times NaN, left by a sequence that failed
     * there, is NaN), rather than each row's own length only.
     */
    boolean readsWholeAxis() {
        return true;
    }

    /** Free positions a fresh layout leaves at the end of every row. */
    abstract int slack();

    /**
     * Before a step whose longest row has {@code longest} positions: make room for its new key.
     * No live row ever needs more than {@code room} positions (the longest prompt plus
     * max_new_tokens among them).
     */
    abstract void beforeStep(int longest, int room);

    /**
     * The axis length beyond which packing the rows is due, when the longest row holds
     * {@code longest} positions and the live rows can reach {@code room}.
     */
    int packAt(int longest, int room) {
        return longest + slack() + DecodeScheduler.PACK_AFTER;
    }

    /**
     * The axis a layout needs for prompts of {@code t} positions whose rows can reach
     * {@code reach} positions (0: not known), or 0 when the present axis will do.
     */
    int widened(int t, int reach) {
        return t <= positions ? 0 : t + slack();
    }

    /** The axis a packed layout takes, when its longest kept row holds {@code longest} positions and the kept rows can reach {@code room}. */
    int packedWidth(int longest, int room) {
        return longest + slack();
    }

    /**
     * Binds the key layout, the past and the key and value outputs of a one-token step over
     * every slot, whose new key goes to position {@code column[r]} of slot r (-1: a free slot).
     */
    abstract void bindStep(DecoderGraph.Call call, int[] column) throws OrtException;

    /** After the step: slot r's new key went to position {@code column[r]} (-1: a free slot, nothing to keep). */
    abstract void afterStep(int[] column);

    /** Key positions per row now (the length axis of the cache). */
    int positions() {
        return positions;
    }

    int slots() {
        return slots;
    }

    /** Where (slot, head, position) starts in one layer's buffer laid out with {@code width} positions per row. */
    protected final int offset(int slot, int head, int position, int width) {
        return ((slot * heads + head) * width + position) * headDim;
    }

    /** The key mask of a step: every row's mask, plus the new position, which every row attends to. */
    final long[] stepMask() {
        int c = positions + 1;
        long[] m = new long[slots * c];
        for (int r = 0; r < slots; r++) {
            System.arraycopy(mask, r * positions, m, r * c, positions);
            m[r * c + positions] = 1;
        }
        return m;
    }

    /**
     * Writes prefilled rows into their slots: row r of {@code prefilled} ([n, heads, t, head_dim])
     * holds {@code lengths[r]} positions and goes to slot {@code slot[r]}, of {@code slotCount}
     * slots in all. Running rows stay where they are unless the axis must grow to {@code t}.
     */
    final void place(TensorBuffers prefilled, int t, int[] slot, int[] lengths, int slotCount) {
        reserve(slotCount, t, 0);
        int width = positions;
        mask = Arrays.copyOf(mask, slotCount * width);
        for (int r = 0; r < slot.length; r++) {
            for (int i = 0; i < kv.count(); i++) {
                for (int h = 0; h < heads; h++) {
                    kv.copy(i, offset(slot[r], h, 0, width), prefilled, offset(r, h, 0, t), lengths[r] * headDim);
                    if (readsWholeAxis()) {
                        kv.zero(i, offset(slot[r], h, lengths[r], width), (width - lengths[r]) * headDim);
                    }
                }
            }
            Arrays.fill(mask, slot[r] * width, slot[r] * width + lengths[r], 1L);
            Arrays.fill(mask, slot[r] * width + lengths[r], (slot[r] + 1) * width, 0L);
        }
        slots = slotCount;
    }

    /**
     * Makes room for {@code slotCount} rows and prompts of {@code t} positions, whose rows can
     * reach {@code reach} positions (0: not known): the axis widens as the form says
     * ({@link #widened}), and the buffers grow to hold every slot, so that the placements that
     * follow (an admission's prefill groups) neither move nor copy the cache again.
     */
    final void reserve(int slotCount, int t, int reach) {
        int wanted = widened(t, reach);
        int width = wanted == 0 ? positions : wanted;
        int rows = Math.max(slotCount, slots) * heads;
        if (width != positions && slots > 0) {
            relayout(width, rows);
        }
        positions = width;
        kv.ensure(rows * width * headDim, slots * heads * width * headDim);
    }

    /**
     * Every row moves to an axis of {@code width} positions (longer), holding the same positions,
     * with room for {@code capacityRows} rows of (slot, head): in place when the buffers hold
     * them, else copied once into larger ones ({@link TensorBuffers#widen}).
     */
    protected final void relayout(int width, int capacityRows) {
        kv.widen(slots * heads, positions * headDim, width * headDim, capacityRows, readsWholeAxis());
        long[] m = new long[slots * width];
        for (int r = 0; r < slots; r++) {
            System.arraycopy(mask, r * positions, m, r * width, positions);
        }
        mask = m;
        positions = width;
    }

    /**
     * Keeps the rows of slots {@code keep} (ascending, as slots 0..), which can reach
     * {@code room} positions, and packs each one's attended positions to the front of an axis as
     * long as the form says ({@link #packedWidth}; never longer than it was): rows that joined later have holes where they attended to
     * nothing, and in a batch that never empties the axis would otherwise grow with every step.
     * In place, from the first row and head to the last: each moves to a start no later than its
     * own, and no later one's positions are overwritten before they have moved.
     */
    final void compact(int[] keep, int room) {
        int[] counts = new int[keep.length];
        int width = 0;
        for (int i = 0; i < keep.length; i++) {
            for (int j = 0; j < positions; j++) {
                counts[i] += (int) mask[keep[i] * positions + j];
            }
            width = Math.max(width, counts[i]);
        }
        width = Math.min(positions, packedWidth(width, room));
        for (int i = 0; i < keep.length; i++) {
            int base = keep[i] * positions;
            for (int h = 0; h < heads; h++) {
                for (int j = 0, to = 0; j < positions; ) {
                    if (mask[base + j] == 0) {
                        j++;
                        continue;
                    }
                    int from = j;
                    while (j < positions && mask[base + j] != 0) {
                        j++;
                    }
                    for (int b = 0; b < kv.count(); b++) {
                        kv.move(b, offset(i, h, to, width), offset(keep[i], h, from, positions), (j - from) * headDim);
                    }
                    to += j - from;
                }
                if (readsWholeAxis()) {
                    for (int b = 0; b < kv.count(); b++) {
                        kv.zero(b, offset(i, h, counts[i], width), (width - counts[i]) * headDim);
                    }
                }
            }
        }
        mask = new long[keep.length * width];
        for (int i = 0; i < keep.length; i++) {
            Arrays.fill(mask, i * width, i * width + counts[i], 1L);
        }
        positions = width;
        slots = keep.length;
    }

    protected final void swap() {
        TensorBuffers t = kv;
        kv = target;
        target = t;
    }

    /** Empties the cache; its buffers stay for the next sequences. */
    final void clear() {
        mask = new long[0];
        slots = 0;
        positions = 0;
    }

    @Override
    public void close() {
        clear();
        kv.close();
        target.close();
    }
}
