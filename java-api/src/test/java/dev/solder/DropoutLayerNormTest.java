package dev.solder;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;

/**
 * {@link Ops#dropoutLayerNorm} against the two ops it stands for, {@code layerNorm(dropout(x), residual)}
 * — BertLayer's former code: the same bits for the output and every gradient on the CPU, in
 * float32 and under bfloat16 autocast (x in bf16, the LayerNorm in float32).
 */
class DropoutLayerNormTest {
    private final long seed = Long.getLong("solder.test.seed", System.nanoTime());

    /** Output and the gradients of x, residual, gamma, beta, as float bits. */
    private List<int[]> run(float[] xv, float[] rv, float[] gv, float[] bv, int rows, int cols, float p, long dropSeed,
                            float[] dyv, boolean oneOp, boolean autocast) {
        Tensor x = Tensor.of(xv, rows, cols).requiresGrad(true);
        Tensor res = Tensor.of(rv, rows, cols).requiresGrad(true);
        Tensor gamma = Tensor.of(gv, cols).requiresGrad(true);
        Tensor beta = Tensor.of(bv, cols).requiresGrad(true);
        List<int[]> r = new ArrayList<>();
        try (Scope s = Scope.open()) {
            Tensor xin = autocast ? Ops.cast(x, DType.BFLOAT16) : x;  // a low-precision dense output
            Tensor out;
            try (Autocast a = autocast ? Autocast.enable(DType.BFLOAT16) : null) {
                out = oneOp ? Ops.dropoutLayerNorm(xin, p, dropSeed, res, gamma, beta, 1e-12f)
                        : Ops.layerNorm(Ops.dropout(xin, p, dropSeed), res, gamma, beta, 1e-12f);
            }
            r.add(FloatBits.of(out));
            out.backward(Tensor.of(dyv, rows, cols).to(out.dtype()));
        }
        for (Tensor t : new Tensor[] {x, res, gamma, beta}) {
            r.add(FloatBits.of(t.grad()));
            t.close();
        }
        return r;
    }

    @Test
    void sameBitsAsDropoutThenLayerNorm() {
        Generator g = new Generator(seed);
        int rows = 6;
        int cols = 40;
        float[] x = Tensor.randn(g, rows, cols).toFloatArray();
        float[] r = Tensor.randn(g, rows, cols).toFloatArray();
        float[] gm = Tensor.randn(g, cols).toFloatArray();
        float[] bt = Tensor.randn(g, cols).toFloatArray();
        float[] dy = Tensor.randn(g, rows, cols).toFloatArray();
        long dropSeed = g.nextLong();
        String[] names = {"out", "dx", "dresidual", "dgamma", "dbeta"};
        for (boolean autocast : new boolean[] {false, true}) {
            List<int[]> one = run(x, r, gm, bt, rows, cols, 0.25f, dropSeed, dy, true, autocast);
            List<int[]> two = run(x, r, gm, bt, rows, cols, 0.25f, dropSeed, dy, false, autocast);
            if (autocast) {
                // The one op returns its bf16 input's gradient in bf16 (as PyTorch's ops do); the
                // pair hands dropout's float32 gradient through the cast. Rounded, they agree.
                two.set(1, bf16Rounded(two.get(1)));
            }
            for (int i = 0; i < names.length; i++) {
                assertArrayEquals(two.get(i), one.get(i), names[i] + (autocast ? " under bf16 autocast" : "")
                        + " differs from dropout then layerNorm (seed " + seed + ")");
            }
            // the dropout did something: some dx elements are exactly zero, and dx differs from dresidual
            int zeros = 0;
            for (int b : one.get(1)) {
                zeros += Float.intBitsToFloat(b) == 0f ? 1 : 0;
            }
            assertTrue(zeros > 0 && zeros < rows * cols, zeros + " dropped of " + rows * cols + " (seed " + seed + ")");
            assertNotEquals(java.util.Arrays.toString(one.get(2)), java.util.Arrays.toString(one.get(1)), "seed " + seed);
        }
    }

    @Test
    void zeroPIsLayerNormAndBadArgumentsFail() {
        Generator g = new Generator(seed);
        Tensor x = Tensor.randn(g, 3, 8);
        Tensor r = Tensor.randn(g, 3, 8);
        Tensor gamma = Tensor.ones(8);
        Tensor beta = Tensor.zeros(8);
        assertArrayEquals(Ops.layerNorm(x, r, gamma, beta, 1e-12f).toFloatArray(),
                Ops.dropoutLayerNorm(x, 0f, 99L, r, gamma, beta, 1e-12f).toFloatArray(), "seed " + seed);
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                () -> Ops.dropoutLayerNorm(x, 1f, 1L, r, gamma, beta, 1e-12f));
        assertTrue(e.getMessage().contains("p must be in [0, 1)"), e.getMessage());
        e = assertThrows(IllegalArgumentException.class,
                () -> Ops.dropoutLayerNorm(x, 0.1f, 1L, Tensor.randn(g, 3, 7), gamma, beta, 1e-12f));
        assertTrue(e.getMessage().contains("does not match"), e.getMessage());
        assertEquals(3, Ops.dropoutLayerNorm(x, 0.1f, 1L, r, gamma, beta, 1e-12f).dim(0));
    }

    @Test
    void theJavadocExampleRuns() {
        Generator g = new Generator(7);
        Tensor x = Tensor.randn(g, 4, 16);
        Tensor res = Tensor.randn(g, 4, 16);
        Tensor y = Ops.dropoutLayerNorm(x, 0.1f, g.nextLong(), res, Tensor.ones(16), Tensor.zeros(16), 1e-12f);
        float[] v = y.toFloatArray();
        for (int row = 0; row < 4; row++) {
            double mean = 0;
            for (int c = 0; c < 16; c++) {
                mean += v[row * 16 + c] / 16.0;
            }
            assertEquals(0, mean, 1e-5, "a normalised row has mean 0");
        }
    }

    /** float32 bit patterns rounded to bfloat16 (and widened back), as a cast would round them. */
    private static int[] bf16Rounded(int[] bits) {
        int[] out = new int[bits.length];
        for (int i = 0; i < bits.length; i++) {
            out[i] = Float.floatToRawIntBits(DType.bf16ToFloat(DType.floatToBf16(Float.intBitsToFloat(bits[i]))));
        }
        return out;
    }
}
