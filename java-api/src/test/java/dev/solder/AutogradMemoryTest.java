package dev.solder;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import org.junit.jupiter.api.Test;

/**
 * What a backward frees as it goes: the gradients flowing between ops once consumed, the
 * tensors each op kept for its own backward once that backward ran, and — with no graph —
 * those tensors right after the forward. Byte counts are the CPU backend's live bytes, exact.
 */
class AutogradMemoryTest {
    private final long seed = Long.getLong("solder.test.seed", System.nanoTime());

    private static long live() {
        return Backends.forKind(Device.Kind.CPU).liveBytes(Device.cpu());
    }

    private static long peak() {
        return Backends.forKind(Device.Kind.CPU).peakLiveBytes(Device.cpu());
    }

    private static void resetPeak() {
        Backends.forKind(Device.Kind.CPU).resetPeakLiveBytes(Device.cpu());
    }

    private static long bytes(Tensor t) {
        return t.numel() * t.dtype().byteSize();
    }

    @Test
    void gradientsBetweenOpsAreFreedOnceConsumed() {
        var g = new Generator(seed);
        int rows = 16;
        int width = 24;
        int depth = 6;
        Tensor x = Tensor.randn(g, rows, width).requiresGrad(true);
        Tensor[] ws = new Tensor[depth];
        Tensor[] bs = new Tensor[depth];
        for (int i = 0; i < depth; i++) {
            ws[i] = Tensor.randn(g, width, width).mul(0.2f).requiresGrad(true);
            bs[i] = Tensor.randn(g, width).requiresGrad(true);
        }
        try (var s = Scope.open()) {
            Tensor h = x;
            for (int i = 0; i < depth; i++) {
                h = Ops.linear(h, ws[i], bs[i]).tanh();
            }
            Tensor loss = h.sum();
            long afterForward = live();
            resetPeak();
            assertEquals(afterForward, peak());
            loss.backward();
            long grads = bytes(x);
            for (int i = 0; i < depth; i++) {
                grads += bytes(ws[i]) + bytes(bs[i]);
            }
            // What backward may add: the leaves' gradients and its float32 seed of 1, nothing else.
            // Holding the 2·depth intermediate [rows, width] gradients would add 12 × 1536 bytes.
            assertEquals(afterForward + grads + 4, live(), "seed " + seed);
            // On the way, at most three [rows, width] gradients in flight (in, out, a copy for x.grad).
            long slack = 3L * rows * width * 4;
            assertTrue(peak() <= afterForward + grads + 4 + slack,
                    "peak " + peak() + " > " + (afterForward + grads + 4 + slack) + " (seed " + seed + ")");
        }
        for (int i = 0; i < depth; i++) {
            ws[i].close();
            bs[i].close();
        }
        x.close();
    }

    @Test
    void whatAnOpKeptForItsBackwardIsFreedByIt() {
        var g = new Generator(seed);
        Tensor w = Tensor.randn(g, 12, 8).requiresGrad(true);
        Tensor b = Tensor.randn(g, 12).requiresGrad(true);
        try (var s = Scope.open()) {
            Tensor x = Tensor.randn(g, 5, 8);
            Tensor y = Ops.linearGelu(x, w, b);   // keeps the pre-activation [5, 12] for its backward
            Tensor loss = y.sum();
            long afterForward = live();
            loss.backward();
            long pre = 5 * 12 * 4;
            assertEquals(afterForward - pre + bytes(w) + bytes(b) + 4, live(), "seed " + seed);
            assertTrue(!y.isClosed() && !x.isClosed(), "the op's output and input are the caller's");
        }
        w.close();
        b.close();
    }

    @Test
    void withoutAGraphNothingIsKeptForABackward() {
        var g = new Generator(seed);
        Tensor w = Tensor.randn(g, 12, 8);
        Tensor b = Tensor.randn(g, 12);
        Tensor gamma = Tensor.randn(g, 8);
        Tensor beta = Tensor.randn(g, 8);
        try (var s = Scope.open(); var ng = Autograd.noGrad()) {
            Tensor x = Tensor.randn(g, 5, 8);
            Tensor r = Tensor.randn(g, 5, 8);
            long before = live();
            Tensor y = Ops.linearGelu(x, w, b);
            assertEquals(before + bytes(y), live(), "linearGelu kept its pre-activation (seed " + seed + ")");
            before = live();
            Tensor n = Ops.layerNorm(x, r, gamma, beta, 1e-12f);
            assertEquals(before + bytes(n), live(), "layerNorm kept h, mean or rstd (seed " + seed + ")");
            try (var ac = Autocast.enable(DType.BFLOAT16)) {
                before = live();
                Tensor z = Ops.linear(x, w, b);   // autocast casts x, w and b to bfloat16 for the product
                assertEquals(DType.BFLOAT16, z.dtype());
                assertEquals(before + bytes(z), live(), "autocast's casts outlived the op (seed " + seed + ")");
            }
        }
        w.close();
        b.close();
        gamma.close();
        beta.close();
    }

    @Test
    void aGradientSharedByTwoPathsIsFreedOnlyAfterBoth() {
        // a feeds three consumers, so its gradient is a sum; the gradient flowing out of each
        // consumer is handed on unchanged by add: freeing it at its first use would corrupt the sum.
        var g = new Generator(seed);
        try (var s = Scope.open()) {
            Tensor x = Tensor.randn(g, 7).requiresGrad(true);
            Tensor a = x.mul(2f);
            Tensor y = a.add(a).add(a.tanh());
            y.sum().backward();
            float[] xv = x.toFloatArray();
            float[] expect = new float[xv.length];
            for (int i = 0; i < xv.length; i++) {
                double t = Math.tanh(2.0 * xv[i]);
                expect[i] = (float) (2.0 * (2.0 + (1.0 - t * t)));
            }
            assertArrayEquals(expect, x.grad().toFloatArray(), 1e-5f, "seed " + seed);
        }
    }

    /** The gradients and live bytes of three bfloat16 projections of one float32 activation. */
    private record Projections(float[] dx, float[][] dw, long liveAfterForward, long liveAfterBackward) {
    }

    /**
     * {@code x0·2} projected by {@code ws} under bfloat16 autocast, then a loss that weighs the
     * three results differently; {@code explicitCasts}: the caller casts x once per product
     * itself (as three separate casts), else autocast does.
     */
    private static Projections project(Tensor x0, Tensor[] ws, boolean explicitCasts) {
        for (Tensor w : ws) {
            w.zeroGrad();
        }
        x0.zeroGrad();
        try (var s = Scope.open()) {
            Tensor x = x0.mul(2f);   // an activation: autocast's cast of it is not kept between steps
            long before = live();
            Tensor[] ys = new Tensor[ws.length];
            try (var ac = Autocast.enable(DType.BFLOAT16)) {
                for (int i = 0; i < ws.length; i++) {
                    ys[i] = Ops.linear(explicitCasts ? x.to(DType.BFLOAT16) : x, ws[i], null);
                }
            }
            long forward = live() - before;
            Tensor q = ys[0].to(DType.FLOAT32);
            Tensor k = ys[1].to(DType.FLOAT32);
            Tensor loss = q.tanh().sum().add(k.mul(k).sum()).add(ys[2].to(DType.FLOAT32).sum());
            loss.backward();
            long backward = live() - before;
            float[][] dw = new float[ws.length][];
            for (int i = 0; i < ws.length; i++) {
                dw[i] = ws[i].grad().toFloatArray();
            }
            return new Projections(x0.grad().toFloatArray(), dw, forward, backward);
        }
    }

    @Test
    void productsReadingOneActivationUnderAutocastShareOneCopyOfIt() {
        var g = new Generator(seed);
        int rows = 20;
        int in = 16;
        int out = 12;
        Tensor x0 = Tensor.randn(g, rows, in).requiresGrad(true);
        Tensor[] ws = new Tensor[3];
        for (int i = 0; i < ws.length; i++) {
            ws[i] = Tensor.randn(g, out, in).mul(0.3f).requiresGrad(true);
        }
        project(x0, ws, false);   // the weights' own bfloat16 copies (CastCache) are made here, outside what is counted
        Projections shared = project(x0, ws, false);
        Projections separate = project(x0, ws, true);
        long copy = (long) rows * in * 2;
        // One bfloat16 copy of x in the forward instead of three, every gradient the same bits.
        assertEquals(separate.liveAfterForward() - 2 * copy, shared.liveAfterForward(), "seed " + seed);
        assertArrayEquals(separate.dx(), shared.dx(), 0f, "seed " + seed);
        for (int i = 0; i < ws.length; i++) {
            assertArrayEquals(separate.dw()[i], shared.dw()[i], 0f, "seed " + seed);
        }
        // The shared copy goes with the last product's backward; the caller's own casts stay in its scope.
        assertEquals(separate.liveAfterBackward() - 3 * copy, shared.liveAfterBackward(), "seed " + seed);

        try (var s = Scope.open(); var ng = Autograd.noGrad(); var ac = Autocast.enable(DType.BFLOAT16)) {
            Tensor x = x0.mul(2f);
            long before = live();
            long outputs = 0;
            for (Tensor w : ws) {
                outputs += bytes(Ops.linear(x, w, null));
            }
            assertEquals(before + outputs, live(), "without a graph no cast outlives its product (seed " + seed + ")");
        }
        for (Tensor w : ws) {
            w.close();
        }
        x0.close();
    }
}
