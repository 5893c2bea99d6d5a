package org.seqstream.pipeline.gateway;

import org.seqstream.schemas.SequenceResult;
import org.seqstream.schemas.TokenEvent;

import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.function.Consumer;

/**
 * One subscriber's view of one request: token events in index order without gaps or repeats,
 * then the result, once.
 *
 * <p>Token events and the result are written in one transaction, but they lie on two topics that
 * a reader may fetch apart: a result that comes before its last tokens is held until they have
 * come (the result says how many there are), or at most {@link #HOLD_RESULT_NANOS}. While a
 * resumed subscription replays, live events wait, and join after the replay in index order.
 */
public final class Subscription implements AutoCloseable {
    /** How long a result may wait for token events still missing (events a stop string cut). */
    static final long HOLD_RESULT_NANOS = 500_000_000L;

    private final String id;
    private final Gateway.Listener listener;
    private final Consumer<Subscription> onClose;
    private int next;
    private boolean replaying;
    private final List<TokenEvent> pendingTokens = new ArrayList<>();
    private SequenceResult pendingResult, held;
    private long heldSince;
    private volatile boolean closed;
    private Throwable failure;

    Subscription(String id, int after, Gateway.Listener listener, boolean replaying, Consumer<Subscription> onClose) {
        this.id = id;
        this.next = after + 1;
        this.listener = listener;
        this.replaying = replaying;
        this.onClose = onClose;
    }

    public String id() {
        return id;
    }

    public boolean closed() {
        return closed;
    }

    /** Why publishing the request failed, if it did (the subscription is closed then). */
    public synchronized Throwable failure() {
        return failure;
    }

    synchronized void token(TokenEvent e, boolean replay) {
        if (closed) {
            return;
        }
        if (replaying && !replay) {
            pendingTokens.add(e);
            return;
        }
        if (e.getIndex() < next) {
            return;   // seen already (replayed, then live)
        }
        next = e.getIndex() + 1;
        listener.token(e);
        if (held != null && next >= expectedTokens(held)) {
            deliver(held);
        }
    }

    synchronized void result(SequenceResult r, boolean replay) {
        if (closed) {
            return;
        }
        if (replaying && !replay) {
            pendingResult = r;
            return;
        }
        if (r.getError() == null && next < expectedTokens(r)) {
            held = r;
            heldSince = System.nanoTime();
            return;
        }
        deliver(r);
    }

    /** The replay is over: live events that came meanwhile follow, in order. */
    synchronized void endReplay() {
        replaying = false;
        pendingTokens.sort(Comparator.comparingInt(TokenEvent::getIndex));
        List<TokenEvent> tokens = new ArrayList<>(pendingTokens);
        pendingTokens.clear();
        tokens.forEach(t -> token(t, true));
        if (pendingResult != null && !closed) {
            SequenceResult r = pendingResult;
            pendingResult = null;
            result(r, true);
        }
    }

    synchronized void tick(long nowNanos) {
        if (held != null && nowNanos - heldSince > HOLD_RESULT_NANOS) {
            deliver(held);
        }
    }

    synchronized void failed(Throwable t) {
        if (!closed) {
            failure = t;
            SequenceResult r = SequenceResult.newBuilder().setId(id).setModel("")
                    .setUsage(org.seqstream.schemas.Usage.newBuilder().build())
                    .setError(org.seqstream.schemas.SequenceError.newBuilder().setStage("gateway").setCode("unavailable")
                            .setMessage("the request could not be published or read: " + t.getMessage()).setRetryable(true).build())
                    .build();
            deliver(r);
        }
    }

    private static int expectedTokens(SequenceResult r) {
        return r.getUsage() == null ? 0 : r.getUsage().getGeneratedTokens();
    }

    private void deliver(SequenceResult r) {
        held = null;
        close();
        listener.result(r);
    }

    @Override
    public void close() {
        if (!closed) {
            closed = true;
            onClose.accept(this);
        }
    }
}
