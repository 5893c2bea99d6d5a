package org.seqstream.runtime;

import java.lang.reflect.Field;
import java.lang.reflect.Method;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;

/**
 * Direct buffers that are freed when replaced, not when the garbage collector next runs. A
 * decoder's KV cache grows and shrinks by megabytes; left to the collector, the buffers it
 * outgrew would hold native memory until a collection that a small, quiet heap seldom needs.
 */
public final class DirectMemory {
    private static final Object UNSAFE;
    private static final Method INVOKE_CLEANER;

    static {
        Object unsafe = null;
        Method cleaner = null;
        try {
            Class<?> c = Class.forName("sun.misc.Unsafe");
            Field f = c.getDeclaredField("theUnsafe");
            f.setAccessible(true);
            unsafe = f.get(null);
            cleaner = c.getMethod("invokeCleaner", ByteBuffer.class);
        } catch (ReflectiveOperationException | RuntimeException e) {
            // not available: buffers are freed by the garbage collector
        }
        UNSAFE = unsafe;
        INVOKE_CLEANER = cleaner;
    }

    private DirectMemory() {
    }

    /** A zeroed native-order direct buffer of {@code bytes} bytes: ONNX Runtime uses its memory as a tensor's without copying. */
    static ByteBuffer allocate(int bytes) {
        return ByteBuffer.allocateDirect(bytes).order(ByteOrder.nativeOrder());
    }

    /** A zeroed native-order direct buffer of {@code floats} floats. */
    static ByteBuffer allocateFloats(int floats) {
        return allocate(floats * Float.BYTES);
    }

    /**
     * Frees {@code buffer}'s memory now. Nothing may use it afterwards: every tensor created over
     * it must be closed first.
     */
    static void free(ByteBuffer buffer) {
        if (INVOKE_CLEANER == null || buffer == null || !buffer.isDirect() || buffer.capacity() == 0) {
            return;
        }
        try {
            INVOKE_CLEANER.invoke(UNSAFE, buffer);
        } catch (ReflectiveOperationException | RuntimeException e) {
            // left to the garbage collector
        }
    }

    /**
     * The JVM's direct-memory limit in bytes: {@code -XX:MaxDirectMemorySize}, or when unset (0)
     * the heap's maximum, which is what the JVM then allows.
     */
    public static long limit() {
        try {
            com.sun.management.HotSpotDiagnosticMXBean vm =
                    java.lang.management.ManagementFactory.getPlatformMXBean(com.sun.management.HotSpotDiagnosticMXBean.class);
            long set = Long.parseLong(vm.getVMOption("MaxDirectMemorySize").getValue());
            return set > 0 ? set : Runtime.getRuntime().maxMemory();
        } catch (RuntimeException e) {
            return Runtime.getRuntime().maxMemory();
        }
    }
}
