package org.seqstream.runtime;

import ai.onnxruntime.OrtException;

import java.nio.FloatBuffer;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Collection;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * A continuously batched set of decoding sequences. Sequences join with {@link #admit} (their
 * prompt is prefilled and written into free slots) and leave when they finish; {@link #step}
 * picks every sequence's next token and runs one batched decoder call. The reference
 * {@link Generator} and the pipeline's decoder both decode with it.
 *
 * <p>The parts: a {@link KvCache} per decoder form and a {@link CrossKvCache} for
 * encoder-decoder models hold the batched tensors, one row per slot; a {@link DecoderGraph} runs
 * the graphs; {@link StopCriteria} ends sequences; {@link DecodeScheduler} holds the policy
 * (prefill groups, compaction). A newcomer takes a finished sequence's slot (or one more at the
 * end) and only its row is written.
 *
 * <p>A failure belongs to one sequence wherever it can: an invalid sequence, or one whose row
 * throws or yields non-finite logits, finishes alone with {@link FinishReason#ERROR}. A batched
 * call that fails as a whole is retried row by row (a prefill of each sequence from its tokens,
 * as after a restart), so that only the guilty sequence fails.
 */
public final class DecodeBatch implements AutoCloseable {
    /**
     * A sequence to admit. {@code encoderHidden} ([source, d_model], row-major) is required for
     * encoder-decoder models and ignored otherwise; {@code generated} holds tokens produced before
     * (a resumed sequence continues after them, its KV cache rebuilt by prefill).
     */
    public record Sequence(String key, long[] sourceIds, float[] encoderHidden, long[] generated, SamplingParams params) {
    }

    /** What one step did to one sequence: its new token (none when it ended on EOS) and why it finished, if it did. */
    public record Event(String key, int index, long token, boolean hasToken, FinishReason finish) {
        public boolean finished() {
            return finish != null;
        }
    }

    private final ModelPackage pkg;
    private final DecoderGraph graph;
    private final KvCache cache;
    private final CrossKvCache cross;
    private final StopCriteria stop;
    private final boolean recordLogits;
    /** False for a batch that borrows another's graph (the probe of one failed step). */
    private final boolean ownsGraph;
    private final int vocab;
    private final Slots slots;
    private final Prefill prefill;
    private final List<DecodeRow> finished = new ArrayList<>();

    public DecodeBatch(OnnxModel model, boolean recordLogits) {
        this(model, null, recordLogits);
    }

    /** With {@code tokenizer}, sequences with stop strings stop at them. */
    public DecodeBatch(OnnxModel model, TextTokenizer tokenizer, boolean recordLogits) {
        this(new DecoderGraph(model), tokenizer, recordLogits);
    }

    DecodeBatch(DecoderGraph graph, TextTokenizer tokenizer, boolean recordLogits) {
        this(graph, tokenizer, recordLogits, true);
    }

    private DecodeBatch(DecoderGraph graph, TextTokenizer tokenizer, boolean recordLogits, boolean ownsGraph) {
        this.ownsGraph = ownsGraph;
        this.pkg = graph.pkg();
        this.graph = graph;
        this.cache = KvCache.of(graph);
        this.cross = pkg.isEncoderDecoder() ? new CrossKvCache(graph) : null;
        this.stop = new StopCriteria(pkg.special().eos(), tokenizer);
        this.recordLogits = recordLogits;
        this.vocab = pkg.vocabSize();
        this.slots = new Slots(vocab);
        this.prefill = new Prefill(graph, cache, cross, slots);
    }

    /**
     * The bytes the KV caches of a batch holding {@code seqs} of {@code pkg} may reach: each
     * sequence at its full length (prompt, tokens generated before and the rest of its
     * max_new_tokens, within the model's positions), every row as long as the longest plus the
     * cache's slack, and for an encoder-decoder its cross-attention keys and values per source
     * position (plus {@link CrossKvCache#spare} positions). Rows move within the cache's buffers,
     * so it is held once (twice for the past-and-present form, whose decoder writes a second
     * copy), plus one layer's keys or values
     * again while a growing buffer is copied into its successor (they grow one at a time), plus
     * the prefill's own buffers for a group of these sequences (at most
     * {@link DecodeScheduler#PREFILL_MAX_POSITIONS} positions). What the decoder's scheduler
     * admits against its cache budget.
     */
    public static long cacheBytes(ModelPackage pkg, List<Sequence> seqs) {
        if (seqs.isEmpty()) {
            return 0;
        }
        long longest = 0, prompt = 0, source = 0;
        for (Sequence s : seqs) {
            long p = (long) pkg.promptLength(s.sourceIds().length) + s.generated().length;
            long full = p - s.generated().length + Math.max(s.params().maxNewTokens(), s.generated().length);
            longest = Math.max(longest, Math.min(full, pkg.maxPositions()));
            prompt = Math.max(prompt, p);
            source = Math.max(source, s.sourceIds().length);
        }
        long tensors = 2L * pkg.decoderLayers();
        long perPosition = tensors * pkg.nHeads() * pkg.headDim() * Float.BYTES;
        long copies = DecoderGraph.form(pkg) == DecoderGraph.Form.CONCAT ? 2 : 1;
        long self = seqs.size() * (longest + CapacityKvCache.SLACK) * perPosition;
        long cross = pkg.isEncoderDecoder() ? seqs.size() * (source + CrossKvCache.spare(pkg)) * perPosition : 0;
        long prefill = Math.min(DecodeScheduler.PREFILL_MAX_POSITIONS, seqs.size() * prompt) * perPosition;
        if (pkg.isEncoderDecoder()) {
            prefill += Math.min(DecodeScheduler.PREFILL_MAX_POSITIONS, seqs.size() * source) * perPosition;
        }
        return copies * self + self / tensors + cross + cross / tensors + prefill;
    }

    /** Sequences decoding now. */
    public int size() {
        return slots.liveCount();
    }

    /** Key positions held per row now (the length axis of the KV cache). */
    int keyPositions() {
        return cache.positions();
    }

    /**
     * Prefills {@code seqs} and adds them to the batch, in groups of similar prompt length, into
     * the slots of finished sequences first; their first token comes with the next {@link #step}.
     * An invalid sequence, or one whose prefill fails alone, finishes at once with an error.
     */
    public void admit(List<Sequence> seqs) {
        List<Sequence> valid = new ArrayList<>();
        for (Sequence s : seqs) {
            try {
                SequenceCheck.check(pkg, s);
                valid.add(s);
            } catch (InputException e) {
                failAlone(s, e.code(), e.getMessage());
            }
        }
        reserve(valid);
        for (List<Sequence> group : DecodeScheduler.prefillGroups(valid, this::prefillLength)) {
            admitGroup(group);
        }
    }

    /** A newcomer's prefill length: its prompt and the tokens it generated before. */
    private int promptLength(Sequence s) {
        return pkg.promptLength(s.sourceIds().length) + s.generated().length;
    }

    /** The positions a newcomer can reach: its prompt plus every token it may generate (as {@code DecodeRow.end}). */
    private int reach(Sequence s) {
        return promptLength(s) - s.generated().length + Math.max(s.params().maxNewTokens(), s.generated().length);
    }

    /**
     * What a newcomer's prefill costs, to group similar ones: its prompt (and tokens generated
     * before), and for an encoder-decoder its source too, over which the group's cross-attention
     * keys are computed, padded to its longest.
     */
    private int prefillLength(Sequence s) {
        return promptLength(s) + (pkg.isEncoderDecoder() ? s.sourceIds().length : 0);
    }

    /**
     * Room in the caches for every newcomer at once (free slots first, then new ones), so that
     * its prefill groups are placed without the cache growing, and moving, once per group.
     */
    private void reserve(List<Sequence> newcomers) {
        if (newcomers.isEmpty()) {
            return;
        }
        int free = slots.count() - size();
        int slotCount = slots.count() + Math.max(0, newcomers.size() - free);
        cache.reserve(slotCount, newcomers.stream().mapToInt(this::promptLength).max().orElseThrow(),
                newcomers.stream().mapToInt(this::reach).max().orElseThrow());
        if (cross != null) {
            cross.reserve(slotCount, newcomers.stream().mapToInt(s -> s.sourceIds().length).max().orElseThrow());
        }
    }

    private void admitGroup(List<Sequence> group) {
        try {
            prefill.run(group);
        } catch (OrtException | RuntimeException e) {
            if (group.size() == 1) {
                failAlone(group.get(0), DecodeError.DECODE_FAILED, "prefill failed: " + e);
            } else {
                group.forEach(s -> admitGroup(List.of(s)));   // retried alone: only the guilty one fails
            }
        }
    }

    private void failAlone(Sequence s, String code, String message) {
        DecodeRow row = new DecodeRow(s);
        row.fail(code, message);
        finished.add(row);
    }

    /**
     * Picks every sequence's next token from its pending logits, then runs one batched decoder call
     * for the sequences that go on. Returns one event per sequence that was decoding.
     */
    public List<Event> step() {
        if (DecodeScheduler.compactionDue(size(), slots.count(), cache.positions(),
                cache.packAt(slots.longestLive(), slots.room()))) {
            int[] keep = slots.compact();
            cache.compact(keep, slots.room());
            if (cross != null) {
                cross.compact(keep);
            }
        }
        List<Event> events = new ArrayList<>();
        for (int r = 0; r < slots.count(); r++) {
            DecodeRow row = slots.get(r);
            if (row.live()) {
                pick(row, r * vocab).ifPresent(events::add);
            }
        }
        if (size() == 0) {
            clear();
            return events;
        }
        try {
            decodeStep();
        } catch (OrtException | RuntimeException e) {
            isolate();
        }
        return events;
    }

    /** The row's next token from its pending logits at {@code offset}, through the stop criteria; empty if the row failed. */
    private java.util.Optional<Event> pick(DecodeRow row, int offset) {
        int index = row.generated;
        float[] pending = slots.pending();
        try {
            SamplingParams params = row.sequence.params();
            if (!params.isGreedy()) {
                Sampler.checkFinite(pending, offset, vocab);
            }
            // greedy: the scan for the largest logit checks that each is finite on its way
            int token = params.isGreedy() ? Sampler.argmaxFinite(pending, offset, vocab) : Sampler.next(pending, offset, vocab, params, index);
            if (recordLogits) {
                row.logits.add(Arrays.copyOfRange(pending, offset, offset + vocab));
            }
            row.finish = stop.accept(row, token);
            if (row.finish != null) {
                finished.add(row);
            }
            return java.util.Optional.of(new Event(row.sequence.key(), index, token, row.finish != FinishReason.EOS, row.finish));
        } catch (ArithmeticException e) {
            row.fail(DecodeError.NON_FINITE_LOGITS, "the model produced " + e.getMessage() + " at step " + index);
        } catch (RuntimeException e) {
            row.fail(DecodeError.DECODE_FAILED, "choosing token " + index + " failed: " + e);
        }
        finished.add(row);
        return java.util.Optional.empty();
    }

    /** One decoder call over the last token of every row (free slots compute a pad token, never read) at its next position. */
    private void decodeStep() throws OrtException {
        int n = slots.count();
        cache.beforeStep(slots.longestLive(), slots.room());
        long[] ids = new long[n], positions = new long[n];
        int[] column = new int[n];
        for (int r = 0; r < n; r++) {
            DecodeRow row = slots.get(r);
            ids[r] = row.live() ? row.lastToken() : pkg.special().pad();
            positions[r] = row.live() ? row.position : 0;
            column[r] = row.live() ? row.position : -1;
        }
        try (DecoderGraph.Call call = new DecoderGraph.Call()) {
            cache.bindStep(call, column);
            if (cross != null) {
                cross.bindStep(call);
            }
            slots.stepped(graph.decode(call, ids, positions, n, 1));
        }
        cache.afterStep(column);
        for (int r = 0; r < n; r++) {
            slots.get(r).position += column[r] >= 0 ? 1 : 0;
        }
    }

    /**
     * A batched step failed as a whole: each live sequence's step is run again alone, and those
     * that fail alone finish with an error; the others are admitted again from their tokens (a
     * prefill rebuilds their cache, as after a restart).
     */
    private void isolate() {
        List<DecodeRow> live = slots.live();
        clear();
        for (DecodeRow before : live) {
            String failure = probe(before);
            if (failure != null) {
                before.fail(DecodeError.DECODE_FAILED, "decoding step " + before.generated + " failed: " + failure);
                finished.add(before);
                continue;
            }
            admitGroup(List.of(before.resumable()));
            DecodeRow after = slots.count() == 0 ? null : slots.get(slots.count() - 1);
            if (after != null && after.sequence.key().equals(before.sequence.key())) {
                after.logits.addAll(before.logits);
            }
        }
    }

    /** The failed step of {@code row}, alone: a prefill up to its last token, then a step with it. Returns the failure, or null. */
    private String probe(DecodeRow row) {
        DecodeBatch.Sequence s = row.sequence;
        long[] earlier = Arrays.copyOf(row.tokens, row.generated - 1);
        try (DecodeBatch alone = new DecodeBatch(graph, null, false, false)) {
            alone.prefill.run(List.of(new DecodeBatch.Sequence(s.key(), s.sourceIds(), s.encoderHidden(), earlier, s.params())));
            DecodeRow r = alone.slots.get(0);
            r.tokens[r.generated++] = row.lastToken();
            alone.decodeStep();
            return null;
        } catch (OrtException | RuntimeException e) {
            return e.toString();
        }
    }

    /** Drops the sequences with these keys without finishing them (their owner went away): they produce no event and no generation. */
    public void remove(Collection<String> keys) {
        for (DecodeRow row : slots.live()) {
            row.removed = keys.contains(row.sequence.key());
        }
        finished.removeIf(row -> keys.contains(row.sequence.key()));
        if (size() == 0) {
            clear();
        }
    }

    /** The sequences that finished (or failed) since the last call, by key. */
    public Map<String, Generation> takeFinished(TextTokenizer tokenizer) {
        Map<String, Generation> done = new LinkedHashMap<>();
        for (DecodeRow row : finished) {
            long[] ids = row.output();
            String text = row.error == null ? tokenizer.decode(ids) : "";
            done.put(row.sequence.key(), new Generation(ids, text, row.finish, List.copyOf(row.logits), row.error));
        }
        finished.clear();
        return done;
    }

    /** Empties the batch; the buffers stay for the next sequences. */
    private void clear() {
        slots.clear();
        cache.clear();
        if (cross != null) {
            cross.clear();
        }
    }

    @Override
    public void close() {
        clear();
        finished.clear();
        cache.close();
        prefill.close();
        if (cross != null) {
            cross.close();
        }
        if (ownsGraph) {
            graph.close();
        }
    }
}
