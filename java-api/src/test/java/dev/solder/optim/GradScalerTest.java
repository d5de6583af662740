package dev.solder.optim;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.solder.Generator;
import dev.solder.Ops;
import dev.solder.Scope;
import dev.solder.Tensor;
import java.util.List;
import org.junit.jupiter.api.Test;

class GradScalerTest {
    private static final long SEED = Long.getLong("solder.test.seed", System.nanoTime());

    /** Gradients of a small linear + cross-entropy loss, with the loss scaled by the scaler or not. */
    private static float[] grads(GradScaler scaler) {
        try (Scope s = Scope.open()) {
            Tensor x = Tensor.randn(new Generator(SEED), 8, 6);
            Tensor w = Tensor.randn(new Generator(SEED + 1), 3, 6).requiresGrad(true);
            Tensor labels = Tensor.ofLongs(new long[] {0, 1, 2, 2, 1, 0, 1, 2}, 8);
            Tensor loss = Ops.crossEntropy(Ops.linear(x, w, null), labels);
            (scaler == null ? loss : scaler.scale(loss)).backward();
            if (scaler != null) {
                assertTrue(scaler.unscale(List.of(w)), "finite gradients, seed " + SEED);
            }
            float[] g = w.grad().toFloatArray();
            w.close();
            return g;
        }
    }

    @Test
    void unscaledGradientsEqualThoseOfTheUnscaledLoss() {
        // The scale is a power of two, so scaling and unscaling are exact in float32.
        assertArrayEquals(grads(null), grads(new GradScaler()), 0f, "seed " + SEED);
    }

    @Test
    void theUnscalesSumOfSquaresIsTheNormsToTheBit() {
        // the Trainer clips fp16 steps with sqrt(unscaleSumSquares) instead of a second pass
        try (Scope s = Scope.open()) {
            Tensor x = Tensor.randn(new Generator(SEED), 8, 6);
            Tensor w = Tensor.randn(new Generator(SEED + 1), 3, 6).requiresGrad(true);
            Tensor b = Tensor.randn(new Generator(SEED + 2), 3).requiresGrad(true);
            Tensor labels = Tensor.ofLongs(new long[] {0, 1, 2, 2, 1, 0, 1, 2}, 8);
            GradScaler scaler = new GradScaler();
            scaler.scale(Ops.crossEntropy(Ops.linear(x, w, b), labels)).backward();
            double squares = scaler.unscaleSumSquares(List.of(w, b));
            assertTrue(Double.isFinite(squares) && squares > 0, "seed " + SEED);
            assertEquals(Double.doubleToLongBits(GradClip.totalNorm(List.of(w, b))),
                    Double.doubleToLongBits(Math.sqrt(squares)), "seed " + SEED);
            w.close();
            b.close();
        }
    }

    @Test
    void aNonFiniteGradientSkipsBacksOffAndGoodStepsGrowTheScale() {
        GradScaler scaler = new GradScaler(1024, 2, 0.5, 3);
        try (Scope s = Scope.open()) {
            Tensor p = Tensor.zeros(4).requiresGrad(true);
            Tensor huge = Tensor.of(new float[] {1f, 3e38f, 3e38f, 2f}, 4);
            scaler.scale(Ops.sum(Ops.mul(p, huge))).backward();   // 3e38 · 1024 overflows to +inf
            assertFalse(scaler.unscale(List.of(p)));
            scaler.update(false);
            assertEquals(512, scaler.getScale());
            assertEquals(0, scaler.growthTracker());
            for (int i = 0; i < 3; i++) {
                scaler.update(true);
            }
            assertEquals(1024, scaler.getScale(), "doubled after growthInterval finite steps");
            assertEquals(0, scaler.growthTracker());
            p.close();
        }
    }

    @Test
    void badSettingsAreRejected() {
        assertThrows(IllegalArgumentException.class, () -> new GradScaler(0, 2, 0.5, 10));
        assertThrows(IllegalArgumentException.class, () -> new GradScaler(1, 1, 0.5, 10));
        assertThrows(IllegalArgumentException.class, () -> new GradScaler().load(Double.NaN, 0));
    }
}
