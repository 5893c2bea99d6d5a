package org.seqstream.runtime;

/**
 * When a sequence stops, checked after each token it picks: the end-of-sequence token (not part
 * of the output), a stop string in its text (the output is cut before it), or its
 * {@code max_new_tokens}.
 */
final class StopCriteria {
    private final long eos;
    /** Null: stop strings are not checked (a batch without a tokenizer). */
    private final TextTokenizer tokenizer;

    StopCriteria(long eos, TextTokenizer tokenizer) {
        this.eos = eos;
        this.tokenizer = tokenizer;
    }

    /** Takes {@code token} into {@code row} unless it ends the sequence; returns why the row finished, or null. */
    FinishReason accept(DecodeRow row, long token) {
        if (token == eos) {
            return FinishReason.EOS;
        }
        row.tokens[row.generated++] = token;
        if (tokenizer != null && !row.sequence.params().stop().isEmpty() && cutAtStop(row)) {
            return FinishReason.STOP_STRING;
        }
        return row.generated >= row.sequence.params().maxNewTokens() ? FinishReason.LENGTH : null;
    }

    /**
     * Whether the row's text now contains a stop string; if so, its tokens are cut to the longest
     * prefix whose text ends before the stop string.
     */
    private boolean cutAtStop(DecodeRow row) {
        String text = tokenizer.decode(row.output());
        int cut = -1;
        for (String stop : row.sequence.params().stop()) {
            int at = text.indexOf(stop);
            if (at >= 0 && (cut < 0 || at < cut)) {
                cut = at;
            }
        }
        if (cut < 0) {
            return false;
        }
        while (row.generated > 0 && tokenizer.decode(row.output()).length() > cut) {
            row.generated--;
        }
        return true;
    }
}
