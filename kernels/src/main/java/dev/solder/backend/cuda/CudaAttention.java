package dev.solder.backend.cuda;

import static dev.solder.backend.cuda.DeviceTensors.code;
import static dev.solder.backend.cuda.DeviceTensors.ptr;
import static dev.solder.backend.cuda.DeviceTensors.ptrOrNull;

import dev.solder.DType;
import dev.solder.Tensor;

/**
 * Multi-head attention on the cuBLAS-only path: batched GEMMs over the heads, with the row-wise
 * work in attention.cu (see the comment at its top for the whole data flow).
 *
 * <p>q, k, v, out are {@code [B, S, H·D]}: head h of position i is the D elements at column
 * {@code h·D} of row i, so per batch entry b the heads form a strided batch — matrices S×D with
 * row stride H·D, {@code D} elements apart. A strided batch has one stride, and the stride
 * between batch entries ({@code S·H·D}) differs from the one between heads ({@code D}), so each
 * product is one cuBLAS call per b, batched over the H heads, reading and writing the
 * {@code [B, S, H·D]} layout in place (no permute copies). The probabilities P
 * ({@code float32 [B, H, S, S]}, before dropout) are what the forward saves.
 */
final class CudaAttention {
    private CudaAttention() {
    }

    /** The problem's sizes, checked. */
    private record Dims(int b, int s, int heads, int d, int hd) {
        static Dims of(Tensor q, Tensor k, Tensor v, int heads) {
            if (q.rank() != 3 || k.numel() != q.numel() || v.numel() != q.numel()) {
                throw new IllegalArgumentException("attention: q " + q.describe() + ", k " + k.describe() + ", v "
                        + v.describe() + " must all be [B, S, heads*D]");
            }
            int hd = q.dim(2);
            if (heads <= 0 || hd % heads != 0) {
                throw new IllegalArgumentException("attention: width " + hd + " is not divisible by " + heads + " heads");
            }
            return new Dims(q.dim(0), q.dim(1), heads, hd / heads, hd);
        }

        long probs() {
            return (long) b * heads * s * s;
        }

        long tokens() {
            return (long) b * s * hd;
        }

        /** Byte offset of batch entry i in a [B, S, H·D] tensor of the given type. */
        long tokenOffset(int i, DType t) {
            return (long) i * s * hd * t.byteSize();
        }

        /** Byte offset of batch entry i in the float32 [B, H, S, S] probabilities. */
        long probOffset(int i) {
            return (long) i * heads * s * s * Float.BYTES;
        }
    }

    static Tensor forward(CudaDevice d, Tensor q, Tensor k, Tensor v, Tensor keyMask, int heads, float scale,
                          float dropoutP, long seed, Tensor out) {
        Dims dm = Dims.of(q, k, v, heads);
        if (out.numel() != q.numel()) {
            throw new IllegalArgumentException("attention: out " + out.describe() + " does not match q " + q.describe());
        }
        if (!(dropoutP >= 0f && dropoutP < 1f)) {
            throw new IllegalArgumentException("attention: dropout p must be in [0, 1), got " + dropoutP);
        }
        if (dm.probs() != 0 && dm.d() != 0 && KernelPaths.useFused(KernelPaths.FusedOp.ATTENTION,
                CudaFlashAttention.unsupported(d, q, k, v, out, dm.heads()))) {
            return flashForward(d, dm, q, k, v, keyMask, scale, dropoutP, seed, out);
        }
        Tensor saved = Tensor.empty(new int[] {dm.b(), dm.heads(), dm.s(), dm.s()}, DType.FLOAT32, q.device());
        try {
            if (dm.probs() == 0 || dm.d() == 0) {
                CudaCopy.fillRaw(d, ptr(saved), DType.FLOAT32, dm.probs(), 0.0);
                CudaCopy.fillRaw(d, ptr(out), out.dtype(), out.numel(), 0.0);
                return saved;
            }
            runForward(d, dm, q, k, v, keyMask, scale, dropoutP, seed, out, ptr(saved));
            return saved;
        } catch (RuntimeException e) {
            saved.close();
            throw e;
        }
    }

    /** The fused (flash) forward: saves the log-sum-exp {@code [B, H, S]} instead of P. */
    private static Tensor flashForward(CudaDevice d, Dims dm, Tensor q, Tensor k, Tensor v, Tensor keyMask,
                                       float scale, float dropoutP, long seed, Tensor out) {
        Tensor lse = Tensor.empty(new int[] {dm.b(), dm.heads(), dm.s()}, DType.FLOAT32, q.device());
        try {
            CudaFlashAttention.forward(d, q, k, v, keyMask, dm.heads(), scale, dropoutP, seed, out, lse);
            return lse;
        } catch (RuntimeException e) {
            lse.close();
            throw e;
        }
    }

    private static void runForward(CudaDevice d, Dims dm, Tensor q, Tensor k, Tensor v, Tensor keyMask, float scale,
                                   float dropoutP, long seed, Tensor out, long probs) {
        DType t = q.dtype() == k.dtype() && k.dtype() == v.dtype() ? q.dtype() : DType.FLOAT32;
        try (CudaDevice.Temps tmp = d.temps()) {
            long qp = t == q.dtype() ? ptr(q) : CudaGemm.toFloat32(d, tmp, ptr(q), q.dtype(), q.numel());
            long kp = t == k.dtype() ? ptr(k) : CudaGemm.toFloat32(d, tmp, ptr(k), k.dtype(), k.numel());
            long vp = t == v.dtype() ? ptr(v) : CudaGemm.toFloat32(d, tmp, ptr(v), v.dtype(), v.numel());
            int s = dm.s();
            int hd = dm.hd();
            int dd = dm.d();
            int h = dm.heads();
            // scores = scale·Q·Kᵀ, float32 [B, H, S, S]
            for (int b = 0; b < dm.b(); b++) {
                CudaGemm.rowMajor(d, false, true, s, s, dd, scale,
                        qp + dm.tokenOffset(b, t), t, hd, dd,
                        kp + dm.tokenOffset(b, t), t, hd, dd,
                        0f, probs + dm.probOffset(b), DType.FLOAT32, s, (long) s * s, h);
            }
            // P = softmax(scores + mask), in place; this is what the backward gets
            long rows = (long) dm.b() * h * s;
            // solder_attention_softmax_forward(float* scores, const void* keyMask, int mdt,
            //                                  long long rowsPerBatch, long long rows, int S)
            Launch.of(d, Kernel.ATTENTION_SOFTMAX_FORWARD, LaunchConfig.rows(rows))
                    .ptr(probs).ptr(ptrOrNull(keyMask)).i32(keyMask == null ? 0 : code(keyMask.dtype()))
                    .i64((long) h * s).i64(rows).i32(s)
                    .run();
            // Pd = dropout(P), in the operands' type for the P·V product
            long pd = probs;
            if (dropoutP > 0f || t != DType.FLOAT32) {
                pd = tmp.alloc(dm.probs() * t.byteSize());
                if (dropoutP > 0f) {
                    CudaElementwise.dropoutRaw(d, probs, DType.FLOAT32, pd, t, dm.probs(), dropoutP, seed);
                } else {
                    CudaCopy.convert(d, probs, DType.FLOAT32, pd, t, dm.probs());
                }
            }
            // out = Pd·V, written into [B, S, H·D]
            DType ot = out.dtype();
            boolean direct = ot == t || ot == DType.FLOAT32;
            DType ct = direct ? ot : DType.FLOAT32;
            long op = direct ? ptr(out) : tmp.alloc(dm.tokens() * Float.BYTES);
            for (int b = 0; b < dm.b(); b++) {
                CudaGemm.rowMajor(d, false, false, s, dd, s, 1f,
                        pd + dm.probOffset(b) / Float.BYTES * t.byteSize(), t, s, (long) s * s,
                        vp + dm.tokenOffset(b, t), t, hd, dd,
                        0f, op + dm.tokenOffset(b, ct), ct, hd, dd, h);
            }
            if (!direct) {
                CudaCopy.convert(d, op, DType.FLOAT32, ptr(out), ot, dm.tokens());
            }
        }
    }

    /**
     * The backward takes the path its forward took, told by {@code saved}: the fused kernel's
     * float32 log-sum-exp {@code [B, H, S]}, or this path's probabilities {@code [B, H, S, S]}
     * (whatever {@code -Dsolder.kernels} says now). {@code out} is the forward's output (the
     * fused backward needs it; this path does not).
     */
    static void backward(CudaDevice d, Tensor q, Tensor k, Tensor v, Tensor keyMask, int heads, float scale,
                         float dropoutP, long seed, Tensor out, Tensor dout, Tensor saved, Tensor dq, Tensor dk,
                         Tensor dv) {
        Dims dm = Dims.of(q, k, v, heads);
        boolean lse = CudaFlashAttention.isLse(saved, dm.b(), dm.heads(), dm.s());
        if (!lse && (saved == null || saved.dtype() != DType.FLOAT32 || saved.numel() != dm.probs())) {
            throw new IllegalArgumentException("attentionBackward: saved " + (saved == null ? "null" : saved.describe())
                    + " is neither the float32 [B, H, S, S] probabilities nor the float32 [B, H, S] log-sum-exp"
                    + " the CUDA forward returns");
        }
        if (dout.numel() != q.numel()) {
            throw new IllegalArgumentException("attentionBackward: dout " + dout.describe() + " does not match "
                    + q.describe());
        }
        for (Tensor g : new Tensor[] {dq, dk, dv}) {
            if (g != null && g.numel() != q.numel()) {
                throw new IllegalArgumentException("attentionBackward: gradient " + g.describe() + " does not match "
                        + q.describe());
            }
        }
        if (dm.probs() == 0 || dm.d() == 0) {
            for (Tensor g : new Tensor[] {dq, dk, dv}) {
                if (g != null) {
                    CudaCopy.fillRaw(d, ptr(g), g.dtype(), g.numel(), 0.0);
                }
            }
            return;
        }
        if (lse && dm.s() > 0) {
            KernelPaths.follow(KernelPaths.FusedOp.ATTENTION_BACKWARD, true, "the forward saved the fused kernel's lse");
            CudaFlashAttention.backward(d, q, k, v, keyMask, heads, scale, dropoutP, seed, out, dout, saved, dq, dk, dv);
            return;
        }
        int s = dm.s();
        int hd = dm.hd();
        int dd = dm.d();
        int h = dm.heads();
        DType f = DType.FLOAT32;
        try (CudaDevice.Temps tmp = d.temps()) {
            long qp = CudaGemm.toFloat32(d, tmp, ptr(q), q.dtype(), q.numel());
            long kp = CudaGemm.toFloat32(d, tmp, ptr(k), k.dtype(), k.numel());
            long vp = CudaGemm.toFloat32(d, tmp, ptr(v), v.dtype(), v.numel());
            long gp = CudaGemm.toFloat32(d, tmp, ptr(dout), dout.dtype(), dout.numel());
            long probs = ptr(saved);
            long pd = probs;
            if (dropoutP > 0f) {
                pd = tmp.alloc(dm.probs() * Float.BYTES);
                CudaElementwise.dropoutRaw(d, probs, f, pd, f, dm.probs(), dropoutP, seed);
            }
            // dV = Pdᵀ·dO
            if (dv != null) {
                long dvp = dv.dtype() == f ? ptr(dv) : tmp.alloc(dm.tokens() * Float.BYTES);
                for (int b = 0; b < dm.b(); b++) {
                    CudaGemm.rowMajor(d, true, false, s, dd, s, 1f,
                            pd + dm.probOffset(b), f, s, (long) s * s,
                            gp + dm.tokenOffset(b, f), f, hd, dd,
                            0f, dvp + dm.tokenOffset(b, f), f, hd, dd, h);
                }
                if (dv.dtype() != f) {
                    CudaCopy.convert(d, dvp, f, ptr(dv), dv.dtype(), dm.tokens());
                }
            }
            if (dq == null && dk == null) {
                return;
            }
            // G = dO·Vᵀ (the gradient of Pd), then in place: dS = softmax'(dropout'(G))
            long grad = tmp.alloc(dm.probs() * Float.BYTES);
            for (int b = 0; b < dm.b(); b++) {
                CudaGemm.rowMajor(d, false, true, s, s, dd, 1f,
                        gp + dm.tokenOffset(b, f), f, hd, dd,
                        vp + dm.tokenOffset(b, f), f, hd, dd,
                        0f, grad + dm.probOffset(b), f, s, (long) s * s, h);
            }
            long rows = (long) dm.b() * h * s;
            // solder_attention_softmax_backward(const float* P, float* grad, long long rows, int S,
            //                                   float dropoutP, long long seed)
            Launch.of(d, Kernel.ATTENTION_SOFTMAX_BACKWARD, LaunchConfig.rows(rows))
                    .ptr(probs).ptr(grad).i64(rows).i32(s).f32(dropoutP).i64(seed)
                    .run();
            // dQ = scale·dS·K
            if (dq != null) {
                long dqp = dq.dtype() == f ? ptr(dq) : tmp.alloc(dm.tokens() * Float.BYTES);
                for (int b = 0; b < dm.b(); b++) {
                    CudaGemm.rowMajor(d, false, false, s, dd, s, scale,
                            grad + dm.probOffset(b), f, s, (long) s * s,
                            kp + dm.tokenOffset(b, f), f, hd, dd,
                            0f, dqp + dm.tokenOffset(b, f), f, hd, dd, h);
                }
                if (dq.dtype() != f) {
                    CudaCopy.convert(d, dqp, f, ptr(dq), dq.dtype(), dm.tokens());
                }
            }
            // dK = scale·dSᵀ·Q
            if (dk != null) {
                long dkp = dk.dtype() == f ? ptr(dk) : tmp.alloc(dm.tokens() * Float.BYTES);
                for (int b = 0; b < dm.b(); b++) {
                    CudaGemm.rowMajor(d, true, false, s, dd, s, scale,
                            grad + dm.probOffset(b), f, s, (long) s * s,
                            qp + dm.tokenOffset(b, f), f, hd, dd,
                            0f, dkp + dm.tokenOffset(b, f), f, hd, dd, h);
                }
                if (dk.dtype() != f) {
                    CudaCopy.convert(d, dkp, f, ptr(dk), dk.dtype(), dm.tokens());
                }
            }
        }
    }
}
