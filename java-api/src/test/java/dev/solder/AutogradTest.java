package dev.solder;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import org.junit.jupiter.api.Test;

class AutogradTest {
    private final long seed = Long.getLong("solder.test.seed", System.nanoTime());

    @Test
    void gradientsAccumulateAcrossBackwardCalls() {
        var g = new Generator(seed);
        Tensor w = Tensor.randn(g, 3).requiresGrad(true);
        float[] wv = w.toFloatArray();
        for (int micro = 1; micro <= 3; micro++) {
            try (var s = Scope.open()) {
                // d/dw sum(w*w) = 2w, accumulated micro times
                w.mul(w).sum().backward();
            }
            float[] grad = w.grad().toFloatArray();
            for (int i = 0; i < 3; i++) {
                assertEquals(2 * wv[i] * micro, grad[i], 1e-5, "micro-batch " + micro + " (seed " + seed + ")");
            }
        }
        w.zeroGrad();
        assertNull(w.grad());
        w.close();
    }

    @Test
    void aWeightAdoptsTheGradientItsOpMadeAndKeepsItAfterTheScope() {
        // linear's backward makes dW for w alone, so w.grad becomes that tensor (no copy): it
        // must outlive the batch scope that made it, and later batches must add into it.
        var g = new Generator(seed);
        Tensor w = Tensor.randn(g, 3, 4).requiresGrad(true);
        Tensor b = Tensor.randn(g, 3).requiresGrad(true);
        Tensor x = Tensor.randn(g, 5, 4);
        float[] xv = x.toFloatArray();
        for (int micro = 1; micro <= 2; micro++) {
            try (var s = Scope.open()) {
                Ops.linear(x, w, b).sum().backward();   // dW[o, i] = Σ_n x[n, i], db[o] = 5
                assertTrue(s.size() > 0);
            }
            assertTrue(!w.grad().isClosed() && !b.grad().isClosed(), "gradients freed with the scope (seed " + seed + ")");
            float[] dw = w.grad().toFloatArray();
            for (int o = 0; o < 3; o++) {
                for (int i = 0; i < 4; i++) {
                    double col = 0;
                    for (int n = 0; n < 5; n++) {
                        col += xv[n * 4 + i];
                    }
                    assertEquals(micro * col, dw[o * 4 + i], 1e-4, "dW[" + o + ", " + i + "] after " + micro + " (seed " + seed + ")");
                }
            }
            assertArrayEquals(new float[] {5 * micro, 5 * micro, 5 * micro}, b.grad().toFloatArray(), 1e-5f);
        }
        w.zeroGrad();
        b.zeroGrad();
        // Two weights fed the same op's output: each gets its own gradient.
        try (var s = Scope.open()) {
            Tensor w2 = Tensor.randn(g, 3, 4).requiresGrad(true);
            Ops.linear(x, w, null).add(Ops.linear(x, w2, null)).sum().backward();
            assertTrue(w.grad() != w2.grad());
            assertArrayEquals(w.grad().toFloatArray(), w2.grad().toFloatArray(), 0f);
            w2.zeroGrad();
        }
        w.close();
        b.close();
        x.close();
    }

    @Test
    void sharedSubexpressionsSumTheirGradients() {
        var g = new Generator(seed);
        try (var s = Scope.open()) {
            Tensor x = Tensor.randn(g, 4).requiresGrad(true);
            Tensor y = x.add(x).add(x.mul(3f));   // 5x
            y.sum().backward();
            assertArrayEquals(new float[] {5, 5, 5, 5}, x.grad().toFloatArray(), 1e-6f, "seed " + seed);
        }
    }

    @Test
    void graphIsReleasedAfterBackward() {
        try (var s = Scope.open()) {
            Tensor x = Tensor.ones(2).requiresGrad(true);
            Tensor loss = x.tanh().sum();
            loss.backward();
            var e = assertThrows(IllegalStateException.class, loss::backward);
            assertTrue(e.getMessage().contains("sum") && e.getMessage().contains("released"), e.getMessage());
        }
    }

    @Test
    void noGradRecordsNothing() {
        try (var s = Scope.open()) {
            Tensor x = Tensor.ones(2).requiresGrad(true);
            Tensor y;
            try (var ng = Autograd.noGrad()) {
                assertTrue(!Autograd.isEnabled());
                y = x.mul(2f);
            }
            assertTrue(Autograd.isEnabled());
            assertNull(y.gradFn());
            var e = assertThrows(IllegalStateException.class, () -> y.sum().backward());
            assertTrue(e.getMessage().contains("does not require grad"), e.getMessage());
        }
    }

    @Test
    void backwardNeedsAScalarOrAnExplicitGradient() {
        try (var s = Scope.open()) {
            Tensor x = Tensor.ones(2, 2).requiresGrad(true);
            Tensor y = x.mul(3f);
            assertThrows(IllegalStateException.class, y::backward);
            y.backward(Tensor.full(2, DType.FLOAT32, Device.cpu(), 2, 2));
            assertArrayEquals(new float[] {6, 6, 6, 6}, x.grad().toFloatArray());
        }
    }

    @Test
    void leafGradientsOutliveTheStepScope() {
        Tensor w = Tensor.ones(3).requiresGrad(true);
        try (var s = Scope.open()) {
            w.mul(w).sum().backward();
        }
        assertArrayEquals(new float[] {2, 2, 2}, w.grad().toFloatArray());
        w.close();
        assertTrue(w.isClosed());
    }
}
