package org.seqstream.pipeline.decoder;

import org.apache.kafka.streams.KeyValue;
import org.apache.kafka.streams.processor.PunctuationType;
import org.apache.kafka.streams.processor.api.Processor;
import org.apache.kafka.streams.processor.api.ProcessorContext;
import org.apache.kafka.streams.processor.api.Record;
import org.apache.kafka.streams.state.KeyValueIterator;
import org.apache.kafka.streams.state.KeyValueStore;
import org.seqstream.pipeline.DeadLetters;
import org.seqstream.pipeline.Results;
import org.seqstream.pipeline.Tensors;
import org.seqstream.runtime.DecodeBatch;
import org.seqstream.runtime.Generation;
import org.seqstream.runtime.ModelCatalog;
import org.seqstream.runtime.ModelPackage;
import org.seqstream.runtime.SamplingParams;
import org.seqstream.schemas.DecodeProgress;
import org.seqstream.schemas.GenerationParams;
import org.seqstream.schemas.SequenceEncoded;
import org.seqstream.schemas.SequenceResult;
import org.seqstream.schemas.TokenEvent;
import org.seqstream.schemas.Topics;
import org.seqstream.schemas.Usage;

import java.util.ArrayList;
import java.util.HashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;

/**
 * Continuous batching over the sequences of one task. A new sequence is stored and queued; a
 * wall-clock punctuator admits queued sequences while slots are free, runs one decoding step per
 * model, emits each new token, writes the progress back and finishes sequences. On start-up,
 * every sequence left in the store is queued again with the tokens it already had: it resumes.
 */
final class DecodeProcessor implements Processor<String, byte[], String, Object> {
    private final ModelCatalog models;
    private final DecoderTopology.Config config;
    private ProcessorContext<String, Object> context;
    private KeyValueStore<String, SequenceEncoded> sequences;
    private KeyValueStore<String, DecodeProgress> progress;
    private final Set<String> waiting = new LinkedHashSet<>();
    private boolean scanned;
    private final Map<String, DecodeBatch> batches = new HashMap<>();
    private final Map<String, String> activeModel = new HashMap<>();
    private final DecoderMetrics metrics = DecoderMetrics.INSTANCE;

    DecodeProcessor(ModelCatalog models, DecoderTopology.Config config) {
        this.models = models;
        this.config = config;
    }

    @Override
    public void init(ProcessorContext<String, Object> context) {
        this.context = context;
        this.sequences = context.getStateStore(DecoderTopology.SEQUENCES_STORE);
        this.progress = context.getStateStore(DecoderTopology.PROGRESS_STORE);
        context.schedule(config.stepEvery(), PunctuationType.WALL_CLOCK_TIME, now -> step());
    }

    /**
     * Queues every sequence left in the store (restored from the changelog): admitted ones first,
     * they resume from their stored tokens; then those that were still waiting.
     */
    private void resumeStored() {
        List<String> resumed = new ArrayList<>(), queued = new ArrayList<>();
        try (KeyValueIterator<String, DecodeProgress> it = progress.all()) {
            while (it.hasNext()) {
                KeyValue<String, DecodeProgress> kv = it.next();
                if (!waiting.contains(kv.key) && !activeModel.containsKey(kv.key)) {
                    (kv.value.getAdmitted() ? resumed : queued).add(kv.key);
                }
            }
        }
        Set<String> newer = new LinkedHashSet<>(waiting);
        waiting.clear();
        waiting.addAll(resumed);
        waiting.addAll(queued);
        waiting.addAll(newer);
        metrics.resumed(resumed.size());
    }

    @Override
    public void process(Record<String, byte[]> record) {
        SequenceEncoded seq = DeadLetters.readOrForward(record, Topics.ENCODED.valueSerde().deserializer(),
                Topics.ENCODED.name(), context, DecoderTopology.STAGE, DecoderTopology.TO_DLQ);
        if (seq == null) {
            return;
        }
        String id = seq.getId();
        if (sequences.get(id) != null) {
            return;  // already decoding: a redelivered record must not start it twice
        }
        Optional<ModelPackage> pkg = models.find(seq.getModel());
        if (pkg.isEmpty() || pkg.get().isEncoderDecoder() != (seq.getEncoderHiddenStates() != null)) {
            fail(seq, "unknown_model", pkg.isEmpty() ? "unknown model '" + seq.getModel() + "'"
                    : "encoder output " + (seq.getEncoderHiddenStates() == null ? "missing" : "unexpected") + " for " + seq.getModel());
            return;
        }
        sequences.put(id, seq);
        progress.put(id, DecodeProgress.newBuilder().setId(id).setStartedAtMs(context.currentSystemTimeMs()).build());
        waiting.add(id);
    }

    /** One scheduler round: admit while slots are free, then one decoding step per model. */
    private void step() {
        if (!scanned) {
            resumeStored();
            scanned = true;
        }
        admit();
        for (var e : batches.entrySet()) {
            String model = e.getKey();
            DecodeBatch batch = e.getValue();
            if (batch.size() == 0) {
                continue;
            }
            long start = System.nanoTime();
            List<DecodeBatch.Event> events = batch.step();
            metrics.step(batch.size(), System.nanoTime() - start, events.size());
            for (DecodeBatch.Event ev : events) {
                DecodeProgress p = progress.get(ev.key());
                if (ev.hasToken()) {
                    List<Long> ids = new ArrayList<>(p.getGeneratedIds());
                    ids.add(ev.token());
                    p.setGeneratedIds(ids);
                    context.forward(new Record<>(ev.key(), (Object) TokenEvent.newBuilder().setId(ev.key())
                            .setIndex(ev.index()).setTokenId(ev.token())
                            .setTextDelta(models.tokenizer(model).decode(new long[] {ev.token()})).build(),
                            context.currentSystemTimeMs()), DecoderTopology.TO_STREAM);
                }
                if (!ev.finished()) {
                    progress.put(ev.key(), p);
                }
            }
            batch.takeFinished(models.tokenizer(model)).forEach(this::finish);
        }
        metrics.waiting(waiting.size());
    }

    private void admit() {
        Map<String, List<DecodeBatch.Sequence>> byModel = new HashMap<>();
        var it = waiting.iterator();
        while (it.hasNext() && activeModel.size() < config.maxActive()) {
            String id = it.next();
            it.remove();
            SequenceEncoded seq = sequences.get(id);
            DecodeProgress p = progress.get(id);
            if (seq == null || p == null) {
                continue;
            }
            long[] src = seq.getTokenIds().stream().mapToLong(Long::longValue).toArray();
            float[] hidden = seq.getEncoderHiddenStates() == null ? null : Tensors.floats(seq.getEncoderHiddenStates());
            long[] generated = p.getGeneratedIds().stream().mapToLong(Long::longValue).toArray();
            byModel.computeIfAbsent(seq.getModel(), m -> new ArrayList<>())
                    .add(new DecodeBatch.Sequence(id, src, hidden, generated, params(seq.getParams())));
            activeModel.put(id, seq.getModel());
            if (!p.getAdmitted()) {
                p.setAdmitted(true);
                progress.put(id, p);
            }
        }
        byModel.forEach((model, seqs) -> batches
                .computeIfAbsent(model, m -> new DecodeBatch(models.sessions(m), false)).admit(seqs));
        metrics.active(activeModel.size());
    }

    private static SamplingParams params(GenerationParams p) {
        return new SamplingParams(p.getMaxNewTokens(), p.getTemperature(), p.getTopK(), p.getTopP(), p.getSeed());
    }

    private void finish(String id, Generation g) {
        SequenceEncoded seq = sequences.get(id);
        DecodeProgress p = progress.get(id);
        long started = p == null ? context.currentSystemTimeMs() : p.getStartedAtMs();
        SequenceResult result = SequenceResult.newBuilder()
                .setId(id)
                .setModel(seq.getModel())
                .setOutputText(g.text())
                .setOutputIds(java.util.Arrays.stream(g.ids()).boxed().toList())
                .setFinishReason(g.finishReason())
                .setUsage(Usage.newBuilder().setPromptTokens(seq.getTokenIds().size()).setGeneratedTokens(g.generatedTokens()).build())
                .setTruncated(seq.getTruncated())
                .setMetadata(seq.getMetadata())
                .setTimings(appendDecoder(seq, context.currentSystemTimeMs() - started))
                .setCreatedAtMs(seq.getCreatedAtMs())
                .build();
        context.forward(new Record<>(id, (Object) result, context.currentSystemTimeMs()), DecoderTopology.TO_RESULTS);
        sequences.delete(id);
        progress.delete(id);
        activeModel.remove(id);
        metrics.finished();
    }

    private static List<org.seqstream.schemas.StageTiming> appendDecoder(SequenceEncoded seq, long millis) {
        List<org.seqstream.schemas.StageTiming> t = new ArrayList<>(seq.getTimings());
        t.add(org.seqstream.schemas.StageTiming.newBuilder().setStage(DecoderTopology.STAGE).setMillis(millis).build());
        return t;
    }

    private void fail(SequenceEncoded seq, String code, String message) {
        context.forward(new Record<>(seq.getId(), (Object) Results.error(seq.getId(), seq.getModel(), DecoderTopology.STAGE,
                code, message, seq.getMetadata(), seq.getTimings(), seq.getCreatedAtMs()), context.currentSystemTimeMs()),
                DecoderTopology.TO_RESULTS);
    }

    @Override
    public void close() {
        batches.values().forEach(DecodeBatch::close);
        batches.clear();
    }
}
