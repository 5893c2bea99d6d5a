package org.seqstream.runtime;

import org.junit.jupiter.api.Test;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

class SamplerTest {
    private static final float[] LOGITS = {1.0f, 3.0f, 2.0f, 0.5f};

    @Test
    void greedyTakesTheLargestLogit() {
        assertEquals(1, Sampler.next(LOGITS, 0, 4, SamplingParams.greedy(1), 0));
    }

    @Test
    void theCheckedGreedyScanPicksTheFirstLargestAndNamesTheFirstNonFiniteLogit() {
        // ties go to the lower id, as in the plain scan; the row starts at the offset
        float[] row = {9f, 1f, 4f, 2f, 4f, -7f};
        assertEquals(1, Sampler.argmaxFinite(row, 1, 5));
        assertEquals(Sampler.argmax(row, 1, 5), Sampler.argmaxFinite(row, 1, 5));
        assertEquals(0, Sampler.argmaxFinite(new float[] {-Float.MAX_VALUE, -Float.MAX_VALUE}, 0, 2));
        for (float bad : new float[] {Float.NaN, Float.POSITIVE_INFINITY, Float.NEGATIVE_INFINITY}) {
            float[] r = {1f, 2f, bad, 3f, Float.NaN};
            ArithmeticException e = org.junit.jupiter.api.Assertions.assertThrows(ArithmeticException.class,
                    () -> Sampler.argmaxFinite(r, 0, 5));
            assertEquals("non-finite logit " + bad + " for token 2", e.getMessage());
            e = org.junit.jupiter.api.Assertions.assertThrows(ArithmeticException.class, () -> Sampler.checkFinite(r, 1, 4));
            assertEquals("non-finite logit " + bad + " for token 1", e.getMessage());
        }
        // a finite row outside the checked range passes
        org.junit.jupiter.api.Assertions.assertDoesNotThrow(() -> Sampler.checkFinite(new float[] {Float.NaN, 1f, 2f}, 1, 2));
    }

    @Test
    void aTinyTemperatureSamplesLikeGreedyInsteadOfProducingNaN() {
        // logit / 1e-300 overflows to infinity; the sampler must still pick the largest logit
        for (double t : new double[] {1e-300, Double.MIN_VALUE, 1e-40}) {
            SamplingParams p = new SamplingParams(1, t, 0, 0.9, 3);
            for (int step = 0; step < 50; step++) {
                assertEquals(1, Sampler.next(LOGITS, 0, 4, p, step), "temperature " + t);
            }
        }
    }

    @Test
    void aSmallTopPKeepsOnlyTheMostLikelyToken() {
        SamplingParams p = new SamplingParams(1, 1.0, 0, 0.01, 9);
        for (int step = 0; step < 50; step++) {
            assertEquals(1, Sampler.next(LOGITS, 0, 4, p, step));
        }
    }

    @Test
    void topKTwoDrawsOnlyFromTheTwoBest() {
        SamplingParams p = new SamplingParams(1, 10.0, 2, 1.0, 5);
        int[] seen = new int[4];
        for (int step = 0; step < 400; step++) {
            seen[Sampler.next(LOGITS, 0, 4, p, step)]++;
        }
        assertEquals(0, seen[0] + seen[3]);
        assertTrue(seen[1] > 100 && seen[2] > 100, java.util.Arrays.toString(seen));
    }

    @Test
    void drawsFollowTheSoftmaxProbabilities() {
        // p(1) = e^3 / (e^1 + e^3 + e^2 + e^0.5) = 0.638
        SamplingParams p = new SamplingParams(1, 1.0, 0, 1.0, 11);
        int hits = 0, n = 20000;
        for (int step = 0; step < n; step++) {
            hits += Sampler.next(LOGITS, 0, 4, p, step) == 1 ? 1 : 0;
        }
        assertEquals(0.638, hits / (double) n, 0.02);
    }

    @Test
    void theDrawDependsOnlyOnSeedAndStep() {
        assertEquals(Sampler.uniform(3, 17), Sampler.uniform(3, 17));
        assertTrue(Sampler.uniform(3, 17) != Sampler.uniform(3, 18));
        assertTrue(Sampler.uniform(3, 17) != Sampler.uniform(4, 17));
    }
}
