package org.seqstream.pipeline.tokenizer;

import org.apache.kafka.common.serialization.Serdes;
import org.apache.kafka.streams.Topology;
import org.apache.kafka.streams.state.Stores;
import org.seqstream.runtime.ModelCatalog;
import org.seqstream.schemas.Topics;

import java.time.Duration;

/**
 * The tokenizer stage: seq.requests to seq.tokens. Refusals (unknown model, empty, too long or
 * too large input, unknown characters, invalid parameters) go to seq.results as errors of this
 * stage; bytes that are not a request at all go to seq.dlq with the reason in headers.
 *
 * <p>An id names one request: the first record with an id is answered, and later ones with the
 * same id within the deduplication window are dropped, so that a producer's retry cannot yield a
 * second result; an id whose result was a retryable error ({@code overloaded}) is forgotten, so
 * its retry is answered. The task does not order requests and results by time: a request whose id
 * has no result yet is held (the latest one per id) until the result comes; a retryable result
 * then answers the held request, any other drops it. Deduplication needs the records of one id in one partition (and
 * seq.results as many partitions as seq.requests): a request whose key
 * is not its id is published again keyed by its id (one extra hop; keying requests by id avoids it).
 */
public final class TokenizerTopology {
    public static final String STAGE = "tokenizer";
    public static final String IDS_STORE = "tokenizer-ids";
    /** Requests whose id has no result yet, held until the result decides (raw request bytes). */
    public static final String HELD_STORE = "tokenizer-held";
    static final String SOURCE = "requests";
    static final String PROCESSOR = "tokenize";
    static final String RESULTS_SOURCE = "results";
    static final String FORGET = "forget-retryable";
    static final String TO_TOKENS = "to-tokens";
    static final String TO_RESULTS = "to-results";
    static final String TO_DLQ = "to-dlq";
    static final String TO_REQUESTS = "to-requests";

    /**
     * @param maxRequestBytes a larger request is refused with {@code request_too_large}
     * @param dedupWindow     how long an answered id is remembered; a request with it is dropped
     */
    public record Config(int maxRequestBytes, Duration dedupWindow) {
        public static final int DEFAULT_MAX_REQUEST_BYTES = 64 * 1024;
        public static final Config DEFAULT = new Config(DEFAULT_MAX_REQUEST_BYTES, Duration.ofHours(1));

        public Config {
            if (maxRequestBytes < 1 || dedupWindow.isNegative()) {
                throw new IllegalArgumentException("max request bytes must be >= 1 and the dedup window >= 0");
            }
        }
    }

    private TokenizerTopology() {
    }

    public static Topology build(ModelCatalog models) {
        return build(models, Config.DEFAULT);
    }

    public static Topology build(ModelCatalog models, Config config) {
        Topology t = new Topology();
        // Raw bytes in: a request may be Avro or JSON, and unreadable bytes must reach the DLQ intact.
        t.addSource(SOURCE, Serdes.String().deserializer(), Serdes.ByteArray().deserializer(), Topics.REQUESTS.name());
        // A retryable error downstream (overloaded) makes the tokenizer forget the id, so a retry is
        // answered; a retry that came first was held, and is handed to the tokenizer now.
        t.addSource(RESULTS_SOURCE, Serdes.String().deserializer(), Serdes.ByteArray().deserializer(), Topics.RESULTS.name());
        t.addProcessor(FORGET, RetryableResults::new, RESULTS_SOURCE);
        t.addProcessor(PROCESSOR, () -> new TokenizeProcessor(models, config), SOURCE, FORGET);
        t.addStateStore(Stores.keyValueStoreBuilder(Stores.persistentKeyValueStore(IDS_STORE),
                Serdes.String(), Serdes.Long()), PROCESSOR, FORGET);
        t.addStateStore(Stores.keyValueStoreBuilder(Stores.persistentKeyValueStore(HELD_STORE),
                Serdes.String(), Serdes.ByteArray()), PROCESSOR, FORGET);
        t.addSink(TO_TOKENS, Topics.TOKENS.name(), Topics.TOKENS.keySerde().serializer(),
                Topics.TOKENS.valueSerde().serializer(), PROCESSOR);
        t.addSink(TO_RESULTS, Topics.RESULTS.name(), Topics.RESULTS.keySerde().serializer(),
                Topics.RESULTS.valueSerde().serializer(), PROCESSOR);
        t.addSink(TO_DLQ, Topics.DLQ.name(), Serdes.String().serializer(), Serdes.ByteArray().serializer(), PROCESSOR);
        t.addSink(TO_REQUESTS, Topics.REQUESTS.name(), Serdes.String().serializer(), Serdes.ByteArray().serializer(), PROCESSOR);
        return t;
    }
}
