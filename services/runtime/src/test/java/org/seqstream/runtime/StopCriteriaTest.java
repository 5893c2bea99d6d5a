package org.seqstream.runtime;

import org.junit.jupiter.api.Test;

import java.util.List;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;

class StopCriteriaTest {
    private static final Shipped.Loaded M = Shipped.load(Shipped.GPT);
    private static final StopCriteria STOP = new StopCriteria(M.pkg().special().eos(), M.tokenizer());

    private static DecodeRow row(int maxNewTokens, List<String> stop) {
        return new DecodeRow(new DecodeBatch.Sequence("r", new long[] {5}, null, new long[0],
                new SamplingParams(maxNewTokens, 0, 0, 1.0, 0, stop)));
    }

    @Test
    void theEndOfSequenceTokenEndsItWithoutJoiningTheOutput() {
        DecodeRow r = row(10, List.of());
        long[] ab = M.tokenizer().encode("ab");
        assertNull(STOP.accept(r, ab[0]));
        assertEquals(FinishReason.EOS, STOP.accept(r, M.pkg().special().eos()));
        assertArrayEquals(new long[] {ab[0]}, r.output());
    }

    @Test
    void maxNewTokensEndsItWithTheLastTokenKept() {
        DecodeRow r = row(3, List.of());
        long[] ids = M.tokenizer().encode("abc");
        assertNull(STOP.accept(r, ids[0]));
        assertNull(STOP.accept(r, ids[1]));
        assertEquals(FinishReason.LENGTH, STOP.accept(r, ids[2]));
        assertEquals("abc", M.tokenizer().decode(r.output()));
    }

    @Test
    void aStopStringEndsItAndTheOutputIsCutBeforeIt() {
        DecodeRow r = row(20, List.of("%", "zz"));
        FinishReason f = null;
        for (long id : M.tokenizer().encode("only 7% left")) {
            f = STOP.accept(r, id);
            if (f != null) {
                break;
            }
        }
        assertEquals(FinishReason.STOP_STRING, f);
        assertEquals("only 7", M.tokenizer().decode(r.output()));
        assertEquals("stop", f.wire());
    }

    @Test
    void withoutATokenizerStopStringsAreNotChecked() {
        StopCriteria blind = new StopCriteria(M.pkg().special().eos(), null);
        DecodeRow r = row(20, List.of("%"));
        for (long id : M.tokenizer().encode("7%")) {
            assertNull(blind.accept(r, id));
        }
    }
}
