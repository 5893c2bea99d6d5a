package org.seqstream.runtime;

import ai.onnxruntime.OnnxTensor;
import ai.onnxruntime.OrtEnvironment;
import ai.onnxruntime.OrtException;

import java.nio.ByteBuffer;
import java.nio.FloatBuffer;

/**
 * Direct float buffers, one per tensor of a set (every layer's keys and values), grown on demand
 * and kept for reuse. ONNX Runtime uses their memory as tensors' without copying; a buffer that
 * is outgrown is freed at once (no tensor uses it between graph calls).
 */
final class TensorBuffers implements AutoCloseable {
    private final FloatBuffer[] floats;
    private final ByteBuffer[] bytes;

    TensorBuffers(int count) {
        floats = new FloatBuffer[count];
        bytes = new ByteBuffer[count];
        close();
    }

    int count() {
        return floats.length;
    }

    FloatBuffer get(int i) {
        return floats[i];
    }

    /** Room for {@code size} floats in each buffer, keeping the first {@code keep} floats. */
    void ensure(int size, int keep) {
        for (int i = 0; i < floats.length; i++) {
            if (floats[i].capacity() < size) {
                ByteBuffer b = larger(i, size);
                if (keep > 0) {
                    b.asFloatBuffer().put(0, floats[i], 0, keep);
                }
                replace(i, b);
            }
        }
    }

    /**
     * Lays out the first {@code rows} chunks of {@code from} floats of every buffer as chunks of
     * {@code to} floats (longer), with room for {@code capacityRows} chunks. A buffer that holds
     * them is rewritten in place, from the last chunk to the first, so that none is overwritten
     * before it has moved, and with {@code clear} zeros after each chunk's old end; a smaller one
     * is copied once, chunk by chunk, into a larger buffer (zeroed when allocated), then freed,
     * one buffer at a time.
     */
    void widen(int rows, int from, int to, int capacityRows, boolean clear) {
        int size = capacityRows * to;
        for (int i = 0; i < floats.length; i++) {
            if (floats[i].capacity() < size) {
                ByteBuffer b = larger(i, size);
                FloatBuffer grown = b.asFloatBuffer();
                for (int r = 0; r < rows; r++) {
                    grown.put(r * to, floats[i], r * from, from);
                }
                replace(i, b);
            } else {
                for (int r = rows - 1; r >= 0; r--) {
                    move(i, r * to, r * from, from);
                    if (clear) {
                        zero(i, r * to + from, to - from);
                    }
                }
            }
        }
    }

    /** A zeroed successor for buffer {@code i} of at least {@code size} floats, an eighth larger at least (so that growth by steps is not a copy per step). */
    private ByteBuffer larger(int i, int size) {
        return DirectMemory.allocateFloats(Math.max(size, floats[i].capacity() + floats[i].capacity() / 8));
    }

    /** Buffer {@code i} becomes {@code b}; the one it replaces is freed. */
    private void replace(int i, ByteBuffer b) {
        DirectMemory.free(bytes[i]);
        bytes[i] = b;
        floats[i] = b.asFloatBuffer();
    }

    /** Buffer {@code i} as a tensor of {@code shape} over its first elements. */
    OnnxTensor tensor(int i, long[] shape) throws OrtException {
        return tensor(floats[i], shape);
    }

    /** A tensor of {@code shape} over the start of {@code buf} (no copy: ONNX Runtime uses the buffer's memory). */
    static OnnxTensor tensor(FloatBuffer buf, long[] shape) throws OrtException {
        long size = 1;
        for (long d : shape) {
            size *= d;
        }
        return OnnxTensor.createTensor(OrtEnvironment.getEnvironment(), buf.duplicate().clear().limit((int) size), shape);
    }

    /** Copies {@code length} floats from {@code from}'s buffer {@code i} at {@code src} to this set's buffer {@code i} at {@code dst}. */
    void copy(int i, int dst, TensorBuffers from, int src, int length) {
        floats[i].put(dst, from.floats[i], src, length);
    }

    /**
     * Moves {@code length} floats of buffer {@code i} from {@code src} to {@code dst}; the ranges may
     * overlap (a bulk put within one buffer reads its source as if copied out first).
     */
    void move(int i, int dst, int src, int length) {
        if (dst != src && length > 0) {
            floats[i].put(dst, floats[i], src, length);
        }
    }

    /**
     * Zeroes {@code length} floats of buffer {@code i} at {@code at}. Positions a row does not
     * attend to must hold finite values: attention weighs them by zero, and zero times NaN (left
     * by a sequence that failed there) is NaN.
     */
    void zero(int i, int at, int length) {
        while (length > 0) {
            int n = Math.min(length, ZEROS.length);
            floats[i].put(at, ZEROS, 0, n);
            at += n;
            length -= n;
        }
    }

    private static final float[] ZEROS = new float[4096];

    /** Frees every buffer; the set stays usable (it grows again on demand). */
    @Override
    public void close() {
        for (int i = 0; i < floats.length; i++) {
            DirectMemory.free(bytes[i]);
            bytes[i] = null;
            floats[i] = DirectMemory.allocateFloats(0).asFloatBuffer();
        }
    }
}
