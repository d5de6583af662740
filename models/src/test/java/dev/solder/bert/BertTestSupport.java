package dev.solder.bert;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;

import dev.solder.Autograd;
import dev.solder.DType;
import dev.solder.Generator;
import dev.solder.Scope;
import dev.solder.Tensor;
import dev.solder.io.RawTensor;
import dev.solder.nn.Module;
import java.io.IOException;
import java.lang.foreign.Arena;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.SplittableRandom;

/** Small random BERTs, their inputs, and checkpoints of them in other formats and namings. */
final class BertTestSupport {
    static final int VOCAB = 100;

    private BertTestSupport() {
    }

    /** A seed that differs per run; tests print it and put it in failure messages. */
    static long freshSeed(String test) {
        long seed = Long.getLong("solder.test.seed", System.nanoTime() ^ (Thread.currentThread().threadId() * 0x9E3779B97F4A7C15L));
        System.out.println(test + ": seed " + seed);
        return seed;
    }

    /** hidden 32, 2 layers, 4 heads, intermediate 64, vocab 100, 40 positions. */
    static BertConfig config() {
        return BertConfig.builder().vocabSize(VOCAB).hiddenSize(32).numHiddenLayers(2).numAttentionHeads(4)
                .intermediateSize(64).maxPositionEmbeddings(40).build();
    }

    /** Random ids (not [PAD]), token types and a mask with padding at the end of row 1. */
    static long[][] inputs(long seed, int b, int s) {
        SplittableRandom r = new SplittableRandom(seed);
        long[] ids = new long[b * s];
        long[] types = new long[b * s];
        long[] mask = new long[b * s];
        for (int i = 0; i < b; i++) {
            int len = i == 1 ? s - 3 : s;
            for (int j = 0; j < s; j++) {
                ids[i * s + j] = j < len ? r.nextInt(1, VOCAB) : 0;
                types[i * s + j] = j < len && j >= s / 2 ? 1 : 0;
                mask[i * s + j] = j < len ? 1 : 0;
            }
        }
        return new long[][] {ids, types, mask};
    }

    /** The model's output for {@code inputs(seed, 3, 9)}, in eval mode. */
    static float[] outputs(Module m, long seed) {
        m.eval();
        long[][] in = inputs(seed, 3, 9);
        try (var ng = Autograd.noGrad(); Scope s = Scope.open()) {
            Tensor ids = Tensor.ofLongs(in[0], 3, 9);
            Tensor types = Tensor.ofLongs(in[1], 3, 9);
            Tensor mask = Tensor.ofLongs(in[2], 3, 9);
            return switch (m) {
                case BertForSequenceClassification c -> c.forward(ids, types, mask).toFloatArray();
                case BertForMaskedLM l -> l.forward(ids, types, mask).toFloatArray();
                case BertModel b -> {
                    BertModel.Output o = b.forward(ids, types, mask);
                    float[] h = o.lastHiddenState().toFloatArray();
                    float[] p = o.pooled() == null ? new float[0] : o.pooled().toFloatArray();
                    float[] all = java.util.Arrays.copyOf(h, h.length + p.length);
                    System.arraycopy(p, 0, all, h.length, p.length);
                    yield all;
                }
                default -> throw new IllegalArgumentException(m.toString());
            };
        }
    }

    /** The model's state dict as float32 raw tensors (HF names), in {@code arena}. */
    static Map<String, RawTensor> rawState(Module m, Arena arena) {
        Map<String, RawTensor> out = new LinkedHashMap<>();
        for (var e : m.stateDict().entrySet()) {
            out.put(e.getKey(), RawTensor.ofFloats(arena, e.getKey(), e.getValue().toFloatArray(),
                    java.util.Arrays.stream(e.getValue().shape()).asLongStream().toArray()));
        }
        return out;
    }

    /** A copy of {@code t} under another name. */
    static RawTensor renamed(Arena arena, RawTensor t, String name) {
        return RawTensor.ofFloats(arena, name, t.toFloatArray(), t.shape());
    }

    /** As bfloat16 (rounded to nearest even). */
    static RawTensor toBf16(Arena arena, RawTensor t) {
        float[] v = t.toFloatArray();
        RawTensor out = RawTensor.allocate(arena, t.name(), DType.BFLOAT16, t.shape());
        for (int i = 0; i < v.length; i++) {
            out.data().setAtIndex(java.lang.foreign.ValueLayout.JAVA_SHORT_UNALIGNED, i, DType.floatToBf16(v[i]));
        }
        return out;
    }

    /**
     * Google's TF names for an HF state dict, written here independently of the loader:
     * {@code bert/encoder/layer_0/.../kernel} ([in, out], transposed), {@code gamma/beta},
     * embedding tables without {@code /weight}, {@code cls/predictions/output_bias},
     * {@code output_weights/output_bias} for the classifier. {@code scope} ("" or "module/") goes in front.
     */
    static List<RawTensor> tfState(Map<String, RawTensor> hf, Arena arena, String scope) {
        List<RawTensor> out = new ArrayList<>();
        for (RawTensor t : hf.values()) {
            String n = t.name();
            String tf;
            boolean transpose = false;
            if (n.equals("classifier.weight")) {
                tf = "output_weights";
            } else if (n.equals("classifier.bias")) {
                tf = "output_bias";
            } else if (n.equals("cls.predictions.bias")) {
                tf = "cls/predictions/output_bias";
            } else {
                String full = n.startsWith("bert.") || n.startsWith("cls.") ? n : "bert." + n;   // Google's names always have bert/
                tf = full.replaceAll("\\.layer\\.(\\d+)\\.", ".layer_$1.");
                if (tf.endsWith("_embeddings.weight")) {
                    tf = tf.substring(0, tf.length() - ".weight".length());
                } else if (tf.endsWith("LayerNorm.weight")) {
                    tf = tf.substring(0, tf.length() - "weight".length()) + "gamma";
                } else if (tf.endsWith("LayerNorm.bias")) {
                    tf = tf.substring(0, tf.length() - "bias".length()) + "beta";
                } else if (tf.endsWith(".weight")) {
                    tf = tf.substring(0, tf.length() - "weight".length()) + "kernel";
                    transpose = true;
                }
                tf = tf.replace('.', '/');
            }
            float[] v = t.toFloatArray();
            long[] shape = t.shape();
            if (transpose) {
                int rows = (int) shape[0];
                int cols = (int) shape[1];
                float[] tr = new float[v.length];
                for (int i = 0; i < rows; i++) {
                    for (int j = 0; j < cols; j++) {
                        tr[j * rows + i] = v[i * cols + j];
                    }
                }
                v = tr;
                shape = new long[] {cols, rows};
            }
            out.add(RawTensor.ofFloats(arena, scope + tf, v, shape));
        }
        return out;
    }

    /** Writes the model's config.json into {@code dir} (as {@code name}, e.g. Google's bert_config.json). */
    static void writeConfig(BertConfig c, Path dir, String name) throws IOException {
        Files.createDirectories(dir);
        Files.writeString(dir.resolve(name), c.toJson().toPrettyString());
    }

    /** Every float of the model's parameters, in state-dict order. */
    static Map<String, float[]> values(Module m) {
        Map<String, float[]> out = new LinkedHashMap<>();
        m.stateDict().forEach((k, v) -> out.put(k, v.toFloatArray()));
        return out;
    }

    /**
     * {@code m} with its biases and LayerNorms drawn afresh ({@link ExportCheck#randomizeConstants}):
     * after plain initialisation they are all 0 or 1/0, so a loader that swapped two of them would
     * still give identical outputs. The weights are random from initialisation already.
     */
    static <M extends Module> M randomized(M m, long seed) {
        return ExportCheck.randomizeConstants(m, new Generator(seed ^ 0x2545F4914F6CDD1DL));
    }

    /** Every parameter of {@code want} has the same name and bits in {@code got}. */
    static void assertSameParameters(Module want, Module got, String message) {
        Map<String, float[]> w = values(want);
        Map<String, float[]> g = values(got);
        assertEquals(w.keySet(), g.keySet(), message);
        w.forEach((k, v) -> assertArrayEquals(v, g.get(k), 0f, k + ": " + message));
    }
}
