package org.seqstream.pipeline.tokenizer;

import org.apache.kafka.common.serialization.Serdes;
import org.apache.kafka.streams.Topology;
import org.seqstream.runtime.ModelCatalog;
import org.seqstream.schemas.Topics;

/**
 * The tokenizer stage: seq.requests to seq.tokens. Refusals (unknown model, empty or too long
 * input, unknown characters, invalid parameters) go to seq.results as errors of this stage;
 * bytes that are not a request at all go to seq.dlq with the reason in headers.
 */
public final class TokenizerTopology {
    public static final String STAGE = "tokenizer";
    static final String SOURCE = "requests";
    static final String PROCESSOR = "tokenize";
    static final String TO_TOKENS = "to-tokens";
    static final String TO_RESULTS = "to-results";
    static final String TO_DLQ = "to-dlq";

    private TokenizerTopology() {
    }

    public static Topology build(ModelCatalog models) {
        Topology t = new Topology();
        // Raw bytes in: a request may be Avro or JSON, and unreadable bytes must reach the DLQ intact.
        t.addSource(SOURCE, Serdes.String().deserializer(), Serdes.ByteArray().deserializer(), Topics.REQUESTS.name());
        t.addProcessor(PROCESSOR, () -> new TokenizeProcessor(models), SOURCE);
        t.addSink(TO_TOKENS, Topics.TOKENS.name(), Topics.TOKENS.keySerde().serializer(),
                Topics.TOKENS.valueSerde().serializer(), PROCESSOR);
        t.addSink(TO_RESULTS, Topics.RESULTS.name(), Topics.RESULTS.keySerde().serializer(),
                Topics.RESULTS.valueSerde().serializer(), PROCESSOR);
        t.addSink(TO_DLQ, Topics.DLQ.name(), Serdes.String().serializer(), Serdes.ByteArray().serializer(), PROCESSOR);
        return t;
    }
}
