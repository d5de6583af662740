package dev.solder.backend.cpu;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;

import dev.solder.DType;
import dev.solder.Device;
import dev.solder.Ops;
import dev.solder.Scope;
import dev.solder.Tensor;
import org.junit.jupiter.api.Test;

/** Gradient and forward checks of matmul (plain, batched, transposed, shared operands) and linear. */
class MatmulOpsTest {
    private final GradCheck gc = new GradCheck();

    @Test
    void matmul2d() {
        gc.op("matmul [3,4]·[4,5]").input("a", 3, 4).input("b", 4, 5)
                .run(t -> Ops.matmul(t[0], t[1]), x -> Reference.matmul(1, 3, 4, 5, x[0], false, x[1], false));
    }

    @Test
    void matmulBatched() {
        gc.op("matmul [2,3,4]·[2,4,5]").input("a", 2, 3, 4).input("b", 2, 4, 5)
                .run(t -> Ops.matmul(t[0], t[1]), x -> Reference.matmul(2, 3, 4, 5, x[0], false, x[1], false));
        gc.op("matmul [2,3,3,4]·[2,3,4,2]").input("a", 2, 3, 3, 4).input("b", 2, 3, 4, 2)
                .run(t -> Ops.matmul(t[0], t[1]), x -> Reference.matmul(6, 3, 4, 2, x[0], false, x[1], false));
    }

    @Test
    void matmulWithSharedTwoDimensionalOperand() {
        gc.op("matmul [2,3,4]·[4,5]").input("a", 2, 3, 4).input("b", 4, 5)
                .run(t -> Ops.matmul(t[0], t[1]), x -> Reference.matmul(2, 3, 4, 5, x[0], false, x[1], true));
        gc.op("matmul [3,4]·[2,4,5]").input("a", 3, 4).input("b", 2, 4, 5)
                .run(t -> Ops.matmul(t[0], t[1]), x -> Reference.matmul(2, 3, 4, 5, x[0], true, x[1], false));
    }

    @Test
    void matmulOfTransposedViews() {
        // Ops hands transposed views to the backend as transA/transB, without copying.
        gc.op("matmul [4,3]ᵀ·[4,5]").input("at", 4, 3).input("b", 4, 5)
                .run(t -> Ops.matmul(Ops.transpose(t[0]), t[1]),
                        x -> Reference.matmul(1, 3, 4, 5, Reference.transpose(x[0], 1, 4, 3), false, x[1], false));
        gc.op("matmul [3,4]·[5,4]ᵀ").input("a", 3, 4).input("bt", 5, 4)
                .run(t -> Ops.matmul(t[0], Ops.transpose(t[1])),
                        x -> Reference.matmul(1, 3, 4, 5, x[0], false, Reference.transpose(x[1], 1, 5, 4), false));
        gc.op("matmul [2,4,3]ᵀ·[2,5,4]ᵀ").input("at", 2, 4, 3).input("bt", 2, 5, 4)
                .run(t -> Ops.matmul(Ops.transpose(t[0]), Ops.transpose(t[1])),
                        x -> Reference.matmul(2, 3, 4, 5, Reference.transpose(x[0], 2, 4, 3), false,
                                Reference.transpose(x[1], 2, 5, 4), false));
        gc.op("matmul [2,3,4]·[5,4]ᵀ shared").input("a", 2, 3, 4).input("bt", 5, 4)
                .run(t -> Ops.matmul(t[0], Ops.transpose(t[1])),
                        x -> Reference.matmul(2, 3, 4, 5, x[0], false, Reference.transpose(x[1], 1, 5, 4), true));
    }

    @Test
    void matmulLargeEnoughForTheBlockedKernel() {
        // 37·41·29 multiply-adds pass Sgemm's small-product cut-off: the packed kernel runs.
        gc.op("matmul [37,29]·[29,41]").input("a", 37, 29).input("b", 29, 41).tolerances(1e-5, 1e-4, 2e-5)
                .run(t -> Ops.matmul(t[0], t[1]), x -> Reference.matmul(1, 37, 29, 41, x[0], false, x[1], false));
    }

    @Test
    void linearWithBias() {
        gc.op("linear [2,3,4]·[5,4]ᵀ + [5]").input("x", 2, 3, 4).input("w", 5, 4).input("b", 5)
                .run(t -> Ops.linear(t[0], t[1], t[2]), x -> linear(x[0], x[1], x[2], 6, 4, 5));
    }

    @Test
    void linearWithoutBias() {
        gc.op("linear [3,4]·[5,4]ᵀ").input("x", 3, 4).input("w", 5, 4)
                .run(t -> Ops.linear(t[0], t[1], null), x -> linear(x[0], x[1], null, 3, 4, 5));
    }

    @Test
    void matmulBackendHonoursAlphaBetaAndFloat16() {
        // The SPI contract directly: out = alpha·a·b + beta·out, float16 operands widened,
        // a bfloat16 out rounded once.
        double[] a = gc.randn(12);
        double[] b = gc.randn(20);
        double[] c0 = gc.randn(15);
        double[] ab = Reference.matmul(1, 3, 4, 5, a, false, b, false);
        try (Scope s = Scope.open()) {
            Tensor ta = Tensor.fromDoubles(a, DType.FLOAT16, Device.cpu(), 3, 4);
            Tensor tb = Tensor.fromDoubles(b, DType.FLOAT32, Device.cpu(), 4, 5);
            Tensor out = GradCheck.tensor(c0, 3, 5);
            CpuBackend.INSTANCE.matmul(ta, false, tb, false, out, 0.5f, -2f);
            double[] a16 = GradCheck.roundTo(DType.FLOAT16, a);
            double[] expected = Reference.add(Reference.matmul(1, 3, 4, 5, a16, false, b, false), c0, 0.5, -2);
            GradCheck.assertClose(expected, out.toDoubleArray(), 1e-5, 1e-6, "alpha/beta matmul (" + gc.tag() + ")");

            Tensor outBf = Tensor.zeros(DType.BFLOAT16, Device.cpu(), 3, 5);
            CpuBackend.INSTANCE.matmul(GradCheck.tensor(a, 3, 4), false, tb, false, outBf, 1f, 0f);
            assertArrayEquals(toFloats(GradCheck.roundTo(DType.BFLOAT16, ab)), outBf.toFloatArray(), 1e-2f,
                    "bfloat16 out (" + gc.tag() + ")");
        }
    }

    private static float[] toFloats(double[] v) {
        float[] f = new float[v.length];
        for (int i = 0; i < v.length; i++) {
            f[i] = (float) v[i];
        }
        return f;
    }

    /** {@code x [rows, in] · w [out, in]ᵀ + b}. */
    static double[] linear(double[] x, double[] w, double[] b, int rows, int in, int out) {
        double[] y = new double[rows * out];
        for (int r = 0; r < rows; r++) {
            for (int o = 0; o < out; o++) {
                double s = b == null ? 0 : b[o];
                for (int i = 0; i < in; i++) {
                    s += x[r * in + i] * w[o * in + i];
                }
                y[r * out + o] = s;
            }
        }
        return y;
    }
}
