package org.seqstream.pipeline;

import org.apache.kafka.streams.StreamsConfig;
import org.apache.kafka.streams.processor.api.ProcessorContext;

import java.util.Optional;

/**
 * When a stage's stream thread commits, which is when its output becomes visible to
 * read_committed readers: as soon as its work is done, decided by the work rather than by a
 * period, so that nothing waits on the machine's timer.
 *
 * <ul>
 * <li>{@link #recordDone} (tokenizer): after each polled record. Once the records of the thread's
 *     polls are all processed and some produced output, the thread commits, at most once per
 *     commit interval (a commit per record cost throughput under load); otherwise the interval's
 *     commit carries it.</li>
 * <li>{@link #result} (decoder): a result is ready; it commits at once when it is alone, and
 *     under load once the results since the last commit number one per
 *     {@value #RESULTS_PER_COMMIT_SHARE} running sequences; while polled records wait to be
 *     processed, they go first and the commit follows them ({@link #recordDone}, once per
 *     interval). Otherwise a decoder with a backlog spent its stream thread on commits, took in
 *     a record or two between them, and decoded a batch of two or three.</li>
 * </ul>
 *
 * <p>Polls are counted by the thread's {@link StreamWakeups.Waker}. Without one (a test driver,
 * or another client supplier) a request commits at most once per commit interval per thread.
 * {@code commit.interval.ms} stays as the bound for output nothing asks to commit (the decoder's
 * token events between results).
 */
public final class EagerCommit {
    private static final ThreadLocal<long[]> LAST = ThreadLocal.withInitial(() -> new long[] {Long.MIN_VALUE / 2});
    private static final ThreadLocal<long[]> RESULTS = ThreadLocal.withInitial(() -> new long[1]);
    /** See {@link #result}. */
    public static final int RESULTS_PER_COMMIT_SHARE = 16;
    private static final ThreadLocal<boolean[]> OUTPUT = ThreadLocal.withInitial(() -> new boolean[1]);

    private final long gapNanos;
    private final Optional<StreamWakeups.Waker> waker;

    public EagerCommit(ProcessorContext<?, ?> context) {
        Object interval = context.appConfigs().get(StreamsConfig.COMMIT_INTERVAL_MS_CONFIG);
        long ms = interval == null ? 100 : Long.parseLong(interval.toString());
        this.gapNanos = ms * 1_000_000L;
        this.waker = StreamWakeups.ofCurrentThread();
    }

    /** Output waits for the next commit (it is committed with the thread's polled records). */
    public void output() {
        OUTPUT.get()[0] = true;
    }

    /**
     * A polled record has been processed. Once the records polled so far are all done and some
     * produced output, the thread commits, unless it committed so within the commit interval:
     * then the interval's commit carries the output.
     */
    public void recordDone(ProcessorContext<?, ?> context) {
        boolean[] output = OUTPUT.get();
        boolean batchDone = waker.map(StreamWakeups.Waker::processed).orElse(true);
        if (batchDone && output[0]) {
            output[0] = false;
            throttled(context);
        }
    }

    /**
     * A result is ready, with {@code running} sequences still running on this thread: commit once
     * the results since the last commit number one per {@value #RESULTS_PER_COMMIT_SHARE} running
     * sequences (at least one). Alone or nearly, a result commits at once; under load a commit
     * carries several, and its cost (store flush, transaction round trips) stays a small share of
     * the thread's work. The commit interval bounds a result's wait.
     */
    public void result(ProcessorContext<?, ?> context, int running) {
        if (waker.isEmpty()) {
            throttled(context);
            return;
        }
        long[] n = RESULTS.get();
        if (++n[0] >= Math.max(1, running / RESULTS_PER_COMMIT_SHARE)) {
            n[0] = 0;
            if (waker.get().behind()) {
                OUTPUT.get()[0] = true;   // committed once the polled records are done
                return;
            }
            context.commit();
        }
    }

    private void throttled(ProcessorContext<?, ?> context) {
        long[] last = LAST.get();
        long t = System.nanoTime();
        if (t - last[0] >= gapNanos) {
            last[0] = t;
            context.commit();
        }
    }
}
