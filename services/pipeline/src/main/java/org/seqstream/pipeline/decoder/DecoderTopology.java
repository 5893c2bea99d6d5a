package org.seqstream.pipeline.decoder;

import org.apache.kafka.common.serialization.Serdes;
import org.apache.kafka.streams.Topology;
import org.apache.kafka.streams.state.Stores;
import org.seqstream.runtime.DirectMemory;
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
    /** Cancels that came before their sequence: id to when, until the sequence comes or {@link #CANCEL_WINDOW} has passed. */
    public static final String CANCELLED_STORE = "decoder-cancelled";
    /** How long a cancel waits for a sequence that has not come (or that had finished already). */
    public static final Duration CANCEL_WINDOW = Duration.ofHours(1);
    static final String SOURCE = "encoded";
    static final String CONTROL_SOURCE = "control";
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
     * @param cacheMb     the KV caches' budget per instance in MiB: a sequence joins a running
     *                    batch only while the caches, every sequence counted at its full length,
     *                    stay within it; 0 (the default): {@value #CACHE_SHARE_PERCENT}% of the
     *                    JVM's direct-memory limit, where the caches live
     */
    public record Config(int maxActive, int maxQueued, Duration stepEvery, Duration stepBudget, boolean decodeThread, int cacheMb) {
        public static final Config DEFAULT = new Config(64, 4096, Duration.ofMillis(1), Duration.ofMillis(10), true, 0);

        public Config {
            if (maxActive < 1 || maxQueued < 0 || cacheMb < 0) {
                throw new IllegalArgumentException("max active sequences must be >= 1, max queued and the cache budget >= 0, got "
                        + maxActive + ", " + maxQueued + " and " + cacheMb);
            }
        }

        public Config withMaxActive(int n) {
            return new Config(n, maxQueued, stepEvery, stepBudget, decodeThread, cacheMb);
        }

        public Config withMaxQueued(int n) {
            return new Config(maxActive, n, stepEvery, stepBudget, decodeThread, cacheMb);
        }

        public Config withStepBudget(Duration budget) {
            return new Config(maxActive, maxQueued, stepEvery, budget, decodeThread, cacheMb);
        }

        public Config withCacheMb(int mb) {
            return new Config(maxActive, maxQueued, stepEvery, stepBudget, decodeThread, mb);
        }

        /** Decoding in the stream thread's punctuations, {@code stepBudget} at a time. */
        public Config inline() {
            return new Config(maxActive, maxQueued, stepEvery, stepBudget, false, cacheMb);
        }

        /** The cache budget in bytes: {@code cacheMb}, or its default share of the direct-memory limit. */
        public long cacheBudgetBytes() {
            return cacheMb > 0 ? cacheMb * 1024L * 1024L : DirectMemory.limit() / 100 * CACHE_SHARE_PERCENT;
        }
    }

    /** The default cache budget's share of the JVM's direct-memory limit (the rest: scratch buffers of the graph calls). */
    public static final int CACHE_SHARE_PERCENT = 80;

    private DecoderTopology() {
    }

    public static Topology build(ModelCatalog models, Config config) {
        Topology t = new Topology();
        // Raw bytes in, so that an unreadable record reaches the DLQ intact.
        t.addSource(SOURCE, Serdes.String().deserializer(), Serdes.ByteArray().deserializer(), Topics.ENCODED.name());
        // One engine per stream thread batches the sequences of all the thread's tasks.
        Map<Thread, DecodeEngine> engines = new ConcurrentHashMap<>();
        // Cancels by request id, co-partitioned with seq.encoded: the task of a sequence reads its cancel.
        t.addSource(CONTROL_SOURCE, Serdes.String().deserializer(), Serdes.ByteArray().deserializer(), Topics.CONTROL.name());
        t.addProcessor(PROCESSOR, () -> new DecodeProcessor(models, config, engines), SOURCE, CONTROL_SOURCE);
        // The request with its encoder output, written once; and the small progress, after every step.
        // Cached: between two commits only the last value of a key reaches RocksDB and the
        // changelog, so a sequence's progress is written once per commit, not once per token,
        // and a sequence that starts and finishes within one commit interval writes nothing.
        t.addStateStore(Stores.keyValueStoreBuilder(Stores.persistentKeyValueStore(SEQUENCES_STORE),
                Serdes.String(), Topics.ENCODED.valueSerde()).withCachingEnabled(), PROCESSOR);
        t.addStateStore(Stores.keyValueStoreBuilder(Stores.persistentKeyValueStore(PROGRESS_STORE),
                Serdes.String(), Serdes.serdeFrom(Topics.PROGRESS, Topics.PROGRESS)).withCachingEnabled(), PROCESSOR);
        t.addStateStore(Stores.keyValueStoreBuilder(Stores.persistentKeyValueStore(CANCELLED_STORE),
                Serdes.String(), Serdes.Long()), PROCESSOR);
        t.addSink(TO_STREAM, Topics.STREAM.name(), Topics.STREAM.keySerde().serializer(),
                Topics.STREAM.valueSerde().serializer(), PROCESSOR);
        t.addSink(TO_RESULTS, Topics.RESULTS.name(), Topics.RESULTS.keySerde().serializer(),
                Topics.RESULTS.valueSerde().serializer(), PROCESSOR);
        t.addSink(TO_DLQ, Topics.DLQ.name(), Serdes.String().serializer(), Serdes.ByteArray().serializer(), PROCESSOR);
        return t;
    }
}
