package org.seqstream.pipeline;

import org.seqstream.schemas.DType;
import org.seqstream.schemas.Tensor;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.Arrays;
import java.util.List;

/** Avro {@link Tensor}s from and to Java arrays: float32, row-major, little-endian. */
public final class Tensors {
    private Tensors() {
    }

    /** Elements {@code [offset, offset + product(shape))} of {@code data} as a tensor of {@code shape}. */
    public static Tensor float32(float[] data, int offset, long... shape) {
        int n = (int) Arrays.stream(shape).reduce(1, (a, b) -> a * b);
        ByteBuffer buf = ByteBuffer.allocate(n * Float.BYTES).order(ByteOrder.LITTLE_ENDIAN);
        buf.asFloatBuffer().put(data, offset, n);
        return Tensor.newBuilder().setDtype(DType.FLOAT32).setShape(Arrays.stream(shape).boxed().toList())
                .setData(buf).build();
    }

    public static float[] floats(Tensor t) {
        if (t.getDtype() != DType.FLOAT32) {
            throw new IllegalArgumentException("expected a FLOAT32 tensor, got " + t.getDtype());
        }
        ByteBuffer buf = t.getData().duplicate().order(ByteOrder.LITTLE_ENDIAN);
        float[] out = new float[buf.remaining() / Float.BYTES];
        buf.asFloatBuffer().get(out);
        if (out.length != elements(t.getShape())) {
            throw new IllegalArgumentException("tensor of shape " + t.getShape() + " holds " + out.length + " elements");
        }
        return out;
    }

    public static long elements(List<Long> shape) {
        return shape.stream().reduce(1L, (a, b) -> a * b);
    }
}
