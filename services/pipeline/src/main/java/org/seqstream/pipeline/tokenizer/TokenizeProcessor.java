package org.seqstream.pipeline.tokenizer;

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
import org.seqstream.runtime.Generator;
import org.seqstream.runtime.InputException;
import org.seqstream.runtime.ModelCatalog;
import org.seqstream.runtime.ModelPackage;
import org.seqstream.runtime.TextTokenizer;
import org.seqstream.schemas.GenerationParams;
import org.seqstream.schemas.SequenceRequest;
import org.seqstream.schemas.SequenceTokens;
import org.seqstream.schemas.StageTiming;
import org.seqstream.schemas.Topics;

import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Optional;
import java.util.UUID;

/**
 * Reads a request, gives it an id if it has none, drops it if its id was seen, validates and
 * tokenizes it.
 */
final class TokenizeProcessor implements Processor<String, byte[], String, Object> {
    static final String UNKNOWN_MODEL = "unknown_model";
    static final String REQUEST_TOO_LARGE = "request_too_large";

    private final ModelCatalog models;
    private final TokenizerTopology.Config config;
    private final TokenizerMetrics metrics = TokenizerMetrics.INSTANCE;
    private ProcessorContext<String, Object> context;
    private EagerCommit commits;
    private KeyValueStore<String, Long> seen;
    private KeyValueStore<String, byte[]> held;

    TokenizeProcessor(ModelCatalog models, TokenizerTopology.Config config) {
        this.models = models;
        this.config = config;
    }

    @Override
    public void init(ProcessorContext<String, Object> context) {
        this.context = context;
        this.commits = new EagerCommit(context);
        this.seen = context.getStateStore(TokenizerTopology.IDS_STORE);
        this.held = context.getStateStore(TokenizerTopology.HELD_STORE);
        // Forget old ids ten times per window, but no more often than each second nor less than each minute.
        long everyMs = Math.max(1_000, Math.min(60_000, config.dedupWindow().toMillis() / 10));
        context.schedule(Duration.ofMillis(everyMs), PunctuationType.WALL_CLOCK_TIME, this::forgetOldIds);
    }

    /** Drops the ids seen longer ago than the window, and the held requests of ids no longer remembered. */
    private void forgetOldIds(long now) {
        long before = now - config.dedupWindow().toMillis();
        List<String> old = new ArrayList<>();
        try (KeyValueIterator<String, Long> it = seen.all()) {
            while (it.hasNext()) {
                var kv = it.next();
                if (kv.value < before) {
                    old.add(kv.key);
                }
            }
        }
        old.forEach(seen::delete);
        List<String> orphans = new ArrayList<>();
        try (KeyValueIterator<String, byte[]> it = held.all()) {
            while (it.hasNext()) {
                String id = it.next().key;
                if (seen.get(id) == null) {
                    orphans.add(id);
                }
            }
        }
        orphans.forEach(held::delete);
    }

    @Override
    public void process(Record<String, byte[]> record) {
        try {
            tokenize(record);
        } finally {
            // a held request handed over by RetryableResults is part of the result record it read
            if (context.recordMetadata().map(m -> m.topic().equals(Topics.REQUESTS.name())).orElse(true)) {
                commits.recordDone(context);
            }
        }
    }

    private void tokenize(Record<String, byte[]> record) {
        long start = System.nanoTime();
        SequenceRequest req = DeadLetters.readOrForward(record, Topics.REQUESTS.valueSerde().deserializer(),
                Topics.REQUESTS.name(), context, TokenizerTopology.STAGE, TokenizerTopology.TO_DLQ);
        metrics.countRequest();
        if (req == null) {
            metrics.countDeadLetter();
            commits.output();
            return;
        }
        // A request without id takes its record key, else a new UUID; the result reports it.
        boolean hasKey = record.key() != null && !record.key().isEmpty();
        boolean generated = req.getId().isEmpty() && !hasKey;
        String id = !req.getId().isEmpty() ? req.getId() : hasKey ? record.key() : UUID.randomUUID().toString();
        if (!generated) {
            if (!id.equals(record.key())) {
                // Deduplication by id needs every record of an id in one partition.
                metrics.countRekeyed();
                context.forward(new Record<>(id, (Object) record.value(), record.timestamp(), record.headers()),
                        TokenizerTopology.TO_REQUESTS);
                commits.output();
                return;
            }
            if (seen.get(id) != null) {
                // held until this id's result comes: a retryable one answers it, any other drops it
                metrics.countDuplicate();
                held.put(id, record.value());
                return;
            }
            seen.put(id, context.currentSystemTimeMs());
        }
        if (record.value().length > config.maxRequestBytes()) {
            metrics.countTooLarge();
            refuse(record, id, req, REQUEST_TOO_LARGE, "the request is " + record.value().length
                    + " bytes; this service accepts at most " + config.maxRequestBytes() + " (SEQ_MAX_REQUEST_BYTES)", start);
            return;
        }
        Optional<ModelPackage> pkg = models.find(req.getModel());
        if (pkg.isEmpty()) {
            refuse(record, id, req, UNKNOWN_MODEL, "unknown model '" + req.getModel() + "'; this service serves "
                    + models.names(), start);
            return;
        }
        try {
            GenerationParams gp = Params.resolved(req.getParams(), pkg.get());   // forwarded with the model's limit
            long[] ids;
            boolean truncated = false;
            if (req.getTokenIds() != null && !req.getTokenIds().isEmpty()) {
                ids = tokenIds(pkg.get(), req.getTokenIds(), gp.getTruncate());
                truncated = ids.length < req.getTokenIds().size();
            } else {
                TextTokenizer.Encoded enc = models.tokenizer(req.getModel()).encode(req.getText(), gp.getTruncate());
                ids = enc.ids();
                truncated = enc.truncated();
            }
            Generator.checkFits(pkg.get(), ids.length, Params.sampling(gp, pkg.get()));
            SequenceTokens out = SequenceTokens.newBuilder()
                    .setId(id)
                    .setModel(req.getModel())
                    .setTokenIds(Arrays.stream(ids).boxed().toList())
                    .setTruncated(truncated)
                    .setParams(gp)
                    .setMetadata(req.getMetadata())
                    .setTimings(List.of(timing(start)))
                    .setCreatedAtMs(req.getCreatedAtMs() > 0 ? req.getCreatedAtMs() : record.timestamp())
                    .build();
            context.forward(new Record<>(id, (Object) out, record.timestamp(), record.headers()), TokenizerTopology.TO_TOKENS);
            // Downstream reads committed records only: commit once this poll's records are done.
            commits.output();
            metrics.countTokenized(ids.length);
        } catch (InputException e) {
            refuse(record, id, req, e.code(), e.getMessage(), start);
        }
    }

    /** Token ids given directly: each must be a vocabulary id; too many are cut only on request. */
    private static long[] tokenIds(ModelPackage pkg, List<Long> given, boolean truncate) {
        for (int i = 0; i < given.size(); i++) {
            long v = given.get(i);
            if (v < 0 || v >= pkg.vocabSize()) {
                throw new InputException(InputException.UNKNOWN_CHARACTERS, "token id " + v + " at " + i
                        + " is outside the vocabulary of " + pkg.name() + " (0.." + (pkg.vocabSize() - 1) + ")");
            }
        }
        if (given.size() > pkg.maxSourceLength() && !truncate) {
            throw new InputException(InputException.INPUT_TOO_LONG, "input is " + given.size() + " tokens long; "
                    + pkg.name() + " accepts at most " + pkg.maxSourceLength());
        }
        return given.stream().limit(pkg.maxSourceLength()).mapToLong(Long::longValue).toArray();
    }

    private void refuse(Record<String, byte[]> record, String id, SequenceRequest req, String code, String message,
                        long start) {
        metrics.countRefused();
        List<StageTiming> timings = new ArrayList<>(List.of(timing(start)));
        context.forward(new Record<>(id, (Object) Results.error(id, req.getModel(), TokenizerTopology.STAGE, code, message,
                req.getMetadata(), timings, req.getCreatedAtMs()), record.timestamp(), record.headers()),
                TokenizerTopology.TO_RESULTS);
        commits.output();
    }

    private static StageTiming timing(long startNanos) {
        return StageTiming.newBuilder().setStage(TokenizerTopology.STAGE)
                .setMillis((System.nanoTime() - startNanos) / 1e6).build();
    }
}
