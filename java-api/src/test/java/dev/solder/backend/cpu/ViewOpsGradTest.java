package dev.solder.backend.cpu;

import dev.solder.DType;
import dev.solder.Ops;
import org.junit.jupiter.api.Test;

/** Gradients through the view and conversion ops: reshape, transpose, narrow, contiguous, cast. */
class ViewOpsGradTest {
    private final GradCheck gc = new GradCheck();

    @Test
    void reshape() {
        gc.op("reshape [2,3,4] -> [4,-1]").input("x", 2, 3, 4)
                .run(t -> Ops.reshape(t[0], 4, -1), x -> x[0]);
    }

    @Test
    void reshapeOfATransposedViewCopies() {
        gc.op("reshape(transpose [3,5]) -> [15]").input("x", 3, 5)
                .run(t -> Ops.reshape(Ops.transpose(t[0]), 15), x -> Reference.transpose(x[0], 1, 3, 5));
    }

    @Test
    void transpose() {
        gc.op("transpose [2,3,4]").input("x", 2, 3, 4)
                .run(t -> Ops.transpose(t[0]), x -> Reference.transpose(x[0], 2, 3, 4));
    }

    @Test
    void narrow() {
        gc.op("narrow [3,5] dim 1 [1,4)").input("x", 3, 5)
                .run(t -> Ops.narrow(t[0], 1, 1, 3), x -> {
                    double[] y = new double[9];
                    for (int r = 0; r < 3; r++) {
                        System.arraycopy(x[0], r * 5 + 1, y, r * 3, 3);
                    }
                    return y;
                });
        gc.op("narrow [4,2,3] dim 0 [2,4)").input("x", 4, 2, 3)
                .run(t -> Ops.narrow(t[0], 0, 2, 2), x -> java.util.Arrays.copyOfRange(x[0], 12, 24));
    }

    @Test
    void contiguousOfATransposedView() {
        gc.op("contiguous(transpose [3,4])").input("x", 3, 4)
                .run(t -> Ops.contiguous(Ops.transpose(t[0])), x -> Reference.transpose(x[0], 1, 3, 4));
    }

    @Test
    void castThroughLowPrecision() {
        // The forward rounds to bfloat16 (8 bits: ≤ 2^-9 relative); the gradient passes straight through.
        gc.op("cast float32 -> bfloat16").input("x", 3, 4).tolerances(4e-3, 1e-6, 1e-7)
                .run(t -> Ops.cast(t[0], DType.BFLOAT16), x -> x[0]);
        gc.op("cast float32 -> float16 -> float32").input("x", 3, 4).tolerances(1e-3, 1e-6, 1e-7)
                .run(t -> Ops.cast(Ops.cast(t[0], DType.FLOAT16), DType.FLOAT32), x -> x[0]);
    }

    @Test
    void opsComposeThroughViews() {
        // tanh(narrow(x)ᵀ)·w: gradients must find their way back through two views.
        gc.op("matmul(transpose(narrow(tanh x)), w)").input("x", 4, 6).input("w", 4, 2)
                .run(t -> Ops.matmul(Ops.transpose(Ops.narrow(Ops.tanh(t[0]), 1, 1, 3)), t[1]), x -> {
                    double[] th = Reference.map(x[0], Math::tanh);
                    double[] nt = new double[12];
                    for (int r = 0; r < 4; r++) {
                        for (int c = 0; c < 3; c++) {
                            nt[c * 4 + r] = th[r * 6 + 1 + c];
                        }
                    }
                    return Reference.matmul(1, 3, 4, 2, nt, false, x[1], false);
                });
    }
}
