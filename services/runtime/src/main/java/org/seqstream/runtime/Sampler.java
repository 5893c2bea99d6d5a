package org.seqstream.runtime;

import java.util.Arrays;

/**
 * Picks the next token from one row of logits. Greedy when the temperature is 0; otherwise
 * temperature, then top-k, then top-p (nucleus), then one draw. The draw comes from a
 * counter-based generator keyed by (seed, step), so a sequence yields the same tokens whatever
 * batch it runs in and whenever it is resumed: no random state is carried between steps.
 */
public final class Sampler {
    private Sampler() {
    }

    /** Token id chosen from {@code logits[offset .. offset+vocab)} at generation step {@code step}. */
    public static int next(float[] logits, int offset, int vocab, SamplingParams p, int step) {
        if (p.isGreedy()) {
            return argmax(logits, offset, vocab);
        }
        Integer[] order = new Integer[vocab];
        for (int i = 0; i < vocab; i++) {
            order[i] = i;
        }
        // Descending by logit, ties by id, so the order is fully determined.
        Arrays.sort(order, (a, b) -> {
            int c = Float.compare(logits[offset + b], logits[offset + a]);
            return c != 0 ? c : Integer.compare(a, b);
        });
        int keep = p.topK() > 0 ? Math.min(p.topK(), vocab) : vocab;
        // (logit - max) / T, not logit / T - max / T: with a tiny T both quotients overflow to
        // infinity and their difference is NaN; the difference first is <= 0, and exp of it is finite
        double max = logits[offset + order[0]];
        double[] prob = new double[keep];
        double sum = 0;
        for (int i = 0; i < keep; i++) {
            prob[i] = Math.exp((logits[offset + order[i]] - max) / p.temperature());
            sum += prob[i];
        }
        if (p.topP() < 1.0) {
            double cum = 0;
            int n = 0;
            while (n < keep) {
                cum += prob[n] / sum;
                n++;
                if (cum >= p.topP()) {
                    break;
                }
            }
            keep = n;
            sum = 0;
            for (int i = 0; i < keep; i++) {
                sum += prob[i];
            }
        }
        double u = uniform(p.seed(), step) * sum;
        for (int i = 0; i < keep; i++) {
            u -= prob[i];
            if (u < 0) {
                return order[i];
            }
        }
        return order[keep - 1];
    }

    /** Throws {@link ArithmeticException} naming the first logit of {@code logits[offset .. offset+vocab)} that is not finite. */
    public static void checkFinite(float[] logits, int offset, int vocab) {
        for (int i = 0; i < vocab; i++) {
            if (!Float.isFinite(logits[offset + i])) {
                throw nonFinite(logits[offset + i], i);
            }
        }
    }

    /**
     * {@link #argmax}, checking in the same pass that every logit is finite (one read of the
     * row instead of two: at batch 64 and a vocabulary of 32,000 a step's rows are 8 MB). Throws
     * {@link ArithmeticException} naming the first that is not.
     */
    public static int argmaxFinite(float[] logits, int offset, int vocab) {
        int best = 0;
        float top = logits[offset];
        for (int i = 0; i < vocab; i++) {
            float v = logits[offset + i];
            if (!(Math.abs(v) <= Float.MAX_VALUE)) {
                throw nonFinite(v, i);
            }
            if (v > top) {
                top = v;
                best = i;
            }
        }
        return best;
    }

    private static ArithmeticException nonFinite(float v, int token) {
        return new ArithmeticException("non-finite logit " + v + " for token " + token);
    }

    public static int argmax(float[] logits, int offset, int vocab) {
        int best = 0;
        for (int i = 1; i < vocab; i++) {
            if (logits[offset + i] > logits[offset + best]) {
                best = i;
            }
        }
        return best;
    }

    /** A uniform double in [0, 1) that depends only on (seed, step): SplitMix64 over both. */
    static double uniform(long seed, int step) {
        long z = mix(seed + 0x9E3779B97F4A7C15L * (step + 1L));
        return (z >>> 11) * 0x1.0p-53;
    }

    private static long mix(long z) {
        z = (z ^ (z >>> 30)) * 0xBF58476D1CE4E5B9L;
        z = (z ^ (z >>> 27)) * 0x94D049BB133111EBL;
        return z ^ (z >>> 31);
    }
}
