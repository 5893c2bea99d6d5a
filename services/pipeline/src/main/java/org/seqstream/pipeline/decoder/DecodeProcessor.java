package org.seqstream.pipeline.decoder;

import org.apache.kafka.streams.KeyValue;
import org.apache.kafka.streams.processor.PunctuationType;
import org.apache.kafka.streams.processor.api.Processor;
import org.apache.kafka.streams.processor.api.ProcessorContext;
import org.apache.kafka.streams.processor.api.Record;
import org.apache.kafka.streams.state.KeyValueIterator;
import org.apache.kafka.streams.state.KeyValueStore;
import org.seqstream.pipeline.DeadLetters;
import org.seqstream.pipeline.EagerCommit;
import org.seqstream.pipeline.Params;
import org.seqstream.pipeline.Results;
import org.seqstream.pipeline.Tensors;
import org.seqstream.runtime.DecodeBatch;
import org.seqstream.runtime.DecodeError;
import org.seqstream.runtime.FinishReason;
import org.seqstream.runtime.Generation;
import org.seqstream.runtime.InputException;
import org.seqstream.runtime.SequenceCheck;
import org.seqstream.runtime.ModelCatalog;
import org.seqstream.runtime.ModelPackage;
import org.seqstream.schemas.DecodeProgress;
import org.seqstream.schemas.SequenceControl;
import org.seqstream.schemas.SequenceEncoded;
import org.seqstream.schemas.SequenceResult;
import org.seqstream.schemas.StageTiming;
import org.seqstream.schemas.Tensor;
import org.seqstream.schemas.TokenEvent;
import org.seqstream.schemas.Topics;
import org.seqstream.schemas.Usage;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Queue;
import java.util.Set;
import java.util.concurrent.ConcurrentLinkedQueue;

/**
 * The decoder's processor for one task. A new sequence is stored and queued in the thread's
 * {@link DecodeEngine}, which batches the sequences of all its tasks; a wall-clock punctuator
 * runs the engine and writes what it produced for this task: one event per token, the progress
 * after each token, the result at the end. On start-up every sequence left in the store (restored
 * from the changelog) is queued again with the tokens it already had: it resumes.
 */
final class DecodeProcessor implements Processor<String, byte[], String, Object>, DecodeEngine.Owner {

    private final ModelCatalog models;
    private final DecoderTopology.Config config;
    private final Map<Thread, DecodeEngine> engines;
    private final DecoderMetrics metrics = DecoderMetrics.INSTANCE;
    private final Queue<DecodeEngine.Delivery> outbox = new ConcurrentLinkedQueue<>();
    private final Set<String> handedIn = new HashSet<>();
    private final Map<String, String[]> pieces = new HashMap<>();
    private ProcessorContext<String, Object> context;
    private EagerCommit commits;
    private KeyValueStore<String, SequenceEncoded> sequences;
    private KeyValueStore<String, DecodeProgress> progress;
    private KeyValueStore<String, Long> cancelled;
    private DecodeEngine engine;
    private boolean scanned;

    DecodeProcessor(ModelCatalog models, DecoderTopology.Config config, Map<Thread, DecodeEngine> engines) {
        this.models = models;
        this.config = config;
        this.engines = engines;
    }

    @Override
    public void init(ProcessorContext<String, Object> context) {
        this.context = context;
        this.commits = new EagerCommit(context);
        this.sequences = context.getStateStore(DecoderTopology.SEQUENCES_STORE);
        this.progress = context.getStateStore(DecoderTopology.PROGRESS_STORE);
        this.cancelled = context.getStateStore(DecoderTopology.CANCELLED_STORE);
        this.engine = engines.computeIfAbsent(Thread.currentThread(), t -> new DecodeEngine(models, config, metrics));
        engine.register(this);
        context.schedule(config.stepEvery(), PunctuationType.WALL_CLOCK_TIME, this::punctuate);
        context.schedule(java.time.Duration.ofMinutes(1), PunctuationType.WALL_CLOCK_TIME, this::expireCancels);
    }

    @Override
    public void process(Record<String, byte[]> record) {
        try {
            boolean control = context.recordMetadata().map(m -> Topics.CONTROL.name().equals(m.topic())).orElse(false);
            if (control) {
                control(record);
            } else {
                take(record);
            }
        } finally {
            commits.recordDone(context);
        }
    }

    private void take(Record<String, byte[]> record) {
        SequenceEncoded seq = DeadLetters.readOrForward(record, Topics.ENCODED.valueSerde().deserializer(),
                Topics.ENCODED.name(), context, DecoderTopology.STAGE, DecoderTopology.TO_DLQ);
        if (seq == null) {
            return;
        }
        String id = seq.getId();
        if (sequences.get(id) != null) {
            return;  // already decoding: a redelivered record must not start it twice
        }
        if (seq.getParams().getRandomSeed()) {
            // drawn once and stored with the sequence: a resumed sequence samples with the same seed
            seq.getParams().setSeed(java.util.concurrent.ThreadLocalRandom.current().nextLong());
            seq.getParams().setRandomSeed(false);
        }
        if (cancelled.get(id) != null) {
            // cancelled before it came: it ends here, with no output
            cancelled.delete(id);
            metrics.cancelled();
            writeResult(seq, context.currentSystemTimeMs(),
                    new Generation(new long[0], "", FinishReason.CANCELLED, List.of(), null));
            return;
        }
        try {
            sequence(seq);
        } catch (InputException e) {
            metrics.failed();
            fail(seq, e.code(), e.getMessage());
            return;
        }
        if (engine.full()) {
            metrics.rejected();
            fail(seq, Results.OVERLOADED, "the decoder instance has " + engine.queued() + " sequences waiting, its limit ("
                    + "SEQ_DECODER_MAX_QUEUED=" + config.maxQueued() + "); retry later or add decoder instances");
            return;
        }
        sequences.put(id, seq);
        progress.put(id, DecodeProgress.newBuilder().setId(id).setStartedAtMs(context.currentSystemTimeMs()).build());
        handedIn.add(id);
        engine.enqueue(this, id, false);
        engine.refill();
    }

    /**
     * The record as the runtime decodes it, with {@code generated} tokens before; throws an
     * {@link InputException} naming what its model cannot decode (records can reach seq.encoded
     * without passing the tokenizer).
     */
    private DecodeBatch.Sequence sequence(SequenceEncoded seq, long... generated) {
        ModelPackage pkg = models.find(seq.getModel()).orElseThrow(() -> new InputException(InputException.UNKNOWN_MODEL,
                "unknown model '" + seq.getModel() + "'; this decoder serves " + String.join(", ", models.names())));
        Tensor t = seq.getEncoderHiddenStates();
        if (pkg.isEncoderDecoder() != (t != null)) {
            throw new InputException(InputException.INVALID_SEQUENCE, "encoder output " + (t == null ? "missing" : "unexpected")
                    + " for " + seq.getModel() + (pkg.isEncoderDecoder() ? ", an encoder-decoder model" : ", a decoder-only model"));
        }
        float[] hidden = null;
        if (t != null) {
            SequenceCheck.checkEncoderShape(pkg, t.getShape(), seq.getTokenIds().size());
            try {
                hidden = Tensors.floats(t);
            } catch (IllegalArgumentException e) {
                throw new InputException(InputException.INVALID_SEQUENCE, "encoder output: " + e.getMessage());
            }
        }
        long[] src = seq.getTokenIds().stream().mapToLong(Long::longValue).toArray();
        DecodeBatch.Sequence s = new DecodeBatch.Sequence(seq.getId(), src, hidden, generated, Params.sampling(seq.getParams(), pkg));
        SequenceCheck.check(pkg, s);
        return s;
    }

    /**
     * A record of seq.control. A cancel ends its sequence now: what decoding produced for it until
     * the engine drops it is written first, then its result with {@code finish_reason: cancelled}
     * and the output so far; nothing follows for it. A cancel for a sequence not here is kept for
     * {@link DecoderTopology#CANCEL_WINDOW}, in case the sequence is still on its way.
     */
    private void control(Record<String, byte[]> record) {
        SequenceControl c = DeadLetters.readOrForward(record, Topics.CONTROL.valueSerde().deserializer(),
                Topics.CONTROL.name(), context, DecoderTopology.STAGE, DecoderTopology.TO_DLQ);
        if (c == null || !Topics.CANCEL.equals(c.getAction())) {
            return;
        }
        String id = c.getId();
        if (sequences.get(id) == null) {
            cancelled.put(id, context.currentSystemTimeMs());
            return;
        }
        takeDeliveries();
        engine.drop(id);
        takeDeliveries();
        SequenceEncoded seq = sequences.get(id);
        DecodeProgress p = progress.get(id);
        if (seq == null || p == null) {
            return;   // it finished meanwhile: its result is written
        }
        long[] ids = p.getGeneratedIds().stream().mapToLong(Long::longValue).toArray();
        metrics.cancelled();
        writeResult(seq, p.getStartedAtMs(), new Generation(ids, models.tokenizer(seq.getModel()).decode(ids),
                FinishReason.CANCELLED, List.of(), null));
        forget(id);
        engine.refill();
    }

    /** Forgets cancels older than the window: their sequences never came, or had finished before. */
    private void expireCancels(long now) {
        long before = now - DecoderTopology.CANCEL_WINDOW.toMillis();
        List<String> old = new ArrayList<>();
        try (KeyValueIterator<String, Long> it = cancelled.all()) {
            while (it.hasNext()) {
                KeyValue<String, Long> kv = it.next();
                if (kv.value < before) {
                    old.add(kv.key);
                }
            }
        }
        old.forEach(cancelled::delete);
    }

    /**
     * Takes what the engine produced for this task and writes it. The driving task also hands the
     * engine the waiting sequences it has room for; without a decode thread it decodes here, for
     * up to the step budget, before the stream thread polls and commits again (several steps per
     * punctuation spare a small batch the cost of a poll per token).
     */
    private void punctuate(long timestampMs) {
        engine.taken(timestampMs, config.stepEvery().toMillis());
        if (!scanned) {
            resumeStored();
            scanned = true;
        }
        engine.checkFailure();
        if (engine.drives(this)) {
            engine.refill();
            if (engine.inline()) {
                long deadline = System.nanoTime() + config.stepBudget().toNanos();
                do {
                    engine.runOnce();
                    takeDeliveries();
                    engine.refill();
                } while (engine.active() > 0 && System.nanoTime() < deadline);
                engine.wakeIfBusy();
            }
        }
        takeDeliveries();
    }

    /**
     * Queues every sequence left in the store: those that were decoding go to the front of the
     * queue and resume from their stored tokens; those that were still waiting queue again.
     */
    private void resumeStored() {
        List<String> resumed = new ArrayList<>(), queued = new ArrayList<>();
        try (KeyValueIterator<String, DecodeProgress> it = progress.all()) {
            while (it.hasNext()) {
                KeyValue<String, DecodeProgress> kv = it.next();
                if (!handedIn.contains(kv.key)) {
                    (kv.value.getAdmitted() ? resumed : queued).add(kv.key);
                }
            }
        }
        for (int i = resumed.size() - 1; i >= 0; i--) {
            engine.enqueue(this, resumed.get(i), true);
        }
        queued.forEach(id -> engine.enqueue(this, id, false));
        handedIn.addAll(resumed);
        handedIn.addAll(queued);
        metrics.resumed(resumed.size());
    }

    @Override
    public DecodeEngine.Queued load(String key) {
        SequenceEncoded seq = sequences.get(key);
        DecodeProgress p = progress.get(key);
        if (seq == null || p == null) {
            return null;
        }
        try {
            long[] generated = p.getGeneratedIds().stream().mapToLong(Long::longValue).toArray();
            return new DecodeEngine.Queued(seq.getModel(), sequence(seq, generated));
        } catch (InputException e) {
            // e.g. its model package was removed while it was stored: it ends here, alone
            outbox.add(new DecodeEngine.Finished(key, seq.getModel(), failed(e.code(), e.getMessage()), null));
            return null;
        }
    }

    private static Generation failed(String code, String message) {
        return new Generation(new long[0], "", FinishReason.ERROR, List.of(), new DecodeError(code, message));
    }

    @Override
    public void deliver(DecodeEngine.Delivery d) {
        outbox.add(d);
    }

    /** Writes what the engine produced for this task, in order. */
    private void takeDeliveries() {
        int n = 0;
        for (DecodeEngine.Delivery d = outbox.poll(); d != null; d = outbox.poll(), n++) {
            if (d instanceof DecodeEngine.Token t) {
                token(t, true);
            } else if (d instanceof DecodeEngine.Finished f) {
                if (f.last() != null) {
                    token(f.last(), false);
                }
                finish(f.key(), f.generation());
            } else if (d instanceof DecodeEngine.Admitted a) {
                DecodeProgress p = progress.get(a.key());
                if (p != null && !p.getAdmitted()) {
                    p.setAdmitted(true);
                    progress.put(a.key(), p);
                }
            }
        }
        engine.delivered(n);
    }

    /** Emits a token event, and with {@code record} adds the token to the stored progress (the last one goes with the result instead). */
    private void token(DecodeEngine.Token t, boolean record) {
        DecodeProgress p = progress.get(t.key());
        if (p == null) {
            return;
        }
        context.forward(new Record<>(t.key(), (Object) TokenEvent.newBuilder().setId(t.key())
                .setIndex(t.index()).setTokenId(t.token())
                .setTextDelta(piece(t.model(), t.token())).build(),
                context.currentSystemTimeMs()), DecoderTopology.TO_STREAM);
        if (record) {
            List<Long> ids = new ArrayList<>(p.getGeneratedIds());
            ids.add(t.token());
            p.setGeneratedIds(ids);
            progress.put(t.key(), p);
        }
    }

    /** The text of one token, decoded once per model and token. */
    private String piece(String model, long token) {
        String[] table = pieces.computeIfAbsent(model, m -> new String[models.find(m).orElseThrow().vocabSize()]);
        int i = (int) token;
        if (table[i] == null) {
            table[i] = models.tokenizer(model).decode(new long[] {token});
        }
        return table[i];
    }

    private void finish(String id, Generation g) {
        SequenceEncoded seq = sequences.get(id);
        DecodeProgress p = progress.get(id);
        if (seq == null) {
            return;
        }
        if (g.failed()) {
            metrics.failed();
            fail(seq, g.error().code(), g.error().message());
            forget(id);
            return;
        }
        writeResult(seq, p == null ? context.currentSystemTimeMs() : p.getStartedAtMs(), g);
        forget(id);
        metrics.finished();
    }

    /** Writes the result of a sequence that ended with {@code g}, and asks for a commit. */
    private void writeResult(SequenceEncoded seq, long started, Generation g) {
        String id = seq.getId();
        SequenceResult result = SequenceResult.newBuilder()
                .setId(id)
                .setModel(seq.getModel())
                .setOutputText(g.text())
                .setOutputIds(Arrays.stream(g.ids()).boxed().toList())
                .setFinishReason(g.finishReason())
                .setUsage(Usage.newBuilder().setPromptTokens(seq.getTokenIds().size()).setGeneratedTokens(g.generatedTokens()).build())
                .setTruncated(seq.getTruncated())
                .setSeed(seq.getParams().getTemperature() > 0 ? seq.getParams().getSeed() : null)
                .setMetadata(seq.getMetadata())
                .setTimings(withDecoderTiming(seq.getTimings(), context.currentSystemTimeMs() - started))
                .setCreatedAtMs(seq.getCreatedAtMs() > 0 ? seq.getCreatedAtMs() : started)
                .build();
        context.forward(new Record<>(id, (Object) result, context.currentSystemTimeMs()), DecoderTopology.TO_RESULTS);
        // Readers see committed records only: a finished result asks for a commit now rather than
        // at the next interval (tokens ride along).
        commits.result(context, engine.active());
    }

    private void forget(String id) {
        sequences.delete(id);
        progress.delete(id);
        handedIn.remove(id);
    }

    private static List<StageTiming> withDecoderTiming(List<StageTiming> before, long millis) {
        List<StageTiming> t = new ArrayList<>(before);
        t.add(StageTiming.newBuilder().setStage(DecoderTopology.STAGE).setMillis(millis).build());
        return t;
    }

    private void fail(SequenceEncoded seq, String code, String message) {
        SequenceResult r = Results.error(seq.getId(), seq.getModel(), DecoderTopology.STAGE, code, message, seq.getMetadata(),
                seq.getTimings(), seq.getCreatedAtMs());
        context.forward(new Record<>(seq.getId(), (Object) r, context.currentSystemTimeMs(), Results.headers(r)),
                DecoderTopology.TO_RESULTS);
        commits.result(context, engine.active());
    }

    @Override
    public void close() {
        if (engine != null) {
            engine.release(this);
            engine.delivered(outbox.size());
            if (engine.isIdle()) {
                engines.remove(Thread.currentThread(), engine);
            }
        }
        outbox.clear();
        handedIn.clear();
    }
}
