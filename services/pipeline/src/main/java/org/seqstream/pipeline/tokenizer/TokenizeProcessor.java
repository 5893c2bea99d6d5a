package org.seqstream.pipeline.tokenizer;

import org.apache.kafka.streams.processor.api.Processor;
import org.apache.kafka.streams.processor.api.ProcessorContext;
import org.apache.kafka.streams.processor.api.Record;
import org.seqstream.pipeline.DeadLetters;
import org.seqstream.pipeline.Results;
import org.seqstream.runtime.Generator;
import org.seqstream.runtime.InputException;
import org.seqstream.runtime.ModelCatalog;
import org.seqstream.runtime.ModelPackage;
import org.seqstream.runtime.SamplingParams;
import org.seqstream.runtime.TextTokenizer;
import org.seqstream.schemas.GenerationParams;
import org.seqstream.schemas.SequenceRequest;
import org.seqstream.schemas.SequenceTokens;
import org.seqstream.schemas.StageTiming;
import org.seqstream.schemas.Topics;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Optional;
import java.util.UUID;

/** Reads a request, gives it an id if it has none, validates and tokenizes it. */
final class TokenizeProcessor implements Processor<String, byte[], String, Object> {
    static final String UNKNOWN_MODEL = "unknown_model";

    private final ModelCatalog models;
    private ProcessorContext<String, Object> context;

    TokenizeProcessor(ModelCatalog models) {
        this.models = models;
    }

    @Override
    public void init(ProcessorContext<String, Object> context) {
        this.context = context;
    }

    @Override
    public void process(Record<String, byte[]> record) {
        long start = System.nanoTime();
        SequenceRequest req = DeadLetters.readOrForward(record, Topics.REQUESTS.valueSerde().deserializer(),
                Topics.REQUESTS.name(), context, TokenizerTopology.STAGE, TokenizerTopology.TO_DLQ);
        if (req == null) {
            return;
        }
        // A request without id takes its record key, else a new UUID; the result reports it.
        String id = !req.getId().isEmpty() ? req.getId()
                : record.key() != null && !record.key().isEmpty() ? record.key() : UUID.randomUUID().toString();
        Optional<ModelPackage> pkg = models.find(req.getModel());
        if (pkg.isEmpty()) {
            refuse(record, id, req, UNKNOWN_MODEL, "unknown model '" + req.getModel() + "'; this service serves "
                    + models.names(), start);
            return;
        }
        try {
            GenerationParams gp = req.getParams();
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
            Generator.checkFits(pkg.get(), ids.length, params(gp));
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

    static SamplingParams params(GenerationParams p) {
        return new SamplingParams(p.getMaxNewTokens(), p.getTemperature(), p.getTopK(), p.getTopP(), p.getSeed());
    }

    private void refuse(Record<String, byte[]> record, String id, SequenceRequest req, String code, String message,
                        long start) {
        List<StageTiming> timings = new ArrayList<>(List.of(timing(start)));
        context.forward(new Record<>(id, (Object) Results.error(id, req.getModel(), TokenizerTopology.STAGE, code, message,
                req.getMetadata(), timings, req.getCreatedAtMs()), record.timestamp(), record.headers()),
                TokenizerTopology.TO_RESULTS);
    }

    private static StageTiming timing(long startNanos) {
        return StageTiming.newBuilder().setStage(TokenizerTopology.STAGE)
                .setMillis((System.nanoTime() - startNanos) / 1e6).build();
    }
}
