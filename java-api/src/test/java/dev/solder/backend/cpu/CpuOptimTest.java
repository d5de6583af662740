package dev.solder.backend.cpu;

import static org.junit.jupiter.api.Assertions.assertEquals;

import dev.solder.DType;
import dev.solder.Device;
import dev.solder.Scope;
import dev.solder.Tensor;
import org.junit.jupiter.api.Test;

/** The AdamW kernel against the Backend contract's formula in float64, and sumSquares. */
class CpuOptimTest {
    private final GradCheck gc = new GradCheck();

    @Test
    void adamwFollowsTheContractFormula() {
        int n = 37; // one 8/16-lane vector body plus a scalar tail
        float lr = 1e-2f;
        float b1 = 0.9f;
        float b2 = 0.999f;
        float eps = 1e-8f;
        float wd = 0.01f;
        double[] p = gc.randn(n);
        p[n - 1] = p[0];
        double[] m = new double[n];
        double[] v = new double[n];
        try (Scope s = Scope.open()) {
            Tensor tp = GradCheck.tensor(p, n);
            Tensor tm = Tensor.zeros(n);
            Tensor tv = Tensor.zeros(n);
            for (int step = 1; step <= 4; step++) {
                double[] g = gc.randn(n);
                // Same state and gradient at the first and last element: vector body and tail agree bit for bit.
                g[n - 1] = g[0];
                float bc1 = (float) (1 - Math.pow(b1, step));
                float bc2 = (float) (1 - Math.pow(b2, step));
                DType gType = step % 2 == 0 ? DType.BFLOAT16 : DType.FLOAT32;
                double[] gr = GradCheck.roundTo(gType, g);
                CpuBackend.INSTANCE.adamw(tp, Tensor.fromDoubles(gr, gType, Device.cpu(), n), tm, tv, lr, b1, b2, eps, wd, bc1, bc2);
                double[] mTerms = new double[n];
                for (int i = 0; i < n; i++) {
                    p[i] -= (double) lr * wd * p[i];
                    // m can cancel (b1·m and (1−b1)·g of opposite signs): its float32 error is relative
                    // to the size of those terms, not to m itself.
                    mTerms[i] = Math.abs(b1 * m[i]) + Math.abs((1 - (double) b1) * gr[i]);
                    m[i] = b1 * m[i] + (1 - (double) b1) * gr[i];
                    v[i] = b2 * v[i] + (1 - (double) b2) * gr[i] * gr[i];
                    p[i] -= lr * (m[i] / bc1) / (Math.sqrt(v[i] / bc2) + eps);
                }
                float[] ap = tp.toFloatArray();
                float[] am = tm.toFloatArray();
                float[] av = tv.toFloatArray();
                String at = "step " + step + " (" + gc.tag() + ")";
                for (int i = 0; i < n; i++) {
                    // float32 state: each step adds a few float roundings (~1e-7 relative) to p, m, v.
                    assertEquals(p[i], ap[i], 2e-6 * Math.abs(p[i]) + 1e-5 * lr, "param " + i + " " + at);
                    assertEquals(m[i], am[i], 1e-5 * (Math.abs(m[i]) + mTerms[i]), "m " + i + " " + at);
                    assertEquals(v[i], av[i], 1e-5 * Math.abs(v[i]) + 1e-12, "v " + i + " " + at);
                }
                assertEquals(ap[0], ap[n - 1], 0f, "vector body and tail " + at);
            }
        }
    }

    @Test
    void sumSquaresInFloat64() {
        double[] x = gc.randn(100_003);
        double expected = 0;
        for (double d : x) {
            expected += d * d;
        }
        try (Scope s = Scope.open()) {
            assertEquals(expected, CpuBackend.INSTANCE.sumSquares(GradCheck.tensor(x, x.length)), 1e-12 * expected, gc.tag());
            double[] bf = GradCheck.roundTo(DType.BFLOAT16, x);
            double e2 = 0;
            for (double d : bf) {
                e2 += d * d;
            }
            assertEquals(e2, CpuBackend.INSTANCE.sumSquares(Tensor.fromDoubles(bf, DType.BFLOAT16, Device.cpu(), x.length)),
                    1e-12 * e2, gc.tag());
        }
    }
}
