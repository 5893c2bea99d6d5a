package org.seqstream.loadtest;

import org.HdrHistogram.Histogram;

import java.util.LinkedHashMap;
import java.util.Map;

/** A latency histogram in microseconds (3 significant digits, up to 10 minutes), summarized in ms. */
final class Latencies {
    private final Histogram h = new Histogram(600_000_000L, 3);

    void recordNanos(long nanos) {
        h.recordValue(Math.max(1, Math.min(nanos / 1000, h.getHighestTrackableValue())));
    }

    long count() {
        return h.getTotalCount();
    }

    double percentileMs(double p) {
        return h.getTotalCount() == 0 ? Double.NaN : h.getValueAtPercentile(p) / 1000.0;
    }

    Map<String, Object> summary() {
        Map<String, Object> m = new LinkedHashMap<>();
        m.put("count", h.getTotalCount());
        if (h.getTotalCount() > 0) {
            m.put("mean", round(h.getMean() / 1000.0));
            for (double p : new double[] {50, 90, 99}) {
                m.put("p" + (int) p, round(percentileMs(p)));
            }
            m.put("max", round(h.getMaxValue() / 1000.0));
        }
        return m;
    }

    static double round(double v) {
        return Math.round(v * 10) / 10.0;
    }
}
