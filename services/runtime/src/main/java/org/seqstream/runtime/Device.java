package org.seqstream.runtime;

import java.util.Locale;

/** Where ONNX Runtime executes: {@code cpu}, {@code cuda}, or {@code auto} (CUDA when available, else CPU). */
public enum Device {
    CPU, CUDA, AUTO;

    public static Device parse(String s) {
        try {
            return valueOf(s.trim().toUpperCase(Locale.ROOT));
        } catch (IllegalArgumentException e) {
            throw new IllegalArgumentException("unknown device '" + s + "' (expected cpu, cuda or auto)");
        }
    }
}
