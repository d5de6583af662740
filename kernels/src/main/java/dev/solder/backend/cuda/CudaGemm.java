package dev.solder.backend.cuda;

import static dev.solder.backend.cuda.DeviceTensors.ptr;

import dev.solder.DType;
import dev.solder.Tensor;

/**
 * Matrix products through cuBLAS ({@code cublasGemmEx} / {@code cublasGemmStridedBatchedEx}),
 * float32 accumulation always.
 *
 * <p>Solder's tensors are row-major and cuBLAS is column-major. A row-major matrix is the
 * column-major storage of its transpose, so {@code C = op(A)·op(B)} (row-major) is computed as
 * {@code Cᵀ = op(B)ᵀ·op(A)ᵀ} (column-major): the operands swap places, {@code m} and {@code n}
 * swap, and the transpose flags and leading dimensions (row strides) stay as they are
 * ({@link #rowMajor}).
 *
 * <p>Types: cuBLAS multiplies A and B of one type (float32, bfloat16 or float16) into C of that
 * type or float32. Mixed operands are converted to float32 temporaries first; an output of
 * another type is computed in a float32 temporary and converted. Float32 products use full
 * float32 arithmetic unless {@code -Dsolder.cuda.tf32=true} allows TF32 tensor cores (10-bit
 * mantissa inputs: about 5e-4 relative error).
 */
final class CudaGemm {
    /** {@code -Dsolder.cuda.tf32=true}: float32 GEMMs may use TF32 tensor cores. */
    static volatile boolean tf32 = Boolean.getBoolean("solder.cuda.tf32");

    private CudaGemm() {
    }

    /**
     * Row-major batched {@code C_i = alpha·op(A_i)·op(B_i) + beta·C_i}: {@code op(A)} is
     * {@code m×k}, {@code op(B)} {@code k×n}, {@code C} {@code m×n}; {@code lda, ldb, ldc} are row
     * strides of the stored matrices (A stored {@code m×k}, or {@code k×m} when {@code tA});
     * {@code sa, sb, sc} are element strides between batch entries (0: shared).
     */
    static void rowMajor(CudaDevice d, boolean tA, boolean tB, int m, int n, int k, float alpha,
                         long a, DType at, int lda, long sa, long b, DType bt, int ldb, long sb,
                         float beta, long c, DType ct, int ldc, long sc, int batch) {
        d.api().gemm(new DeviceApi.Gemm(tB, tA, n, m, k, alpha, b, bt, ldb, sb, a, at, lda, sa,
                beta, c, ct, ldc, sc, batch, tf32));
    }

    // ------------------------------------------------------------------ fused path: cuBLASLt epilogues

    /**
     * Why {@code linear(x, w, bias, out)} cannot be one cuBLASLt call with the BIAS epilogue;
     * null when it can: x, w, out and bias of one type, float32 or bfloat16 (the combinations
     * CudaGpuTest ran the epilogue with), at least one row.
     */
    static String linearBiasUnsupported(Tensor x, Tensor w, Tensor bias, Tensor out) {
        DType t = x.dtype();
        if (t != DType.FLOAT32 && t != DType.BFLOAT16) {
            return "dtype " + t + " (float32, bfloat16)";
        }
        if (w.dtype() != t || out.dtype() != t || bias.dtype() != t) {
            return "mixed dtypes (x " + t + ", w " + w.dtype() + ", bias " + bias.dtype() + ", out " + out.dtype() + ")";
        }
        if (!x.isContiguous() || !w.isContiguous() || !bias.isContiguous() || !out.isContiguous()) {
            return "a non-contiguous view";
        }
        return x.numel() == 0 || w.numel() == 0 ? "an empty product" : null;
    }

    /**
     * {@code out = x·wᵀ + bias} as one cuBLASLt call (BIAS epilogue); the caller checked
     * {@link #linearBiasUnsupported}. False when cuBLASLt has no algorithm for it (nothing done).
     */
    static boolean linearBias(CudaDevice d, Tensor x, Tensor w, Tensor bias, Tensor out) {
        int in = x.dim(-1);
        int outF = w.dim(0);
        long rows = x.numel() / in;
        if (w.rank() != 2 || w.dim(1) != in || bias.numel() != outF || out.numel() != rows * outF || rows > Integer.MAX_VALUE) {
            throw new IllegalArgumentException("linear: " + x.describe() + " · " + w.describe() + "ᵀ + " + bias.describe()
                    + " does not fit " + out.describe());
        }
        return d.api().ltGemm(new DeviceApi.LtGemm(false, true, (int) rows, outF, in, ptr(x), ptr(w), x.dtype(), in, in,
                ptr(out), out.dtype(), outF, DeviceApi.LtEpilogue.BIAS, ptr(bias), bias.dtype(), tf32));
    }

    /**
     * Why {@code dw = dyᵀ·x} and {@code dbias = Σ_rows dy} cannot be one cuBLASLt call with the
     * BGRADB epilogue; null when they can: dy and x of one type (float32 or bfloat16), float32
     * dw and dbias.
     */
    static String linearBiasGradUnsupported(Tensor dy, Tensor x, Tensor dw, Tensor dbias) {
        DType t = dy.dtype();
        if (t != DType.FLOAT32 && t != DType.BFLOAT16) {
            return "dtype " + t + " (float32, bfloat16)";
        }
        if (x.dtype() != t) {
            return "mixed dtypes (dy " + t + ", x " + x.dtype() + ")";
        }
        if (dw.dtype() != DType.FLOAT32 || dbias.dtype() != DType.FLOAT32) {
            return "gradient dtypes dw " + dw.dtype() + ", dbias " + dbias.dtype() + " (float32)";
        }
        if (!dy.isContiguous() || !x.isContiguous() || !dw.isContiguous() || !dbias.isContiguous()) {
            return "a non-contiguous view";
        }
        return dy.numel() == 0 || x.numel() == 0 ? "an empty product" : null;
    }

    /**
     * {@code dw = dyᵀ·x} with {@code dbias = Σ_rows dy} from the same call (BGRADB epilogue).
     * False when cuBLASLt has no algorithm for it (nothing done).
     */
    static boolean linearBiasGrad(CudaDevice d, Tensor dy, Tensor x, Tensor dw, Tensor dbias) {
        int in = x.dim(-1);
        int outF = dy.dim(-1);
        long rows = dy.numel() / outF;
        if (x.numel() != rows * in || dw.numel() != (long) outF * in || dbias.numel() != outF || rows > Integer.MAX_VALUE) {
            throw new IllegalArgumentException("linearBackward: " + dy.describe() + "ᵀ · " + x.describe()
                    + " does not fit dw " + dw.describe() + " and dbias " + dbias.describe());
        }
        return d.api().ltGemm(new DeviceApi.LtGemm(true, false, outF, in, (int) rows, ptr(dy), ptr(x), dy.dtype(), outF, in,
                ptr(dw), dw.dtype(), in, DeviceApi.LtEpilogue.BGRADB, ptr(dbias), dbias.dtype(), tf32));
    }

    /** The Backend's matmul: {@code out = alpha·op(a)·op(b) + beta·out}, 2-D or batched 3-D. */
    static void matmul(CudaDevice d, Tensor a, boolean transA, Tensor b, boolean transB, Tensor out,
                       float alpha, float beta) {
        if (a.rank() < 2 || a.rank() > 3 || b.rank() < 2 || b.rank() > 3 || out.rank() < 2 || out.rank() > 3) {
            throw new IllegalArgumentException("matmul: operands must be 2-D or 3-D: " + a.describe() + ", "
                    + b.describe() + " -> " + out.describe());
        }
        int ar = a.dim(-2);
        int ac = a.dim(-1);
        int br = b.dim(-2);
        int bc = b.dim(-1);
        int m = transA ? ac : ar;
        int k = transA ? ar : ac;
        int kb = transB ? bc : br;
        int n = transB ? br : bc;
        int batch = out.rank() == 3 ? out.dim(0) : 1;
        int aBatch = a.rank() == 3 ? a.dim(0) : 1;
        int bBatch = b.rank() == 3 ? b.dim(0) : 1;
        if (k != kb || out.dim(-2) != m || out.dim(-1) != n || (aBatch != 1 && aBatch != batch)
                || (bBatch != 1 && bBatch != batch)) {
            throw new IllegalArgumentException("matmul: " + a.describe() + (transA ? "ᵀ" : "") + " · " + b.describe()
                    + (transB ? "ᵀ" : "") + " does not fit " + out.describe());
        }
        if (m == 0 || n == 0 || batch == 0) {
            return;
        }
        if (k == 0) { // an empty sum: out = beta·out
            if (beta == 0f) {
                CudaCopy.fillRaw(d, ptr(out), out.dtype(), out.numel(), 0.0);
            } else {
                CudaElementwise.scale(d, out, beta, out);
            }
            return;
        }
        DType at = a.dtype();
        DType bt = b.dtype();
        DType ct = out.dtype();
        DType common = at == bt ? at : DType.FLOAT32;
        boolean directC = ct == DType.FLOAT32 || ct == common;
        try (CudaDevice.Temps tmp = d.temps()) {
            long ap = ptr(a);
            long bp = ptr(b);
            if (at != common) {
                ap = toFloat32(d, tmp, ap, at, a.numel());
            }
            if (bt != common) {
                bp = toFloat32(d, tmp, bp, bt, b.numel());
            }
            long cp = ptr(out);
            DType cType = ct;
            if (!directC) {
                cp = tmp.alloc(out.numel() * Float.BYTES);
                cType = DType.FLOAT32;
                if (beta != 0f) {
                    CudaCopy.convert(d, ptr(out), ct, cp, DType.FLOAT32, out.numel());
                }
            }
            long sa = aBatch > 1 ? (long) ar * ac : 0;
            long sb = bBatch > 1 ? (long) br * bc : 0;
            rowMajor(d, transA, transB, m, n, k, alpha, ap, common, ac, sa, bp, common, bc, sb,
                    beta, cp, cType, n, (long) m * n, batch);
            if (!directC) {
                CudaCopy.convert(d, cp, DType.FLOAT32, ptr(out), ct, out.numel());
            }
        }
    }

    /** A float32 temporary copy of {@code n} elements of type {@code t} at {@code p}. */
    static long toFloat32(CudaDevice d, CudaDevice.Temps tmp, long p, DType t, long n) {
        if (t == DType.FLOAT32) {
            return p;
        }
        long f = tmp.alloc(n * Float.BYTES);
        CudaCopy.convert(d, p, t, f, DType.FLOAT32, n);
        return f;
    }
}
