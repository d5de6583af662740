package dev.solder;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;

/**
 * {@link Ops#embeddingsLayerNorm} against the ops it stands for — BertEmbeddings' former
 * {@code layerNorm(add(add(embedding(ids), embedding(types)), embedding(positions)))}: the same
 * bits forward and for every gradient on the CPU, so models and checkpoints trained before the
 * op existed train on identically.
 */
class EmbeddingsLayerNormTest {
    private final long seed = Long.getLong("solder.test.seed", System.nanoTime());

    private record Setup(Tensor ids, Tensor types, Tensor positions, List<float[]> params, int[][] shapes) {
    }

    private Setup setup(Generator g, int b, int s, int h, int vocab, int pad) {
        int[] ids = new int[b * s];
        int[] types = new int[b * s];
        for (int n = 0; n < ids.length; n++) {
            // a few repeats and the padding id, as real batches have
            ids[n] = n % 5 == 4 ? pad : (int) (g.nextFloat() * vocab);
            types[n] = n % s >= s / 2 ? 1 : 0;
        }
        long[] pos = new long[s];
        for (int i = 0; i < s; i++) {
            pos[i] = i + 1;    // not 0..S-1: the op must use the ids it is given
        }
        int[][] shapes = {{vocab, h}, {2, h}, {s + 3, h}, {h}, {h}};
        List<float[]> params = new ArrayList<>();
        for (int[] sh : shapes) {
            params.add(Tensor.randn(g, sh).toFloatArray());
        }
        float[] gamma = params.get(3);
        for (int i = 0; i < h; i++) {
            gamma[i] = 1f + 0.3f * gamma[i];
        }
        return new Setup(Tensor.ofInts(ids, b, s), Tensor.ofInts(types, b, s), Tensor.ofLongs(pos, s), params, shapes);
    }

    private static List<Tensor> leaves(Setup st) {
        List<Tensor> l = new ArrayList<>();
        for (int i = 0; i < st.params().size(); i++) {
            l.add(Tensor.of(st.params().get(i), st.shapes()[i]).requiresGrad(true));
        }
        return l;
    }

    /** Output and the five gradients, as float bits. */
    private static List<int[]> run(Setup st, Tensor dy, int pad, boolean fusedOp) {
        List<Tensor> p = leaves(st);
        List<int[]> r = new ArrayList<>();
        try (Scope s = Scope.open()) {
            Tensor out;
            if (fusedOp) {
                out = Ops.embeddingsLayerNorm(st.ids(), st.types(), st.positions(), p.get(0), p.get(1), p.get(2), p.get(3),
                        p.get(4), 1e-12f, pad);
            } else {
                Tensor sum = Ops.add(Ops.add(Ops.embedding(st.ids(), p.get(0), pad), Ops.embedding(st.types(), p.get(1), -1)),
                        Ops.embedding(st.positions(), p.get(2), -1));
                out = Ops.layerNorm(sum, null, p.get(3), p.get(4), 1e-12f);
            }
            r.add(FloatBits.of(out));
            out.backward(dy);
        }
        for (Tensor t : p) {
            r.add(FloatBits.of(t.grad()));
            t.close();
        }
        return r;
    }

    @Test
    void sameBitsAsTheOpsItReplacesForwardAndBackward() {
        Generator g = new Generator(seed);
        int b = 3;
        int s = 7;
        int h = 24;
        int pad = 0;
        Setup st = setup(g, b, s, h, 11, pad);
        Tensor dy = Tensor.randn(g, b, s, h);
        List<int[]> op = run(st, dy, pad, true);
        List<int[]> composed = run(st, dy, pad, false);
        String[] names = {"out", "dword", "dtype", "dposition", "dgamma", "dbeta"};
        for (int i = 0; i < names.length; i++) {
            assertArrayEquals(composed.get(i), op.get(i), names[i] + " differs from the composed ops (seed " + seed + ")");
        }
        // the padding row gets no gradient, the rows of unused positions neither; used rows do
        float[] dword = toFloats(op.get(1));
        for (int c = 0; c < h; c++) {
            assertEquals(0f, dword[pad * h + c], "padding row has a gradient (seed " + seed + ")");
        }
        float[] dpos = toFloats(op.get(3));
        boolean usedNonZero = false;
        for (int c = 0; c < h; c++) {
            assertEquals(0f, dpos[c], "position 0 is never used (seed " + seed + ")");
            usedNonZero |= dpos[h + c] != 0f;
        }
        assertTrue(usedNonZero, "position 1 (the first used) got no gradient (seed " + seed + ")");
    }

    private static float[] toFloats(int[] bits) {
        float[] f = new float[bits.length];
        for (int i = 0; i < bits.length; i++) {
            f[i] = Float.intBitsToFloat(bits[i]);
        }
        return f;
    }

    @Test
    void theJavadocExampleNormalisesEachToken() {
        Generator g = new Generator(42);
        Tensor word = Tensor.randn(g, 100, 8);
        Tensor type = Tensor.randn(g, 2, 8);
        Tensor position = Tensor.randn(g, 16, 8);
        Tensor ids = Tensor.ofInts(new int[] {1, 57, 2, 1, 9, 0}, 2, 3);
        Tensor types = Tensor.zeros(DType.INT32, Device.cpu(), 2, 3);
        Tensor positions = Tensor.arange(0, 3);
        Tensor h = Ops.embeddingsLayerNorm(ids, types, positions, word, type, position, Tensor.ones(8), Tensor.zeros(8),
                1e-12f, 0);
        assertArrayEquals(new int[] {2, 3, 8}, h.shape());
        float[] v = h.toFloatArray();
        float[] w = word.toFloatArray();
        float[] t = type.toFloatArray();
        float[] p = position.toFloatArray();
        int[] idv = {1, 57, 2, 1, 9, 0};
        for (int n = 0; n < 6; n++) {
            // by hand: (word + type) + position, then (x − mean)/sqrt(var + eps)
            double[] x = new double[8];
            double mean = 0;
            for (int c = 0; c < 8; c++) {
                x[c] = (float) ((float) (w[idv[n] * 8 + c] + t[c]) + p[(n % 3) * 8 + c]);
                mean += x[c] / 8;
            }
            double var = 0;
            for (int c = 0; c < 8; c++) {
                var += (x[c] - mean) * (x[c] - mean) / 8;
            }
            for (int c = 0; c < 8; c++) {
                assertEquals((x[c] - mean) / Math.sqrt(var + 1e-12), v[n * 8 + c], 1e-5, "token " + n + ", column " + c);
            }
        }
    }

    @Test
    void badShapesAndIdsFailNamingWhatWasExpected() {
        Generator g = new Generator(seed);
        Setup st = setup(g, 2, 4, 8, 9, 0);
        List<Tensor> p = leaves(st);
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> Ops.embeddingsLayerNorm(st.ids(),
                st.types(), Tensor.ofLongs(new long[] {0, 1, 2}, 3), p.get(0), p.get(1), p.get(2), p.get(3), p.get(4),
                1e-12f, 0));
        assertTrue(e.getMessage().contains("must be [B, S], [B, S] and [S]"), e.getMessage());
        Tensor narrow = Tensor.randn(g, 2, 5);
        e = assertThrows(IllegalArgumentException.class, () -> Ops.embeddingsLayerNorm(st.ids(), st.types(), st.positions(),
                p.get(0), narrow, p.get(2), p.get(3), p.get(4), 1e-12f, 0));
        assertTrue(e.getMessage().contains("must be [rows, H] of one dtype"), e.getMessage());
        Tensor badIds = Tensor.ofInts(new int[] {1, 2, 3, 4, 5, 6, 9, 1}, 2, 4);
        e = assertThrows(IllegalArgumentException.class, () -> Ops.embeddingsLayerNorm(badIds, st.types(), st.positions(),
                p.get(0), p.get(1), p.get(2), p.get(3), p.get(4), 1e-12f, 0));
        assertTrue(e.getMessage().contains("9"), e.getMessage());
        for (Tensor t : p) {
            t.close();
        }
    }
}
