package org.seqstream.runtime;

import java.util.List;

/**
 * One graph input or output as model.json declares it. A shape entry is either a number (a fixed
 * axis) or a name (a dynamic axis such as "batch"), which ONNX Runtime reports as -1.
 */
public record TensorSpec(String name, String dtype, List<Object> shape) {

    /** The shape as ONNX Runtime reports it: fixed sizes, -1 for dynamic axes. */
    public long[] ortShape() {
        return shape.stream().mapToLong(d -> d instanceof Number n ? n.longValue() : -1L).toArray();
    }
}
