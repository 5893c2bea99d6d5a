package org.seqstream.pipeline;

import org.apache.kafka.streams.StreamsConfig;
import org.apache.kafka.streams.processor.api.ProcessorContext;

/**
 * Asks Kafka Streams to commit as soon as output is ready, at most once per commit interval per
 * stream thread. Readers see committed records only: under light load a result would otherwise
 * wait up to a whole interval; under load the interval commits anyway, and a commit per record
 * would stall the stream thread (each commit is several round trips to the broker, during which
 * it processes nothing).
 */
public final class EagerCommit {
    private static final ThreadLocal<long[]> LAST = ThreadLocal.withInitial(() -> new long[] {Long.MIN_VALUE / 2});

    private final long gapNanos;

    public EagerCommit(ProcessorContext<?, ?> context) {
        Object interval = context.appConfigs().get(StreamsConfig.COMMIT_INTERVAL_MS_CONFIG);
        long ms = interval == null ? 100 : Long.parseLong(interval.toString());
        this.gapNanos = ms * 1_000_000L;
    }

    /** Requests a commit unless this stream thread requested one within the commit interval. */
    public void request(ProcessorContext<?, ?> context) {
        long[] last = LAST.get();
        long now = System.nanoTime();
        if (now - last[0] >= gapNanos) {
            last[0] = now;
            context.commit();
        }
    }
}
