package org.seqstream.runtime;

/**
 * A cache whose key axis is a capacity with free positions at the end of every row, into which
 * each step's new keys and values are written (by the runtime or by the kernel): the axis grows,
 * in place, when the longest row reaches its end ({@value #SLACK} positions at a time unless the
 * form says otherwise).
 */
abstract sealed class CapacityKvCache extends KvCache permits RaggedKvCache, AppendingKvCache {
    /** Free positions a resize leaves at the end of the longest row. */
    static final int SLACK = 16;

    CapacityKvCache(DecoderGraph graph) {
        super(graph);
    }

    @Override
    final int slack() {
        return SLACK;
    }

    @Override
    final void beforeStep(int longest, int room) {
        if (longest >= positions) {
            relayout(grown(longest, room), slots * heads);
        }
    }

    /** The axis the cache grows to when its longest row ({@code longest} positions) reaches the end. */
    int grown(int longest, int room) {
        return longest + SLACK;
    }
}
