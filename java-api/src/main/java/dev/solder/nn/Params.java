package dev.solder.nn;

import dev.solder.DType;
import dev.solder.Device;
import dev.solder.Generator;
import dev.solder.Tensor;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.util.Arrays;

/**
 * Caller-owned ("unscoped") tensors for long-lived state — parameters, buffers,
 * optimizer moments — and value copies between them.
 *
 * <p>Everything here is created with {@link Tensor#emptyUnscoped}, so it survives any
 * {@link dev.solder.Scope} that happens to be open: a training step usually runs inside
 * one, and optimizer state created lazily on the first step must not die with it.
 * Copies go through the backends' {@code copy}/{@code copyFromHost} primitives and
 * record no autograd history.
 *
 * <pre>{@code
 * Tensor w = Params.normal(new Generator(42), 0.02, 768, 768);  // HF init, float32 cpu
 * Tensor b = Params.zeros(DType.FLOAT32, Device.cpu(), 768);
 * Params.copyInto(checkpointTensor, w);                         // converts dtype/device
 * }</pre>
 */
public final class Params {
    private Params() {
    }

    /** float32 CPU tensor drawn from normal(0, std) with {@code g} (HF's {@code normal_(0, initializer_range)}). */
    public static Tensor normal(Generator g, double std, int... shape) {
        Tensor t = Tensor.emptyUnscoped(shape, DType.FLOAT32, Device.cpu());
        float[] v = new float[Math.toIntExact(t.numel())];
        for (int i = 0; i < v.length; i++) {
            v[i] = (float) (g.nextGaussian() * std);
        }
        t.backend().copyFromHost(MemorySegment.ofArray(v), 0, t);
        return t;
    }

    /** float32 CPU zeros. */
    public static Tensor zeros(int... shape) {
        return full(0, DType.FLOAT32, Device.cpu(), shape);
    }

    /** Zeros of the given type on {@code device}. */
    public static Tensor zeros(DType dtype, Device device, int... shape) {
        return full(0, dtype, device, shape);
    }

    /** float32 CPU ones. */
    public static Tensor ones(int... shape) {
        return full(1, DType.FLOAT32, Device.cpu(), shape);
    }

    /** Every element {@code value}. */
    public static Tensor full(double value, DType dtype, Device device, int... shape) {
        Tensor t = Tensor.emptyUnscoped(shape, dtype, device);
        t.backend().fill(t, value);
        return t;
    }

    /** An unscoped copy of {@code src}'s values converted to {@code dtype} on {@code device}. */
    public static Tensor copyOf(Tensor src, DType dtype, Device device) {
        src.checkOpen("Params.copyOf");
        Tensor dst = Tensor.emptyUnscoped(src.shape(), dtype, device);
        try {
            copyInto(src, dst);
        } catch (RuntimeException e) {
            dst.close();
            throw e;
        }
        return dst;
    }

    /**
     * Copies {@code src}'s values into {@code dst} (same shape), converting dtype and moving
     * across devices through host memory when they differ. {@code dst} keeps its identity,
     * so holders of it (an optimizer, a tied module) see the new values.
     */
    public static void copyInto(Tensor src, Tensor dst) {
        src.checkOpen("Params.copyInto");
        dst.checkOpen("Params.copyInto");
        if (!Arrays.equals(src.shape(), dst.shape())) {
            throw new IllegalArgumentException("Params.copyInto: source " + src.describe() + " does not match destination "
                    + dst.describe());
        }
        if (src.device().equals(dst.device())) {
            dst.backend().copy(src, dst);
            return;
        }
        long bytes = src.numel() * src.dtype().byteSize();
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment host = arena.allocate(Math.max(1, bytes), 64);
            src.copyTo(host);
            if (src.dtype() == dst.dtype() && dst.isContiguous()) {
                dst.backend().copyFromHost(host, 0, dst);
            } else {
                // Land in the source dtype on the target device, then let that backend convert.
                Tensor staging = Tensor.emptyUnscoped(src.shape(), src.dtype(), dst.device());
                try {
                    staging.backend().copyFromHost(host, 0, staging);
                    dst.backend().copy(staging, dst);
                } finally {
                    staging.close();
                }
            }
        }
    }
}
