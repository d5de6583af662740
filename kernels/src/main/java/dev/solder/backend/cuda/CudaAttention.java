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
 * {@code h·D} of row i, so the head matrices are S×D with row stride H·D: {@code D} elements
 * apart along h, {@code S·H·D} along b. A strided batch has one stride, so each product is a
 * loop over one of B and H of cuBLAS calls batched over the other ({@link #perHead}), reading
 * and writing the {@code [B, S, H·D]} layout in place (no permute copies) — looping over the
 * smaller: 12 launches a product for BERT-base at batch 32, not 32. The probabilities P
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
    }

    /**
     * A GEMM operand or result holding one matrix per (b, h): element offsets {@code strideB}
     * between batch entries and {@code strideH} between heads, rows {@code ld} apart.
     */
    private record Operand(long ptr, DType type, int ld, long strideB, long strideH) {
        /** A head of a {@code [B, S, H·D]} tensor: S×D, row stride H·D. */
        static Operand tokens(long ptr, DType type, Dims dm) {
            return new Operand(ptr, type, dm.hd(), (long) dm.s() * dm.hd(), dm.d());
        }

        /** A head of the {@code [B, H, S, S]} probabilities (or their gradient): S×S, row stride S. */
        static Operand probs(long ptr, DType type, Dims dm) {
            return new Operand(ptr, type, dm.s(), (long) dm.heads() * dm.s() * dm.s(), (long) dm.s() * dm.s());
        }

        /** Where loop step {@code i} starts: batch entry i when batching over heads, else head i. */
        long at(int i, boolean overHeads) {
            return ptr + (overHeads ? strideB : strideH) * i * type.byteSize();
        }

        /** The stride of the batch a call covers. */
        long batchStride(boolean overHeads) {
            return overHeads ? strideH : strideB;
        }
    }

    /**
     * {@code c = alpha·op(a)·op(b)} for every (b, h) head: a loop over the smaller of B and H of
     * strided-batched cuBLAS calls over the larger.
     */
    private static void perHead(CudaDevice d, Dims dm, boolean tA, boolean tB, int m, int n, int k, float alpha,
                                Operand a, Operand b, Operand c) {
        boolean overHeads = dm.heads() >= dm.b();
        int loops = overHeads ? dm.b() : dm.heads();
        int batch = overHeads ? dm.heads() : dm.b();
        for (int i = 0; i < loops; i++) {
            CudaGemm.rowMajor(d, tA, tB, m, n, k, alpha,
                    a.at(i, overHeads), a.type(), a.ld(), a.batchStride(overHeads),
                    b.at(i, overHeads), b.type(), b.ld(), b.batchStride(overHeads),
                    0f, c.at(i, overHeads), c.type(), c.ld(), c.batchStride(overHeads), batch);
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
            int dd = dm.d();
            int h = dm.heads();
            // scores = scale·Q·Kᵀ, float32 [B, H, S, S]
            perHead(d, dm, false, true, s, s, dd, scale, Operand.tokens(qp, t, dm), Operand.tokens(kp, t, dm),
                    Operand.probs(probs, DType.FLOAT32, dm));
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
            perHead(d, dm, false, false, s, dd, s, 1f, Operand.probs(pd, t, dm), Operand.tokens(vp, t, dm),
                    Operand.tokens(op, ct, dm));
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
                perHead(d, dm, true, false, s, dd, s, 1f, Operand.probs(pd, f, dm), Operand.tokens(gp, f, dm),
                        Operand.tokens(dvp, f, dm));
                if (dv.dtype() != f) {
                    CudaCopy.convert(d, dvp, f, ptr(dv), dv.dtype(), dm.tokens());
                }
            }
            if (dq == null && dk == null) {
                return;
            }
            // G = dO·Vᵀ (the gradient of Pd), then in place: dS = softmax'(dropout'(G))
            long grad = tmp.alloc(dm.probs() * Float.BYTES);
            perHead(d, dm, false, true, s, s, dd, 1f, Operand.tokens(gp, f, dm), Operand.tokens(vp, f, dm),
                    Operand.probs(grad, f, dm));
            long rows = (long) dm.b() * h * s;
            // solder_attention_softmax_backward(const float* P, float* grad, long long rows, int S,
            //                                   float dropoutP, long long seed)
            Launch.of(d, Kernel.ATTENTION_SOFTMAX_BACKWARD, LaunchConfig.rows(rows))
                    .ptr(probs).ptr(grad).i64(rows).i32(s).f32(dropoutP).i64(seed)
                    .run();
            // dQ = scale·dS·K
            if (dq != null) {
                long dqp = dq.dtype() == f ? ptr(dq) : tmp.alloc(dm.tokens() * Float.BYTES);
                perHead(d, dm, false, false, s, dd, s, scale, Operand.probs(grad, f, dm), Operand.tokens(kp, f, dm),
                        Operand.tokens(dqp, f, dm));
                if (dq.dtype() != f) {
                    CudaCopy.convert(d, dqp, f, ptr(dq), dq.dtype(), dm.tokens());
                }
            }
            // dK = scale·dSᵀ·Q
            if (dk != null) {
                long dkp = dk.dtype() == f ? ptr(dk) : tmp.alloc(dm.tokens() * Float.BYTES);
                perHead(d, dm, true, false, s, dd, s, scale, Operand.probs(grad, f, dm), Operand.tokens(qp, f, dm),
                        Operand.tokens(dkp, f, dm));
                if (dk.dtype() != f) {
                    CudaCopy.convert(d, dkp, f, ptr(dk), dk.dtype(), dm.tokens());
                }
            }
        }
    }
}
