package dev.solder.backend.cuda;

import dev.solder.Device;
import dev.solder.Tensor;
import dev.solder.cuda.Cuda;
import dev.solder.spi.Backend;
import dev.solder.spi.Storage;
import java.lang.foreign.MemorySegment;
import java.util.List;
import java.util.function.Function;

/**
 * The CUDA backend, cuBLAS-only path: every matrix product through cuBLAS, everything else in
 * the simple generic kernels of {@code src/main/cuda} (one file per op family), loaded from the
 * prebuilt fatbin or compiled with NVRTC ({@link KernelImage}).
 *
 * <p>Found by {@link java.util.ServiceLoader} ({@code META-INF/services/dev.solder.spi.Backend}):
 * putting {@code solder-kernels} on the class path is all it takes for {@code Device.cuda()}
 * tensors. Without a usable GPU, {@link #checkDevice} throws with
 * {@link Cuda#unavailableReason()}.
 *
 * <p>This class only dispatches; each op family lives in its own class ({@link CudaCopy},
 * {@link CudaGemm}, {@link CudaElementwise}, {@link CudaReduce}, {@link CudaNorm},
 * {@link CudaAttention}, {@link CudaLookup}, {@link CudaLoss}, {@link CudaOptim}). Every op runs
 * under its device's lock on the device's one stream, so ops are ordered and asynchronous;
 * transfers to the host, {@link #synchronize}, {@link #sumSquares} and ops that check ids or
 * labels (embedding, crossEntropy) wait for the stream. A CUDA or cuBLAS failure surfaces as a
 * {@code CudaException} (out of memory: {@code CudaOutOfMemoryException}) whose message starts
 * with the op and its tensors.
 *
 * <p>Ops with a fused kernel (LayerNorm, linear + GELU) ask {@link KernelPaths} which path to take
 * ({@code -Dsolder.kernels=auto|fused|cublas}).
 *
 * <p>System properties: {@code solder.cuda.tf32} (float32 GEMMs on TF32 tensor cores),
 * {@code solder.cuda.syncLaunches} (synchronize after each launch, to pin a kernel fault on its
 * launch), {@code solder.cuda.kernelImage} and {@code solder.cuda.kernelCache} (see
 * {@link KernelImage}), {@code solder.cuda.dryRun} (a device that runs nothing, for timing the
 * host side of GPU work on any machine; see {@code DryRunDeviceApi}), {@code solder.cuda.cacheFreed}
 * and {@code solder.cuda.cacheBytes} (keep freed device blocks for reuse; see {@code BlockCache}).
 */
public final class CudaBackend implements Backend {

    /** For {@link java.util.ServiceLoader}; all instances share the per-device state. */
    public CudaBackend() {
    }

    @Override
    public String name() {
        return "cuda";
    }

    /**
     * For {@code solder info}: the driver, each GPU (name, compute capability, SMs, memory),
     * every NVIDIA library with its path and version or why it was not found, and the kernel
     * path selection in force ({@code -Dsolder.kernels}).
     */
    @Override
    public java.util.List<String> describe() {
        java.util.List<String> lines = new java.util.ArrayList<>(
                java.util.Arrays.asList(Cuda.report().strip().split("\n")));
        lines.add("kernel path: " + KernelPaths.mode().name().toLowerCase(java.util.Locale.ROOT)
                + " (-D" + KernelPaths.PROPERTY + "=auto|fused|cublas; fused by default: " + KernelPaths.VALIDATED + ")");
        return lines;
    }

    @Override
    public Device.Kind kind() {
        return Device.Kind.CUDA;
    }

    @Override
    public void checkDevice(Device device) {
        if (!device.isCuda()) {
            throw new IllegalArgumentException("cuda backend cannot serve " + device);
        }
        if (CudaDevice.isFaked()) {
            return;
        }
        if (!Cuda.isAvailable()) {
            // What failed, on one line; `solder info` (Cuda.report) lists every place searched.
            throw new IllegalStateException("cannot use " + device + ": CUDA is not available: "
                    + Cuda.summary(Cuda.unavailableReason()) + " (`solder info` or Cuda.report() shows where)");
        }
        int count = Cuda.deviceCount();
        if (device.index() >= count) {
            throw new IllegalArgumentException("cannot use " + device + ": this machine has " + count + " CUDA device"
                    + (count == 1 ? "" : "s"));
        }
    }

    /** One line about the device and where its kernels came from (for logs and test reports). */
    public static String describe(Device device) {
        CudaDevice d = CudaDevice.of(device);
        synchronized (d) {
            return d.api().describe() + (d.cache() == null ? "" : "; " + d.cache().describe());
        }
    }

    private static CudaDevice dev(Tensor t) {
        if (t.storage() instanceof CudaStorage s) {
            return s.owner();
        }
        throw new IllegalArgumentException("cuda backend got " + t.describe() + ", which is not in CUDA memory");
    }

    @FunctionalInterface
    private interface Body {
        void run(CudaDevice d);
    }

    /**
     * Runs {@code body} on {@code anchor}'s device, under its lock, naming the op on failure. With
     * {@code -Dsolder.cuda.syncLaunches=true} it then waits for the op's work, so a fault in any of
     * it (a kernel, a cuBLAS product, a copy) is reported by this op.
     */
    private static void run(Tensor anchor, String op, Body body, Object... namesAndTensors) {
        CudaDevice d = dev(anchor);
        synchronized (d) {
            try {
                d.enter();
                body.run(d);
                if (CudaDevice.syncAfterLaunch) {
                    d.api().synchronize();
                }
            } catch (RuntimeException e) {
                throw CudaErrors.inOp(e, op, namesAndTensors);
            }
        }
    }

    private static <T> T call(Tensor anchor, String op, Function<CudaDevice, T> body, Object... namesAndTensors) {
        CudaDevice d = dev(anchor);
        synchronized (d) {
            try {
                d.enter();
                T result = body.apply(d);
                if (CudaDevice.syncAfterLaunch) {
                    d.api().synchronize();
                }
                return result;
            } catch (RuntimeException e) {
                throw CudaErrors.inOp(e, op, namesAndTensors);
            }
        }
    }

    // ---------------------------------------------------------------- memory

    @Override
    public Storage allocate(Device device, long bytes) {
        CudaDevice d = CudaDevice.of(device);
        synchronized (d) {
            try {
                d.enter();
                return new CudaStorage(d, bytes);
            } catch (RuntimeException e) {
                throw CudaErrors.inOp(e, "allocate", "bytes", bytes, "device", device);
            }
        }
    }

    @Override
    public long liveBytes(Device device) {
        CudaDevice d = CudaDevice.existing(device);
        return d == null ? 0 : d.liveBytes();
    }

    @Override
    public long peakLiveBytes(Device device) {
        CudaDevice d = CudaDevice.existing(device);
        return d == null ? 0 : d.peakLiveBytes();
    }

    @Override
    public void resetPeakLiveBytes(Device device) {
        CudaDevice d = CudaDevice.existing(device);
        if (d != null) {
            d.resetPeakLiveBytes();
        }
    }

    @Override
    public void synchronize(Device device) {
        CudaDevice d = CudaDevice.existing(device);
        if (d == null) {
            return;
        }
        synchronized (d) {
            try {
                d.enter();
                d.api().synchronize();
            } catch (RuntimeException e) {
                throw CudaErrors.inOp(e, "synchronize", "device", device);
            }
        }
    }

    // ---------------------------------------------------------------- data movement

    @Override
    public void copyFromHost(MemorySegment src, long srcByteOffset, Tensor dst) {
        dst.storage().markWritten();
        run(dst, "copyFromHost", d -> d.api().copyHostToDevice(DeviceTensors.ptr(dst), src, srcByteOffset,
                DeviceTensors.bytes(dst)), "dst", dst);
    }

    @Override
    public void copyToHost(Tensor src, MemorySegment dst, long dstByteOffset) {
        run(src, "copyToHost", d -> d.api().copyDeviceToHost(dst, dstByteOffset, DeviceTensors.ptr(src),
                DeviceTensors.bytes(src)), "src", src);
    }

    @Override
    public void copy(Tensor src, Tensor dst) {
        dst.storage().markWritten();
        run(dst, "copy", d -> CudaCopy.copy(d, src, dst), "src", src, "dst", dst);
    }

    @Override
    public void fill(Tensor dst, double value) {
        dst.storage().markWritten();
        run(dst, "fill", d -> CudaCopy.fill(d, dst, value), "dst", dst, "value", value);
    }

    // ---------------------------------------------------------------- products

    @Override
    public void matmul(Tensor a, boolean transA, Tensor b, boolean transB, Tensor out, float alpha, float beta) {
        run(out, "matmul", d -> CudaGemm.matmul(d, a, transA, b, transB, out, alpha, beta),
                "a", a, "transA", transA, "b", b, "transB", transB, "out", out);
    }

    /** Why a linear that chose the cuBLASLt epilogue ran on the cuBLAS-only path after all. */
    static final String LT_NO_ALGORITHM = "cuBLASLt has no algorithm for this case";

    @Override
    public void linear(Tensor x, Tensor w, Tensor bias, Tensor out) {
        if (bias != null && KernelPaths.useFused(KernelPaths.FusedOp.LINEAR_BIAS,
                CudaGemm.linearBiasUnsupported(x, w, bias, out))) {
            if (call(out, "linear", d -> CudaGemm.linearBias(d, x, w, bias, out), "x", x, "w", w, "bias", bias, "out",
                    out)) {
                return;
            }
            KernelPaths.follow(KernelPaths.FusedOp.LINEAR_BIAS, false, LT_NO_ALGORITHM);
        }
        Backend.super.linear(x, w, bias, out);
    }

    /**
     * {@inheritDoc} Here {@code accumulateDx} runs the dx GEMM with beta 1: the sum is rounded
     * once, in the GEMM's epilogue, with no scratch product and no add launch.
     */
    @Override
    public void linearBackward(Tensor dy, Tensor x, Tensor w, Tensor dx, boolean accumulateDx, Tensor dw,
                               Tensor dbias) {
        if (dx != null) {
            matmul(dy, false, w, false, dx, 1f, accumulateDx ? 1f : 0f);
        }
        if (dw != null && dbias != null && KernelPaths.useFused(KernelPaths.FusedOp.LINEAR_BIAS_BACKWARD,
                CudaGemm.linearBiasGradUnsupported(dy, x, dw, dbias))) {
            if (call(dy, "linearBackward", d -> CudaGemm.linearBiasGrad(d, dy, x, dw, dbias), "dy", dy, "x", x,
                    "dw", dw, "dbias", dbias)) {
                return;
            }
            KernelPaths.follow(KernelPaths.FusedOp.LINEAR_BIAS_BACKWARD, false, LT_NO_ALGORITHM);
        }
        Backend.super.linearBackward(dy, x, w, null, false, dw, dbias);
    }

    @Override
    public void linearGelu(Tensor x, Tensor w, Tensor bias, Tensor preOut, Tensor out) {
        run(out, "linearGelu", d -> {
            CudaGemm.matmul(d, x, false, w, true, preOut, 1f, 0f);
            if (KernelPaths.useFused(KernelPaths.FusedOp.LINEAR_GELU, CudaFused.biasGeluUnsupported(bias != null))) {
                CudaFused.biasGelu(d, preOut, bias, out);
            } else {
                if (bias != null) {
                    CudaElementwise.add(d, preOut, bias, 1f, 1f, preOut);
                }
                CudaElementwise.gelu(d, preOut, false, out);
            }
        }, "x", x, "w", w, "bias", bias, "preOut", preOut, "out", out);
    }

    @Override
    public void linearGeluBackward(Tensor dy, Tensor x, Tensor w, Tensor pre, Tensor dpre,
                                   Tensor dx, boolean accumulateDx, Tensor dw, Tensor dbias) {
        run(dpre, "linearGeluBackward", d -> {
            boolean fused = KernelPaths.useFused(KernelPaths.FusedOp.LINEAR_GELU_BACKWARD,
                    CudaFused.biasGeluUnsupported(dbias != null));
            if (fused) {
                CudaFused.biasGeluBackward(d, pre, dy, dpre, dbias);
            } else {
                CudaElementwise.geluBackward(d, pre, dy, false, dpre);
            }
            if (dx != null) {
                CudaGemm.matmul(d, dpre, false, w, false, dx, 1f, accumulateDx ? 1f : 0f);
            }
            if (dw != null) {
                CudaGemm.matmul(d, dpre, true, x, false, dw, 1f, 0f);
            }
            if (!fused && dbias != null) {
                CudaReduce.sumToSuffix(d, dpre, dbias);
            }
        }, "dy", dy, "x", x, "w", w, "pre", pre, "dpre", dpre);
    }

    // ---------------------------------------------------------------- elementwise

    @Override
    public void add(Tensor a, Tensor b, float alpha, float beta, Tensor out) {
        run(out, "add", d -> CudaElementwise.add(d, a, b, alpha, beta, out), "a", a, "b", b, "out", out);
    }

    @Override
    public void mul(Tensor a, Tensor b, Tensor out) {
        run(out, "mul", d -> CudaElementwise.mul(d, a, b, out), "a", a, "b", b, "out", out);
    }

    @Override
    public void scale(Tensor a, float s, Tensor out) {
        run(out, "scale", d -> CudaElementwise.scale(d, a, s, out), "a", a, "out", out);
    }

    @Override
    public void sumToSuffix(Tensor a, Tensor out) {
        run(out, "sumToSuffix", d -> CudaReduce.sumToSuffix(d, a, out), "a", a, "out", out);
    }

    @Override
    public void sumAll(Tensor a, Tensor out) {
        run(out, "sumAll", d -> CudaReduce.sumAll(d, a, out), "a", a, "out", out);
    }

    @Override
    public void gelu(Tensor x, boolean tanhApprox, Tensor out) {
        run(out, "gelu", d -> CudaElementwise.gelu(d, x, tanhApprox, out), "x", x, "out", out);
    }

    @Override
    public void geluBackward(Tensor x, Tensor dy, boolean tanhApprox, Tensor dx) {
        run(dx, "geluBackward", d -> CudaElementwise.geluBackward(d, x, dy, tanhApprox, dx), "x", x, "dy", dy, "dx", dx);
    }

    @Override
    public void tanh(Tensor x, Tensor out) {
        run(out, "tanh", d -> CudaElementwise.tanh(d, x, out), "x", x, "out", out);
    }

    @Override
    public void tanhBackward(Tensor y, Tensor dy, Tensor dx) {
        run(dx, "tanhBackward", d -> CudaElementwise.tanhBackward(d, y, dy, dx), "y", y, "dy", dy, "dx", dx);
    }

    // ---------------------------------------------------------------- normalisation

    @Override
    public void softmax(Tensor x, Tensor mask, Tensor out) {
        run(out, "softmax", d -> CudaNorm.softmax(d, x, mask, out), "x", x, "mask", mask, "out", out);
    }

    @Override
    public void softmaxBackward(Tensor y, Tensor dy, Tensor dx) {
        run(dx, "softmaxBackward", d -> CudaNorm.softmaxBackward(d, y, dy, dx), "y", y, "dy", dy, "dx", dx);
    }

    @Override
    public void layerNorm(Tensor x, Tensor residual, Tensor gamma, Tensor beta, float eps,
                          Tensor out, Tensor hOut, Tensor mean, Tensor rstd) {
        run(out, "layerNorm", d -> CudaNorm.layerNorm(d, x, residual, gamma, beta, eps, out, hOut, mean, rstd),
                "x", x, "residual", residual, "gamma", gamma, "beta", beta, "out", out);
    }

    @Override
    public void layerNormBackward(Tensor dy, Tensor h, Tensor gamma, Tensor mean, Tensor rstd,
                                  Tensor dh, Tensor dgamma, Tensor dbeta) {
        run(h, "layerNormBackward", d -> CudaNorm.layerNormBackward(d, dy, h, gamma, mean, rstd, dh, dgamma, dbeta),
                "dy", dy, "h", h, "gamma", gamma, "dh", dh, "dgamma", dgamma, "dbeta", dbeta);
    }

    // ---------------------------------------------------------------- randomness

    @Override
    public void dropout(Tensor x, float p, long seed, Tensor out) {
        run(out, "dropout", d -> CudaElementwise.dropout(d, x, p, seed, out), "x", x, "p", p, "out", out);
    }

    @Override
    public void dropoutBackward(Tensor dy, float p, long seed, Tensor dx) {
        run(dx, "dropoutBackward", d -> CudaElementwise.dropout(d, dy, p, seed, dx), "dy", dy, "p", p, "dx", dx);
    }

    // ---------------------------------------------------------------- lookup

    @Override
    public void embedding(Tensor ids, Tensor table, Tensor out) {
        run(out, "embedding", d -> CudaLookup.embedding(d, ids, table, out), "ids", ids, "table", table, "out", out);
    }

    @Override
    public void embeddingBackward(Tensor ids, Tensor dy, int paddingIdx, Tensor dtable) {
        run(dtable, "embeddingBackward", d -> CudaLookup.embeddingBackward(d, ids, dy, paddingIdx, dtable),
                "ids", ids, "dy", dy, "dtable", dtable);
    }

    /**
     * {@inheritDoc} On the fused path a bfloat16 {@code outLow} beside a float32 out is written by
     * the same kernel, from the values it stores in out; any other {@code outLow} is converted
     * from out afterwards.
     */
    @Override
    public void dropoutLayerNorm(Tensor x, float p, long seed, Tensor residual, Tensor gamma, Tensor beta, float eps,
                                 Tensor out, Tensor hOut, Tensor mean, Tensor rstd, Tensor outLow) {
        if (!KernelPaths.useFused(KernelPaths.FusedOp.DROPOUT_LAYER_NORM, CudaFused.dropoutLayerNormUnsupported(
                DeviceTensors.lastDim(x), x.dtype(), residual.dtype(), out.dtype(), hOut.dtype(), DeviceTensors.ptr(x),
                DeviceTensors.ptr(residual), DeviceTensors.ptr(out), DeviceTensors.ptr(hOut)))) {
            Backend.super.dropoutLayerNorm(x, p, seed, residual, gamma, beta, eps, out, hOut, mean, rstd, outLow);
            return;
        }
        Tensor low = CudaFused.lowCopyUnsupported(out, outLow) == null ? outLow : null;
        run(out, "dropoutLayerNorm", d -> CudaFused.dropoutLayerNormForward(d, x, p, seed, residual, gamma, beta, eps,
                out, hOut, mean, rstd, low), "x", x, "p", p, "residual", residual, "gamma", gamma, "out", out);
        if (outLow != null && low == null) {
            copy(out, outLow);
        }
    }

    /**
     * One pass on the fused path (the LayerNorm backward writing dx = dropout'(dh) too), where the
     * case allows; else the SPI's composition: the LayerNorm backward, then the dropout kernel.
     */
    @Override
    public void dropoutLayerNormBackward(Tensor dy, Tensor h, Tensor gamma, Tensor mean, Tensor rstd, float p,
                                         long seed, Tensor dx, Tensor dres, Tensor dgamma, Tensor dbeta) {
        int cols = DeviceTensors.lastDim(h);
        long rows = cols == 0 ? 0 : h.numel() / cols;
        if (dx == null || rows == 0 || !KernelPaths.useFused(KernelPaths.FusedOp.DROPOUT_LAYER_NORM_BACKWARD,
                CudaFused.dropoutLayerNormBackwardUnsupported(cols, dy.dtype(), h.dtype(),
                        dres == null ? null : dres.dtype(), dx.dtype(), DeviceTensors.ptr(dy), DeviceTensors.ptr(h),
                        DeviceTensors.ptrOrNull(dres), DeviceTensors.ptr(dx)))) {
            Backend.super.dropoutLayerNormBackward(dy, h, gamma, mean, rstd, p, seed, dx, dres, dgamma, dbeta);
            return;
        }
        if (dx.numel() != h.numel() || dy.numel() != h.numel() || (dres != null && dres.numel() != h.numel())) {
            throw new IllegalArgumentException("dropoutLayerNormBackward: dy " + dy.describe() + ", dx " + dx.describe()
                    + ", dres " + (dres == null ? "null" : dres.describe()) + " must all match h " + h.describe());
        }
        DeviceTensors.requireFloat32("dropoutLayerNormBackward", "mean", mean);
        DeviceTensors.requireFloat32("dropoutLayerNormBackward", "rstd", rstd);
        run(h, "dropoutLayerNormBackward", d -> CudaFused.layerNormBackward(d, dy, h, gamma, mean, rstd, dres, dgamma,
                dbeta, rows, cols, dx, p, seed), "dy", dy, "h", h, "gamma", gamma, "dx", dx, "dres", dres);
    }

    @Override
    public void embeddingsLayerNorm(Tensor ids, Tensor typeIds, Tensor positionIds, Tensor word, Tensor type,
                                    Tensor position, Tensor gamma, Tensor beta, float eps, Tensor out, Tensor hOut,
                                    Tensor mean, Tensor rstd) {
        if (!KernelPaths.useFused(KernelPaths.FusedOp.EMBEDDINGS,
                CudaEmbeddings.forwardUnsupported(word, type, position, out, hOut))) {
            Backend.super.embeddingsLayerNorm(ids, typeIds, positionIds, word, type, position, gamma, beta, eps, out,
                    hOut, mean, rstd);
            return;
        }
        run(out, "embeddingsLayerNorm", d -> CudaEmbeddings.forward(d, ids, typeIds, positionIds, word, type, position,
                gamma, beta, eps, out, hOut, mean, rstd), "ids", ids, "typeIds", typeIds, "positionIds", positionIds,
                "word", word, "type", type, "position", position, "out", out);
    }

    @Override
    public void embeddingsLayerNormBackward(Tensor dy, Tensor h, Tensor gamma, Tensor mean, Tensor rstd, Tensor ids,
                                            Tensor typeIds, Tensor positionIds, int wordPaddingIdx, Tensor dword,
                                            Tensor dtype, Tensor dposition, Tensor dgamma, Tensor dbeta) {
        if (!KernelPaths.useFused(KernelPaths.FusedOp.EMBEDDINGS_BACKWARD,
                CudaEmbeddings.backwardUnsupported(dy, h, dword, dtype, dposition))) {
            Backend.super.embeddingsLayerNormBackward(dy, h, gamma, mean, rstd, ids, typeIds, positionIds,
                    wordPaddingIdx, dword, dtype, dposition, dgamma, dbeta);
            return;
        }
        run(h, "embeddingsLayerNormBackward", d -> CudaEmbeddings.backward(d, dy, h, gamma, mean, rstd, ids, typeIds,
                positionIds, wordPaddingIdx, dword, dtype, dposition, dgamma, dbeta), "dy", dy, "h", h, "ids", ids,
                "dword", dword, "dtype", dtype, "dposition", dposition);
    }

    // ---------------------------------------------------------------- attention

    @Override
    public Tensor attention(Tensor q, Tensor k, Tensor v, Tensor keyMask, int heads, float scale,
                            float dropoutP, long seed, Tensor out) {
        return call(out, "attention", d -> CudaAttention.forward(d, q, k, v, keyMask, heads, scale, dropoutP, seed, out),
                "q", q, "k", k, "v", v, "keyMask", keyMask, "heads", heads, "out", out);
    }

    @Override
    public void attentionBackward(Tensor q, Tensor k, Tensor v, Tensor keyMask, int heads, float scale,
                                  float dropoutP, long seed, Tensor out, Tensor dout, Tensor saved,
                                  Tensor dq, Tensor dk, Tensor dv) {
        run(dout, "attentionBackward",
                d -> CudaAttention.backward(d, q, k, v, keyMask, heads, scale, dropoutP, seed, out, dout, saved, dq, dk,
                        dv),
                "q", q, "k", k, "v", v, "heads", heads, "dout", dout, "saved", saved);
    }

    // ---------------------------------------------------------------- losses

    @Override
    public void crossEntropy(Tensor logits, Tensor labels, int ignoreIndex, Tensor loss) {
        run(loss, "crossEntropy", d -> CudaLoss.crossEntropy(d, logits, labels, ignoreIndex, loss),
                "logits", logits, "labels", labels);
    }

    @Override
    public void crossEntropyBackward(Tensor logits, Tensor labels, int ignoreIndex, Tensor dloss, Tensor dlogits) {
        run(dlogits, "crossEntropyBackward",
                d -> CudaLoss.crossEntropyBackward(d, logits, labels, ignoreIndex, dloss, dlogits),
                "logits", logits, "labels", labels, "dlogits", dlogits);
    }

    @Override
    public Tensor crossEntropyWithGrad(Tensor logits, Tensor labels, int ignoreIndex, Tensor loss) {
        return call(loss, "crossEntropyWithGrad", d -> CudaLoss.crossEntropyWithGrad(d, logits, labels, ignoreIndex, loss),
                "logits", logits, "labels", labels);
    }

    @Override
    public void mse(Tensor pred, Tensor target, Tensor loss) {
        run(loss, "mse", d -> CudaLoss.mse(d, pred, target, loss), "pred", pred, "target", target);
    }

    @Override
    public void mseBackward(Tensor pred, Tensor target, Tensor dloss, Tensor dpred) {
        run(dpred, "mseBackward", d -> CudaLoss.mseBackward(d, pred, target, dloss, dpred),
                "pred", pred, "target", target, "dpred", dpred);
    }

    // ---------------------------------------------------------------- optimiser

    @Override
    public void adamw(Tensor param, Tensor grad, Tensor m, Tensor v, float lr, float beta1, float beta2,
                      float eps, float weightDecay, float biasCorrection1, float biasCorrection2) {
        param.storage().markWritten();
        run(param, "adamw", d -> CudaOptim.adamw(d, param, grad, m, v, lr, beta1, beta2, eps, weightDecay,
                biasCorrection1, biasCorrection2), "param", param, "grad", grad);
    }

    @Override
    public void adamwAll(List<AdamWParam> params, float lr, float beta1, float beta2, float eps, float gradScale) {
        if (params.isEmpty()) {
            return;
        }
        if (!KernelPaths.useFused(KernelPaths.FusedOp.ADAMW_ALL, null)) {
            Backend.super.adamwAll(params, lr, beta1, beta2, eps, gradScale);
            return;
        }
        Tensor first = params.get(0).param();
        for (AdamWParam p : params) {
            if (!p.param().device().equals(first.device()) || !p.grad().device().equals(first.device())) {
                throw new IllegalArgumentException("adamwAll: parameter " + p.param().describe() + " with gradient "
                        + p.grad().describe() + " is not on " + first.device() + " with the others");
            }
        }
        params.forEach(AdamWParam::markWritten);
        run(first, "adamwAll", d -> CudaOptim.adamwAll(d, params, lr, beta1, beta2, eps, gradScale),
                "first param", first);
    }

    @Override
    public double sumSquares(Tensor x) {
        return call(x, "sumSquares", d -> CudaOptim.sumSquares(d, x), "x", x);
    }

    @Override
    public double sumSquares(List<Tensor> xs) {
        if (xs.isEmpty()) {
            return 0;
        }
        for (Tensor x : xs) {
            if (!x.device().equals(xs.get(0).device())) {
                throw new IllegalArgumentException("sumSquares: " + x.describe() + " is not on " + xs.get(0).device()
                        + " with the others");
            }
        }
        return call(xs.get(0), "sumSquares", d -> CudaOptim.sumSquares(d, xs), "first", xs.get(0));
    }
}
