package dev.solder.backend.cuda;

import static dev.solder.backend.cuda.DeviceTensors.code;
import static dev.solder.backend.cuda.DeviceTensors.ptr;
import static dev.solder.backend.cuda.DeviceTensors.ptrOrNull;

import dev.solder.DType;
import dev.solder.Tensor;

/**
 * The fused path's kernels (layernorm.cu: {@code solder_layernorm_fused_*}; elementwise.cu:
 * {@code solder_bias_gelu_*}): what each supports ({@code *Unsupported}: null when it can run
 * the case, else the reason — pure functions, unit-tested) and their launches. The callers in
 * {@link CudaNorm} and {@link CudaBackend} ask {@link KernelPaths} which path to take.
 */
final class CudaFused {
    /** Widths the fused LayerNorm kernels are instantiated for. */
    static final int[] LAYER_NORM_WIDTHS = {384, 768, 1024};

    private CudaFused() {
    }

    static boolean fastWidth(int cols) {
        for (int w : LAYER_NORM_WIDTHS) {
            if (w == cols) {
                return true;
            }
        }
        return false;
    }

    static boolean vectorType(DType t) {
        return t == DType.FLOAT32 || t == DType.BFLOAT16;
    }

    /** Why the fused LayerNorm forward cannot run; null when it can. Null dtypes/pointers: absent tensors. */
    static String layerNormUnsupported(int cols, DType x, DType residual, DType out, DType hOut, long... ptrs) {
        if (!fastWidth(cols)) {
            return "width " + cols + " (fast widths 384, 768, 1024)";
        }
        if (!vectorType(x)) {
            return "dtype " + x + " (float32, bfloat16)";
        }
        if ((residual != null && residual != x) || out != x || (hOut != null && hOut != x)) {
            return "mixed dtypes (x " + x + ", residual " + residual + ", out " + out + ", h " + hOut + ")";
        }
        return misaligned(ptrs);
    }

    /**
     * Why the fused dropout + LayerNorm forward cannot run; null when it can: the fused
     * LayerNorm's widths and alignment, residual, out and h of one dtype (float32, bfloat16), x
     * of that dtype or bfloat16 beside float32.
     */
    static String dropoutLayerNormUnsupported(int cols, DType x, DType residual, DType out, DType hOut, long... ptrs) {
        if (!fastWidth(cols)) {
            return "width " + cols + " (fast widths 384, 768, 1024)";
        }
        if (!vectorType(residual)) {
            return "dtype " + residual + " (float32, bfloat16)";
        }
        if (out != residual || hOut != residual) {
            return "mixed dtypes (residual " + residual + ", out " + out + ", h " + hOut + ")";
        }
        if (x != residual && !(x == DType.BFLOAT16 && residual == DType.FLOAT32)) {
            return "x dtype " + x + " beside " + residual + " (the same, or bfloat16 beside float32)";
        }
        return misaligned(ptrs);
    }

    /**
     * Why the fused dropout + LayerNorm forward cannot also write {@code outLow}, out's
     * low-precision copy; null when it can: a contiguous bfloat16 copy of a float32 out, 8-byte
     * aligned. (A null outLow is "nothing to write".)
     */
    static String lowCopyUnsupported(Tensor out, Tensor outLow) {
        if (outLow == null) {
            return "no copy asked for";
        }
        if (out.dtype() != DType.FLOAT32 || outLow.dtype() != DType.BFLOAT16) {
            return "a " + outLow.dtype() + " copy of a " + out.dtype() + " output (bfloat16 of float32)";
        }
        if (!outLow.isContiguous() || outLow.numel() != out.numel()) {
            return "copy " + outLow.describe() + " for output " + out.describe();
        }
        return (DeviceTensors.ptr(outLow) & 7) != 0 ? "a copy not 8-byte aligned" : null;
    }

    /**
     * The fused dropout + LayerNorm forward; the caller checked {@link #dropoutLayerNormUnsupported},
     * and {@link #lowCopyUnsupported} for a non-null {@code outLow}.
     */
    static void dropoutLayerNormForward(CudaDevice d, Tensor x, float p, long seed, Tensor residual, Tensor gamma,
                                        Tensor beta, float eps, Tensor out, Tensor hOut, Tensor mean, Tensor rstd,
                                        Tensor outLow) {
        int cols = DeviceTensors.lastDim(x);
        long rows = x.numel() / Math.max(1, cols);
        if (residual.numel() != x.numel() || out.numel() != x.numel() || hOut.numel() != x.numel()
                || mean.numel() != rows || rstd.numel() != rows) {
            throw new IllegalArgumentException("dropoutLayerNorm: x " + x.describe() + ", residual " + residual.describe()
                    + ", out " + out.describe() + ", h " + hOut.describe() + ", mean " + mean.describe()
                    + " do not fit together");
        }
        if (rows == 0) {
            return;
        }
        // solder_dropout_layernorm_fused_forward(const void* x, int xdt, const void* res, int dt, float p,
        //     long long seed, const void* gamma, int gdt, const void* beta, int bdt, float eps, void* out,
        //     void* hOut, float* mean, float* rstd, long long rows, int cols, void* outLow)
        Launch.of(d, Kernel.DROPOUT_LAYERNORM_FUSED_FORWARD, LaunchConfig.rows(rows))
                .ptr(ptr(x)).i32(code(x.dtype())).ptr(ptr(residual)).i32(code(residual.dtype())).f32(p).i64(seed)
                .ptr(ptr(gamma)).i32(code(gamma.dtype())).ptr(ptr(beta)).i32(code(beta.dtype())).f32(eps)
                .ptr(ptr(out)).ptr(ptr(hOut)).ptr(ptr(mean)).ptr(ptr(rstd)).i64(rows).i32(cols)
                .ptr(outLow == null ? 0 : ptr(outLow))
                .run();
    }

    /** Why the fused LayerNorm backward cannot run; null when it can. */
    static String layerNormBackwardUnsupported(int cols, DType dy, DType h, DType dh, long... ptrs) {
        if (!fastWidth(cols)) {
            return "width " + cols + " (fast widths 384, 768, 1024)";
        }
        if (!vectorType(dy) || !vectorType(h)) {
            return "dtypes dy " + dy + ", h " + h + " (float32, bfloat16)";
        }
        if (dh != null && dh != DType.FLOAT32) {
            return "dh dtype " + dh + " (float32)";
        }
        return misaligned(ptrs);
    }

    /**
     * Why the one-pass dropout + LayerNorm backward cannot run; null when it can: the fused
     * LayerNorm backward's cases, dx float32 or bfloat16 and 16-byte aligned.
     */
    static String dropoutLayerNormBackwardUnsupported(int cols, DType dy, DType h, DType dres, DType dx,
                                                      long... ptrs) {
        String ln = layerNormBackwardUnsupported(cols, dy, h, dres, ptrs);
        if (ln != null) {
            return ln;
        }
        return vectorType(dx) ? null : "dx dtype " + dx + " (float32, bfloat16)";
    }

    static String misaligned(long... ptrs) {
        for (long p : ptrs) {
            if ((p & 15) != 0) {
                return "a pointer not 16-byte aligned (0x" + Long.toHexString(p) + ")";
            }
        }
        return null;
    }

    /** Why the fused bias-GELU epilogue cannot run; null when it can. */
    static String biasGeluUnsupported(boolean hasBias) {
        return hasBias ? null : "a linear without bias";
    }

    /** Rows per block of the fused LayerNorm backward, and the block count (a pure function of rows). */
    record RowChunks(int chunks, long rowsPerChunk) {
    }

    /** At least 16 rows (2 per warp) a block, at most 512 blocks. */
    static RowChunks layerNormChunks(long rows) {
        long chunks = Math.max(1, Math.min(LaunchConfig.ceilDiv(rows, 16), 512));
        long rpc = LaunchConfig.ceilDiv(rows, chunks);
        chunks = LaunchConfig.ceilDiv(rows, rpc);
        return new RowChunks((int) chunks, rpc);
    }

    /** The fused LayerNorm forward; the caller checked {@link #layerNormUnsupported}. */
    static void layerNormForward(CudaDevice d, Tensor x, Tensor residual, Tensor gamma, Tensor beta, float eps,
                                 Tensor out, Tensor hOut, Tensor mean, Tensor rstd, long rows, int cols) {
        // solder_layernorm_fused_forward(const void* x, const void* res, int dt, const void* gamma, int gdt,
        //     const void* beta, int bdt, float eps, void* out, void* hOut, float* mean, float* rstd,
        //     long long rows, int cols)
        Launch.of(d, Kernel.LAYERNORM_FUSED_FORWARD, LaunchConfig.rows(rows))
                .ptr(ptr(x)).ptr(ptrOrNull(residual)).i32(code(x.dtype()))
                .ptr(ptr(gamma)).i32(code(gamma.dtype())).ptr(ptr(beta)).i32(code(beta.dtype())).f32(eps)
                .ptr(ptr(out)).ptr(ptrOrNull(hOut)).ptr(ptr(mean)).ptr(ptr(rstd)).i64(rows).i32(cols)
                .run();
    }

    /** The fused LayerNorm backward (dh, dgamma, dbeta each may be null); rows > 0. */
    static void layerNormBackward(CudaDevice d, Tensor dy, Tensor h, Tensor gamma, Tensor mean, Tensor rstd,
                                  Tensor dh, Tensor dgamma, Tensor dbeta, long rows, int cols) {
        layerNormBackward(d, dy, h, gamma, mean, rstd, dh, dgamma, dbeta, rows, cols, null, 0f, 0L);
    }

    /**
     * The fused LayerNorm backward, and with {@code dx} non-null also {@code dx = dropout'(dh)} in the
     * same pass (the backward of {@link #dropoutLayerNormForward}; the caller checked
     * {@link #dropoutLayerNormBackwardUnsupported}); rows > 0.
     */
    static void layerNormBackward(CudaDevice d, Tensor dy, Tensor h, Tensor gamma, Tensor mean, Tensor rstd,
                                  Tensor dh, Tensor dgamma, Tensor dbeta, long rows, int cols, Tensor dx, float p,
                                  long seed) {
        RowChunks c = layerNormChunks(rows);
        try (CudaDevice.Temps tmp = d.temps()) {
            long partBytes = (long) c.chunks() * cols * Double.BYTES;
            long partGamma = dgamma != null ? tmp.alloc(partBytes) : 0;
            long partBeta = dbeta != null ? tmp.alloc(partBytes) : 0;
            LaunchConfig grid = new LaunchConfig(c.chunks(), 1, LaunchConfig.ROWS_PER_BLOCK * 32, 1, 0);
            // solder_layernorm_fused_backward(const void* dy, int dydt, const void* h, int hdt, const void* gamma,
            //     int gdt, const float* mean, const float* rstd, float* dh, long long rows, int cols,
            //     long long rowsPerChunk, double* partGamma, double* partBeta)
            // solder_dropout_layernorm_fused_backward: the same, with void* dx, int dxdt, float p,
            //     long long seed after dh
            Launch launch = Launch.of(d, dx == null ? Kernel.LAYERNORM_FUSED_BACKWARD
                            : Kernel.DROPOUT_LAYERNORM_FUSED_BACKWARD, grid)
                    .ptr(ptr(dy)).i32(code(dy.dtype())).ptr(ptr(h)).i32(code(h.dtype()))
                    .ptr(ptr(gamma)).i32(code(gamma.dtype())).ptr(ptr(mean)).ptr(ptr(rstd)).ptr(ptrOrNull(dh));
            if (dx != null) {
                launch.ptr(ptr(dx)).i32(code(dx.dtype())).f32(p).i64(seed);
            }
            launch.i64(rows).i32(cols).i64(c.rowsPerChunk()).ptr(partGamma).ptr(partBeta).run();
            CudaReduce.finishLayerNormParams(d, partGamma, dgamma, partBeta, dbeta, c.chunks(), cols);
        }
    }

    /** {@code pre += bias} (in pre's dtype), {@code out = gelu_erf(pre)}; pre and out are {@code [rows, cols]}. */
    static void biasGelu(CudaDevice d, Tensor pre, Tensor bias, Tensor out) {
        int cols = DeviceTensors.lastDim(pre);
        if (pre.numel() == 0 || cols == 0) {
            return;
        }
        long rows = pre.numel() / cols;
        if (bias.numel() != cols || out.numel() != pre.numel()) {
            throw new IllegalArgumentException("linearGelu: bias " + bias.describe() + " / out " + out.describe()
                    + " do not fit " + pre.describe());
        }
        // solder_bias_gelu_forward(void* pre, int pdt, const void* bias, int bdt, void* out, int odt,
        //                          long long rows, int cols)
        Launch.of(d, Kernel.BIAS_GELU_FORWARD, LaunchConfig.vec8(pre.numel()))
                .ptr(ptr(pre)).i32(code(pre.dtype())).ptr(ptr(bias)).i32(code(bias.dtype()))
                .ptr(ptr(out)).i32(code(out.dtype())).i64(rows).i32(cols)
                .run();
    }

    /** {@code dpre = dy·gelu'(pre)} and, when dbias is non-null, {@code dbias = Σ_rows dpre}, in one pass. */
    static void biasGeluBackward(CudaDevice d, Tensor pre, Tensor dy, Tensor dpre, Tensor dbias) {
        int cols = DeviceTensors.lastDim(pre);
        long rows = cols == 0 ? 0 : pre.numel() / cols;
        if (rows == 0 || cols == 0) {
            if (dbias != null) {
                CudaCopy.fillRaw(d, ptr(dbias), dbias.dtype(), dbias.numel(), 0.0);
            }
            return;
        }
        LaunchConfig.ColumnSplit split = LaunchConfig.columnSplit(rows, cols, LaunchConfig.BIAS_GELU_TILE);
        try (CudaDevice.Temps tmp = d.temps()) {
            long partials = tmp.alloc((long) split.chunks() * cols * Double.BYTES);
            // solder_bias_gelu_backward(const void* pre, int pdt, const void* dy, int dydt, void* dpre, int dpdt,
            //                           long long rows, int cols, long long rowsPerChunk, double* partials)
            Launch.of(d, Kernel.BIAS_GELU_BACKWARD, split.partial())
                    .ptr(ptr(pre)).i32(code(pre.dtype())).ptr(ptr(dy)).i32(code(dy.dtype()))
                    .ptr(ptr(dpre)).i32(code(dpre.dtype())).i64(rows).i32(cols).i64(split.rowsPerChunk())
                    .ptr(partials)
                    .run();
            if (dbias != null) {
                CudaReduce.finishColumns(d, partials, split.chunks(), cols, ptr(dbias), dbias.dtype());
            }
        }
    }
}
