package dev.solder.backend.cpu;

import dev.solder.DType;
import dev.solder.Tensor;

/**
 * The backend's matrix product: maps {@code out = alpha·op(a)·op(b) + beta·out} on 2-D or
 * 3-D contiguous tensors onto one batched {@link Sgemm} call.
 *
 * <p>A 2-D operand, or a 3-D one with batch 1, is shared by the whole batch (stride 0).
 * Sgemm reads float32 and bfloat16 directly and writes float32; float16 operands are
 * widened into float32 temporaries first, and a non-float32 {@code out} is computed in a
 * float32 temporary and rounded once at the end.
 */
final class CpuGemm {
    private CpuGemm() {
    }

    static void matmul(Tensor a, boolean transA, Tensor b, boolean transB, Tensor out, float alpha, float beta) {
        if (a.rank() < 2 || a.rank() > 3 || b.rank() < 2 || b.rank() > 3 || out.rank() < 2 || out.rank() > 3) {
            throw new IllegalArgumentException("matmul: operands must be 2-D or 3-D, got " + a.describe() + ", "
                    + b.describe() + " into " + out.describe());
        }
        int batchA = a.rank() == 3 ? a.dim(0) : 1;
        int batchB = b.rank() == 3 ? b.dim(0) : 1;
        int batch = out.rank() == 3 ? out.dim(0) : 1;
        int m = transA ? a.dim(-1) : a.dim(-2);
        int k = transA ? a.dim(-2) : a.dim(-1);
        int kb = transB ? b.dim(-1) : b.dim(-2);
        int n = transB ? b.dim(-2) : b.dim(-1);
        if (k != kb || out.dim(-2) != m || out.dim(-1) != n
                || (batchA != 1 && batchA != batch) || (batchB != 1 && batchB != batch)) {
            throw new IllegalArgumentException("matmul: " + a.describe() + (transA ? "ᵀ" : "") + " · " + b.describe()
                    + (transB ? "ᵀ" : "") + " does not give " + out.describe() + " (op(a) is [" + m + ", " + k
                    + "], op(b) is [" + kb + ", " + n + "])");
        }
        Tensor a32 = gemmInput(a);
        Tensor b32 = gemmInput(b);
        Tensor c = out.dtype() == DType.FLOAT32 ? out : Tensor.emptyUnscoped(out.shape(), DType.FLOAT32, out.device());
        try {
            if (c != out && beta != 0f) {
                CpuCopy.copy(out, c);
            }
            Sgemm.gemmBatched(batch, transA, transB, m, n, k, alpha,
                    CpuBackend.seg(a32), a32.offset(), batchA == 1 ? 0 : (long) a.dim(-2) * a.dim(-1), Math.max(1, a.dim(-1)), a32.dtype(),
                    CpuBackend.seg(b32), b32.offset(), batchB == 1 ? 0 : (long) b.dim(-2) * b.dim(-1), Math.max(1, b.dim(-1)), b32.dtype(),
                    beta, CpuBackend.seg(c), c.offset(), (long) m * n, Math.max(1, n));
            if (c != out) {
                CpuCopy.copy(c, out);
            }
        } finally {
            if (a32 != a) {
                a32.close();
            }
            if (b32 != b) {
                b32.close();
            }
            if (c != out) {
                c.close();
            }
        }
    }

    /** {@code t} itself when Sgemm can read it (float32, bfloat16), else a float32 copy. */
    static Tensor gemmInput(Tensor t) {
        if (t.dtype() == DType.FLOAT32 || t.dtype() == DType.BFLOAT16) {
            return t;
        }
        if (!t.dtype().isFloating()) {
            throw new IllegalArgumentException("matmul: " + t.describe() + " is not a floating tensor");
        }
        Tensor f = Tensor.emptyUnscoped(t.shape(), DType.FLOAT32, t.device());
        CpuCopy.copy(t, f);
        return f;
    }
}
