package org.seqstream.pipeline;

import org.seqstream.schemas.DType;
import org.seqstream.schemas.Tensor;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.Arrays;
import java.util.List;
import java.util.Locale;

/**
 * Avro {@link Tensor}s from and to Java arrays: float32 values, row-major, little-endian, sent as
 * float32 or at half the size as float16 ({@code float16_data}).
 *
 * <p>Which one a stage writes is {@code SEQ_TENSOR_WIRE} (environment) or the
 * {@code seq.tensor.wire} system property: {@code auto} (the default) sends a tensor of more than
 * {@value #AUTO_FLOAT16_ABOVE} elements as float16 and smaller ones as float32, so the shipped
 * models (at most 256 × 128 elements) keep exact float32 parity and realistic sizes halve their
 * records (t5-small's 512 × 512 encoder output: 512 KB instead of 1 MB, Kafka's default record
 * limit); {@code float16} and {@code float32} always. Readers take both.
 */
public final class Tensors {
    /** With {@code auto}: tensors with more elements than this go as float16. */
    public static final int AUTO_FLOAT16_ABOVE = 32_768;

    /** How float tensors are written. */
    public enum Wire { AUTO, FLOAT16, FLOAT32 }

    private static final Wire WIRE = wire(System.getProperty("seq.tensor.wire", System.getenv().getOrDefault("SEQ_TENSOR_WIRE", "auto")));

    private Tensors() {
    }

    static Wire wire(String s) {
        try {
            return Wire.valueOf(s.trim().toUpperCase(Locale.ROOT));
        } catch (IllegalArgumentException e) {
            throw new IllegalArgumentException("SEQ_TENSOR_WIRE must be auto, float16 or float32, got '" + s + "'");
        }
    }

    /** Elements {@code [offset, offset + product(shape))} of {@code data} as a tensor of {@code shape}, written as the setting says. */
    public static Tensor float32(float[] data, int offset, long... shape) {
        return encode(WIRE, data, offset, shape);
    }

    static Tensor encode(Wire wire, float[] data, int offset, long... shape) {
        int n = (int) Arrays.stream(shape).reduce(1, (a, b) -> a * b);
        Tensor.Builder t = Tensor.newBuilder().setDtype(DType.FLOAT32).setShape(Arrays.stream(shape).boxed().toList());
        if (wire == Wire.FLOAT16 || (wire == Wire.AUTO && n > AUTO_FLOAT16_ABOVE)) {
            ByteBuffer buf = ByteBuffer.allocate(n * 2).order(ByteOrder.LITTLE_ENDIAN);
            for (int i = 0; i < n; i++) {
                buf.putShort(toHalf(data[offset + i]));
            }
            return t.setData(ByteBuffer.allocate(0)).setFloat16Data(buf.flip()).build();
        }
        ByteBuffer buf = ByteBuffer.allocate(n * Float.BYTES).order(ByteOrder.LITTLE_ENDIAN);
        buf.asFloatBuffer().put(data, offset, n);
        return t.setData(buf).build();
    }

    public static float[] floats(Tensor t) {
        if (t.getDtype() != DType.FLOAT32) {
            throw new IllegalArgumentException("expected a FLOAT32 tensor, got " + t.getDtype());
        }
        float[] out;
        if (t.getFloat16Data() != null) {
            ByteBuffer buf = t.getFloat16Data().duplicate().order(ByteOrder.LITTLE_ENDIAN);
            out = new float[buf.remaining() / 2];
            for (int i = 0; i < out.length; i++) {
                out[i] = fromHalf(buf.getShort());
            }
        } else {
            ByteBuffer buf = t.getData().duplicate().order(ByteOrder.LITTLE_ENDIAN);
            out = new float[buf.remaining() / Float.BYTES];
            buf.asFloatBuffer().get(out);
        }
        if (out.length != elements(t.getShape())) {
            throw new IllegalArgumentException("tensor of shape " + t.getShape() + " holds " + out.length + " elements");
        }
        return out;
    }

    public static long elements(List<Long> shape) {
        return shape.stream().reduce(1L, (a, b) -> a * b);
    }

    /** IEEE 754 binary16 of {@code f}, rounded to nearest, ties to even; beyond 65504 infinity. */
    static short toHalf(float f) {
        int bits = Float.floatToRawIntBits(f);
        int sign = (bits >>> 16) & 0x8000;
        int exp = (bits >>> 23) & 0xff;
        int mant = bits & 0x7fffff;
        if (exp == 0xff) {                                   // infinity or NaN
            return (short) (sign | 0x7c00 | (mant != 0 ? 0x200 : 0));
        }
        int e = exp - 127 + 15;
        if (e >= 0x1f) {
            return (short) (sign | 0x7c00);
        }
        if (e <= 0) {                                        // subnormal half, or zero
            if (e < -10) {
                return (short) sign;
            }
            mant |= 0x800000;
            int shift = 14 - e;
            int half = mant >> shift, rest = mant & ((1 << shift) - 1), mid = 1 << (shift - 1);
            if (rest > mid || (rest == mid && (half & 1) != 0)) {
                half++;
            }
            return (short) (sign | half);
        }
        int half = (e << 10) | (mant >> 13), rest = mant & 0x1fff;
        if (rest > 0x1000 || (rest == 0x1000 && (half & 1) != 0)) {
            half++;                                          // may carry into the exponent: still right
        }
        return (short) (sign | half);
    }

    static float fromHalf(short h) {
        int sign = (h & 0x8000) << 16, exp = (h >>> 10) & 0x1f, mant = h & 0x3ff;
        if (exp == 0x1f) {
            return Float.intBitsToFloat(sign | 0x7f800000 | (mant << 13));
        }
        if (exp == 0) {
            float v = mant / 16_777_216f;                    // mant * 2^-24
            return sign != 0 ? -v : v;
        }
        return Float.intBitsToFloat(sign | ((exp - 15 + 127) << 23) | (mant << 13));
    }
}
