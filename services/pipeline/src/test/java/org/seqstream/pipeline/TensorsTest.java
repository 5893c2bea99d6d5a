package org.seqstream.pipeline;

import org.junit.jupiter.api.Test;
import org.seqstream.schemas.Tensor;
import org.seqstream.schemas.Topics;
import org.seqstream.schemas.SequenceEncoded;

import java.util.Random;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

class TensorsTest {
    /** Hand-checked binary16 encodings (IEEE 754 table values). */
    @Test
    void float16MatchesKnownEncodings() {
        float[] values = {0f, -0f, 1f, -2f, 0.5f, 65504f, 65520f, 1e-8f, 5.9604645e-8f, 6.1035156e-5f, 0.33325195f,
                Float.POSITIVE_INFINITY, 1.0009766f, 1.0004883f, 1.0014648f};
        int[] halves = {0x0000, 0x8000, 0x3c00, 0xc000, 0x3800, 0x7bff, 0x7c00, 0x0000, 0x0001, 0x0400, 0x3555,
                0x7c00, 0x3c01, 0x3c00, 0x3c02};
        for (int i = 0; i < values.length; i++) {
            assertEquals(halves[i], Tensors.toHalf(values[i]) & 0xffff, "binary16 of " + values[i]);
        }
        assertTrue(Float.isNaN(Tensors.fromHalf(Tensors.toHalf(Float.NaN))));
        assertEquals(65504f, Tensors.fromHalf((short) 0x7bff));
        assertEquals(5.9604645e-8f, Tensors.fromHalf((short) 0x0001));
    }

    @Test
    void everyHalfSurvivesTheRoundTrip() {
        for (int h = 0; h < 0x10000; h++) {
            float f = Tensors.fromHalf((short) h);
            if (!Float.isNaN(f)) {
                assertEquals(h, Tensors.toHalf(f) & 0xffff, "half " + Integer.toHexString(h));
            }
        }
    }

    @Test
    void float16TensorsAreHalfTheSizeAndWithinHalfPrecision() {
        Random rnd = new Random(1);
        float[] x = new float[512 * 512];
        for (int i = 0; i < x.length; i++) {
            x[i] = (float) rnd.nextGaussian() * 3;
        }
        Tensor half = Tensors.encode(Tensors.Wire.AUTO, x, 0, 512, 512);
        Tensor full = Tensors.encode(Tensors.Wire.FLOAT32, x, 0, 512, 512);
        assertEquals(512 * 512 * 2, half.getFloat16Data().remaining());
        assertEquals(0, half.getData().remaining());
        assertNull(full.getFloat16Data());
        assertArrayEquals(x, Tensors.floats(full));
        SequenceEncoded.Builder b = SequenceEncoded.newBuilder().setId("a").setModel("m").setTokenIds(java.util.List.of())
                .setParams(org.seqstream.schemas.GenerationParams.newBuilder().build());
        byte[] recHalf = Topics.ENCODED.valueSerde().serializer().serialize("t", b.setEncoderHiddenStates(half).build());
        byte[] recFull = Topics.ENCODED.valueSerde().serializer().serialize("t", b.setEncoderHiddenStates(full).build());
        assertTrue(recHalf.length < 1_048_576 && recFull.length > 1_048_576, recHalf.length + " / " + recFull.length);
        float[] back = Tensors.floats(Topics.ENCODED.valueSerde().deserializer().deserialize("t", recHalf).getEncoderHiddenStates());
        for (int i = 0; i < x.length; i++) {
            assertEquals(x[i], back[i], Math.abs(x[i]) / 1024 + 1e-7, "element " + i);
        }
    }

    @Test
    void smallTensorsStayFloat32UnderAutoAndTheSettingIsChecked() {
        float[] x = {1.1f, 2.2f, 3.3f};
        assertNull(Tensors.encode(Tensors.Wire.AUTO, x, 0, 3).getFloat16Data());
        // a shipped-size model's longest source (256 tokens at width 128) stays float32; one element more does not
        assertNull(Tensors.encode(Tensors.Wire.AUTO, new float[256 * 128], 0, 256, 128).getFloat16Data());
        assertNotNull(Tensors.encode(Tensors.Wire.AUTO, new float[256 * 128 + 1], 0, 256 * 128 + 1).getFloat16Data());
        assertArrayEquals(new float[] {1.0996094f, 2.1992188f, 3.3007812f}, Tensors.floats(Tensors.encode(Tensors.Wire.FLOAT16, x, 0, 3)));
        assertEquals(Tensors.Wire.FLOAT16, Tensors.wire(" Float16 "));
        assertThrows(IllegalArgumentException.class, () -> Tensors.wire("bf16"));
    }
}
