package dev.solder.backend.cpu;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.solder.DType;
import dev.solder.Device;
import dev.solder.Ops;
import dev.solder.Philox;
import dev.solder.Scope;
import dev.solder.Tensor;
import org.junit.jupiter.api.Test;

/** Gradient and forward checks of the elementwise ops, sums, GELU, tanh and dropout. */
class ElementwiseOpsTest {
    private final GradCheck gc = new GradCheck();

    @Test
    void addSameShape() {
        gc.op("add").input("a", 3, 5).input("b", 3, 5)
                .run(t -> Ops.add(t[0], t[1]), x -> Reference.add(x[0], x[1], 1, 1));
    }

    @Test
    void addBroadcastsASuffix() {
        gc.op("add [2,5,3] + [3]").input("a", 2, 5, 3).input("b", 3)
                .run(t -> Ops.add(t[0], t[1]), x -> Reference.add(x[0], x[1], 1, 1));
        gc.op("add [2,5,3] + [5,3]").input("a", 2, 5, 3).input("b", 5, 3)
                .run(t -> Ops.add(t[0], t[1]), x -> Reference.add(x[0], x[1], 1, 1));
        // The smaller operand first: Ops swaps them, the gradients must still land right.
        gc.op("add [3] + [2,5,3]").input("b", 3).input("a", 2, 5, 3)
                .run(t -> Ops.add(t[0], t[1]), x -> Reference.add(x[1], x[0], 1, 1));
    }

    @Test
    void addOfLongRowsUsesTheVectorBody() {
        // 2·37 columns: vector lanes plus a scalar tail in every broadcast run.
        gc.op("add [3,74] + [74]").input("a", 3, 74).input("b", 74)
                .run(t -> Ops.add(t[0], t[1]), x -> Reference.add(x[0], x[1], 1, 1));
    }

    @Test
    void sub() {
        gc.op("sub").input("a", 4, 3).input("b", 4, 3)
                .run(t -> Ops.sub(t[0], t[1]), x -> Reference.add(x[0], x[1], 1, -1));
        gc.op("sub broadcast").input("a", 2, 3, 5).input("b", 5)
                .run(t -> Ops.sub(t[0], t[1]), x -> Reference.add(x[0], x[1], 1, -1));
    }

    @Test
    void mul() {
        gc.op("mul").input("a", 3, 7).input("b", 3, 7)
                .run(t -> Ops.mul(t[0], t[1]), x -> Reference.mul(x[0], x[1]));
        gc.op("mul broadcast").input("a", 2, 3, 7).input("b", 7)
                .run(t -> Ops.mul(t[0], t[1]), x -> Reference.mul(x[0], x[1]));
        gc.op("mul broadcast swapped").input("b", 3, 7).input("a", 2, 3, 7)
                .run(t -> Ops.mul(t[0], t[1]), x -> Reference.mul(x[1], x[0]));
        gc.op("mul by scalar tensor").input("a", 5, 3).input("s", new double[] {-1.75})
                .run(t -> Ops.mul(t[0], t[1]), x -> Reference.mul(x[0], x[1]));
    }

    @Test
    void scale() {
        gc.op("scale").input("a", 3, 5, 2)
                .run(t -> Ops.scale(t[0], -0.37f), x -> Reference.map(x[0], v -> v * (double) -0.37f));
    }

    @Test
    void sumAndMean() {
        gc.op("sum").input("a", 3, 5, 7)
                .run(t -> Ops.sum(t[0]), x -> new double[] {Reference.sum(x[0])});
        gc.op("mean").input("a", 3, 5, 7)
                .run(t -> Ops.mean(t[0]), x -> new double[] {Reference.sum(x[0]) / x[0].length});
    }

    @Test
    void sumOfManyElementsIsFloat64Accurate() {
        // n copies of 0.1f sum to n·(0.1f) exactly in float64; a float32 running sum drifts by ~0.1%.
        int n = 300_000;
        try (Scope s = Scope.open()) {
            Tensor t = Tensor.full(0.1, DType.FLOAT32, Device.cpu(), n);
            assertEquals((float) (n * (double) 0.1f), Ops.sum(t).item(), 0f);
        }
    }

    @Test
    void gelu() {
        gc.op("gelu").input("x", 4, 7)
                .run(t -> Ops.gelu(t[0]), x -> Reference.map(x[0], Reference::gelu));
    }

    @Test
    void geluTanh() {
        gc.op("geluTanh").input("x", 4, 7)
                .run(t -> Ops.geluTanh(t[0]), x -> Reference.map(x[0], Reference::geluTanh));
    }

    @Test
    void geluIsCorrectlyRoundedAcrossItsRange() {
        // A dense grid through all three of Cody's intervals and the far tails: the float32
        // result must be within one float ulp of the float64 reference everywhere, including
        // tiny negative outputs where 1 + erf would cancel.
        int n = 4001;
        double[] x = new double[n];
        for (int i = 0; i < n; i++) {
            x[i] = (float) (-12 + 24.0 * i / (n - 1));
        }
        try (Scope s = Scope.open()) {
            Tensor t = GradCheck.tensor(x, n);
            float[] exact = Ops.gelu(t).toFloatArray();
            float[] approx = Ops.geluTanh(t).toFloatArray();
            for (int i = 0; i < n; i++) {
                double ref = Reference.gelu(x[i]);
                assertEquals(ref, exact[i], Math.ulp((float) ref) + 1e-44, "gelu(" + x[i] + ")");
                double refT = Reference.geluTanh(x[i]);
                assertEquals(refT, approx[i], Math.ulp((float) refT) + 1e-44, "geluTanh(" + x[i] + ")");
            }
        }
    }

    @Test
    void geluDerivativeMatchesTheReferenceAcrossItsRange() {
        int n = 181;
        double[] x = new double[n];
        for (int i = 0; i < n; i++) {
            x[i] = (float) (-9 + 18.0 * i / (n - 1) + 0.01);
        }
        gc.op("gelu grid").input("x", x, n).tolerances(1e-5, 1e-5, 1e-7)
                .run(t -> Ops.gelu(t[0]), v -> Reference.map(v[0], Reference::gelu));
        gc.op("geluTanh grid").input("x", x, n).tolerances(1e-5, 1e-5, 1e-7)
                .run(t -> Ops.geluTanh(t[0]), v -> Reference.map(v[0], Reference::geluTanh));
    }

    @Test
    void tanh() {
        gc.op("tanh").input("x", 5, 3)
                .run(t -> Ops.tanh(t[0]), x -> Reference.map(x[0], Math::tanh));
    }

    @Test
    void dropoutGradient() {
        long seed = gc.rng.nextLong();
        gc.op("dropout p=0.3").input("x", 3, 11)
                .run(t -> Ops.dropout(t[0], 0.3f, seed), x -> Reference.dropout(x[0], 0.3, seed));
    }

    @Test
    void dropoutMaskIsAFunctionOfTheSeed() {
        int n = 1 << 18;
        float p = 0.15f;
        long seed = gc.rng.nextLong();
        try (Scope s = Scope.open()) {
            Tensor x = Tensor.ones(n);
            float[] a = Ops.dropout(x, p, seed).toFloatArray();
            float[] b = Ops.dropout(x, p, seed).toFloatArray();
            float[] c = Ops.dropout(x, p, seed + 1).toFloatArray();
            assertArrayEquals(a, b, "same seed, same mask (" + gc.tag() + ")");
            int kept = 0;
            int differ = 0;
            float scale = 1f / (1f - p);
            for (int i = 0; i < n; i++) {
                assertTrue(a[i] == 0f || a[i] == scale, "element " + i + " is " + a[i] + " (" + gc.tag() + ")");
                assertEquals(Philox.keep(seed, i, p), a[i] != 0f, "element " + i + " follows Philox.keep (" + gc.tag() + ")");
                kept += a[i] != 0f ? 1 : 0;
                differ += (a[i] != 0f) != (c[i] != 0f) ? 1 : 0;
            }
            double keepFraction = kept / (double) n;
            // Binomial(n, 0.85): sd ≈ 7e-4, so ±5e-3 is a 7-sigma band.
            assertEquals(1 - p, keepFraction, 5e-3, "keep fraction (" + gc.tag() + ")");
            // Independent masks disagree on 2·p·(1−p) ≈ 25.5% of elements.
            assertEquals(2 * p * (1 - p), differ / (double) n, 1e-2, "another seed, another mask (" + gc.tag() + ")");
            assertFalse(differ == 0);
        }
    }

    @Test
    void bulkPhiloxIsPhilox() {
        // The kernels' integer keep test and unrolled rounds must be the reference function, bit
        // for bit, across seeds, indices past 2^32 and probabilities on the 2^-24 grid and off it.
        float[] ps = {0f, 0.1f, 0.5f, 0.9f, 1f / 3, 0x1.0p-24f, 1 - 0x1.0p-24f};
        for (int t = 0; t < 20_000; t++) {
            long seed = gc.rng.nextLong();
            long index = t % 2 == 0 ? gc.rng.nextLong(1L << 40) : gc.rng.nextLong() >>> 1;
            assertEquals(Philox.bits(seed, index), CpuPhilox.bits(seed, index), "bits seed " + seed + " index " + index);
            float p = t % 3 == 0 ? (float) gc.rng.nextDouble() : ps[t % ps.length];
            assertEquals(Philox.keep(seed, index, p), CpuPhilox.keep(seed, index, CpuPhilox.threshold(p)),
                    "keep seed " + seed + " index " + index + " p " + p);
        }
    }

    @Test
    void bulkRunsArePhiloxElementByElement() {
        // apply() and mask() work a vector of consecutive elements at a time: check every element
        // of runs at odd offsets and lengths, some crossing the 2^32 index boundary.
        for (int t = 0; t < 200; t++) {
            long seed = gc.rng.nextLong();
            int n = 1 + gc.rng.nextInt(70);
            long index0 = t % 4 == 0 ? (1L << 32) - gc.rng.nextInt(40) : gc.rng.nextLong(1L << 40);
            float p = (float) gc.rng.nextDouble();
            int threshold = CpuPhilox.threshold(p);
            float[] buf = new float[n + 3];
            for (int i = 0; i < buf.length; i++) {
                buf[i] = (float) gc.rng.nextGaussian();
            }
            float[] in = buf.clone();
            boolean[] keep = new boolean[n + 5];
            CpuPhilox.apply(seed, index0, threshold, 1.5f, buf, 3, n);
            CpuPhilox.mask(seed, index0, threshold, keep, 5, n);
            for (int j = 0; j < n; j++) {
                boolean k = Philox.keep(seed, index0 + j, p);
                String at = "seed " + seed + " index " + (index0 + j) + " p " + p;
                assertEquals(k ? in[3 + j] * 1.5f : 0f, buf[3 + j], 0f, "apply, " + at);
                assertEquals(k, keep[5 + j], "mask, " + at);
            }
            for (int j = 0; j < 3; j++) {
                assertEquals(in[j], buf[j], 0f, "apply touched element " + j + " before its run");
            }
        }
    }

    @Test
    void dropoutBackwardAppliesTheForwardMask() {
        long seed = gc.rng.nextLong();
        try (Scope s = Scope.open()) {
            Tensor x = GradCheck.tensor(gc.randn(1000), 1000).requiresGrad(true);
            Tensor y = Ops.dropout(x, 0.4f, seed);
            y.sum().backward();
            float[] yv = y.toFloatArray();
            float[] g = x.grad().toFloatArray();
            for (int i = 0; i < 1000; i++) {
                assertEquals(yv[i] == 0f ? 0f : 1f / (1f - 0.4f), g[i], 0f, "element " + i + " (" + gc.tag() + ")");
            }
        }
    }
}
