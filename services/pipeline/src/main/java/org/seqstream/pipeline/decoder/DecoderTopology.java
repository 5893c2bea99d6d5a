package org.seqstream.pipeline.decoder;

import org.apache.kafka.common.serialization.Serdes;
import org.apache.kafka.streams.Topology;
import org.apache.kafka.streams.state.Stores;
import org.seqstream.runtime.ModelCatalog;
import org.seqstream.schemas.Topics;

import java.time.Duration;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;

/**
 * The decoder stage: seq.encoded to seq.stream (one event per token) and seq.results (one
 * record per request). Sequences decode in a continuous batch; their inputs and progress live
 * in changelogged stores, so a restarted instance resumes every unfinished sequence.
 */
public final class DecoderTopology {
    public static final String STAGE = "decoder";
    public static final String SEQUENCES_STORE = "decoder-sequences";
    public static final String PROGRESS_STORE = "decoder-progress";
    static final String SOURCE = "encoded";
    static final String PROCESSOR = "decode";
    static final String TO_STREAM = "to-stream";
    static final String TO_RESULTS = "to-results";
    static final String TO_DLQ = "to-dlq";

    /**
     * @param maxActive   sequences decoding at once per instance (per stream thread, of which a
     *                    decoder runs one), over all its partitions; more wait durably in the store
     * @param maxQueued   sequences waiting per instance; a new one beyond it is refused with an
     *                    {@code overloaded} error result
     * @param stepEvery   how often the scheduler runs (wall clock)
     * @param stepBudget  without a decode thread: how long a punctuation may keep decoding before
     *                    the stream thread polls and commits again
     * @param decodeThread decode on a thread of its own per stream thread (the default), so that
     *                    decoding and the stream thread's polls and commits do not wait for each
     *                    other; off, decoding runs in the stream thread's punctuations (which
     *                    makes a test's steps follow its punctuations exactly)
     */
    public record Config(int maxActive, int maxQueued, Duration stepEvery, Duration stepBudget, boolean decodeThread) {
        public static final Config DEFAULT = new Config(64, 4096, Duration.ofMillis(1), Duration.ofMillis(10), true);

        public Config {
            if (maxActive < 1 || maxQueued < 0) {
                throw new IllegalArgumentException("max active sequences must be >= 1 and max queued >= 0, got "
                        + maxActive + " and " + maxQueued);
            }
        }

        public Config withMaxActive(int n) {
            return new Config(n, maxQueued, stepEvery, stepBudget, decodeThread);
        }

        public Config withMaxQueued(int n) {
            return new Config(maxActive, n, stepEvery, stepBudget, decodeThread);
        }

        public Config withStepBudget(Duration budget) {
            return new Config(maxActive, maxQueued, stepEvery, budget, decodeThread);
        }

        /** Decoding in the stream thread's punctuations, {@code stepBudget} at a time. */
        public Config inline() {
            return new Config(maxActive, maxQueued, stepEvery, stepBudget, false);
        }
    }

    private DecoderTopology() {
    }

    public static Topology build(ModelCatalog models, Config config) {
        Topology t = new Topology();
        // Raw bytes in, so that an unreadable record reaches the DLQ intact.
        t.addSource(SOURCE, Serdes.String().deserializer(), Serdes.ByteArray().deserializer(), Topics.ENCODED.name());
        // One engine per stream thread batches the sequences of all the thread's tasks.
        Map<Thread, DecodeEngine> engines = new ConcurrentHashMap<>();
        t.addProcessor(PROCESSOR, () -> new DecodeProcessor(models, config, engines), SOURCE);
        // The request with its encoder output, written once; and the small progress, after every step.
        // Cached: between two commits only the last value of a key reaches RocksDB and the
        // changelog, so a sequence's progress is written once per commit, not once per token,
        // and a sequence that starts and finishes within one commit interval writes nothing.
        t.addStateStore(Stores.keyValueStoreBuilder(Stores.persistentKeyValueStore(SEQUENCES_STORE),
                Serdes.String(), Topics.ENCODED.valueSerde()).withCachingEnabled(), PROCESSOR);
        t.addStateStore(Stores.keyValueStoreBuilder(Stores.persistentKeyValueStore(PROGRESS_STORE),
                Serdes.String(), Serdes.serdeFrom(Topics.PROGRESS, Topics.PROGRESS)).withCachingEnabled(), PROCESSOR);
        t.addSink(TO_STREAM, Topics.STREAM.name(), Topics.STREAM.keySerde().serializer(),
                Topics.STREAM.valueSerde().serializer(), PROCESSOR);
        t.addSink(TO_RESULTS, Topics.RESULTS.name(), Topics.RESULTS.keySerde().serializer(),
                Topics.RESULTS.valueSerde().serializer(), PROCESSOR);
        t.addSink(TO_DLQ, Topics.DLQ.name(), Serdes.String().serializer(), Serdes.ByteArray().serializer(), PROCESSOR);
        return t;
    }
}
