package org.seqstream.runtime;

import org.junit.jupiter.api.Test;

import java.util.List;
import java.util.stream.Collectors;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

class DecodeSchedulerTest {
    private static final long MS = 1_000_000L;

    private static DecodeBatch.Sequence seq(String key) {
        return new DecodeBatch.Sequence(key, new long[] {5}, null, new long[0], SamplingParams.greedy(4));
    }

    /** Loads every sequence the scheduler hands out, as an owner's store would. */
    private static void loadAll(DecodeScheduler<String> s) {
        for (DecodeScheduler.Waiting<String> w : s.toLoad()) {
            s.loaded(w, "m", seq(w.key()));
        }
    }

    private static List<String> admitted(DecodeScheduler.Plan<String> plan) {
        return plan.admit().values().stream().flatMap(List::stream).map(r -> r.sequence().key()).collect(Collectors.toList());
    }

    @Test
    void loadsOnlyForTheSlotsThatWillBeFree() {
        // Given two slots and five waiting sequences
        DecodeScheduler<String> s = new DecodeScheduler<>(2, 100);
        for (int i = 0; i < 5; i++) {
            s.enqueue("task", "q" + i, false, 0);
        }
        // When the stream thread asks what to load, twice
        List<String> first = s.toLoad().stream().map(DecodeScheduler.Waiting::key).toList();
        // Then it gets two, in queue order, and nothing more until they are admitted and finish
        assertEquals(List.of("q0", "q1"), first);
        assertEquals(5, s.queued() + first.size());
    }

    @Test
    void anEmptyBatchAdmitsAtOnceAndARunningOneWaitsForAGroupOrTheDeadline() {
        DecodeScheduler<String> s = new DecodeScheduler<>(64, 100);
        // Given an empty batch: the first loaded sequence joins at once
        s.enqueue("t", "a", false, 0);
        loadAll(s);
        assertEquals(List.of("a"), admitted(s.schedule(0, 0)));
        // Given a running batch of 8: one newcomer waits (a group is 8 / 4 = 2)
        for (int i = 0; i < 7; i++) {
            s.enqueue("t", "b" + i, false, 0);
        }
        loadAll(s);
        assertEquals(7, admitted(s.schedule(0, 0)).size());
        s.enqueue("t", "late", false, 1 * MS);
        loadAll(s);
        assertEquals(List.of(), admitted(s.schedule(2 * MS, 0)));
        // When the deadline passes, it joins alone
        assertEquals(List.of("late"), admitted(s.schedule(1 * MS + DecodeScheduler.MAX_ADMISSION_WAIT_MS * MS, 0)));
        // And a second newcomer plus a third make a group of two, admitted at once
        s.enqueue("t", "x", false, 30 * MS);
        s.enqueue("t", "y", false, 30 * MS);
        loadAll(s);
        assertEquals(List.of("x", "y"), admitted(s.schedule(30 * MS, 0)));
        assertEquals(11, s.active());
    }

    @Test
    void resumedSequencesGoFirstAndTheQueueLimitRefusesMore() {
        DecodeScheduler<String> s = new DecodeScheduler<>(1, 2);
        s.enqueue("t", "new", false, 0);
        assertFalse(s.full());
        s.enqueue("t", "resumed", true, 0);
        assertTrue(s.full());
        assertEquals("resumed", s.toLoad().get(0).key());
    }

    @Test
    void backpressureStopsAdmittingAndStepping() {
        DecodeScheduler<String> s = new DecodeScheduler<>(4, 10);
        s.enqueue("t", "a", false, 0);
        loadAll(s);
        DecodeScheduler.Plan<String> paused = s.schedule(0, DecodeScheduler.MAX_UNDELIVERED + 1);
        assertTrue(paused.admit().isEmpty());
        assertFalse(paused.step());
        assertFalse(s.hasWork(DecodeScheduler.MAX_UNDELIVERED + 1));
        assertTrue(s.schedule(0, 0).step());
    }

    @Test
    void releaseForgetsTheOwnersSequencesAndReturnsThoseDecoding() {
        DecodeScheduler<String> s = new DecodeScheduler<>(2, 10);
        s.enqueue("t1", "a", false, 0);
        s.enqueue("t2", "b", false, 0);
        loadAll(s);
        s.schedule(0, 0);
        s.enqueue("t1", "c", false, 0);
        s.enqueue("t2", "d", false, 0);
        assertEquals(List.of("a"), s.release("t1"));
        assertEquals(1, s.active());
        assertEquals(1, s.queued());
        s.finished("b");
        assertEquals(List.of("d"), s.toLoad().stream().map(DecodeScheduler.Waiting::key).toList());
    }

    @Test
    void aSequenceAlreadyDecodingIsNotAdmittedTwice() {
        DecodeScheduler<String> s = new DecodeScheduler<>(4, 10);
        s.enqueue("t", "a", false, 0);
        s.enqueue("t", "a", false, 0);
        loadAll(s);
        assertEquals(List.of("a"), admitted(s.schedule(0, 0)));
        assertEquals(1, s.active());
    }

    @Test
    void newcomersArePrefilledInGroupsOfSimilarPromptLength() {
        // Given prompts of 40, 98, 12, 74, 31, 90 and 76 tokens
        List<Integer> lengths = List.of(40, 98, 12, 74, 31, 90, 76);
        // When they are grouped for prefill
        List<List<Integer>> groups = DecodeScheduler.prefillGroups(lengths, n -> n);
        // Then each group runs from its longest down to 75% of it, longest groups first
        // (74 >= 0.75 * 98 joins the first; 31 >= 0.75 * 40)
        assertEquals(List.of(List.of(98, 90, 76, 74), List.of(40, 31), List.of(12)), groups);
        assertEquals(List.of(), DecodeScheduler.prefillGroups(List.<Integer>of(), n -> n));
    }

    @Test
    void compactionIsDueOnceAQuarterOfTheSlotsIsFreeOrTheAxisIsLongerThanItsFormAllows() {
        // 7 of 8 rows live, an axis of 40 that may reach 46: nothing to do
        assertFalse(DecodeScheduler.compactionDue(7, 8, 40, 46));
        // a quarter of the slots free
        assertTrue(DecodeScheduler.compactionDue(6, 8, 40, 46));
        // the axis past what it may reach
        assertFalse(DecodeScheduler.compactionDue(8, 8, 46, 46));
        assertTrue(DecodeScheduler.compactionDue(8, 8, 47, 46));
        // an empty batch is cleared, not packed
        assertFalse(DecodeScheduler.compactionDue(0, 8, 99, 16));
    }

    @Test
    void newcomersWaitForCacheRoomInOrderAndASequenceAloneAlwaysRuns() {
        // Given a cache budget of 100 bytes where every sequence counts 30 (a stand-in for DecodeBatch.cacheBytes)
        DecodeScheduler<String> s = new DecodeScheduler<>(64, 100, 100, (model, seqs) -> 30L * seqs.size());
        for (String k : List.of("a", "b", "c", "d", "e")) {
            s.enqueue("t", k, false, 0);
        }
        loadAll(s);
        // When the empty batch admits: three fit (90), the fourth would need 120
        assertEquals(List.of("a", "b", "c"), admitted(s.schedule(0, 0)));
        assertEquals(1, s.heldForCache());
        // Then nothing joins until one finishes, even past the admission deadline, and the order is kept
        assertEquals(List.of(), admitted(s.schedule(100 * MS, 0)));
        s.finished("b");
        assertEquals(List.of("d"), admitted(s.schedule(200 * MS, 0)));
        assertEquals(1, s.queued(), "e waits");

        // Given a budget smaller than one sequence: it still runs, alone
        DecodeScheduler<String> tight = new DecodeScheduler<>(64, 100, 10, (model, seqs) -> 30L * seqs.size());
        tight.enqueue("t", "x", false, 0);
        tight.enqueue("t", "y", false, 0);
        loadAll(tight);
        assertEquals(List.of("x"), admitted(tight.schedule(0, 0)));
        tight.finished("x");
        assertEquals(List.of("y"), admitted(tight.schedule(1, 0)));
    }

    @Test
    void theCacheOfABatchCountsEverySequenceAtItsFullLengthOnceWithOneLayerGrowingAndThePrefill() throws Exception {
        // Given the shipped GPT (GroupQueryAttention form, 6 layers, 4 heads of 32) and two sequences,
        // prompts of 2 + 3 source tokens and 2 + 10 (with 2 tokens generated before)
        ModelPackage pkg = ModelPackage.load(java.nio.file.Path.of(System.getProperty("seq.repo.root", "../.."), "models", "itn-gpt"));
        DecodeBatch.Sequence shortOne = new DecodeBatch.Sequence("s", new long[] {5, 6, 7}, null, new long[0], SamplingParams.greedy(20));
        DecodeBatch.Sequence longOne = new DecodeBatch.Sequence("l", new long[10], null, new long[] {5, 5}, SamplingParams.greedy(40));
        long perPosition = 2L * 6 * 4 * 32 * 4;
        assertEquals(5, pkg.promptLength(3));
        assertEquals(12, pkg.promptLength(10));
        // Then one alone takes (prompt + max new + slack 16) positions, one of its 12 layer tensors
        // again (a buffer growing into its successor), and its prompt's prefill buffers
        long self = (5 + 20 + 16) * perPosition;
        assertEquals(self + self / 12 + 5 * perPosition, DecodeBatch.cacheBytes(pkg, List.of(shortOne)));
        // and two take two rows as long as the longer one's, and a prefill of two prompts of 12 + 2
        long two = 2 * (12 + 40 + 16) * perPosition;
        assertEquals(two + two / 12 + 2 * 14 * perPosition, DecodeBatch.cacheBytes(pkg, List.of(shortOne, longOne)));
    }

    @Test
    void aPrefillGroupHoldsAtMostItsShareOfPaddedPositions() {
        // Given twenty prompts of 250 tokens and one of 5000
        List<Integer> lengths = new java.util.ArrayList<>(java.util.Collections.nCopies(20, 250));
        lengths.add(5000);
        List<List<Integer>> groups = DecodeScheduler.prefillGroups(lengths, n -> n);
        // Then the long one is a group alone, and the others go 16 at a time (16 x 250 <= 4096 < 17 x 250)
        assertEquals(List.of(1, 16, 4), groups.stream().map(List::size).toList());
        assertEquals(List.of(5000), groups.get(0));
    }
}
