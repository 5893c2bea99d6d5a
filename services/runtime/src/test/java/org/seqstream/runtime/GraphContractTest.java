package org.seqstream.runtime;

import ai.onnxruntime.NodeInfo;
import ai.onnxruntime.OrtException;
import ai.onnxruntime.TensorInfo;
import org.junit.jupiter.api.Test;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

import static org.junit.jupiter.api.Assertions.assertEquals;

/**
 * Pins every graph's input and output names, element types and shapes, as ONNX Runtime reads
 * them from the files (-1 = dynamic axis). The pipeline's stages are written against these.
 */
class GraphContractTest {
    private static final int C = 128, H = 4, D = 32, V = 64;

    private static String describe(Map<String, NodeInfo> nodes) {
        List<String> out = new ArrayList<>();
        nodes.forEach((name, info) -> {
            TensorInfo t = (TensorInfo) info.getInfo();
            out.add(name + ":" + t.type + Arrays.toString(t.getShape()));
        });
        return String.join(" ", out);
    }

    private static Map<String, String> actual(String pkg) throws OrtException {
        Shipped.Loaded m = Shipped.load(pkg);
        Map<String, String> graphs = new LinkedHashMap<>();
        for (String key : m.pkg().graphs().keySet()) {
            var s = m.model().session(key);
            graphs.put(key, describe(s.getInputInfo()) + " -> " + describe(s.getOutputInfo()));
        }
        return graphs;
    }

    private static String kv(String prefix, int layers) {
        List<String> out = new ArrayList<>();
        for (int i = 0; i < layers; i++) {
            out.add(layer(prefix, i));
        }
        return String.join(" ", out);
    }

    /** Layer i's key and value tensors named with {@code prefix}. */
    private static String layer(String prefix, int i) {
        return prefix + "_key_" + i + ":FLOAT[-1, " + H + ", -1, " + D + "] "
                + prefix + "_value_" + i + ":FLOAT[-1, " + H + ", -1, " + D + "]";
    }

    /** The ragged form's key layout: each row's key count minus one, and the longest row's. */
    private static final String SEQLENS = "seqlens_k:INT32[-1] total_sequence_length:INT32[1]";

    private static final String EMBEDDING =
            "input_ids:INT64[-1, -1] position_ids:INT64[-1, -1] -> embeddings:FLOAT[-1, -1, " + C + "]";

    @Test
    void encoderDecoderGraphsHaveThePinnedInputsAndOutputs() throws OrtException {
        Map<String, String> g = actual(Shipped.SEQ2SEQ);
        assertEquals(List.of("embedding", "encoder", "cross_kv", "decoder"), List.copyOf(g.keySet()));
        assertEquals(EMBEDDING, g.get("embedding"));
        assertEquals("embeddings:FLOAT[-1, -1, " + C + "] attention_mask:INT64[-1, -1]"
                + " -> encoder_hidden_states:FLOAT[-1, -1, " + C + "]", g.get("encoder"));
        assertEquals("encoder_hidden_states:FLOAT[-1, -1, " + C + "] -> " + kv("cross", 3), g.get("cross_kv"));
        // the cross-attention ragged too: each row's source length, the longest plus one, and
        // after each layer's present keys and values its cross keys and values, written in place
        List<String> present = new ArrayList<>();
        for (int i = 0; i < 3; i++) {
            present.add(layer("present", i));
            present.add(layer("present_cross", i));
        }
        assertEquals("embeddings:FLOAT[-1, -1, " + C + "] " + SEQLENS + " " + kv("past", 3) + " "
                + kv("cross", 3) + " cross_seqlens_k:INT32[-1] cross_total_sequence_length:INT32[1]"
                + " -> logits:FLOAT[-1, 1, " + V + "] " + String.join(" ", present), g.get("decoder"));
    }

    @Test
    void decoderOnlyGraphsHaveThePinnedInputsAndOutputs() throws OrtException {
        Map<String, String> g = actual(Shipped.GPT);
        assertEquals(List.of("embedding", "decoder"), List.copyOf(g.keySet()));
        assertEquals(EMBEDDING, g.get("embedding"));
        assertEquals("embeddings:FLOAT[-1, -1, " + C + "] " + SEQLENS + " " + kv("past", 6)
                + " -> logits:FLOAT[-1, 1, " + V + "] " + kv("present", 6), g.get("decoder"));
    }
}
