package dev.solder.backend.cpu;

import dev.solder.DType;
import dev.solder.Tensor;
import dev.solder.spi.Backend;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteOrder;
import java.util.List;
import jdk.incubator.vector.FloatVector;

/**
 * Optimiser kernels: one fused AdamW step over a parameter and its state, and the float64
 * sum of squares that global-norm gradient clipping needs.
 *
 * <p>AdamW is evaluated in float32 with the Backend contract's formula, operation by
 * operation in the same order in the vector body and the scalar tail (no fused
 * multiply-adds), so every element gets the same rounding wherever it falls — what a
 * one-thread-per-element GPU kernel computes too.
 */
final class CpuOptim {
    private static final ByteOrder LE = ByteOrder.LITTLE_ENDIAN;
    private static final ValueLayout.OfFloat F32 = ValueLayout.JAVA_FLOAT_UNALIGNED;

    private CpuOptim() {
    }

    /**
     * One step for every parameter of the list, gradients multiplied by {@code gradScale} on
     * load; a parameter's low-precision copy is then converted from it as {@link CpuCopy#copy}
     * converts a cast (the same rounding, so the same bits as casting afterwards).
     */
    static void adamwAll(List<Backend.AdamWParam> params, float lr, float beta1, float beta2, float eps,
                         float gradScale) {
        for (Backend.AdamWParam p : params) {
            adamw(p.param(), p.grad(), p.m(), p.v(), lr, beta1, beta2, eps, p.weightDecay(), p.biasCorrection1(),
                    p.biasCorrection2(), gradScale);
            if (p.lowCopy() != null) {
                CpuCopy.copy(p.param(), p.lowCopy());
            }
        }
    }

    static void adamw(Tensor param, Tensor grad, Tensor m, Tensor v, float lr, float beta1, float beta2,
                      float eps, float weightDecay, float bc1, float bc2) {
        adamw(param, grad, m, v, lr, beta1, beta2, eps, weightDecay, bc1, bc2, 1f);
    }

    /**
     * {@code gradScale} multiplies each gradient element in float32 as it is loaded — the value
     * an in-place {@code scale} pass would have stored, without that pass over the gradients.
     */
    private static void adamw(Tensor param, Tensor grad, Tensor m, Tensor v, float lr, float beta1, float beta2,
                              float eps, float weightDecay, float bc1, float bc2, float gradScale) {
        for (Tensor t : new Tensor[] {param, m, v}) {
            if (t.dtype() != DType.FLOAT32) {
                throw new IllegalArgumentException("adamw: parameter and state must be float32, got " + t.describe());
            }
        }
        long n = param.numel();
        if (grad.numel() != n || m.numel() != n || v.numel() != n) {
            throw new IllegalArgumentException("adamw: sizes differ: param " + param.describe() + ", grad "
                    + grad.describe() + ", m " + m.describe() + ", v " + v.describe());
        }
        float decay = lr * weightDecay;
        float ob1 = 1f - beta1;
        float ob2 = 1f - beta2;
        MemorySegment sp = CpuBackend.seg(param);
        MemorySegment sm = CpuBackend.seg(m);
        MemorySegment sv = CpuBackend.seg(v);
        long po = param.offset() << 2;
        long mo = m.offset() << 2;
        long vo = v.offset() << 2;
        CpuFloats.blocks(n, (lo, hi) -> {
            float[] g = new float[CpuFloats.bufferFor(lo, hi)];
            for (long s = lo; s < hi; s += CpuFloats.BLOCK) {
                int len = (int) Math.min(CpuFloats.BLOCK, hi - s);
                CpuFloats.load(grad, s, g, 0, len);
                if (gradScale != 1f) {
                    for (int j = 0; j < len; j++) {
                        g[j] *= gradScale;
                    }
                }
                long b = s << 2;
                int i = 0;
                int bound = CpuFloats.F.loopBound(len);
                for (; i < bound; i += CpuFloats.F.length()) {
                    long d = b + ((long) i << 2);
                    FloatVector gv = FloatVector.fromArray(CpuFloats.F, g, i);
                    FloatVector p = FloatVector.fromMemorySegment(CpuFloats.F, sp, po + d, LE);
                    FloatVector mv = FloatVector.fromMemorySegment(CpuFloats.F, sm, mo + d, LE);
                    FloatVector vv = FloatVector.fromMemorySegment(CpuFloats.F, sv, vo + d, LE);
                    p = p.sub(p.mul(decay));
                    mv = mv.mul(beta1).add(gv.mul(ob1));
                    vv = vv.mul(beta2).add(gv.mul(gv).mul(ob2));
                    FloatVector denom = vv.div(bc2).sqrt().add(eps);
                    p = p.sub(mv.div(bc1).div(denom).mul(lr));
                    p.intoMemorySegment(sp, po + d, LE);
                    mv.intoMemorySegment(sm, mo + d, LE);
                    vv.intoMemorySegment(sv, vo + d, LE);
                }
                for (; i < len; i++) {
                    long d = b + ((long) i << 2);
                    float gi = g[i];
                    float p = sp.get(F32, po + d);
                    float mi = sm.get(F32, mo + d);
                    float vi = sv.get(F32, vo + d);
                    p = p - p * decay;
                    mi = mi * beta1 + gi * ob1;
                    vi = vi * beta2 + gi * gi * ob2;
                    float denom = (float) Math.sqrt(vi / bc2) + eps;
                    p = p - mi / bc1 / denom * lr;
                    sp.set(F32, po + d, p);
                    sm.set(F32, mo + d, mi);
                    sv.set(F32, vo + d, vi);
                }
            }
        });
    }

    static double sumSquares(Tensor x) {
        return CpuFloats.sumAll(x, true);
    }
}
