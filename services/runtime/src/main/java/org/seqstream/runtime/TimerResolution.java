package org.seqstream.runtime;

import java.util.Arrays;
import java.util.Locale;
import java.util.concurrent.locks.LockSupport;

/**
 * How long this machine's shortest waits really take: a benchmark prints it next to its figures,
 * because a design that waited on short sleeps or polls would run at the timer's pace, not the
 * processor's (on some machines a 0.1 ms sleep takes 1.1 ms).
 */
public final class TimerResolution {
    private TimerResolution() {
    }

    /** Median milliseconds of {@code Thread.sleep(0.1 ms)} and of {@code LockSupport.parkNanos(0.1 ms)}, 100 of each. */
    public static double[] measure() {
        double[] sleep = new double[100], park = new double[100];
        try {
            for (int i = 0; i < sleep.length; i++) {
                long t = System.nanoTime();
                Thread.sleep(0, 100_000);
                sleep[i] = (System.nanoTime() - t) / 1e6;
                t = System.nanoTime();
                LockSupport.parkNanos(100_000);
                park[i] = (System.nanoTime() - t) / 1e6;
            }
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
        Arrays.sort(sleep);
        Arrays.sort(park);
        return new double[] {sleep[sleep.length / 2], park[park.length / 2]};
    }

    /** One line for a report: {@code Timer: Thread.sleep(0.1 ms) takes 1.10 ms, LockSupport.parkNanos(0.1 ms) 0.19 ms (medians)}. */
    public static String line() {
        double[] m = measure();
        return String.format(Locale.ROOT, "Timer: Thread.sleep(0.1 ms) takes %.2f ms, LockSupport.parkNanos(0.1 ms) %.2f ms (medians of 100)", m[0], m[1]);
    }
}
