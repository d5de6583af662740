package dev.solder.backend.cpu;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.solder.Ops;
import dev.solder.Scope;
import dev.solder.Tensor;
import org.junit.jupiter.api.Test;

/** Gradient and forward checks of softmax (with and without a mask) and LayerNorm (with and without residual). */
class NormOpsTest {
    private final GradCheck gc = new GradCheck();

    @Test
    void softmax() {
        gc.op("softmax [3,4,7]").input("x", 3, 4, 7)
                .run(t -> Ops.softmax(t[0], null), x -> Reference.softmax(x[0], 7, null));
    }

    @Test
    void softmaxWithAGroupedMask() {
        // A [2, 5] mask over [2, 3·4, 5] scores: mask row b serves the 12 rows of batch b,
        // as an attention mask [B, S] serves [B, H·S, S].
        double[] mask = new double[10];
        for (int j = 0; j < 10; j++) {
            mask[j] = (j % 5 >= 3 && j >= 5) ? -1e4 : gc.randn(1)[0];
        }
        gc.op("softmax [2,12,5] + mask [2,5]").input("x", 2, 12, 5).constant("mask", mask, 2, 5)
                .run(t -> Ops.softmax(t[0], t[1]), x -> Reference.softmax(x[0], 5, x[1]));
    }

    @Test
    void softmaxOfAFullyMaskedRowIsUniform() {
        // HF adds finfo.min to masked scores; a row masked throughout becomes uniform, not NaN.
        double[] mask = new double[12];
        java.util.Arrays.fill(mask, 0, 6, -Float.MAX_VALUE);
        try (Scope s = Scope.open()) {
            Tensor x = GradCheck.tensor(gc.randn(24), 4, 6);
            float[] y = Ops.softmax(x, GradCheck.tensor(mask, 2, 6)).toFloatArray();
            for (int j = 0; j < 12; j++) {
                assertEquals(1f / 6, y[j], 1e-7f, "row " + j / 6 + " col " + j % 6 + " (" + gc.tag() + ")");
            }
            double sum = 0;
            for (int j = 12; j < 24; j++) {
                assertTrue(y[j] > 0 && y[j] < 1, "unmasked rows stay a distribution: " + y[j]);
                sum += y[j];
            }
            assertEquals(2, sum, 1e-6);
        }
    }

    @Test
    void softmaxOfLargeLogitsDoesNotOverflow() {
        try (Scope s = Scope.open()) {
            Tensor x = GradCheck.tensor(new double[] {1000, 999, -1000, 88.7, 89.7}, 1, 5);
            float[] y = Ops.softmax(x, null).toFloatArray();
            double e1 = Math.exp(-1);
            assertEquals(1 / (1 + e1), y[0], 1e-7);
            assertEquals(e1 / (1 + e1), y[1], 1e-7);
            assertEquals(0f, y[2]);
        }
    }

    @Test
    void layerNorm() {
        gc.op("layerNorm [2,5,6]").input("x", 2, 5, 6).input("gamma", 6).input("beta", 6)
                .run(t -> Ops.layerNorm(t[0], null, t[1], t[2], 1e-5f),
                        x -> Reference.layerNorm(x[0], null, x[1], x[2], 1e-5f));
    }

    @Test
    void layerNormWithResidual() {
        gc.op("layerNorm [3,7] + residual").input("x", 3, 7).input("residual", 3, 7).input("gamma", 7).input("beta", 7)
                .run(t -> Ops.layerNorm(t[0], t[1], t[2], t[3], 1e-12f),
                        x -> Reference.layerNorm(x[0], x[1], x[2], x[3], 1e-12f));
    }

    @Test
    void layerNormOfAWideRowWithAnOffset() {
        // Mean ≫ spread: a one-pass E[x²] − E[x]² in float32 would lose every digit here.
        double[] x = gc.randn(2 * 67);
        for (int i = 0; i < x.length; i++) {
            x[i] = (float) (300 + 0.01 * x[i]);
        }
        double[] gamma = gc.randn(67);
        double[] beta = gc.randn(67);
        try (Scope s = Scope.open()) {
            float[] y = Ops.layerNorm(GradCheck.tensor(x, 2, 67), null, GradCheck.tensor(gamma, 67),
                    GradCheck.tensor(beta, 67), 1e-12f).toFloatArray();
            double[] ref = Reference.layerNorm(x, null, gamma, beta, 1e-12f);
            double[] yd = new double[y.length];
            for (int i = 0; i < y.length; i++) {
                yd[i] = y[i];
            }
            GradCheck.assertClose(ref, yd, 1e-5, 1e-6, "offset layerNorm (" + gc.tag() + ")");
        }
    }

    @Test
    void layerNormParameterGradientsAreDeterministic() {
        double[] x = gc.randn(300 * 24);
        double[] dy = gc.randn(300 * 24);
        float[][] first = null;
        for (int run = 0; run < 3; run++) {
            try (Scope s = Scope.open()) {
                Tensor gamma = Tensor.ones(24).requiresGrad(true);
                Tensor beta = Tensor.zeros(24).requiresGrad(true);
                Tensor y = Ops.layerNorm(GradCheck.tensor(x, 300, 24), null, gamma, beta, 1e-12f);
                y.backward(GradCheck.tensor(dy, 300, 24));
                float[][] g = {gamma.grad().toFloatArray(), beta.grad().toFloatArray()};
                if (first == null) {
                    first = g;
                } else {
                    org.junit.jupiter.api.Assertions.assertArrayEquals(first[0], g[0], 0f, "dgamma run " + run + " (" + gc.tag() + ")");
                    org.junit.jupiter.api.Assertions.assertArrayEquals(first[1], g[1], 0f, "dbeta run " + run + " (" + gc.tag() + ")");
                }
            }
        }
    }
}
