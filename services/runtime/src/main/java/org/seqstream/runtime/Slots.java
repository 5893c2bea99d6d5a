package org.seqstream.runtime;

import java.nio.FloatBuffer;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;

/**
 * The rows of a batch, one per slot of its batched tensors, and each row's logits for its next
 * token ([slots, vocab]). A slot whose row is not live is free for a newcomer until compaction
 * drops it.
 */
final class Slots {
    private final int vocab;
    private final List<DecodeRow> rows = new ArrayList<>();
    private float[] pending = new float[0];

    Slots(int vocab) {
        this.vocab = vocab;
    }

    int count() {
        return rows.size();
    }

    DecodeRow get(int slot) {
        return rows.get(slot);
    }

    List<DecodeRow> live() {
        return rows.stream().filter(DecodeRow::live).toList();
    }

    int liveCount() {
        return (int) rows.stream().filter(DecodeRow::live).count();
    }

    /** Key positions the longest live row attends to. */
    int longestLive() {
        return rows.stream().filter(DecodeRow::live).mapToInt(r -> r.position).max().orElse(0);
    }

    /** Key positions the live rows can reach at most (the longest prompt plus max_new_tokens among them). */
    int room() {
        return rows.stream().filter(DecodeRow::live).mapToInt(r -> r.end).max().orElse(0);
    }

    /** Slots for {@code n} newcomers: free ones first, then new ones at the end. */
    int[] assign(int n) {
        int[] slot = new int[n];
        for (int r = 0, next = 0, end = rows.size(); r < n; r++) {
            while (next < rows.size() && rows.get(next).live()) {
                next++;
            }
            slot[r] = next < rows.size() ? next++ : end++;
        }
        return slot;
    }

    /** Puts {@code row} into {@code slot} (at most one past the end) with its next token's logits from {@code logits} at {@code at}. */
    void put(int slot, DecodeRow row, FloatBuffer logits, int at) {
        if (slot == rows.size()) {
            rows.add(row);
        } else {
            rows.set(slot, row);
        }
        if (pending.length < rows.size() * vocab) {
            pending = Arrays.copyOf(pending, rows.size() * vocab);
        }
        logits.get(at, pending, slot * vocab, vocab);
    }

    /** The logits [slots, vocab] of a step over every slot. */
    void stepped(FloatBuffer logits) {
        logits.get(0, pending, 0, rows.size() * vocab);
    }

    /** The pending logits; slot r's start at {@code r * vocab}. */
    float[] pending() {
        return pending;
    }

    /** Drops the rows that are not live; returns the slots kept, in order (they are slots 0.. now). */
    int[] compact() {
        int[] keep = new int[rows.size()];
        int n = 0;
        for (int r = 0; r < rows.size(); r++) {
            if (rows.get(r).live()) {
                keep[n++] = r;
            }
        }
        keep = Arrays.copyOf(keep, n);
        float[] kept = new float[n * vocab];
        List<DecodeRow> keptRows = new ArrayList<>();
        for (int i = 0; i < n; i++) {
            System.arraycopy(pending, keep[i] * vocab, kept, i * vocab, vocab);
            keptRows.add(rows.get(keep[i]));
        }
        pending = kept;
        rows.clear();
        rows.addAll(keptRows);
        return keep;
    }

    void clear() {
        rows.clear();
        pending = new float[0];
    }
}
