package org.seqstream.pipeline.decoder;

import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.atomic.LongAdder;

/** Counters of the decoder stage, read by the service's metrics endpoint. */
public final class DecoderMetrics {
    public static final DecoderMetrics INSTANCE = new DecoderMetrics();

    private final LongAdder resumed = new LongAdder();
    private final LongAdder finished = new LongAdder();
    private final LongAdder rejected = new LongAdder();
    private final LongAdder failed = new LongAdder();
    private final LongAdder cancelled = new LongAdder();
    private final LongAdder steps = new LongAdder();
    private final LongAdder tokens = new LongAdder();
    private final LongAdder stepNanos = new LongAdder();
    private final LongAdder admitNanos = new LongAdder();
    private final LongAdder admitted = new LongAdder();
    private final AtomicLong active = new AtomicLong();
    private final AtomicLong waiting = new AtomicLong();
    private final AtomicLong lastBatch = new AtomicLong();

    void resumed(int n) { resumed.add(n); }
    void finished() { finished.increment(); }
    void rejected() { rejected.increment(); }
    void failed() { failed.increment(); }
    void cancelled() { cancelled.increment(); }
    void admitted(int n, long nanos) { admitted.add(n); admitNanos.add(nanos); }
    void active(long n) { active.set(n); }
    void waiting(long n) { waiting.set(n); }

    void step(int batchSize, long nanos, int events) {
        steps.increment();
        stepNanos.add(nanos);
        tokens.add(events);
        lastBatch.set(batchSize);
    }

    /** Sequences resumed from the store after a restart or a rebalance. */
    public long resumedSequences() { return resumed.sum(); }
    public long finishedSequences() { return finished.sum(); }
    /** Sequences ended by a cancel on seq.control. */
    public long cancelledSequences() { return cancelled.sum(); }
    /** Sequences refused because the queue was full. */
    public long rejectedSequences() { return rejected.sum(); }
    /** Sequences that failed alone (invalid, unknown model, an exception or non-finite logits in their row), each with an error result. */
    public long failedSequences() { return failed.sum(); }
    public long steps() { return steps.sum(); }
    public long tokens() { return tokens.sum(); }
    public long stepNanos() { return stepNanos.sum(); }
    /** Time spent joining sequences to batches (prefill and KV-cache copies). */
    public long admitNanos() { return admitNanos.sum(); }
    public long admittedSequences() { return admitted.sum(); }
    public long activeSequences() { return active.get(); }
    public long waitingSequences() { return waiting.get(); }
    public long lastBatchSize() { return lastBatch.get(); }
}
