package dev.solder.backend.cpu;

import dev.solder.DType;
import dev.solder.Tensor;
import java.lang.foreign.MemorySegment;

/**
 * Multi-head scaled dot-product attention, the reference the fused GPU kernels answer to.
 *
 * <p>Per (batch, head), in parallel over the pairs: {@code S = q_h·k_hᵀ·scale + mask},
 * {@code P = softmax(S)} (float64 sums, see {@link CpuNorm#softmaxRow}), optional Philox
 * dropout on {@code P}, {@code out_h = P_d·v_h}. A head's slice of {@code [B, S, heads·D]}
 * is an {@code [S, D]} matrix with row stride {@code heads·D}, which {@link Sgemm} takes as
 * its leading dimension — no head is ever copied out. The probabilities before dropout are
 * what the forward saves; the backward regenerates the dropout mask from the seed:
 * <pre>
 * dV = P_dᵀ·dO    dP_d = dO·Vᵀ    dP = dP_d ⊙ keep/(1 − p)
 * dS = P ⊙ (dP − rowsum(dP ⊙ P))    dQ = dS·K·scale    dK = dSᵀ·Q·scale
 * </pre>
 * A masked key adds {@code −Float.MAX_VALUE} to its score as HF does; a query whose keys
 * are all masked therefore gets HF's uniform distribution.
 *
 * <p>Right padding is skipped rather than masked: when a sequence's mask is {@code L} ones
 * then zeros, its heads work on the first {@code L} keys only (scores {@code [S, L]}, the
 * value and key GEMMs with inner or outer size {@code L}) — the skipped probabilities are
 * exactly 0 under the additive mask too, so this computes the same function for less work:
 * a batch of 8 dynamically padded pairs holds about a quarter padding. Other masks take
 * the additive path. Dropout indices stay those of the full {@code [S, S]} layout.
 */
final class CpuAttention {
    private CpuAttention() {
    }

    /** Shapes of one call, and where head {@code h} of batch {@code b} starts. */
    private record Geometry(int batch, int seq, int heads, int headDim) {
        int width() {
            return heads * headDim;
        }

        long head(int bh) {
            int b = bh / heads;
            int h = bh % heads;
            return (long) b * seq * width() + (long) h * headDim;
        }

        long probs(int bh) {
            return (long) bh * seq * seq;
        }
    }

    static Tensor forward(Tensor q, Tensor k, Tensor v, Tensor keyMask, int heads, float scale,
                          float dropoutP, long seed, Tensor out) {
        Geometry g = geometry(q, k, v, keyMask, heads);
        int s = g.seq();
        float[] maskAdd = maskAdd(keyMask, g);
        int[] keys = keyCounts(keyMask, g);
        Tensor saved = Tensor.empty(new int[] {g.batch(), heads, s, s}, DType.FLOAT32, q.device());
        try {
            if (s == 0 || g.batch() == 0 || g.headDim() == 0) {
                CpuCopy.fill(out, 0);
            } else {
                forward(g, q, k, v, maskAdd, keys, scale, dropoutP, seed, out, saved);
            }
            return saved;
        } catch (RuntimeException | Error e) {
            saved.close(); // nobody else will see it
            throw e;
        }
    }

    private static void forward(Geometry g, Tensor q, Tensor k, Tensor v, float[] maskAdd, int[] keys, float scale,
                                float dropoutP, long seed, Tensor out, Tensor saved) {
        int s = g.seq();
        int heads = g.heads();
        Tensor o32 = float32Out(out);
        try (Qkv in = Qkv.of(q, k, v)) {
            Tensor q32 = in.q();
            Tensor k32 = in.k();
            Tensor v32 = in.v();
            MemorySegment sp = CpuBackend.seg(saved);
            MemorySegment so = CpuBackend.seg(o32);
            int w = g.width();
            int d = g.headDim();
            boolean drop = dropoutP > 0f;
            float keepScale = keepScale(dropoutP);
            int threshold = CpuPhilox.threshold(dropoutP);
            CpuParallel.forRange(g.batch() * heads, 1, (lo, hi) -> {
                Tensor scratch = drop ? Tensor.emptyUnscoped(new int[] {s, s}, DType.FLOAT32, q.device()) : null;
                try {
                    float[] row = new float[s];
                    double[] e = new double[s];
                    for (int bh = lo; bh < hi; bh++) {
                        long hd = g.head(bh);
                        long pOff = saved.offset() + g.probs(bh);
                        int b = bh / heads;
                        int n = keys[b];
                        Sgemm.gemm(false, true, s, n, d, scale, in.sq(), q32.offset() + hd, w, q32.dtype(),
                                in.sk(), k32.offset() + hd, w, k32.dtype(), 0f, sp, pOff, s);
                        for (int i = 0; i < s; i++) {
                            long r = pOff + (long) i * s;
                            CpuFloats.load(sp, DType.FLOAT32, r, row, 0, n);
                            if (maskAdd != null && n == s) {
                                for (int j = 0; j < s; j++) {
                                    row[j] += maskAdd[b * s + j];
                                }
                            }
                            CpuNorm.softmaxRow(row, e, n);
                            java.util.Arrays.fill(row, n, s, 0f);   // the skipped keys' probabilities
                            CpuFloats.store(sp, DType.FLOAT32, r, row, 0, s);
                            if (drop) {
                                CpuPhilox.apply(seed, rowIndex(bh, s, i) * s, threshold, keepScale, row, 0, n);
                                CpuFloats.store(CpuBackend.seg(scratch), DType.FLOAT32, scratch.offset() + (long) i * s, row, 0, n);
                            }
                        }
                        MemorySegment pd = drop ? CpuBackend.seg(scratch) : sp;
                        long pdOff = drop ? scratch.offset() : pOff;
                        Sgemm.gemm(false, false, s, d, n, 1f, pd, pdOff, s, DType.FLOAT32,
                                in.sv(), v32.offset() + hd, w, v32.dtype(), 0f, so, o32.offset() + hd, w);
                    }
                } finally {
                    if (scratch != null) {
                        scratch.close();
                    }
                }
            });
            copyBack(o32, out);
        } finally {
            closeTemp(o32, out);
        }
    }

    static void backward(Tensor q, Tensor k, Tensor v, Tensor keyMask, int heads, float scale,
                         float dropoutP, long seed, Tensor out, Tensor dout, Tensor saved,
                         Tensor dq, Tensor dk, Tensor dv) {
        Geometry g = geometry(q, k, v, keyMask, heads);
        int s = g.seq();
        if (saved == null || saved.dtype() != DType.FLOAT32 || saved.numel() != (long) g.batch() * heads * s * s) {
            throw new IllegalArgumentException("attentionBackward: saved " + (saved == null ? "null" : saved.describe())
                    + " is not the float32 [" + g.batch() + ", " + heads + ", " + s + ", " + s
                    + "] probabilities the cpu forward returns");
        }
        if (s == 0 || g.batch() == 0 || g.headDim() == 0) {
            CpuCopy.fill(dq, 0);
            CpuCopy.fill(dk, 0);
            CpuCopy.fill(dv, 0);
            return;
        }
        int[] keys = keyCounts(keyMask, g);
        Tensor do32 = CpuGemm.gemmInput(dout);
        Tensor dq32 = float32Out(dq);
        Tensor dk32 = float32Out(dk);
        Tensor dv32 = float32Out(dv);
        try (Qkv in = Qkv.of(q, k, v)) {
            Tensor q32 = in.q();
            Tensor k32 = in.k();
            Tensor v32 = in.v();
            MemorySegment sdo = CpuBackend.seg(do32);
            MemorySegment sp = CpuBackend.seg(saved);
            boolean drop = dropoutP > 0f;
            int threshold = CpuPhilox.threshold(dropoutP);
            float keepScale = keepScale(dropoutP);
            int d = g.headDim();
            int w = g.width();
            CpuParallel.forRange(g.batch() * heads, 1, (lo, hi) -> {
                Tensor pdT = drop ? Tensor.emptyUnscoped(new int[] {s, s}, DType.FLOAT32, q.device()) : null;
                Tensor dsT = Tensor.emptyUnscoped(new int[] {s, s}, DType.FLOAT32, q.device());
                try {
                    MemorySegment sds = CpuBackend.seg(dsT);
                    long dsOff = dsT.offset();
                    float[] p = new float[s];
                    float[] dp = new float[s];
                    // The head's dropout mask, drawn once and used for both P_d and dP.
                    boolean[] keep = drop ? new boolean[s * s] : null;
                    for (int bh = lo; bh < hi; bh++) {
                        long hd = g.head(bh);
                        long pOff = saved.offset() + g.probs(bh);
                        int n = keys[bh / g.heads()];
                        MemorySegment pd = sp;
                        long pdOff = pOff;
                        if (drop) {
                            pd = CpuBackend.seg(pdT);
                            pdOff = pdT.offset();
                            for (int i = 0; i < s; i++) {
                                CpuFloats.load(sp, DType.FLOAT32, pOff + (long) i * s, p, 0, n);
                                CpuPhilox.mask(seed, rowIndex(bh, s, i) * s, threshold, keep, i * s, n);
                                applyMask(p, keep, i * s, n, keepScale);
                                CpuFloats.store(pd, DType.FLOAT32, pdOff + (long) i * s, p, 0, n);
                            }
                        }
                        // dV = P_dᵀ·dO (the first n key rows; skipped keys get no gradient)
                        Sgemm.gemm(true, false, n, d, s, 1f, pd, pdOff, s, DType.FLOAT32,
                                sdo, do32.offset() + hd, w, do32.dtype(), 0f, CpuBackend.seg(dv32), dv32.offset() + hd, w);
                        // dP_d = dO·Vᵀ
                        Sgemm.gemm(false, true, s, n, d, 1f, sdo, do32.offset() + hd, w, do32.dtype(),
                                in.sv(), v32.offset() + hd, w, v32.dtype(), 0f, sds, dsOff, s);
                        for (int i = 0; i < s; i++) {
                            CpuFloats.load(sp, DType.FLOAT32, pOff + (long) i * s, p, 0, n);
                            CpuFloats.load(sds, DType.FLOAT32, dsOff + (long) i * s, dp, 0, n);
                            if (drop) {
                                applyMask(dp, keep, i * s, n, keepScale);
                            }
                            double dot = 0;
                            for (int j = 0; j < n; j++) {
                                dot += (double) dp[j] * p[j];
                            }
                            for (int j = 0; j < n; j++) {
                                dp[j] = (float) (p[j] * (dp[j] - dot));
                            }
                            CpuFloats.store(sds, DType.FLOAT32, dsOff + (long) i * s, dp, 0, n);
                        }
                        // dQ = dS·K·scale, dK = dSᵀ·Q·scale
                        Sgemm.gemm(false, false, s, d, n, scale, sds, dsOff, s, DType.FLOAT32,
                                in.sk(), k32.offset() + hd, w, k32.dtype(), 0f, CpuBackend.seg(dq32), dq32.offset() + hd, w);
                        Sgemm.gemm(true, false, n, d, s, scale, sds, dsOff, s, DType.FLOAT32,
                                in.sq(), q32.offset() + hd, w, q32.dtype(), 0f, CpuBackend.seg(dk32), dk32.offset() + hd, w);
                        zeroRows(dv32, hd, w, n, s, d);
                        zeroRows(dk32, hd, w, n, s, d);
                    }
                } finally {
                    if (pdT != null) {
                        pdT.close();
                    }
                    dsT.close();
                }
            });
            copyBack(dq32, dq);
            copyBack(dk32, dk);
            copyBack(dv32, dv);
        } finally {
            closeTemp(do32, dout);
            closeTemp(dq32, dq);
            closeTemp(dk32, dk);
            closeTemp(dv32, dv);
        }
    }

    /** q, k and v as float32 GEMM inputs: the tensors themselves, or float32 copies that close() frees. */
    private record Qkv(Tensor q, Tensor k, Tensor v, Tensor q0, Tensor k0, Tensor v0) implements AutoCloseable {
        static Qkv of(Tensor q, Tensor k, Tensor v) {
            return new Qkv(CpuGemm.gemmInput(q), CpuGemm.gemmInput(k), CpuGemm.gemmInput(v), q, k, v);
        }

        MemorySegment sq() {
            return CpuBackend.seg(q);
        }

        MemorySegment sk() {
            return CpuBackend.seg(k);
        }

        MemorySegment sv() {
            return CpuBackend.seg(v);
        }

        @Override
        public void close() {
            closeTemp(q, q0);
            closeTemp(k, k0);
            closeTemp(v, v0);
        }
    }

    /** Inverted dropout's scale for the kept probabilities, {@code 1/(1 − p)} (1 without dropout). */
    private static float keepScale(float p) {
        return p > 0f ? 1f / (1f - p) : 1f;
    }

    /**
     * Dropout index of element {@code (i, 0)} of head {@code bh}'s probabilities: element
     * {@code j} of row {@code (b·heads + h)·S + i} is {@code ((b·heads + h)·S + i)·S + j}.
     */
    private static long rowIndex(int bh, int s, int i) {
        return (long) bh * s + i;
    }

    /** {@code row[j] = keep[at + j] ? row[j]·scale : 0}. */
    private static void applyMask(float[] row, boolean[] keep, int at, int s, float scale) {
        for (int j = 0; j < s; j++) {
            row[j] = keep[at + j] ? row[j] * scale : 0f;
        }
    }

    /**
     * Per sequence, how many leading keys its heads work on: {@code L} when its mask is
     * {@code L ≥ 1} ones then zeros, else (no mask, all padding, or holes) all {@code S} with
     * the additive mask doing the work.
     */
    private static int[] keyCounts(Tensor keyMask, Geometry g) {
        int s = g.seq();
        int[] keys = new int[g.batch()];
        for (int b = 0; b < g.batch(); b++) {
            keys[b] = s;
            if (keyMask == null) {
                continue;
            }
            int len = 0;
            while (len < s && CpuFloats.get(keyMask, (long) b * s + len) != 0f) {
                len++;
            }
            int j = len;
            while (j < s && CpuFloats.get(keyMask, (long) b * s + j) == 0f) {
                j++;
            }
            if (len > 0 && j == s) {
                keys[b] = len;
            }
        }
        return keys;
    }

    /** Zeroes rows {@code [from, to)} of the {@code d}-wide head slice at {@code head} (row stride {@code w}). */
    private static void zeroRows(Tensor t, long head, int w, int from, int to, int d) {
        MemorySegment seg = CpuBackend.seg(t);
        for (int j = from; j < to; j++) {
            long at = (t.offset() + head + (long) j * w) * Float.BYTES;
            seg.asSlice(at, (long) d * Float.BYTES).fill((byte) 0);
        }
    }

    /** Per (b, key) additive mask: 0 to attend, {@code −Float.MAX_VALUE} for padding; null if none. */
    private static float[] maskAdd(Tensor keyMask, Geometry g) {
        if (keyMask == null) {
            return null;
        }
        int n = g.batch() * g.seq();
        float[] add = new float[n];
        for (int i = 0; i < n; i++) {
            add[i] = CpuFloats.get(keyMask, i) != 0f ? 0f : -Float.MAX_VALUE;
        }
        return add;
    }

    private static Geometry geometry(Tensor q, Tensor k, Tensor v, Tensor keyMask, int heads) {
        if (q.rank() != 3 || !java.util.Arrays.equals(q.shape(), k.shape()) || !java.util.Arrays.equals(q.shape(), v.shape())
                || heads <= 0 || q.dim(2) % heads != 0) {
            throw new IllegalArgumentException("attention: q " + q.describe() + ", k " + k.describe() + ", v "
                    + v.describe() + " must all be [B, S, heads*D] with " + heads + " heads");
        }
        if (keyMask != null && keyMask.numel() != (long) q.dim(0) * q.dim(1)) {
            throw new IllegalArgumentException("attention: mask " + keyMask.describe() + " must be [B, S] = ["
                    + q.dim(0) + ", " + q.dim(1) + "]");
        }
        return new Geometry(q.dim(0), q.dim(1), heads, q.dim(2) / heads);
    }

    private static Tensor float32Out(Tensor t) {
        return t.dtype() == DType.FLOAT32 ? t : Tensor.emptyUnscoped(t.shape(), DType.FLOAT32, t.device());
    }

    private static void copyBack(Tensor tmp, Tensor dst) {
        if (tmp != dst) {
            CpuCopy.copy(tmp, dst);
        }
    }

    private static void closeTemp(Tensor tmp, Tensor original) {
        if (tmp != original) {
            tmp.close();
        }
    }
}
