package dev.solder.backend.cuda;

import static dev.solder.backend.cuda.DeviceTensors.code;
import static dev.solder.backend.cuda.DeviceTensors.ptr;
import static dev.solder.backend.cuda.DeviceTensors.ptrOrNull;

import dev.solder.DType;
import dev.solder.Tensor;

/**
 * The fused path's attention (flash_attention.cu, see the comment at its top): what the kernels
 * support ({@link #unsupported}, a pure function, unit-tested), their launch shapes (pure
 * functions of the sizes) and the launches. {@link CudaAttention} asks {@link KernelPaths}
 * whether to take it.
 *
 * <p>The forward's {@code saved} tensor is the float32 log-sum-exp {@code [B, H, S]} (the
 * cuBLAS-only path saves the probabilities {@code [B, H, S, S]}); the backward takes the path
 * its {@code saved} tensor belongs to ({@link #isLse}), whatever the mode says then, so a
 * forward and a backward run under different selections never read the wrong thing.
 */
final class CudaFlashAttention {
    /** Head dims the kernels are instantiated for (bf16/fp16 and float32 alike). */
    static final int[] HEAD_DIMS = {32, 64, 128};
    /** Longest sequence (the kernels keep a per-key mask table of this many bytes). */
    static final int MAX_SEQ = 512;
    /** mma.sync with bf16 operands needs sm_80 (the float32 kernels would not; the fatbin starts at sm_80 anyway). */
    static final int MIN_CAPABILITY = 80;
    /** Queries per CTA of the forward and the dQ pass (4 warps × 16 rows). */
    static final int QUERY_TILE = 64;
    /** Threads of the forward and the dQ pass. */
    static final int THREADS = 128;

    private CudaFlashAttention() {
    }

    static boolean headDimSupported(int d) {
        for (int x : HEAD_DIMS) {
            if (x == d) {
                return true;
            }
        }
        return false;
    }

    /**
     * Why the flash kernels cannot run this case; null when they can. {@code capability} is
     * major·10 + minor; the pointers are q, k, v, out (16-byte loads and 4-byte stores).
     */
    static String unsupported(int capability, DType q, DType k, DType v, DType out, int headDim, int seq,
                              boolean contiguous, long... ptrs) {
        if (capability < MIN_CAPABILITY) {
            return "compute capability " + capability / 10 + "." + capability % 10 + " (needs 8.0+ for bf16 mma.sync)";
        }
        if (q != DType.BFLOAT16 && q != DType.FLOAT16 && q != DType.FLOAT32) {
            return "dtype " + q + " (bfloat16, float16, float32)";
        }
        if (k != q || v != q || out != q) {
            return "mixed dtypes (q " + q + ", k " + k + ", v " + v + ", out " + out + ")";
        }
        if (!headDimSupported(headDim)) {
            return "head dim " + headDim + " (32, 64, 128)";
        }
        if (seq > MAX_SEQ) {
            return "sequence length " + seq + " (at most " + MAX_SEQ + ")";
        }
        if (!contiguous) {
            return "non-contiguous q, k, v or out";
        }
        for (long p : ptrs) {
            if ((p & 15) != 0) {
                return "a pointer not 16-byte aligned (0x" + Long.toHexString(p) + ")";
            }
        }
        return null;
    }

    /** {@link #unsupported} for the forward's tensors on device {@code d}. */
    static String unsupported(CudaDevice d, Tensor q, Tensor k, Tensor v, Tensor out, int heads) {
        boolean contiguous = q.isContiguous() && k.isContiguous() && v.isContiguous() && out.isContiguous();
        return unsupported(d.api().computeCapability(), q.dtype(), k.dtype(), v.dtype(), out.dtype(),
                q.dim(2) / heads, q.dim(1), contiguous, ptr(q), ptr(k), ptr(v), ptr(out));
    }

    /** True when {@code saved} is this path's float32 {@code [B, H, S]} log-sum-exp. */
    static boolean isLse(Tensor saved, int batch, int heads, int seq) {
        return saved != null && saved.dtype() == DType.FLOAT32 && saved.rank() == 3 && saved.dim(0) == batch
                && saved.dim(1) == heads && saved.dim(2) == seq;
    }

    // ------------------------------------------------------------------ launch shapes

    static Kernel forwardKernel(DType t, int d) {
        return t == DType.FLOAT32
                ? byHeadDim(d, Kernel.FLASH_ATTENTION_F32_FORWARD_D32, Kernel.FLASH_ATTENTION_F32_FORWARD_D64,
                        Kernel.FLASH_ATTENTION_F32_FORWARD_D128)
                : byHeadDim(d, Kernel.FLASH_ATTENTION_FORWARD_D32, Kernel.FLASH_ATTENTION_FORWARD_D64,
                        Kernel.FLASH_ATTENTION_FORWARD_D128);
    }

    static Kernel dkdvKernel(DType t, int d) {
        return t == DType.FLOAT32
                ? byHeadDim(d, Kernel.FLASH_ATTENTION_F32_BACKWARD_DKDV_D32, Kernel.FLASH_ATTENTION_F32_BACKWARD_DKDV_D64,
                        Kernel.FLASH_ATTENTION_F32_BACKWARD_DKDV_D128)
                : byHeadDim(d, Kernel.FLASH_ATTENTION_BACKWARD_DKDV_D32, Kernel.FLASH_ATTENTION_BACKWARD_DKDV_D64,
                        Kernel.FLASH_ATTENTION_BACKWARD_DKDV_D128);
    }

    static Kernel dqKernel(DType t, int d) {
        return t == DType.FLOAT32
                ? byHeadDim(d, Kernel.FLASH_ATTENTION_F32_BACKWARD_DQ_D32, Kernel.FLASH_ATTENTION_F32_BACKWARD_DQ_D64,
                        Kernel.FLASH_ATTENTION_F32_BACKWARD_DQ_D128)
                : byHeadDim(d, Kernel.FLASH_ATTENTION_BACKWARD_DQ_D32, Kernel.FLASH_ATTENTION_BACKWARD_DQ_D64,
                        Kernel.FLASH_ATTENTION_BACKWARD_DQ_D128);
    }

    /** The kernel instantiated for head dim d (one of {@link #HEAD_DIMS}). */
    private static Kernel byHeadDim(int d, Kernel d32, Kernel d64, Kernel d128) {
        return switch (d) {
            case 32 -> d32;
            case 64 -> d64;
            case 128 -> d128;
            default -> throw new IllegalArgumentException("flash attention: head dim " + d);
        };
    }

    /**
     * Keys per CTA of the dK/dV pass: 16 a warp; 2 warps at D = 128 (registers and 48 KiB of
     * shared memory). The float32 kernels have 64 keys at every D.
     */
    static int dkdvKeysPerBlock(DType t, int d) {
        return d == 128 && t != DType.FLOAT32 ? 32 : 64;
    }

    /**
     * Threads per row (query or key) of the float32 kernels: a pair, or 4 at D = 128 (the share
     * of a row's vectors each thread keeps in registers). The bf16/fp16 kernels: 2 per key in
     * dK/dV; their forward and dQ pass have 128 threads for 64 queries (4 warps × 16 rows).
     */
    static int f32ThreadsPerRow(int d) {
        return d == 128 ? 4 : 2;
    }

    /** Forward and dQ pass: grid (B·H, ceil(S/64)), 128 threads (float32 at D = 128: 256). */
    static LaunchConfig queryTileConfig(long batchHeads, int seq, DType t, int d) {
        if (batchHeads > Integer.MAX_VALUE) {
            throw new IllegalArgumentException("flash attention: " + batchHeads + " batch·heads is too many");
        }
        int threads = t == DType.FLOAT32 ? QUERY_TILE * f32ThreadsPerRow(d) : THREADS;
        return new LaunchConfig((int) batchHeads, (int) LaunchConfig.ceilDiv(seq, QUERY_TILE), threads, 1, 0);
    }

    /** dK/dV pass: grid (B·H, ceil(S/keys per CTA)), 2 threads a key (float32: 2 or 4). */
    static LaunchConfig dkdvConfig(long batchHeads, int seq, DType t, int d) {
        if (batchHeads > Integer.MAX_VALUE) {
            throw new IllegalArgumentException("flash attention: " + batchHeads + " batch·heads is too many");
        }
        int keys = dkdvKeysPerBlock(t, d);
        int perKey = t == DType.FLOAT32 ? f32ThreadsPerRow(d) : 2;
        return new LaunchConfig((int) batchHeads, (int) LaunchConfig.ceilDiv(seq, keys), keys * perKey, 1, 0);
    }

    // ------------------------------------------------------------------ launches

    /**
     * out and lse ({@code [B, H, S]} float32) from q, k, v; the caller checked {@link #unsupported}
     * and that there is work (B, S, D > 0).
     */
    static void forward(CudaDevice d, Tensor q, Tensor k, Tensor v, Tensor keyMask, int heads, float scale,
                        float dropoutP, long seed, Tensor out, Tensor lse) {
        int b = q.dim(0);
        int s = q.dim(1);
        int hd = q.dim(2) / heads;
        // solder_flash_attention_forward_dD(const void* q, const void* k, const void* v, int dt,
        //     const void* keyMask, int mdt, void* out, float* lse, int H, int S, float scale,
        //     float dropoutP, long long seed); the float32 kernels take no dt
        operandType(Launch.of(d, forwardKernel(q.dtype(), hd), queryTileConfig((long) b * heads, s, q.dtype(), hd))
                .ptr(ptr(q)).ptr(ptr(k)).ptr(ptr(v)), q.dtype())
                .ptr(ptrOrNull(keyMask)).i32(keyMask == null ? 0 : code(keyMask.dtype()))
                .ptr(ptr(out)).ptr(ptr(lse)).i32(heads).i32(s).f32(scale).f32(dropoutP).i64(seed)
                .run();
    }

    /**
     * dq, dk, dv (each may be null, any float dtype) from the forward's out and lse. dout, and any
     * of q, k, v not in the operands' dtype or not 16-byte aligned, are copied to aligned
     * temporaries of that dtype first (the forward checked q, k, v; this guards direct SPI calls).
     */
    static void backward(CudaDevice d, Tensor q, Tensor k, Tensor v, Tensor keyMask, int heads, float scale,
                         float dropoutP, long seed, Tensor out, Tensor dout, Tensor lse, Tensor dq, Tensor dk,
                         Tensor dv) {
        int b = q.dim(0);
        int s = q.dim(1);
        int hd = q.dim(2) / heads;
        DType t = q.dtype();
        if (t != DType.BFLOAT16 && t != DType.FLOAT16 && t != DType.FLOAT32) {
            throw new IllegalArgumentException("attentionBackward: saved is the fused kernel's log-sum-exp, but q "
                    + q.describe() + " is not bfloat16, float16 or float32");
        }
        if (!headDimSupported(hd) || s > MAX_SEQ) {
            throw new IllegalArgumentException("attentionBackward: saved is the fused kernel's log-sum-exp, but head dim "
                    + hd + " / sequence " + s + " is not a case the fused kernels run");
        }
        if (out == null || out.numel() != q.numel()) {
            throw new IllegalArgumentException("attentionBackward: the fused path needs the forward's out (got "
                    + (out == null ? "null" : out.describe()) + ")");
        }
        long bh = (long) b * heads;
        long rows = bh * s;
        try (CudaDevice.Temps tmp = d.temps()) {
            long qp = operand(d, tmp, q, t);
            long kp = operand(d, tmp, k, t);
            long vp = operand(d, tmp, v, t);
            long dop = operand(d, tmp, dout, t);
            long delta = tmp.alloc(rows * Float.BYTES);
            // solder_flash_attention_backward_dot(const void* dout, int dodt, const void* out, int odt,
            //     float* delta, long long rows, int H, int S, int D)
            Launch.of(d, Kernel.FLASH_ATTENTION_BACKWARD_DOT, LaunchConfig.rows(rows))
                    .ptr(dop).i32(code(t)).ptr(ptr(out)).i32(code(out.dtype())).ptr(delta).i64(rows)
                    .i32(heads).i32(s).i32(hd)
                    .run();
            long mask = ptrOrNull(keyMask);
            int mdt = keyMask == null ? 0 : code(keyMask.dtype());
            if (dk != null || dv != null) {
                // solder_flash_attention_backward_dkdv_dD(const void* q, const void* k, const void* v,
                //     const void* dout, int dt, const void* keyMask, int mdt, const float* lse,
                //     const float* delta, void* dk, int dkdt, void* dv, int dvdt, int H, int S, float scale,
                //     float dropoutP, long long seed)
                operandType(Launch.of(d, dkdvKernel(t, hd), dkdvConfig(bh, s, t, hd))
                        .ptr(qp).ptr(kp).ptr(vp).ptr(dop), t).ptr(mask).i32(mdt)
                        .ptr(ptr(lse)).ptr(delta)
                        .ptr(ptrOrNull(dk)).i32(dk == null ? 0 : code(dk.dtype()))
                        .ptr(ptrOrNull(dv)).i32(dv == null ? 0 : code(dv.dtype()))
                        .i32(heads).i32(s).f32(scale).f32(dropoutP).i64(seed)
                        .run();
            }
            if (dq != null) {
                // solder_flash_attention_backward_dq_dD(const void* q, const void* k, const void* v,
                //     const void* dout, int dt, const void* keyMask, int mdt, const float* lse,
                //     const float* delta, void* dq, int dqdt, int H, int S, float scale, float dropoutP,
                //     long long seed)
                operandType(Launch.of(d, dqKernel(t, hd), queryTileConfig(bh, s, t, hd))
                        .ptr(qp).ptr(kp).ptr(vp).ptr(dop), t).ptr(mask).i32(mdt)
                        .ptr(ptr(lse)).ptr(delta).ptr(ptr(dq)).i32(code(dq.dtype()))
                        .i32(heads).i32(s).f32(scale).f32(dropoutP).i64(seed)
                        .run();
            }
        }
    }

    /** The operands' dtype argument {@code dt}, which only the bf16/fp16 kernels take. */
    private static Launch operandType(Launch l, DType t) {
        return t == DType.FLOAT32 ? l : l.i32(code(t));
    }

    /** The tensor's address when it is of dtype t and 16-byte aligned, else an aligned copy in t. */
    private static long operand(CudaDevice d, CudaDevice.Temps tmp, Tensor x, DType t) {
        long p = ptr(x);
        if (x.dtype() == t && (p & 15) == 0) {
            return p;
        }
        long c = tmp.alloc(x.numel() * t.byteSize());
        CudaCopy.convert(d, p, x.dtype(), c, t, x.numel());
        return c;
    }
}
