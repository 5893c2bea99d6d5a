package org.seqstream.runtime;

import org.junit.jupiter.api.Test;

import java.util.Arrays;
import java.util.List;

import static org.junit.jupiter.api.Assertions.assertEquals;

class SourceEncoderTest {
    @Test
    void aSequenceEncodesTheSameAloneAndPaddedInABatch() {
        // Given sequences of different lengths
        Shipped.Loaded m = Shipped.load(Shipped.SEQ2SEQ);
        SourceEncoder enc = new SourceEncoder(m.model());
        List<long[]> seqs = List.of(m.tokenizer().encode("one"), m.tokenizer().encode("the rent is one thousand dollars"),
                m.tokenizer().encode("zero errors"));
        // When they are embedded and encoded together and one by one
        float[][] together = enc.encode(Arrays.asList(enc.embed(seqs)));
        for (int r = 0; r < seqs.size(); r++) {
            float[] alone = enc.encode(List.of(enc.embed(List.of(seqs.get(r)))[0]))[0];
            // Then each row has its own length and the same values
            assertEquals(seqs.get(r).length * 128, together[r].length);
            double maxDiff = 0;
            for (int i = 0; i < alone.length; i++) {
                maxDiff = Math.max(maxDiff, Math.abs(alone[i] - together[r][i]));
            }
            assertEquals(0.0, maxDiff, 1e-5, "row " + r);
        }
    }
}
