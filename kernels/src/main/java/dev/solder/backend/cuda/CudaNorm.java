package dev.solder.backend.cuda;

import static dev.solder.backend.cuda.DeviceTensors.code;
import static dev.solder.backend.cuda.DeviceTensors.codeOrF32;
import static dev.solder.backend.cuda.DeviceTensors.lastDim;
import static dev.solder.backend.cuda.DeviceTensors.ptr;
import static dev.solder.backend.cuda.DeviceTensors.ptrOrNull;

import dev.solder.Tensor;

/** Softmax and LayerNorm, forward and backward (softmax.cu, layernorm.cu). */
final class CudaNorm {
    /** Mask modes of solder_softmax_forward (softmax.cu). */
    static final int MASK_NONE = 0;
    static final int MASK_ADDITIVE = 1;
    static final int MASK_KEYS = 2;

    private CudaNorm() {
    }

    /** Softmax over the last dim of {@code x + mask}; mask {@code [g, cols]} serves rows {@code r / (rows/g)}. */
    static void softmax(CudaDevice d, Tensor x, Tensor mask, Tensor out) {
        int cols = lastDim(x);
        long n = x.numel();
        if (n == 0 || cols == 0) {
            return;
        }
        long rows = n / cols;
        long rowsPerMaskRow = 1;
        if (mask != null) {
            long g = mask.numel() / cols;
            if (g == 0 || mask.numel() % cols != 0 || rows % g != 0) {
                throw new IllegalArgumentException("softmax: mask " + mask.describe() + " does not fit " + x.describe());
            }
            rowsPerMaskRow = rows / g;
        }
        // solder_softmax_forward(const void* x, int xdt, const void* mask, int mdt, int maskMode,
        //                        long long rowsPerMaskRow, void* out, int odt, long long rows, int cols)
        Launch.of(d, Kernel.SOFTMAX_FORWARD, LaunchConfig.rows(rows))
                .ptr(ptr(x)).i32(code(x.dtype())).ptr(ptrOrNull(mask)).i32(codeOrF32(mask))
                .i32(mask == null ? MASK_NONE : MASK_ADDITIVE).i64(rowsPerMaskRow)
                .ptr(ptr(out)).i32(code(out.dtype())).i64(rows).i32(cols)
                .run();
    }

    /** {@code dx = y·(dy − Σ dy·y)} per row. */
    static void softmaxBackward(CudaDevice d, Tensor y, Tensor dy, Tensor dx) {
        int cols = lastDim(y);
        long n = y.numel();
        if (n == 0 || cols == 0) {
            return;
        }
        long rows = n / cols;
        // solder_softmax_backward(const void* y, int ydt, const void* dy, int dydt, void* dx, int dxdt,
        //                         long long rows, int cols)
        Launch.of(d, Kernel.SOFTMAX_BACKWARD, LaunchConfig.rows(rows))
                .ptr(ptr(y)).i32(code(y.dtype())).ptr(ptr(dy)).i32(code(dy.dtype()))
                .ptr(ptr(dx)).i32(code(dx.dtype())).i64(rows).i32(cols)
                .run();
    }

    /** LayerNorm of {@code h = x + residual} over the last dim, writing out, hOut, mean, rstd. */
    static void layerNorm(CudaDevice d, Tensor x, Tensor residual, Tensor gamma, Tensor beta, float eps,
                          Tensor out, Tensor hOut, Tensor mean, Tensor rstd) {
        int cols = lastDim(x);
        long n = x.numel();
        if (n == 0 || cols == 0) {
            return;
        }
        long rows = n / cols;
        DeviceTensors.requireFloat32("layerNorm", "mean", mean);
        DeviceTensors.requireFloat32("layerNorm", "rstd", rstd);
        if (mean.numel() != rows || rstd.numel() != rows) {
            throw new IllegalArgumentException("layerNorm: mean " + mean.describe() + " / rstd " + rstd.describe()
                    + " need " + rows + " elements for " + x.describe());
        }
        if (KernelPaths.useFused(KernelPaths.FusedOp.LAYER_NORM, CudaFused.layerNormUnsupported(cols, x.dtype(),
                residual == null ? null : residual.dtype(), out.dtype(), hOut == null ? null : hOut.dtype(),
                ptr(x), ptrOrNull(residual), ptr(out), ptrOrNull(hOut)))) {
            CudaFused.layerNormForward(d, x, residual, gamma, beta, eps, out, hOut, mean, rstd, rows, cols);
            return;
        }
        // h = x + residual is rounded to the dtype h is stored in (x's when there is no hOut)
        var hType = hOut != null ? hOut.dtype() : x.dtype();
        // solder_layernorm_forward(const void* x, int xdt, const void* res, int rdt, const void* gamma, int gdt,
        //                          const void* beta, int bdt, float eps, void* out, int odt, void* hOut, int hdt,
        //                          float* mean, float* rstd, long long rows, int cols)
        Launch.of(d, Kernel.LAYERNORM_FORWARD, LaunchConfig.rows(rows))
                .ptr(ptr(x)).i32(code(x.dtype())).ptr(ptrOrNull(residual)).i32(codeOrF32(residual))
                .ptr(ptr(gamma)).i32(code(gamma.dtype())).ptr(ptr(beta)).i32(code(beta.dtype()))
                .f32(eps).ptr(ptr(out)).i32(code(out.dtype())).ptr(ptrOrNull(hOut)).i32(code(hType))
                .ptr(ptr(mean)).ptr(ptr(rstd)).i64(rows).i32(cols)
                .run();
    }

    /** LayerNorm's gradients: dh always; dgamma, dbeta (overwritten) when non-null. */
    static void layerNormBackward(CudaDevice d, Tensor dy, Tensor h, Tensor gamma, Tensor mean, Tensor rstd,
                                  Tensor dh, Tensor dgamma, Tensor dbeta) {
        int cols = lastDim(h);
        long n = h.numel();
        if (cols == 0) {
            return;
        }
        long rows = n / cols;
        DeviceTensors.requireFloat32("layerNormBackward", "mean", mean);
        DeviceTensors.requireFloat32("layerNormBackward", "rstd", rstd);
        if (rows == 0) {
            if (dgamma != null) {
                CudaCopy.fillRaw(d, ptr(dgamma), dgamma.dtype(), dgamma.numel(), 0.0);
            }
            if (dbeta != null) {
                CudaCopy.fillRaw(d, ptr(dbeta), dbeta.dtype(), dbeta.numel(), 0.0);
            }
            return;
        }
        if (KernelPaths.useFused(KernelPaths.FusedOp.LAYER_NORM_BACKWARD, CudaFused.layerNormBackwardUnsupported(cols,
                dy.dtype(), h.dtype(), dh == null ? null : dh.dtype(), ptr(dy), ptr(h), ptrOrNull(dh)))) {
            CudaFused.layerNormBackward(d, dy, h, gamma, mean, rstd, dh, dgamma, dbeta, rows, cols);
            return;
        }
        if (dh != null) {
            // solder_layernorm_backward_input(const void* dy, int dydt, const void* h, int hdt,
            //                                 const void* gamma, int gdt, const float* mean, const float* rstd,
            //                                 void* dh, int dhdt, long long rows, int cols)
            Launch.of(d, Kernel.LAYERNORM_BACKWARD_INPUT, LaunchConfig.rows(rows))
                    .ptr(ptr(dy)).i32(code(dy.dtype())).ptr(ptr(h)).i32(code(h.dtype()))
                    .ptr(ptr(gamma)).i32(code(gamma.dtype())).ptr(ptr(mean)).ptr(ptr(rstd))
                    .ptr(ptr(dh)).i32(code(dh.dtype())).i64(rows).i32(cols)
                    .run();
        }
        if (dgamma == null && dbeta == null) {
            return;
        }
        LaunchConfig.ColumnSplit split = LaunchConfig.columnSplit(rows, cols);
        try (CudaDevice.Temps tmp = d.temps()) {
            long partBytes = (long) split.chunks() * cols * Double.BYTES;
            long partGamma = tmp.alloc(partBytes);
            long partBeta = tmp.alloc(partBytes);
            // solder_layernorm_backward_params_partial(const void* dy, int dydt, const void* h, int hdt,
            //     const float* mean, const float* rstd, long long rows, int cols, long long rowsPerChunk,
            //     double* partGamma, double* partBeta)
            Launch.of(d, Kernel.LAYERNORM_BACKWARD_PARAMS_PARTIAL, split.partial())
                    .ptr(ptr(dy)).i32(code(dy.dtype())).ptr(ptr(h)).i32(code(h.dtype()))
                    .ptr(ptr(mean)).ptr(ptr(rstd)).i64(rows).i32(cols).i64(split.rowsPerChunk())
                    .ptr(partGamma).ptr(partBeta)
                    .run();
            CudaReduce.finishLayerNormParams(d, partGamma, dgamma, partBeta, dbeta, split.chunks(), cols);
        }
    }
}
