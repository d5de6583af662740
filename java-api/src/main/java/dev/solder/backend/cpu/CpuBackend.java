package dev.solder.backend.cpu;

import dev.solder.DType;
import dev.solder.Device;
import dev.solder.Tensor;
import dev.solder.spi.Backend;
import dev.solder.spi.Storage;
import java.lang.foreign.MemorySegment;
import java.util.List;

/**
 * The pure-Java backend: Vector API kernels on a pool of spinning workers sized to the cores
 * ({@link CpuParallel}). It is
 * the reference every GPU kernel is checked against, so each op here favours exactness
 * (float64 accumulation in reductions) where it costs little.
 *
 * <p>This class only dispatches; each op family lives in its own class
 * ({@link CpuCopy}, {@link CpuGemm}, {@link CpuElementwise}, {@link CpuNorm},
 * {@link CpuAttention}, {@link CpuLookup}, {@link CpuLoss}, {@link CpuOptim}).
 */
public final class CpuBackend implements Backend {
    /** The one instance. */
    public static final CpuBackend INSTANCE = new CpuBackend();

    private CpuBackend() {
    }

    /** Segment of a CPU tensor's storage (whole storage; index with {@link Tensor#offset()}). */
    public static MemorySegment seg(Tensor t) {
        return ((CpuStorage) t.storage()).segment();
    }

    @Override
    public String name() {
        return "cpu";
    }

    @Override
    public Device.Kind kind() {
        return Device.Kind.CPU;
    }

    @Override
    public java.util.List<String> describe() {
        return java.util.List.of("cpu: " + CpuParallel.threads() + " threads, Vector API "
                + jdk.incubator.vector.FloatVector.SPECIES_PREFERRED.vectorBitSize() + "-bit, "
                + Runtime.version() + ", max heap " + (Runtime.getRuntime().maxMemory() >> 20) + " MiB");
    }

    @Override
    public void checkDevice(Device device) {
        if (!device.isCpu()) {
            throw new IllegalArgumentException("cpu backend cannot serve " + device);
        }
    }

    @Override
    public Storage allocate(Device device, long bytes) {
        checkDevice(device);
        return new CpuStorage(bytes);
    }

    @Override
    public long liveBytes(Device device) {
        return CpuStorage.LIVE.get();
    }

    @Override
    public long peakLiveBytes(Device device) {
        return CpuStorage.HIGH.get();
    }

    @Override
    public void resetPeakLiveBytes(Device device) {
        CpuStorage.HIGH.set(CpuStorage.LIVE.get());
    }

    @Override
    public void synchronize(Device device) {
        // CPU ops complete before they return.
    }

    @Override
    public void copyFromHost(MemorySegment src, long srcByteOffset, Tensor dst) {
        dst.storage().markWritten();
        long bytes = dst.numel() * dst.dtype().byteSize();
        MemorySegment.copy(src, srcByteOffset, seg(dst), dst.offset() * dst.dtype().byteSize(), bytes);
    }

    @Override
    public void copyToHost(Tensor src, MemorySegment dst, long dstByteOffset) {
        long bytes = src.numel() * src.dtype().byteSize();
        MemorySegment.copy(seg(src), src.offset() * src.dtype().byteSize(), dst, dstByteOffset, bytes);
    }

    @Override
    public void copy(Tensor src, Tensor dst) {
        dst.storage().markWritten();
        CpuCopy.copy(src, dst);
    }

    @Override
    public void fill(Tensor dst, double value) {
        dst.storage().markWritten();
        CpuCopy.fill(dst, value);
    }

    @Override
    public void matmul(Tensor a, boolean transA, Tensor b, boolean transB, Tensor out, float alpha, float beta) {
        CpuGemm.matmul(a, transA, b, transB, out, alpha, beta);
    }

    @Override
    public void add(Tensor a, Tensor b, float alpha, float beta, Tensor out) {
        CpuElementwise.add(a, b, alpha, beta, out);
    }

    @Override
    public void mul(Tensor a, Tensor b, Tensor out) {
        CpuElementwise.mul(a, b, out);
    }

    @Override
    public void scale(Tensor a, float s, Tensor out) {
        CpuElementwise.scale(a, s, out);
    }

    @Override
    public void sumToSuffix(Tensor a, Tensor out) {
        CpuElementwise.sumToSuffix(a, out);
    }

    @Override
    public void sumAll(Tensor a, Tensor out) {
        CpuElementwise.sumAll(a, out);
    }

    @Override
    public void gelu(Tensor x, boolean tanhApprox, Tensor out) {
        CpuElementwise.gelu(x, tanhApprox, out);
    }

    @Override
    public void geluBackward(Tensor x, Tensor dy, boolean tanhApprox, Tensor dx) {
        CpuElementwise.geluBackward(x, dy, tanhApprox, dx);
    }

    @Override
    public void tanh(Tensor x, Tensor out) {
        CpuElementwise.tanh(x, out);
    }

    @Override
    public void tanhBackward(Tensor y, Tensor dy, Tensor dx) {
        CpuElementwise.tanhBackward(y, dy, dx);
    }

    @Override
    public void softmax(Tensor x, Tensor mask, Tensor out) {
        CpuNorm.softmax(x, mask, out);
    }

    @Override
    public void softmaxBackward(Tensor y, Tensor dy, Tensor dx) {
        CpuNorm.softmaxBackward(y, dy, dx);
    }

    @Override
    public void layerNorm(Tensor x, Tensor residual, Tensor gamma, Tensor beta, float eps,
                          Tensor out, Tensor hOut, Tensor mean, Tensor rstd) {
        CpuNorm.layerNorm(x, residual, gamma, beta, eps, out, hOut, mean, rstd);
    }

    @Override
    public void layerNormBackward(Tensor dy, Tensor h, Tensor gamma, Tensor mean, Tensor rstd,
                                  Tensor dh, Tensor dgamma, Tensor dbeta) {
        CpuNorm.layerNormBackward(dy, h, gamma, mean, rstd, dh, dgamma, dbeta);
    }

    @Override
    public void dropout(Tensor x, float p, long seed, Tensor out) {
        CpuElementwise.dropout(x, p, seed, out);
    }

    @Override
    public void dropoutBackward(Tensor dy, float p, long seed, Tensor dx) {
        CpuElementwise.dropout(dy, p, seed, dx);
    }

    @Override
    public void embedding(Tensor ids, Tensor table, Tensor out) {
        CpuLookup.embedding(ids, table, out);
    }

    @Override
    public void embeddingBackward(Tensor ids, Tensor dy, int paddingIdx, Tensor dtable) {
        CpuLookup.embeddingBackward(ids, dy, paddingIdx, dtable);
    }

    @Override
    public Tensor attention(Tensor q, Tensor k, Tensor v, Tensor keyMask, int heads, float scale,
                            float dropoutP, long seed, Tensor out) {
        return CpuAttention.forward(q, k, v, keyMask, heads, scale, dropoutP, seed, out);
    }

    @Override
    public void attentionBackward(Tensor q, Tensor k, Tensor v, Tensor keyMask, int heads, float scale,
                                  float dropoutP, long seed, Tensor out, Tensor dout, Tensor saved,
                                  Tensor dq, Tensor dk, Tensor dv) {
        CpuAttention.backward(q, k, v, keyMask, heads, scale, dropoutP, seed, out, dout, saved, dq, dk, dv);
    }

    @Override
    public void crossEntropy(Tensor logits, Tensor labels, int ignoreIndex, Tensor loss) {
        CpuLoss.crossEntropy(logits, labels, ignoreIndex, loss);
    }

    @Override
    public void crossEntropyBackward(Tensor logits, Tensor labels, int ignoreIndex, Tensor dloss, Tensor dlogits) {
        CpuLoss.crossEntropyBackward(logits, labels, ignoreIndex, dloss, dlogits);
    }

    @Override
    public void mse(Tensor pred, Tensor target, Tensor loss) {
        CpuLoss.mse(pred, target, loss);
    }

    @Override
    public void mseBackward(Tensor pred, Tensor target, Tensor dloss, Tensor dpred) {
        CpuLoss.mseBackward(pred, target, dloss, dpred);
    }

    @Override
    public void adamw(Tensor param, Tensor grad, Tensor m, Tensor v, float lr, float beta1, float beta2,
                      float eps, float weightDecay, float biasCorrection1, float biasCorrection2) {
        param.storage().markWritten();
        CpuOptim.adamw(param, grad, m, v, lr, beta1, beta2, eps, weightDecay, biasCorrection1, biasCorrection2);
    }

    @Override
    public void adamwAll(List<AdamWParam> params, float lr, float beta1, float beta2, float eps, float gradScale) {
        params.forEach(AdamWParam::markWritten);
        CpuOptim.adamwAll(params, lr, beta1, beta2, eps, gradScale);
    }

    @Override
    public double sumSquares(Tensor x) {
        return CpuOptim.sumSquares(x);
    }

    static boolean isFloat32(Tensor t) {
        return t.dtype() == DType.FLOAT32;
    }
}
