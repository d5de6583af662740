package dev.solder.optim;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.solder.Generator;
import dev.solder.Tensor;
import dev.solder.nn.Params;
import java.lang.foreign.MemorySegment;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

class AdamWTest {
    static final double LR = 0.01;
    static final double B1 = 0.9;
    static final double B2 = 0.999;
    static final double EPS = 1e-8;
    static final double WD = 0.1;

    /** An unscoped float32 CPU tensor holding {@code v}. */
    static Tensor tensor(float[] v, int... shape) {
        Tensor t = Params.zeros(shape);
        t.backend().copyFromHost(MemorySegment.ofArray(v), 0, t);
        return t;
    }

    static float[] randomFloats(Generator g, int n) {
        float[] v = new float[n];
        for (int i = 0; i < n; i++) {
            v[i] = (float) g.nextGaussian();
        }
        return v;
    }

    /** PyTorch's AdamW for one parameter, in float64: the reference the test checks against. */
    static final class Reference {
        final double[] p;
        final double[] m;
        final double[] v;
        final double wd;
        int t;

        Reference(float[] init, double wd) {
            p = new double[init.length];
            for (int i = 0; i < init.length; i++) {
                p[i] = init[i];
            }
            m = new double[init.length];
            v = new double[init.length];
            this.wd = wd;
        }

        void step(float[] g) {
            t++;
            double bc1 = 1 - Math.pow(B1, t);
            double bc2 = 1 - Math.pow(B2, t);
            for (int i = 0; i < p.length; i++) {
                p[i] -= LR * wd * p[i];                                  // decoupled decay first
                m[i] = B1 * m[i] + (1 - B1) * g[i];
                v[i] = B2 * v[i] + (1 - B2) * (double) g[i] * g[i];
                double denom = Math.sqrt(v[i]) / Math.sqrt(bc2) + EPS;   // torch: sqrt(v)/sqrt(bc2) + eps
                p[i] -= (LR / bc1) * m[i] / denom;
            }
        }
    }

    static void assertClose(double[] expect, float[] actual, double tol, String what) {
        assertEquals(expect.length, actual.length, what);
        for (int i = 0; i < expect.length; i++) {
            assertEquals(expect[i], actual[i], tol * (1 + Math.abs(expect[i])), what + " element " + i);
        }
    }

    @Test
    void threeStepsMatchTheTorchFormulaPerGroup() {
        long seed = Long.getLong("solder.test.seed", System.nanoTime());
        var g = new Generator(seed);
        float[] w0 = randomFloats(g, 6);
        float[] b0 = randomFloats(g, 3);
        Tensor w = tensor(w0, 2, 3).requiresGrad(true);
        Tensor b = tensor(b0, 3).requiresGrad(true);
        Map<String, Tensor> named = new LinkedHashMap<>();
        named.put("dense.weight", w);
        named.put("dense.bias", b);
        var refW = new Reference(w0, WD);
        var refB = new Reference(b0, 0.0);
        var refWNoDecay = new Reference(w0, 0.0);
        try (var opt = AdamW.builder(named).lr(LR).betas(B1, B2).eps(EPS).weightDecay(WD).noDecayOn("bias").build()) {
            assertEquals(List.of(new AdamW.Group(WD, List.of("dense.weight")), new AdamW.Group(0.0, List.of("dense.bias"))),
                    opt.groups());
            for (int step = 1; step <= 3; step++) {
                float[] gw = randomFloats(g, 6);
                w.setGrad(tensor(gw, 2, 3));
                refW.step(gw);
                refWNoDecay.step(gw);
                // Step 2 gives the bias no gradient: it is skipped and its own step count
                // does not advance, so its third update uses bias corrections for t = 2.
                if (step != 2) {
                    float[] gb = randomFloats(g, 3);
                    b.setGrad(tensor(gb, 3));
                    refB.step(gb);
                }
                opt.step();
                opt.zeroGrad();
                assertNull(w.grad());
                String at = " after step " + step + ", seed=" + seed;
                assertClose(refW.p, w.toFloatArray(), 2e-6, "weight" + at);
                assertClose(refB.p, b.toFloatArray(), 2e-6, "bias" + at);
            }
            assertEquals(3, opt.stepCount("dense.weight"));
            assertEquals(2, opt.stepCount("dense.bias"));
            var st = opt.stateDict();
            assertClose(refW.m, st.params().get("dense.weight").expAvg().toFloatArray(), 1e-6, "exp_avg, seed=" + seed);
            assertClose(refW.v, st.params().get("dense.weight").expAvgSq().toFloatArray(), 1e-6, "exp_avg_sq, seed=" + seed);

            // The decay really acted: without it the weight would sit ~lr·wd·|p| per step away,
            // far beyond the tolerance above.
            float[] wf = w.toFloatArray();
            double apart = 0;
            for (int i = 0; i < wf.length; i++) {
                apart = Math.max(apart, Math.abs(refWNoDecay.p[i] - wf[i]));
            }
            assertTrue(apart > 1e-4, "weight ignores decay: max distance " + apart + " from the no-decay result, seed=" + seed);
        } finally {
            w.close();
            b.close();
        }
    }

    @Test
    void hfGroupingExemptsBiasesAndLayerNormWeights() {
        Map<String, Tensor> named = new LinkedHashMap<>();
        for (String n : List.of("bert.embeddings.word_embeddings.weight", "bert.embeddings.LayerNorm.weight",
                "bert.embeddings.LayerNorm.bias", "bert.encoder.layer.0.attention.self.query.weight",
                "bert.encoder.layer.0.attention.self.query.bias", "classifier.weight")) {
            named.put(n, Params.zeros(2).requiresGrad(true));
        }
        Tensor frozen = Params.zeros(2);
        named.put("frozen.weight", frozen);
        try (var opt = AdamW.builder(named).lr(5e-5).weightDecay(0.01).noDecayOn(AdamW.HF_NO_DECAY).build()) {
            assertEquals(List.of(
                    new AdamW.Group(0.01, List.of("bert.embeddings.word_embeddings.weight",
                            "bert.encoder.layer.0.attention.self.query.weight", "classifier.weight")),
                    new AdamW.Group(0.0, List.of("bert.embeddings.LayerNorm.weight", "bert.embeddings.LayerNorm.bias",
                            "bert.encoder.layer.0.attention.self.query.bias"))), opt.groups());
            assertEquals(6, opt.parameters().size(), "a parameter without requiresGrad is not optimised");
        } finally {
            named.values().forEach(Tensor::close);
        }
    }

    @Test
    void stateDictRoundTripContinuesIdentically() {
        long seed = Long.getLong("solder.test.seed", System.nanoTime());
        var g = new Generator(seed);
        float[] w0 = randomFloats(g, 8);
        Tensor a = tensor(w0, 8).requiresGrad(true);
        Tensor b = tensor(w0, 8).requiresGrad(true);
        try (var optA = AdamW.builder(Map.of("w", a)).lr(LR).build();
             var optB = AdamW.builder(Map.of("w", b)).lr(1.0).build()) {
            for (int i = 0; i < 2; i++) {
                a.setGrad(tensor(randomFloats(g, 8), 8));
                optA.step();
            }
            Params.copyInto(a, b);
            optB.loadStateDict(optA.stateDict());
            assertEquals(LR, optB.lr());
            assertEquals(2, optB.stepCount("w"));
            float[] grad = randomFloats(g, 8);
            a.setGrad(tensor(grad, 8));
            b.setGrad(tensor(grad, 8));
            optA.step();
            optB.step();
            assertArrayEquals(a.toFloatArray(), b.toFloatArray(), "seed=" + seed);

            var bad = new AdamW.State(LR, Map.of("nope", optA.stateDict().params().get("w")));
            var e = assertThrows(IllegalArgumentException.class, () -> optB.loadStateDict(bad));
            assertTrue(e.getMessage().contains("'nope'"), e.getMessage());
        } finally {
            a.close();
            b.close();
        }
    }

    @Test
    void clipGradNormMatchesHandComputation() {
        long seed = Long.getLong("solder.test.seed", System.nanoTime());
        var g = new Generator(seed);
        float[] g1 = randomFloats(g, 5);
        float[] g2 = randomFloats(g, 7);
        Tensor p1 = Params.zeros(5).requiresGrad(true);
        Tensor p2 = Params.zeros(7).requiresGrad(true);
        Tensor p3 = Params.zeros(2).requiresGrad(true);   // no gradient: skipped
        Map<String, Tensor> named = new LinkedHashMap<>();
        named.put("a", p1);
        named.put("b", p2);
        named.put("c", p3);
        try (var opt = AdamW.builder(named).build()) {
            double sum = 0;
            for (float x : g1) {
                sum += (double) x * x;
            }
            for (float x : g2) {
                sum += (double) x * x;
            }
            double total = Math.sqrt(sum);

            // Below the limit: reported, untouched.
            p1.setGrad(tensor(g1, 5));
            p2.setGrad(tensor(g2, 7));
            assertEquals(total, opt.clipGradNorm(total * 10), 1e-12 * total, "seed=" + seed);
            assertArrayEquals(g1, p1.grad().toFloatArray());

            // Above: every gradient scaled by max / (total + 1e-6), as torch does.
            double max = total / 3;
            assertEquals(total, opt.clipGradNorm(max), 1e-12 * total, "seed=" + seed);
            double coef = max / (total + 1e-6);
            float[] c1 = p1.grad().toFloatArray();
            float[] c2 = p2.grad().toFloatArray();
            for (int i = 0; i < 5; i++) {
                assertEquals(g1[i] * coef, c1[i], 1e-6 * Math.abs(g1[i]) + 1e-7, "a[" + i + "], seed=" + seed);
            }
            for (int i = 0; i < 7; i++) {
                assertEquals(g2[i] * coef, c2[i], 1e-6 * Math.abs(g2[i]) + 1e-7, "b[" + i + "], seed=" + seed);
            }
            assertEquals(max, GradClip.totalNorm(opt.parameters()), 1e-5 * max, "norm after clipping, seed=" + seed);
            assertNull(p3.grad());
        } finally {
            p1.close();
            p2.close();
            p3.close();
        }
    }

    @Test
    void stepWithTheClipCoefficientEqualsClippingThenStepping() {
        long seed = Long.getLong("solder.test.seed", System.nanoTime());
        var g = new Generator(seed);
        float[] w0 = randomFloats(g, 300);
        float[] b0 = randomFloats(g, 7);
        Tensor wa = tensor(w0, 30, 10).requiresGrad(true);
        Tensor ba = tensor(b0, 7).requiresGrad(true);
        Tensor wb = tensor(w0, 30, 10).requiresGrad(true);
        Tensor bb = tensor(b0, 7).requiresGrad(true);
        Map<String, Tensor> a = new LinkedHashMap<>();
        a.put("w", wa);
        a.put("b", ba);
        Map<String, Tensor> b = new LinkedHashMap<>();
        b.put("w", wb);
        b.put("b", bb);
        try (var optA = AdamW.builder(a).lr(LR).weightDecay(WD).build();
             var optB = AdamW.builder(b).lr(LR).weightDecay(WD).build()) {
            for (int step = 0; step < 3; step++) {
                float[] gw = randomFloats(g, 300);
                float[] gb = randomFloats(g, 7);
                wa.setGrad(tensor(gw, 30, 10));
                ba.setGrad(tensor(gb, 7));
                wb.setGrad(tensor(gw, 30, 10));
                bb.setGrad(tensor(gb, 7));
                // Step 1 is below the limit (coefficient 1); the others clip.
                double max = step == 1 ? 1e9 : 2.0;
                double normA = optA.clipGradNorm(max);
                optA.step();
                double normB = GradClip.totalNorm(optB.parameters());
                optB.step(GradClip.coefficient(normB, max));
                assertEquals(normA, normB, 0.0, "seed=" + seed);
                assertArrayEquals(wa.toFloatArray(), wb.toFloatArray(), "w after step " + step + ", seed=" + seed);
                assertArrayEquals(ba.toFloatArray(), bb.toFloatArray(), "b after step " + step + ", seed=" + seed);
                // The fused form leaves the gradients as they were.
                assertArrayEquals(gw, wb.grad().toFloatArray(), "seed=" + seed);
            }
            assertEquals(1f, GradClip.coefficient(0.5, 1.0));
            assertTrue(Float.isNaN(GradClip.coefficient(Double.NaN, 1.0)), "a NaN norm spreads, as in torch");
            assertThrows(IllegalArgumentException.class, () -> GradClip.coefficient(1.0, -1.0));
        } finally {
            for (Tensor t : List.of(wa, ba, wb, bb)) {
                t.close();
            }
        }
    }
}
