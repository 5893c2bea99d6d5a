package org.seqstream.pipeline;

import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.function.Function;

/** Splits a micro-batch by model name, keeping the order of records within each model. */
public final class ModelGroups {
    private ModelGroups() {
    }

    public static <T> Map<String, List<T>> byModel(List<T> batch, Function<T, String> model) {
        Map<String, List<T>> groups = new LinkedHashMap<>();
        for (T t : batch) {
            groups.computeIfAbsent(model.apply(t), m -> new ArrayList<>()).add(t);
        }
        return groups;
    }
}
