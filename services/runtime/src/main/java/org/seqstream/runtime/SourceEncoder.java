package org.seqstream.runtime;

import ai.onnxruntime.OnnxTensor;
import ai.onnxruntime.OrtEnvironment;
import ai.onnxruntime.OrtException;
import ai.onnxruntime.OrtSession;

import java.nio.FloatBuffer;
import java.nio.LongBuffer;
import java.util.List;
import java.util.Map;

/**
 * The embedding and encoder graphs over micro-batches of sequences of different lengths, as the
 * pipeline's embedding and encoder stages run them: rows right-padded to the longest (of the
 * micro-batch for the embedding, of a group of similar lengths for the encoder), with a mask,
 * and each row's result cut back to its own length.
 */
public final class SourceEncoder {
    private final OnnxModel model;
    private final int width;
    private final OrtEnvironment env = OrtEnvironment.getEnvironment();

    public SourceEncoder(OnnxModel model) {
        this.model = model;
        this.width = model.pkg().dModel();
    }

    /** Token embeddings of each sequence: one [length, d_model] array per row, row-major. */
    public float[][] embed(List<long[]> sequences) {
        int rows = sequences.size(), s = maxLength(sequences.stream().mapToInt(a -> a.length).toArray());
        long[] ids = new long[rows * s];
        long[] pos = new long[rows * s];
        for (int r = 0; r < rows; r++) {
            long[] seq = sequences.get(r);
            for (int j = 0; j < seq.length; j++) {
                ids[r * s + j] = seq[j];
                pos[r * s + j] = j;
            }
        }
        try (OnnxTensor i = OnnxTensor.createTensor(env, LongBuffer.wrap(ids), new long[] {rows, s});
             OnnxTensor p = OnnxTensor.createTensor(env, LongBuffer.wrap(pos), new long[] {rows, s});
             OrtSession.Result out = model.session(ModelPackage.EMBEDDING).run(Map.of("input_ids", i, "position_ids", p))) {
            return split((OnnxTensor) out.get(0), sequences.stream().mapToInt(a -> a.length).toArray(), s);
        } catch (OrtException e) {
            throw new IllegalStateException("embedding graph of " + model.pkg().name() + " failed: " + e.getMessage(), e);
        }
    }

    /**
     * Encoder output of each sequence from its embeddings ([length, d_model] each). Sequences run
     * in groups of similar length ({@link DecodeScheduler#prefillGroups}): a group's rows are
     * padded to its longest, and the encoder's cost grows with the padded length (its attention
     * with the square of it), so sources of 20 and 250 tokens are not encoded as two of 250.
     */
    public float[][] encode(List<float[]> embeddings) {
        int[] lengths = embeddings.stream().mapToInt(e -> e.length / width).toArray();
        maxLength(lengths);
        float[][] out = new float[lengths.length][];
        List<Integer> rows = java.util.stream.IntStream.range(0, lengths.length).boxed().toList();
        for (List<Integer> group : DecodeScheduler.prefillGroups(rows, r -> lengths[r])) {
            float[][] encoded = encodePadded(group.stream().map(embeddings::get).toList(),
                    group.stream().mapToInt(r -> lengths[r]).toArray());
            for (int i = 0; i < group.size(); i++) {
                out[group.get(i)] = encoded[i];
            }
        }
        return out;
    }

    /** One encoder call over {@code embeddings}, right-padded to the longest. */
    private float[][] encodePadded(List<float[]> embeddings, int[] lengths) {
        int rows = embeddings.size();
        int s = maxLength(lengths);
        float[] x = new float[rows * s * width];
        long[] mask = new long[rows * s];
        for (int r = 0; r < rows; r++) {
            System.arraycopy(embeddings.get(r), 0, x, r * s * width, lengths[r] * width);
            for (int j = 0; j < lengths[r]; j++) {
                mask[r * s + j] = 1;
            }
        }
        try (OnnxTensor e = OnnxTensor.createTensor(env, FloatBuffer.wrap(x), new long[] {rows, s, width});
             OnnxTensor m = OnnxTensor.createTensor(env, LongBuffer.wrap(mask), new long[] {rows, s});
             OrtSession.Result out = model.session(ModelPackage.ENCODER).run(Map.of("embeddings", e, "attention_mask", m))) {
            return split((OnnxTensor) out.get(0), lengths, s);
        } catch (OrtException ex) {
            throw new IllegalStateException("encoder graph of " + model.pkg().name() + " failed: " + ex.getMessage(), ex);
        }
    }

    private static int maxLength(int[] lengths) {
        int s = 0;
        for (int l : lengths) {
            if (l <= 0) {
                throw new IllegalArgumentException("empty sequence");
            }
            s = Math.max(s, l);
        }
        return s;
    }

    /** Cuts a [rows, s, width] output into rows of their own length. */
    private float[][] split(OnnxTensor t, int[] lengths, int s) {
        FloatBuffer fb = t.getFloatBuffer();
        float[][] out = new float[lengths.length][];
        for (int r = 0; r < lengths.length; r++) {
            out[r] = new float[lengths[r] * width];
            fb.position(r * s * width);
            fb.get(out[r]);
        }
        return out;
    }
}
