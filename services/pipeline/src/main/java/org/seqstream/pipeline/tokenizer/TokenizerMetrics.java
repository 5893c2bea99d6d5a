package org.seqstream.pipeline.tokenizer;

import java.util.concurrent.atomic.LongAdder;

/** Counters of the tokenizer stage, read by the service's metrics endpoint. */
public final class TokenizerMetrics {
    public static final TokenizerMetrics INSTANCE = new TokenizerMetrics();

    private final LongAdder requests = new LongAdder();
    private final LongAdder tokenized = new LongAdder();
    private final LongAdder refused = new LongAdder();
    private final LongAdder tooLarge = new LongAdder();
    private final LongAdder duplicates = new LongAdder();
    private final LongAdder rekeyed = new LongAdder();
    private final LongAdder deadLetters = new LongAdder();
    private final LongAdder tokens = new LongAdder();

    void countRequest() { requests.increment(); }
    void countTokenized(int n) { tokenized.increment(); tokens.add(n); }
    void countRefused() { refused.increment(); }
    void countTooLarge() { tooLarge.increment(); }
    void countDuplicate() { duplicates.increment(); }
    void countRekeyed() { rekeyed.increment(); }
    void countDeadLetter() { deadLetters.increment(); }

    /** Records read from seq.requests. */
    public long requests() { return requests.sum(); }
    /** Requests passed on to the next stage. */
    public long tokenized() { return tokenized.sum(); }
    /** Requests answered with an error result (over the size limit included). */
    public long refused() { return refused.sum(); }
    /** Requests refused for their size. */
    public long tooLarge() { return tooLarge.sum(); }
    /** Requests dropped because their id was answered, or is being answered, already. */
    public long duplicates() { return duplicates.sum(); }
    /** Requests published again under their id as key. */
    public long rekeyed() { return rekeyed.sum(); }
    /** Records that were no request at all, sent to seq.dlq. */
    public long deadLetters() { return deadLetters.sum(); }
    /** Source tokens of the requests passed on. */
    public long tokens() { return tokens.sum(); }
}
