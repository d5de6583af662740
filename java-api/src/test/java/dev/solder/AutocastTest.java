package dev.solder;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.concurrent.atomic.AtomicReference;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;
import org.junit.jupiter.api.Test;

class AutocastTest {
    private static final long SEED = Long.getLong("solder.test.seed", System.nanoTime());

    private static Tensor randn(long seed, int... shape) {
        return Tensor.randn(new Generator(seed), shape);
    }

    @ParameterizedTest
    @EnumSource(value = DType.class, names = {"BFLOAT16", "FLOAT16"})
    void productsRunOnLoweredCopiesAndNormsLossesInFloat32(DType low) {
        try (Scope s = Scope.open()) {
            Tensor x = randn(SEED, 4, 6, 8);
            Tensor w = randn(SEED + 1, 5, 8);
            Tensor b = randn(SEED + 2, 5);
            Tensor gamma = randn(SEED + 3, 5);
            Tensor beta = randn(SEED + 4, 5);
            Tensor y;
            Tensor yGelu;
            Tensor norm;
            Tensor sum;
            try (Autocast ac = Autocast.enable(low)) {
                assertEquals(low, Autocast.current());
                y = Ops.linear(x, w, b);
                yGelu = Ops.linearGelu(x, w, b);
                norm = Ops.layerNorm(y, null, gamma, beta, 1e-12f);
                sum = Ops.add(y, norm);
            }
            assertNull(Autocast.current(), "the region ends with close()");
            assertEquals(low, y.dtype());
            assertEquals(low, yGelu.dtype());
            assertEquals(DType.FLOAT32, norm.dtype(), "layerNorm widens to float32");
            assertEquals(DType.FLOAT32, sum.dtype(), "mixed add widens to float32");
            // The very values of the op applied to explicitly lowered inputs.
            Tensor manual = Ops.linear(x.to(low), w.to(low), b.to(low));
            assertArrayEquals(manual.toFloatArray(), y.toFloatArray(), 0f, "seed " + SEED);
            Tensor manualNorm = Ops.layerNorm(manual.to(DType.FLOAT32), null, gamma, beta, 1e-12f);
            assertArrayEquals(manualNorm.toFloatArray(), norm.toFloatArray(), 0f, "seed " + SEED);
        }
    }

    @Test
    void lossesAreFloat32AndMasterGradientsFloat32CloseToFullPrecision() {
        float[][] grads = new float[2][];
        float[][] upGrads = new float[2][];
        float[] losses = new float[2];
        for (int run = 0; run < 2; run++) {
            try (Scope s = Scope.open()) {
                Tensor x = randn(SEED + 10, 16, 32);
                Tensor w = randn(SEED + 11, 3, 24).mul(0.1f).requiresGrad(true);
                Tensor up = randn(SEED + 12, 24, 32).mul(0.2f).requiresGrad(true);
                Tensor upBias = randn(SEED + 13, 24).mul(0.1f).requiresGrad(true);
                Tensor labels = Tensor.ofLongs(new long[] {0, 1, 2, 1, 0, 2, 2, 1, 0, 0, 1, 2, 1, 1, 0, 2}, 16);
                Tensor loss;
                try (Autocast ac = run == 1 ? Autocast.enable(DType.BFLOAT16) : Autocast.disable()) {
                    Tensor logits = Ops.linear(Ops.linearGelu(x, up, upBias), w, null);
                    assertEquals(run == 1 ? DType.BFLOAT16 : DType.FLOAT32, logits.dtype());
                    loss = Ops.crossEntropy(logits, labels);
                }
                assertEquals(DType.FLOAT32, loss.dtype());
                loss.backward();
                assertEquals(DType.FLOAT32, w.grad().dtype(), "the master weight's gradient stays float32");
                grads[run] = w.grad().toFloatArray();
                assertEquals(DType.FLOAT32, up.grad().dtype());
                upGrads[run] = up.grad().toFloatArray();
                up.close();
                upBias.close();
                losses[run] = loss.item();
                w.close();
            }
        }
        // bfloat16 keeps 8 significant bits: inputs, weights and logits each carry ≤ 2⁻⁹ relative error.
        assertEquals(losses[0], losses[1], 0.02 * Math.abs(losses[0]), "seed " + SEED);
        for (float[][] g : new float[][][] {grads, upGrads}) {
            double num = 0;
            double den = 0;
            for (int i = 0; i < g[0].length; i++) {
                num += (g[0][i] - g[1][i]) * (double) (g[0][i] - g[1][i]);
                den += g[0][i] * (double) g[0][i];
            }
            assertTrue(Math.sqrt(num / den) < 0.03, "relative gradient error " + Math.sqrt(num / den) + ", seed " + SEED);
            assertTrue(num > 0, "bf16 must actually have been used (gradients identical to fp32), seed " + SEED);
        }
    }

    /**
     * Under autocast, {@code dropoutLayerNorm} writes its float32 output's low-precision copy with
     * it and offers it to the products that read the output next: they read views of that copy
     * (no conversion of their own) and compute what they compute from a cast made on the spot.
     */
    @ParameterizedTest
    @EnumSource(value = DType.class, names = {"BFLOAT16", "FLOAT16"})
    void productsAfterDropoutLayerNormReadTheCopyItWrote(DType low) {
        try (Scope s = Scope.open()) {
            Tensor x = randn(SEED, 3, 5, 16).requiresGrad(true);
            Tensor res = randn(SEED + 1, 3, 5, 16).requiresGrad(true);
            Tensor gamma = randn(SEED + 2, 16);
            Tensor beta = randn(SEED + 3, 16);
            Tensor w = randn(SEED + 4, 8, 16).requiresGrad(true);
            Tensor b = randn(SEED + 5, 8);
            float[] withGraph;
            float[] noGraph;
            try (Autocast ac = Autocast.enable(low)) {
                Tensor y = Ops.dropoutLayerNorm(x, 0.2f, 77L, res, gamma, beta, 1e-12f);
                Tensor offered = y.sharedCast;
                assertTrue(offered != null && offered.dtype() == low, "no " + low + " copy offered");
                assertArrayEquals(FloatBits.of(y.to(low)), FloatBits.of(offered), "the copy is not y converted (seed " + SEED + ")");
                Tensor q = Ops.linear(y, w, b);
                Tensor k = Ops.linear(y, w, b);
                assertSame(offered.storage(), y.sharedCast.storage(), "the products did not read the offered copy");
                withGraph = q.toFloatArray();
                Ops.sum(Ops.add(q, k).to(DType.FLOAT32)).backward();
                assertTrue(x.grad() != null && res.grad() != null && w.grad() != null);
                try (var ng = Autograd.noGrad()) {
                    Tensor y2 = Ops.dropoutLayerNorm(x, 0.2f, 77L, res, gamma, beta, 1e-12f);
                    assertNull(y2.sharedCast, "a copy offered with no graph to keep it");
                    noGraph = Ops.linear(y2, w, b).toFloatArray();
                }
            }
            assertArrayEquals(FloatBits.of(noGraph), FloatBits.of(withGraph), "seed " + SEED);
            x.zeroGrad();
            res.zeroGrad();
            w.zeroGrad();
        }
    }

    @Test
    void regionsNestAndDisableAndStayOnTheirThread() throws Exception {
        try (Autocast outer = Autocast.enable(DType.BFLOAT16)) {
            try (Autocast inner = Autocast.enable(DType.FLOAT16)) {
                assertEquals(DType.FLOAT16, Autocast.current());
                try (Autocast off = Autocast.disable()) {
                    assertNull(Autocast.current());
                }
                assertEquals(DType.FLOAT16, Autocast.current());
            }
            assertEquals(DType.BFLOAT16, Autocast.current());
            AtomicReference<DType> seen = new AtomicReference<>(DType.INT32);
            Thread t = new Thread(() -> seen.set(Autocast.current()));
            t.start();
            t.join();
            assertNull(seen.get(), "another thread is not in this thread's region");
            try (Scope s = Scope.open()) {
                Tensor a = randn(SEED + 20, 3, 4);
                assertSame(a, Ops.dropout(a, 0f, 1L), "ops outside the lists keep their input");
                assertEquals(DType.FLOAT32, Ops.gelu(a).dtype());
            }
        }
        assertNull(Autocast.current());
    }

    @Test
    void onlyLowPrecisionTypesOpenARegion() {
        var e = assertThrows(IllegalArgumentException.class, () -> Autocast.enable(DType.FLOAT32));
        assertTrue(e.getMessage().contains("bfloat16, float16"), e.getMessage());
    }

    /**
     * The gradient an op returns for a bf16 input is bf16, rounded where it is written
     * (attention's q, k, v; dropoutLayerNorm's x; a float32 residual still gets float32), and a
     * cast's backward widens a bf16 gradient to float32 for the float32 tensor it was cast from.
     */
    @Test
    void gradientsOfBf16InputsAreBf16AndCastsWidenThem() {
        var g = new Generator(SEED);
        try (Scope s = Scope.open()) {
            Tensor q = Tensor.randn(g, 2, 5, 8).to(DType.BFLOAT16).requiresGrad(true);
            Tensor k = Tensor.randn(g, 2, 5, 8).to(DType.BFLOAT16).requiresGrad(true);
            Tensor v = Tensor.randn(g, 2, 5, 8).to(DType.BFLOAT16).requiresGrad(true);
            Tensor x = Tensor.randn(g, 2, 5, 8).to(DType.BFLOAT16).requiresGrad(true);
            Tensor r = Tensor.randn(g, 2, 5, 8).requiresGrad(true);
            Tensor gamma = Tensor.randn(g, 8);
            Tensor beta = Tensor.randn(g, 8);
            Tensor a;
            Tensor n;
            try (Autocast ac = Autocast.enable(DType.BFLOAT16)) {
                a = Ops.attention(q, k, v, null, 2, 0.1f, SEED);
                n = Ops.dropoutLayerNorm(x, 0.1f, SEED + 1, r, gamma, beta, 1e-12f);
            }
            Tensor[] ga = a.gradFn.fn.apply(Tensor.randn(g, 2, 5, 8).to(DType.BFLOAT16));
            for (int i = 0; i < 3; i++) {
                assertEquals(DType.BFLOAT16, ga[i].dtype(), "attention's gradient " + i);
            }
            Tensor[] gn = n.gradFn.fn.apply(Tensor.randn(g, 2, 5, 8));
            assertEquals(DType.BFLOAT16, gn[0].dtype(), "dropoutLayerNorm's dx");
            assertEquals(DType.FLOAT32, gn[1].dtype(), "the float32 residual's gradient");

            Tensor act = Tensor.randn(g, 3, 4).requiresGrad(true).mul(1f);   // a float32 activation
            Tensor low = SharedCasts.cast(act, DType.BFLOAT16);
            Tensor gLow = Tensor.randn(g, 3, 4).to(DType.BFLOAT16);
            Tensor widened = low.gradFn.fn.apply(gLow)[0];
            assertEquals(DType.FLOAT32, widened.dtype());
            assertArrayEquals(gLow.toFloatArray(), widened.toFloatArray(), 0f, "seed " + SEED);
            Tensor g32 = Tensor.randn(g, 3, 4);
            assertSame(g32, low.gradFn.fn.apply(g32)[0], "a float32 gradient passes as it is");
        }
    }

    @Test
    void aLinearReturnsABf16InputsGradientInBf16AndALoweredInputsInFloat32() {
        // The GELU output before the down-projection is bf16 already: its gradient comes back in
        // bf16, the float32 gradient rounded once (what the GELU backward used to round it to). A
        // float32 activation, lowered by autocast, gets a float32 gradient through its cast.
        var g = new Generator(SEED);
        try (Scope s = Scope.open()) {
            Tensor w = Tensor.randn(g, 6, 8).requiresGrad(true);
            Tensor b = Tensor.randn(g, 6).requiresGrad(true);
            Tensor dy = Tensor.randn(g, 5, 6).to(DType.BFLOAT16);
            for (boolean geluOp : new boolean[] {false, true}) {
                String op = (geluOp ? "linearGelu" : "linear") + ", seed " + SEED;
                Tensor x = Tensor.randn(g, 5, 8).to(DType.BFLOAT16).requiresGrad(true);
                Tensor y;
                try (Autocast ac = Autocast.enable(DType.BFLOAT16)) {
                    y = geluOp ? Ops.linearGelu(x, w, b) : Ops.linear(x, w, b);
                }
                Tensor dx = y.gradFn.fn.apply(dy)[0];
                assertEquals(DType.BFLOAT16, dx.dtype(), op);
                // the float32 gradient of the same product: x's bf16 values as a float32 leaf
                Tensor x32 = x.to(DType.FLOAT32).requiresGrad(true);
                Tensor y32;
                try (Autocast ac = Autocast.enable(DType.BFLOAT16)) {
                    y32 = geluOp ? Ops.linearGelu(x32, w, b) : Ops.linear(x32, w, b);
                }
                Tensor[] viaCast = y32.gradFn.fn.apply(dy);
                assertEquals(DType.FLOAT32, viaCast[0].dtype(), op + ": a lowered input's gradient");
                assertArrayEquals(viaCast[0].to(DType.BFLOAT16).toFloatArray(), dx.toFloatArray(), 0f,
                        op + ": the bf16 gradient is not the float32 one rounded once");
            }
        }
    }
}
