// flash_attention.cu — fused (FlashAttention-2 style) multi-head attention for bf16/fp16 (and,
// at the end, float32), the fused path's `attention` and `attentionBackward`.
// NOT YET RUN ON A GPU (see kernels/README.md).
//
// What it computes (the op of Backend.attention; CPU reference: java-api CpuAttention, which
// FusedParitySuite compares it with, next to the cuBLAS-only path of attention.cu):
//   q, k, v, out: [B, S, H·D] contiguous, one dtype (bf16 or fp16); head h of position i is the
//   D elements at column h·D of row i (row stride H·D), so a head is never copied out.
//   s_ij  = scale·q_i·k_j, or the masked score when keyMask[b, j] == 0 (below)
//   P_ij  = softmax_j(s_ij)                    never materialized: online softmax over key tiles
//   Pd_ij = keep(seed, ((b·H + h)·S + i)·S + j) ? P_ij/(1 − p) : 0     (dropout.cu's Philox rule)
//   out_i = Σ_j Pd_ij·v_j                      lse_i = m_i + log(l_i), float32 [B, H, S] = `saved`
//
// Forward and backward side by side:
//   forward  (solder_flash_attention_forward_dD)  one CTA per (b·h, 64-query tile), 4 warps × 16
//            query rows. Per 64-key tile: S = Q·Kᵀ (mma.sync m16n8k16, float32 accumulators),
//            row max m and sum l updated online, P = exp(s − m) (l sums P BEFORE dropout: dropout
//            does not change the denominator), O = O·exp(m_old − m) + Pd·V, the P accumulator
//            fragment reused in registers as the A operand of Pd·V (converted to bf16/fp16).
//   backward, three launches, no atomics (every output element is written by exactly one thread,
//            summing in a fixed order: bit-reproducible):
//            solder_flash_attention_backward_dot   δ_i = Σ_d dO_id·O_id (float32 [B, H, S]);
//                                                  one warp per row.
//            solder_flash_attention_backward_dkdv_dD   one CTA per (b·h, key tile), each warp owns
//                                                  16 keys; loops over all query tiles:
//                                                  Sᵀ = K·Qᵀ, Pᵀ = exp(Sᵀ − lse), dV += Pdᵀ·dO,
//                                                  dPᵀ = V·dOᵀ, dSᵀ = Pᵀ ⊙ (dropout'(dPᵀ) − δ),
//                                                  dK += dSᵀ·Q; dK·scale stored at the end.
//            solder_flash_attention_backward_dq_dD     one CTA per (b·h, 64-query tile), 4 warps ×
//                                                  16 rows; loops over key tiles recomputing S,
//                                                  P, dP, dS exactly as above; dQ += dS·K.
//            The dQ pass recomputes S and dP (FlashAttention-2 uses atomics on dQ instead):
//            that costs 2 more m16n8k16 products per tile but keeps dQ deterministic.
//
// Masks, exactly as CpuAttention: a masked key's score is s + (−FLT_MAX) there, which rounds to
// −FLT_MAX for any |s| < 2^103, so here a masked key's score IS −FLT_MAX (one less add). When a
// batch entry has every key masked, the CPU's row is S copies of −FLT_MAX: a uniform softmax.
// Here that case (detected per CTA from the mask) gives every key the score 0 instead — the same
// uniform P, but with a finite lse = log S, so the backward's exp(s − lse) recomputes 1/S and not
// exp(0) = 1. Gradients do not depend on the constant (dS = P ⊙ (dP − δ) either way). The online
// softmax starts from m = −FLT_MAX (not −inf) and keys past S get −inf, so exp(m_old − m_new) and
// exp(s − m) never see inf − inf: a tile of only masked keys followed by real keys rescales the
// earlier sums by exp(−FLT_MAX − m) = 0, which is what the CPU's single-pass softmax gives.
//
// Tiles: K/V (and in the backward Q/dO) tiles are copied global → shared memory 16 bytes at a
// time (the Java side requires 16-byte aligned pointers; D·2 bytes is a multiple of 16) — in the
// forward with cp.async, two stages deep at D ≤ 64 so that the next tile's copies overlap this
// tile's products — rows padded by 8 halves so the fragment loads below are free of bank
// conflicts. Rows past S are zero-filled (never garbage: 0·NaN would poison Pd·V); tail queries
// are computed and not stored. Shared memory is static and ≤ 48 KiB for every D (no opt-in
// attribute needed):
//   forward  K, V [stages][64][D+8]               2 stages at D ≤ 64 (36 KiB at 64); 1 at 128 (34.8 KiB)
//   dK/dV    K, V [16·W][D+8] + Q, dO [BQ][D+8]   W = 4, BQ = 64 for D ≤ 64; W = 2, BQ = 32 at 128
//   dQ       K, V [BK][D+8] (Q, dO staged there)  BK = 64 for D ≤ 64, 32 at D = 128
// (the smaller tiles at D = 128 keep the accumulators of dK, dV or dQ in registers without spills).
//
// Fragment layouts (PTX ISA, mma.m16n8k16 with .bf16/.f16 operands; g = lane/4, t = lane%4):
//   A 16×16 row-major, 4 regs: {A[g][2t..2t+1], A[g+8][2t..], A[g][2t+8..], A[g+8][2t+8..]}
//   B 16×8 (k × n), 2 regs:    {B[2t..2t+1][g], B[2t+8..2t+9][g]} (lower k in the low half)
//   C 16×8 float, 4 values:    {C[g][2t], C[g][2t+1], C[g+8][2t], C[g+8][2t+1]}
// so the C fragments of two adjacent 8-column tiles are, converted pairwise, the A fragment of
// the 16-wide k step that follows (P·V, dS·K, Pdᵀ·dO, dSᵀ·Q): no shared-memory round trip.
// Fragments are loaded from shared memory with ldmatrix (.trans for B operands stored [k][n], as
// V for P·V; see "shared-memory fragments" below).
//
// SOLDER_FLASH_HOST_MODEL (never defined by the builds): FlashAttentionHostModelTest compiles this
// file with g++ against src/test/cpp/flash_host_model.cpp, which runs every CUDA thread as a host
// thread and models mma.sync and the packing from the PTX fragment tables above.
//
// Float32 inputs have their own SIMT kernels at the end of this file (see "float32 (SIMT)"
// below). Not served: head dims other than 32, 64, 128 or S > 512 (the per-CTA key-mask table is 512 bytes). The tensor-core kernels need sm_80+
// (mma.sync with bf16); below that they trap, and the Java side never selects them.

#include "solder_common.cuh"

#define SOLDER_FLASH_MAX_S 512

struct alignas(16) SolderFlashU4 {
    unsigned int a, b, c, d;
};

// ------------------------------------------------------------------ per-dtype pieces

// Two floats packed into one 32-bit register of two halves, `lo` in the low 16 bits (round to
// nearest even). cvt.rn.{bf16x2,f16x2}.f32 d, a, b puts a in the UPPER half, b in the lower.
template <int DT>
__device__ __forceinline__ unsigned int solder_flash_pack(float lo, float hi);

template <>
__device__ __forceinline__ unsigned int solder_flash_pack<SOLDER_BF16>(float lo, float hi) {
#if defined(SOLDER_FLASH_HOST_MODEL)
    return solder_host_pack_bf16(lo, hi);
#elif defined(__CUDA_ARCH__) && __CUDA_ARCH__ < 800
    return ((unsigned int)solder_f32_to_bf16(hi) << 16) | solder_f32_to_bf16(lo);
#else
    unsigned int r;
    asm("cvt.rn.bf16x2.f32 %0, %1, %2;" : "=r"(r) : "f"(hi), "f"(lo));
    return r;
#endif
}

template <>
__device__ __forceinline__ unsigned int solder_flash_pack<SOLDER_F16>(float lo, float hi) {
#if defined(SOLDER_FLASH_HOST_MODEL)
    return solder_host_pack_f16(lo, hi);
#elif defined(__CUDA_ARCH__) && __CUDA_ARCH__ < 800
    return ((unsigned int)solder_f32_to_f16(hi) << 16) | solder_f32_to_f16(lo);
#else
    unsigned int r;
    asm("cvt.rn.f16x2.f32 %0, %1, %2;" : "=r"(r) : "f"(hi), "f"(lo));
    return r;
#endif
}

// c += a·b, one m16n8k16 tensor-core product with float32 accumulation.
template <int DT>
__device__ __forceinline__ void solder_flash_mma(float* c, const unsigned int* a, const unsigned int* b);

template <>
__device__ __forceinline__ void solder_flash_mma<SOLDER_BF16>(float* c, const unsigned int* a, const unsigned int* b) {
#if defined(SOLDER_FLASH_HOST_MODEL)
    solder_host_mma(c, a, b, SOLDER_BF16);
#elif defined(__CUDA_ARCH__) && __CUDA_ARCH__ < 800
    __trap();
#else
    asm("mma.sync.aligned.m16n8k16.row.col.f32.bf16.bf16.f32 {%0, %1, %2, %3}, {%4, %5, %6, %7}, {%8, %9}, "
        "{%0, %1, %2, %3};"
        : "+f"(c[0]), "+f"(c[1]), "+f"(c[2]), "+f"(c[3])
        : "r"(a[0]), "r"(a[1]), "r"(a[2]), "r"(a[3]), "r"(b[0]), "r"(b[1]));
#endif
}

template <>
__device__ __forceinline__ void solder_flash_mma<SOLDER_F16>(float* c, const unsigned int* a, const unsigned int* b) {
#if defined(SOLDER_FLASH_HOST_MODEL)
    solder_host_mma(c, a, b, SOLDER_F16);
#elif defined(__CUDA_ARCH__) && __CUDA_ARCH__ < 800
    __trap();
#else
    asm("mma.sync.aligned.m16n8k16.row.col.f32.f16.f16.f32 {%0, %1, %2, %3}, {%4, %5, %6, %7}, {%8, %9}, "
        "{%0, %1, %2, %3};"
        : "+f"(c[0]), "+f"(c[1]), "+f"(c[2]), "+f"(c[3])
        : "r"(a[0]), "r"(a[1]), "r"(a[2]), "r"(a[3]), "r"(b[0]), "r"(b[1]));
#endif
}

// ------------------------------------------------------------------ shared memory

// Each kernel's static shared memory, declared in a function templated on the tile shape only:
// the bf16 and fp16 instantiations inside one extern "C" kernel then share one allocation (a
// __shared__ array declared in the dtype-templated body would exist once per dtype: twice the
// shared memory). Rows of D halves are padded to D + 8 (16 bytes).
template <int D>
struct SolderFlashForwardSmem {
    // Two stages of K/V tiles where they fit in 48 KiB of static shared memory (D ≤ 64: the
    // next tile is copied in while this one is used), one at D = 128.
    static const int STAGES = D <= 64 ? 2 : 1;
    unsigned short k[STAGES][64 * (D + 8)];  // Q is staged in k[0] first
    unsigned short v[STAGES][64 * (D + 8)];
    unsigned char keyOk[SOLDER_FLASH_MAX_S];
};

template <int D>
__device__ __forceinline__ SolderFlashForwardSmem<D>& solder_flash_forward_smem() {
    __shared__ __align__(16) SolderFlashForwardSmem<D> sm;
    return sm;
}

template <int D, int BKEYS, int BQ>
struct SolderFlashDkdvSmem {
    unsigned short k[BKEYS * (D + 8)];
    unsigned short v[BKEYS * (D + 8)];
    unsigned short q[BQ * (D + 8)];
    unsigned short dout[BQ * (D + 8)];
    float lse[BQ];
    float delta[BQ];
    unsigned char keyOk[SOLDER_FLASH_MAX_S];
};

template <int D, int BKEYS, int BQ>
__device__ __forceinline__ SolderFlashDkdvSmem<D, BKEYS, BQ>& solder_flash_dkdv_smem() {
    __shared__ __align__(16) SolderFlashDkdvSmem<D, BKEYS, BQ> sm;
    return sm;
}

template <int D, int BK>
struct SolderFlashDqSmem {
    unsigned short kv[(2 * BK > 64 ? 2 * BK : 64) * (D + 8)];  // K rows [0, BK), V rows [BK, 2·BK)
    unsigned char keyOk[SOLDER_FLASH_MAX_S];
};

template <int D, int BK>
__device__ __forceinline__ SolderFlashDqSmem<D, BK>& solder_flash_dq_smem() {
    __shared__ __align__(16) SolderFlashDqSmem<D, BK> sm;
    return sm;
}

// ------------------------------------------------------------------ shared-memory fragments
//
// Fragments come from shared memory through ldmatrix: one instruction gives every lane its
// registers of one to four 8×8 blocks of 16-bit elements, each block's eight rows addressed by
// eight lanes (lane 8·m + r gives row r of block m; for .x2 lanes 16-31 repeat lanes 0-15), and
// lane L receives row L/4, elements 2·(L%4) and 2·(L%4) + 1 of each block (the lower in the low
// half) — exactly the per-lane pairs of the A, B and C fragment tables above. With .trans, lane
// L receives rows 2·(L%4) and 2·(L%4) + 1 of column L/4 instead, which is the B fragment of a
// tile stored [k][n]. Rows are 16 bytes and 16-byte aligned: ld = D + 8 halves keeps them so, and
// also puts the eight rows of a block in eight different 4-bank groups (no conflicts). This
// replaces four 32-bit loads per A fragment, two per B fragment of a [n][k] tile and four 16-bit
// loads per B fragment of a [k][n] tile with one instruction each.

#if defined(SOLDER_FLASH_HOST_MODEL)
#define SOLDER_FLASH_LDMATRIX(r, p, n, trans) solder_host_ldmatrix(r, p, n, trans)
#define SOLDER_FLASH_CP_ASYNC16(dst, src, bytes) solder_host_cp_async16(dst, src, bytes)
#define solder_flash_cp_commit solder_host_cp_commit
#define solder_flash_cp_wait solder_host_cp_wait
#else
#define SOLDER_FLASH_CP_ASYNC16(dst, src, bytes) solder_flash_cp_async16(dst, src, bytes)
__device__ __forceinline__ unsigned int solder_flash_smem_addr(const unsigned short* p) {
    return (unsigned int)__cvta_generic_to_shared(p);
}
#define SOLDER_FLASH_LDMATRIX(r, p, n, trans) solder_flash_ldmatrix_##n##trans(r, solder_flash_smem_addr(p))

__device__ __forceinline__ void solder_flash_ldmatrix_4false(unsigned int* r, unsigned int a) {
    asm volatile("ldmatrix.sync.aligned.m8n8.x4.shared.b16 {%0, %1, %2, %3}, [%4];\n"
                 : "=r"(r[0]), "=r"(r[1]), "=r"(r[2]), "=r"(r[3])
                 : "r"(a));
}

__device__ __forceinline__ void solder_flash_ldmatrix_2false(unsigned int* r, unsigned int a) {
    asm volatile("ldmatrix.sync.aligned.m8n8.x2.shared.b16 {%0, %1}, [%2];\n" : "=r"(r[0]), "=r"(r[1]) : "r"(a));
}

__device__ __forceinline__ void solder_flash_ldmatrix_2true(unsigned int* r, unsigned int a) {
    asm volatile("ldmatrix.sync.aligned.m8n8.x2.trans.shared.b16 {%0, %1}, [%2];\n" : "=r"(r[0]), "=r"(r[1]) : "r"(a));
}
#endif

// A fragment of the 16×16 block at (r0, k0) of a row-major [rows][ld] tile: blocks (r0, k0),
// (r0 + 8, k0), (r0, k0 + 8), (r0 + 8, k0 + 8) are a[0..3].
__device__ __forceinline__ void solder_flash_load_a(unsigned int* a, const unsigned short* s, int ld, int r0, int k0) {
    int lane = threadIdx.x & 31;
    int m = lane >> 3;
    SOLDER_FLASH_LDMATRIX(a, s + (r0 + (m & 1) * 8 + (lane & 7)) * ld + k0 + (m >> 1) * 8, 4, false);
}

// B fragment (k0.., n0..) of B = Tᵀ, T a row-major [n][ld] tile (B[k][n] = T[n][k]): blocks
// (n0, k0) and (n0, k0 + 8) of T, as stored, are b[0] and b[1].
__device__ __forceinline__ void solder_flash_load_b_nk(unsigned int* b, const unsigned short* s, int ld, int n0,
                                                       int k0) {
    int lane = threadIdx.x & 31;
    SOLDER_FLASH_LDMATRIX(b, s + (n0 + (lane & 7)) * ld + k0 + ((lane >> 3) & 1) * 8, 2, false);
}

// B fragment (k0.., n0..) of B = T, T a row-major [k][ld] tile: blocks (k0, n0) and (k0 + 8, n0)
// of T, transposed on the way (.trans), are b[0] and b[1].
__device__ __forceinline__ void solder_flash_load_b_kn(unsigned int* b, const unsigned short* s, int ld, int k0,
                                                       int n0) {
    int lane = threadIdx.x & 31;
    SOLDER_FLASH_LDMATRIX(b, s + (k0 + ((lane >> 3) & 1) * 8 + (lane & 7)) * ld + n0, 2, true);
}

// A fragment of k step kk from float C fragments c[2kk], c[2kk+1] (rows × 16 columns).
template <int DT>
__device__ __forceinline__ void solder_flash_c_to_a(unsigned int* a, const float* c0, const float* c1) {
    a[0] = solder_flash_pack<DT>(c0[0], c0[1]);
    a[1] = solder_flash_pack<DT>(c0[2], c0[3]);
    a[2] = solder_flash_pack<DT>(c1[0], c1[1]);
    a[3] = solder_flash_pack<DT>(c1[2], c1[3]);
}

// ------------------------------------------------------------------ tiles, masks, scores

// rows × D halves from global (row r at g + r·rowStride, rows from row0) into s[rows][D + 8];
// rows at or past S are zero. Every thread of the block calls it.
template <int D>
__device__ __forceinline__ void solder_flash_load_tile(unsigned short* s, const unsigned short* g,
                                                       long long rowStride, int row0, int rows, int S) {
    const int chunks = D / 8;
    for (int c = threadIdx.x; c < rows * chunks; c += blockDim.x) {
        int r = c / chunks;
        int col = (c - r * chunks) * 8;
        SolderFlashU4 v = {0u, 0u, 0u, 0u};
        if (row0 + r < S) {
            v = *(const SolderFlashU4*)(g + (long long)(row0 + r) * rowStride + col);
        }
        *(SolderFlashU4*)(s + r * (D + 8) + col) = v;
    }
}

#if !defined(SOLDER_FLASH_HOST_MODEL)
// cp.async is sm_80+. Below that the flash kernels are never selected (CudaFlashAttention needs
// 8.0), but NVRTC compiles every kernel file as one unit for a 7.5 GPU, where one ptxas error
// would take every kernel down: so there these trap, as the mma.sync helpers above do. The
// "memory" clobbers keep the compiler from moving shared-memory accesses across the copies
// (today a __syncthreads follows every wait anyway).
__device__ __forceinline__ void solder_flash_cp_async16(unsigned short* dst, const unsigned short* src, int bytes) {
#if defined(__CUDA_ARCH__) && __CUDA_ARCH__ < 800
    __trap();
#else
    asm volatile("cp.async.cg.shared.global [%0], [%1], 16, %2;\n"
                 :
                 : "r"(solder_flash_smem_addr(dst)), "l"(src), "r"(bytes)
                 : "memory");
#endif
}

__device__ __forceinline__ void solder_flash_cp_commit() {
#if defined(__CUDA_ARCH__) && __CUDA_ARCH__ < 800
    __trap();
#else
    asm volatile("cp.async.commit_group;\n" ::: "memory");
#endif
}

// Waits until at most N of this thread's committed copy groups are still in flight.
template <int N>
__device__ __forceinline__ void solder_flash_cp_wait() {
#if defined(__CUDA_ARCH__) && __CUDA_ARCH__ < 800
    __trap();
#else
    asm volatile("cp.async.wait_group %0;\n" ::"n"(N) : "memory");
#endif
}
#endif

// The same tile as solder_flash_load_tile, copied with cp.async (global → shared without
// registers, 16 bytes a copy; rows past S are zero-filled by the copy's source size 0). The
// copies land only after solder_flash_cp_wait: a block issues the next tile's copies, works on
// the current tile, and waits only before it needs the next one.
template <int D>
__device__ __forceinline__ void solder_flash_cp_tile(unsigned short* s, const unsigned short* g,
                                                     long long rowStride, int row0, int rows, int S) {
    const int chunks = D / 8;
    for (int c = threadIdx.x; c < rows * chunks; c += blockDim.x) {
        int r = c / chunks;
        int col = (c - r * chunks) * 8;
        bool in = row0 + r < S;
        const unsigned short* src = in ? g + (long long)(row0 + r) * rowStride + col : g;
        SOLDER_FLASH_CP_ASYNC16(s + r * (D + 8) + col, src, in ? 16 : 0);
    }
}

// keyOk[j] = (keyMask[b, j] != 0) for j < S (all 1 without a mask); returns the score a masked key
// gets: −FLT_MAX, or 0 when every key of batch entry b is masked (see the top of the file).
// Synchronizes the block (every thread must call it).
__device__ __forceinline__ float solder_flash_key_mask(const void* keyMask, int mdt, long long b, int S,
                                                       unsigned char* keyOk) {
    int any = 0;
    for (int j = threadIdx.x; j < S; j += blockDim.x) {
        bool ok = keyMask == 0 || !solder_is_zero(keyMask, mdt, b * S + j);
        keyOk[j] = ok ? 1 : 0;
        any |= ok ? 1 : 0;
    }
    any = __syncthreads_or(any);
    return any ? -SOLDER_FLT_MAX : 0.0f;
}

// The score of key j from the accumulator: −inf past S (drops out of max and sum), the masked
// score for a masked key, else scale·q·k.
__device__ __forceinline__ float solder_flash_score(float acc, float scale, int j, int S, const unsigned char* keyOk,
                                                    float maskedScore) {
    if (j >= S) {
        return -__int_as_float(0x7f800000);
    }
    return keyOk[j] ? acc * scale : maskedScore;
}

// Sum / max over the 4 lanes of a quad (the lanes holding one accumulator row).
__device__ __forceinline__ float solder_flash_quad_max(float v) {
    v = fmaxf(v, __shfl_xor_sync(0xffffffffu, v, 1));
    return fmaxf(v, __shfl_xor_sync(0xffffffffu, v, 2));
}

__device__ __forceinline__ float solder_flash_quad_sum(float v) {
    v += __shfl_xor_sync(0xffffffffu, v, 1);
    return v + __shfl_xor_sync(0xffffffffu, v, 2);
}

// Dropout keep bits of the 32 (or 16) accumulator elements a lane holds for one tile of `tiles`
// 8-column C fragments: bit 4n + c is element c of fragment n, i.e. row A (c < 2) or row B (c ≥ 2),
// column col0 + 8n + 2t + (c & 1); its Philox index is rowBase + column·colMul. Drawn in a rolled
// loop (one Philox body in the code instead of one per unrolled element: the kernels stay small);
// the unrolled element loops then test constant bits.
__device__ __forceinline__ unsigned int solder_flash_keep_bits(int tiles, unsigned long long sd, float p,
                                                               unsigned long long rowBaseA,
                                                               unsigned long long rowBaseB, long long col0,
                                                               unsigned long long colMul) {
    int t = threadIdx.x & 3;
    unsigned int bits = 0u;
#pragma unroll 1
    for (int x = 0; x < 4 * tiles; x++) {
        int n = x >> 2;
        int c = x & 3;
        unsigned long long col = (unsigned long long)(col0 + n * 8 + 2 * t + (c & 1));
        unsigned long long index = (c < 2 ? rowBaseA : rowBaseB) + col * colMul;
        if (solder_dropout_keep(sd, index, p)) {
            bits |= 1u << x;
        }
    }
    return bits;
}

// ====================================================================== forward

template <int DT, int D>
__device__ __forceinline__ void solder_flash_forward(const void* qp, const void* kp, const void* vp,
                                                     const void* keyMask, int mdt, void* outp, float* lse, int H,
                                                     int S, float scale, float dropoutP, long long seed) {
    const int BQ = 64;   // queries per CTA: 4 warps × 16
    const int BK = 64;   // keys per tile
    const int LD = D + 8;
    const int KS = D / 16;  // k steps of Q·Kᵀ
    const int NT = BK / 8;  // 8-key column tiles of S
    const int DN = D / 8;   // 8-column tiles of O
    SolderFlashForwardSmem<D>& sm = solder_flash_forward_smem<D>();
    const int STAGES = SolderFlashForwardSmem<D>::STAGES;
    unsigned char* keyOk = sm.keyOk;

    int lane = threadIdx.x & 31;
    int warp = threadIdx.x >> 5;
    int g = lane >> 2;
    int t = lane & 3;
    long long bh = blockIdx.x;
    long long b = bh / H;
    long long h = bh - b * H;
    int q0 = blockIdx.y * BQ;
    long long rowStride = (long long)H * D;
    long long base = b * S * rowStride + h * D;
    const unsigned short* Q = (const unsigned short*)qp + base;
    const unsigned short* K = (const unsigned short*)kp + base;
    const unsigned short* V = (const unsigned short*)vp + base;

    float maskedScore = solder_flash_key_mask(keyMask, mdt, b, S, keyOk);

    // this warp's 16 query rows as A fragments, staged through the first K buffer
    solder_flash_load_tile<D>(sm.k[0], Q, rowStride, q0, BQ, S);
    __syncthreads();
    unsigned int qf[KS][4];
#pragma unroll
    for (int kk = 0; kk < KS; kk++) {
        solder_flash_load_a(qf[kk], sm.k[0], LD, warp * 16, kk * 16);
    }
    __syncthreads();  // every warp has its Q fragments before the first K tile lands there
    solder_flash_cp_tile<D>(sm.k[0], K, rowStride, 0, BK, S);
    solder_flash_cp_tile<D>(sm.v[0], V, rowStride, 0, BK, S);
    solder_flash_cp_commit();

    float o[DN][4];
#pragma unroll
    for (int dn = 0; dn < DN; dn++) {
        o[dn][0] = o[dn][1] = o[dn][2] = o[dn][3] = 0.0f;
    }
    float m0 = -SOLDER_FLT_MAX;  // rows g and g + 8 of the warp's 16
    float m1 = -SOLDER_FLT_MAX;
    float l0 = 0.0f;  // this lane's part of the row sums (quad-summed at the end)
    float l1 = 0.0f;
    int i0 = q0 + warp * 16 + g;
    int i1 = i0 + 8;
    bool drop = dropoutP > 0.0f;
    float keepScale = 1.0f / (1.0f - dropoutP);
    unsigned long long sd = (unsigned long long)seed;
    unsigned long long row0 = ((unsigned long long)bh * S + i0) * (unsigned long long)S;
    unsigned long long row1 = ((unsigned long long)bh * S + i1) * (unsigned long long)S;

    for (int k0 = 0; k0 < S; k0 += BK) {
        const int buf = STAGES == 2 ? (k0 / BK) & 1 : 0;
        if (STAGES == 2 && k0 + BK < S) {
            // the next tile into the other stage (its last reader finished at the previous
            // iteration's closing barrier), then wait for this tile's copies only
            solder_flash_cp_tile<D>(sm.k[buf ^ 1], K, rowStride, k0 + BK, BK, S);
            solder_flash_cp_tile<D>(sm.v[buf ^ 1], V, rowStride, k0 + BK, BK, S);
            solder_flash_cp_commit();
            solder_flash_cp_wait<1>();
        } else {
            solder_flash_cp_wait<0>();
        }
        __syncthreads();  // this tile, copied by every thread, is visible to every warp
        const unsigned short* ks = sm.k[buf];
        const unsigned short* vs = sm.v[buf];

        float s[NT][4];
#pragma unroll
        for (int nt = 0; nt < NT; nt++) {
            s[nt][0] = s[nt][1] = s[nt][2] = s[nt][3] = 0.0f;
#pragma unroll
            for (int kk = 0; kk < KS; kk++) {
                unsigned int bf[2];
                solder_flash_load_b_nk(bf, ks, LD, nt * 8, kk * 16);
                solder_flash_mma<DT>(s[nt], qf[kk], bf);
            }
        }
        float mx0 = m0;
        float mx1 = m1;
#pragma unroll
        for (int nt = 0; nt < NT; nt++) {
#pragma unroll
            for (int e = 0; e < 2; e++) {
                int j = k0 + nt * 8 + 2 * t + e;
                s[nt][e] = solder_flash_score(s[nt][e], scale, j, S, keyOk, maskedScore);
                s[nt][2 + e] = solder_flash_score(s[nt][2 + e], scale, j, S, keyOk, maskedScore);
                mx0 = fmaxf(mx0, s[nt][e]);
                mx1 = fmaxf(mx1, s[nt][2 + e]);
            }
        }
        mx0 = solder_flash_quad_max(mx0);
        mx1 = solder_flash_quad_max(mx1);
        // m only grows and starts at −FLT_MAX: both differences are finite or −inf-free
        float a0 = expf(m0 - mx0);
        float a1 = expf(m1 - mx1);
        m0 = mx0;
        m1 = mx1;
        l0 *= a0;
        l1 *= a1;
#pragma unroll
        for (int dn = 0; dn < DN; dn++) {
            o[dn][0] *= a0;
            o[dn][1] *= a0;
            o[dn][2] *= a1;
            o[dn][3] *= a1;
        }
        unsigned int keep = drop ? solder_flash_keep_bits(NT, sd, dropoutP, row0, row1, k0, 1ull) : 0u;
#pragma unroll
        for (int nt = 0; nt < NT; nt++) {
#pragma unroll
            for (int e = 0; e < 2; e++) {
                float p0 = expf(s[nt][e] - m0);
                float p1 = expf(s[nt][2 + e] - m1);
                l0 += p0;
                l1 += p1;
                if (drop) {
                    p0 = (keep >> (4 * nt + e)) & 1u ? p0 * keepScale : 0.0f;
                    p1 = (keep >> (4 * nt + 2 + e)) & 1u ? p1 * keepScale : 0.0f;
                }
                s[nt][e] = p0;
                s[nt][2 + e] = p1;
            }
        }
        // O += Pd·V: the P accumulators are the A operand (keys as k)
#pragma unroll
        for (int kk = 0; kk < BK / 16; kk++) {
            unsigned int pa[4];
            solder_flash_c_to_a<DT>(pa, s[2 * kk], s[2 * kk + 1]);
#pragma unroll
            for (int dn = 0; dn < DN; dn++) {
                unsigned int bf[2];
                solder_flash_load_b_kn(bf, vs, LD, kk * 16, dn * 8);
                solder_flash_mma<DT>(o[dn], pa, bf);
            }
        }
        __syncthreads();  // every warp is done with this stage before it is refilled
        if (STAGES == 1 && k0 + BK < S) {
            solder_flash_cp_tile<D>(sm.k[0], K, rowStride, k0 + BK, BK, S);
            solder_flash_cp_tile<D>(sm.v[0], V, rowStride, k0 + BK, BK, S);
            solder_flash_cp_commit();
        }
    }

    l0 = solder_flash_quad_sum(l0);
    l1 = solder_flash_quad_sum(l1);
    float inv0 = 1.0f / l0;  // l ≥ 1: the row's max contributes exp(0)
    float inv1 = 1.0f / l1;
    unsigned short* O = (unsigned short*)outp + base;
#pragma unroll
    for (int dn = 0; dn < DN; dn++) {
        int col = dn * 8 + 2 * t;
        if (i0 < S) {
            *(unsigned int*)(O + (long long)i0 * rowStride + col) = solder_flash_pack<DT>(o[dn][0] * inv0, o[dn][1] * inv0);
        }
        if (i1 < S) {
            *(unsigned int*)(O + (long long)i1 * rowStride + col) = solder_flash_pack<DT>(o[dn][2] * inv1, o[dn][3] * inv1);
        }
    }
    if (t == 0) {
        if (i0 < S) {
            lse[bh * S + i0] = m0 + logf(l0);
        }
        if (i1 < S) {
            lse[bh * S + i1] = m1 + logf(l1);
        }
    }
}

// out, lse from q, k, v (all of dtype dt: SOLDER_BF16 or SOLDER_F16). keyMask [B, S] may be null.
// Launch: grid (B·H, ceil(S/64)), block 128, no dynamic shared memory; S ≤ 512.
extern "C" __global__ void __launch_bounds__(128) solder_flash_attention_forward_d32(
        const void* q, const void* k, const void* v, int dt, const void* keyMask, int mdt, void* out, float* lse,
        int H, int S, float scale, float dropoutP, long long seed) {
    if (dt == SOLDER_F16) {
        solder_flash_forward<SOLDER_F16, 32>(q, k, v, keyMask, mdt, out, lse, H, S, scale, dropoutP, seed);
    } else {
        solder_flash_forward<SOLDER_BF16, 32>(q, k, v, keyMask, mdt, out, lse, H, S, scale, dropoutP, seed);
    }
}

// As solder_flash_attention_forward_d32, D = 64.
extern "C" __global__ void __launch_bounds__(128) solder_flash_attention_forward_d64(
        const void* q, const void* k, const void* v, int dt, const void* keyMask, int mdt, void* out, float* lse,
        int H, int S, float scale, float dropoutP, long long seed) {
    if (dt == SOLDER_F16) {
        solder_flash_forward<SOLDER_F16, 64>(q, k, v, keyMask, mdt, out, lse, H, S, scale, dropoutP, seed);
    } else {
        solder_flash_forward<SOLDER_BF16, 64>(q, k, v, keyMask, mdt, out, lse, H, S, scale, dropoutP, seed);
    }
}

// As solder_flash_attention_forward_d32, D = 128.
extern "C" __global__ void __launch_bounds__(128) solder_flash_attention_forward_d128(
        const void* q, const void* k, const void* v, int dt, const void* keyMask, int mdt, void* out, float* lse,
        int H, int S, float scale, float dropoutP, long long seed) {
    if (dt == SOLDER_F16) {
        solder_flash_forward<SOLDER_F16, 128>(q, k, v, keyMask, mdt, out, lse, H, S, scale, dropoutP, seed);
    } else {
        solder_flash_forward<SOLDER_BF16, 128>(q, k, v, keyMask, mdt, out, lse, H, S, scale, dropoutP, seed);
    }
}

// ====================================================================== backward

// delta[(b·H + h)·S + i] = Σ_d dout[b, i, h·D + d]·out[b, i, h·D + d] (float32), for the
// rows = B·S·H rows of D elements in memory order (row r: h = r % H, i = (r / H) % S, b = r / (H·S)).
// dout is the dO the other backward kernels read (converted to the operands' dtype first).
// Launch: block 256 (8 rows), grid-stride over row groups.
extern "C" __global__ void solder_flash_attention_backward_dot(const void* dout, int dodt, const void* out, int odt,
                                                               float* delta, long long rows, int H, int S, int D) {
    int lane = threadIdx.x & 31;
    long long warpsPerBlock = blockDim.x >> 5;
    for (long long r = (long long)blockIdx.x * warpsPerBlock + (threadIdx.x >> 5); r < rows;
         r += (long long)gridDim.x * warpsPerBlock) {
        float acc = 0.0f;
        for (int d = lane; d < D; d += 32) {
            acc += solder_load(dout, dodt, r * D + d) * solder_load(out, odt, r * D + d);
        }
        acc = solder_warp_sum(acc);
        if (lane == 0) {
            long long h = r % H;
            long long bi = r / H;
            long long i = bi % S;
            long long b = bi / S;
            delta[(b * H + h) * S + i] = acc;
        }
    }
}

// P, Pd (dropped and scaled) and dS for one accumulator element: s is the raw accumulator of
// q_i·k_j, dp the one of dO_i·v_j, keep its dropout bit (ignored without dropout). Shared by the
// dK/dV and the dQ pass so both see the same bits. Rows/columns past S give P = 0, so dS = 0.
__device__ __forceinline__ void solder_flash_grad_element(float s, float dp, int i, int j, int S, float lse_i,
                                                          float delta_i, float scale, const unsigned char* keyOk,
                                                          float maskedScore, bool drop, bool keep, float keepScale,
                                                          float* pd, float* ds) {
    float p = 0.0f;
    if (i < S) {
        p = expf(solder_flash_score(s, scale, j, S, keyOk, maskedScore) - lse_i);  // 0 past S
    }
    float keepP = p;
    float g = dp;
    if (drop) {
        keepP = keep ? p * keepScale : 0.0f;
        g = keep ? dp * keepScale : 0.0f;
    }
    *pd = keepP;
    *ds = p * (g - delta_i);
}

template <int DT, int D, int WARPS, int BQ>
__device__ __forceinline__ void solder_flash_backward_dkdv(const void* qp, const void* kp, const void* vp,
                                                           const void* doutp, const void* keyMask, int mdt,
                                                           const float* lse, const float* delta, void* dk, int dkdt,
                                                           void* dv, int dvdt, int H, int S, float scale,
                                                           float dropoutP, long long seed) {
    const int BKEYS = 16 * WARPS;
    const int LD = D + 8;
    const int KS = D / 16;   // k steps over the head dim (Sᵀ = K·Qᵀ, dPᵀ = V·dOᵀ)
    const int NQ = BQ / 8;   // 8-query column tiles of Sᵀ
    const int QS = BQ / 16;  // k steps over the queries (dV += Pdᵀ·dO, dK += dSᵀ·Q)
    const int DN = D / 8;
    SolderFlashDkdvSmem<D, BKEYS, BQ>& sm = solder_flash_dkdv_smem<D, BKEYS, BQ>();
    unsigned short* ks = sm.k;
    unsigned short* vs = sm.v;
    unsigned short* qs = sm.q;
    unsigned short* dos = sm.dout;
    float* lseS = sm.lse;
    float* deltaS = sm.delta;
    unsigned char* keyOk = sm.keyOk;

    int lane = threadIdx.x & 31;
    int warp = threadIdx.x >> 5;
    int g = lane >> 2;
    int t = lane & 3;
    long long bh = blockIdx.x;
    long long b = bh / H;
    long long h = bh - b * H;
    int j0 = blockIdx.y * BKEYS;
    long long rowStride = (long long)H * D;
    long long base = b * S * rowStride + h * D;
    const unsigned short* Q = (const unsigned short*)qp + base;
    const unsigned short* K = (const unsigned short*)kp + base;
    const unsigned short* V = (const unsigned short*)vp + base;
    const unsigned short* DO = (const unsigned short*)doutp + base;

    float maskedScore = solder_flash_key_mask(keyMask, mdt, b, S, keyOk);
    solder_flash_load_tile<D>(ks, K, rowStride, j0, BKEYS, S);
    solder_flash_load_tile<D>(vs, V, rowStride, j0, BKEYS, S);

    int jr0 = j0 + warp * 16 + g;  // this lane's key rows
    int jr1 = jr0 + 8;
    bool drop = dropoutP > 0.0f;
    float keepScale = 1.0f / (1.0f - dropoutP);
    unsigned long long sd = (unsigned long long)seed;
    unsigned long long bhS = (unsigned long long)bh * S;

    float dkAcc[DN][4];
    float dvAcc[DN][4];
#pragma unroll
    for (int dn = 0; dn < DN; dn++) {
        dkAcc[dn][0] = dkAcc[dn][1] = dkAcc[dn][2] = dkAcc[dn][3] = 0.0f;
        dvAcc[dn][0] = dvAcc[dn][1] = dvAcc[dn][2] = dvAcc[dn][3] = 0.0f;
    }

    for (int q0 = 0; q0 < S; q0 += BQ) {
        __syncthreads();  // the previous query tile is no longer read
        solder_flash_load_tile<D>(qs, Q, rowStride, q0, BQ, S);
        solder_flash_load_tile<D>(dos, DO, rowStride, q0, BQ, S);
        for (int c = threadIdx.x; c < BQ; c += blockDim.x) {
            bool in = q0 + c < S;
            lseS[c] = in ? lse[bhS + q0 + c] : 0.0f;
            deltaS[c] = in ? delta[bhS + q0 + c] : 0.0f;
        }
        __syncthreads();

        // Sᵀ = K·Qᵀ and dPᵀ = V·dOᵀ for the warp's 16 keys × BQ queries
        float st[NQ][4];
        float dpt[NQ][4];
#pragma unroll
        for (int nq = 0; nq < NQ; nq++) {
            st[nq][0] = st[nq][1] = st[nq][2] = st[nq][3] = 0.0f;
            dpt[nq][0] = dpt[nq][1] = dpt[nq][2] = dpt[nq][3] = 0.0f;
        }
#pragma unroll
        for (int kk = 0; kk < KS; kk++) {
            unsigned int ka[4];
            unsigned int va[4];
            solder_flash_load_a(ka, ks, LD, warp * 16, kk * 16);
            solder_flash_load_a(va, vs, LD, warp * 16, kk * 16);
#pragma unroll
            for (int nq = 0; nq < NQ; nq++) {
                unsigned int bf[2];
                solder_flash_load_b_nk(bf, qs, LD, nq * 8, kk * 16);
                solder_flash_mma<DT>(st[nq], ka, bf);
                solder_flash_load_b_nk(bf, dos, LD, nq * 8, kk * 16);
                solder_flash_mma<DT>(dpt[nq], va, bf);
            }
        }
        // Pdᵀ into st, dSᵀ into dpt (element (key row, query column)); dropout index (bh·S + i)·S + j
        unsigned int keep = drop ? solder_flash_keep_bits(NQ, sd, dropoutP, bhS * S + jr0, bhS * S + jr1, q0,
                                                          (unsigned long long)S)
                                 : 0u;
#pragma unroll
        for (int nq = 0; nq < NQ; nq++) {
#pragma unroll
            for (int e = 0; e < 2; e++) {
                int c = nq * 8 + 2 * t + e;
                int i = q0 + c;
                float li = lseS[c];
                float di = deltaS[c];
                solder_flash_grad_element(st[nq][e], dpt[nq][e], i, jr0, S, li, di, scale, keyOk, maskedScore, drop,
                                          (keep >> (4 * nq + e)) & 1u, keepScale, &st[nq][e], &dpt[nq][e]);
                solder_flash_grad_element(st[nq][2 + e], dpt[nq][2 + e], i, jr1, S, li, di, scale, keyOk, maskedScore,
                                          drop, (keep >> (4 * nq + 2 + e)) & 1u, keepScale, &st[nq][2 + e],
                                          &dpt[nq][2 + e]);
            }
        }
        // dV += Pdᵀ·dO, dK += dSᵀ·Q (queries as k)
#pragma unroll
        for (int qk = 0; qk < QS; qk++) {
            unsigned int pa[4];
            unsigned int sa[4];
            solder_flash_c_to_a<DT>(pa, st[2 * qk], st[2 * qk + 1]);
            solder_flash_c_to_a<DT>(sa, dpt[2 * qk], dpt[2 * qk + 1]);
#pragma unroll
            for (int dn = 0; dn < DN; dn++) {
                unsigned int bf[2];
                solder_flash_load_b_kn(bf, dos, LD, qk * 16, dn * 8);
                solder_flash_mma<DT>(dvAcc[dn], pa, bf);
                solder_flash_load_b_kn(bf, qs, LD, qk * 16, dn * 8);
                solder_flash_mma<DT>(dkAcc[dn], sa, bf);
            }
        }
    }

#pragma unroll
    for (int dn = 0; dn < DN; dn++) {
        int col = dn * 8 + 2 * t;
#pragma unroll
        for (int e = 0; e < 2; e++) {
            if (jr0 < S) {
                long long at = base + (long long)jr0 * rowStride + col + e;
                if (dk != 0) {
                    solder_store(dk, dkdt, at, dkAcc[dn][e] * scale);
                }
                if (dv != 0) {
                    solder_store(dv, dvdt, at, dvAcc[dn][e]);
                }
            }
            if (jr1 < S) {
                long long at = base + (long long)jr1 * rowStride + col + e;
                if (dk != 0) {
                    solder_store(dk, dkdt, at, dkAcc[dn][2 + e] * scale);
                }
                if (dv != 0) {
                    solder_store(dv, dvdt, at, dvAcc[dn][2 + e]);
                }
            }
        }
    }
}

// dK, dV ([B, S, H·D], any float dtype dkdt/dvdt; either may be null) from q, k, v, dout (all
// dtype dt), the forward's lse and delta (solder_flash_attention_backward_dot).
// Launch: grid (B·H, ceil(S/64)), block 128 (4 warps × 16 keys).
extern "C" __global__ void __launch_bounds__(128) solder_flash_attention_backward_dkdv_d32(
        const void* q, const void* k, const void* v, const void* dout, int dt, const void* keyMask, int mdt,
        const float* lse, const float* delta, void* dk, int dkdt, void* dv, int dvdt, int H, int S, float scale,
        float dropoutP, long long seed) {
    if (dt == SOLDER_F16) {
        solder_flash_backward_dkdv<SOLDER_F16, 32, 4, 64>(q, k, v, dout, keyMask, mdt, lse, delta, dk, dkdt, dv, dvdt,
                                                          H, S, scale, dropoutP, seed);
    } else {
        solder_flash_backward_dkdv<SOLDER_BF16, 32, 4, 64>(q, k, v, dout, keyMask, mdt, lse, delta, dk, dkdt, dv, dvdt,
                                                           H, S, scale, dropoutP, seed);
    }
}

// As solder_flash_attention_backward_dkdv_d32, D = 64. Launch: grid (B·H, ceil(S/64)), block 128.
extern "C" __global__ void __launch_bounds__(128) solder_flash_attention_backward_dkdv_d64(
        const void* q, const void* k, const void* v, const void* dout, int dt, const void* keyMask, int mdt,
        const float* lse, const float* delta, void* dk, int dkdt, void* dv, int dvdt, int H, int S, float scale,
        float dropoutP, long long seed) {
    if (dt == SOLDER_F16) {
        solder_flash_backward_dkdv<SOLDER_F16, 64, 4, 64>(q, k, v, dout, keyMask, mdt, lse, delta, dk, dkdt, dv, dvdt,
                                                          H, S, scale, dropoutP, seed);
    } else {
        solder_flash_backward_dkdv<SOLDER_BF16, 64, 4, 64>(q, k, v, dout, keyMask, mdt, lse, delta, dk, dkdt, dv, dvdt,
                                                           H, S, scale, dropoutP, seed);
    }
}

// As solder_flash_attention_backward_dkdv_d32, D = 128, with 32-key CTAs and 32-query tiles.
// Launch: grid (B·H, ceil(S/32)), block 64 (2 warps × 16 keys).
extern "C" __global__ void __launch_bounds__(64) solder_flash_attention_backward_dkdv_d128(
        const void* q, const void* k, const void* v, const void* dout, int dt, const void* keyMask, int mdt,
        const float* lse, const float* delta, void* dk, int dkdt, void* dv, int dvdt, int H, int S, float scale,
        float dropoutP, long long seed) {
    if (dt == SOLDER_F16) {
        solder_flash_backward_dkdv<SOLDER_F16, 128, 2, 32>(q, k, v, dout, keyMask, mdt, lse, delta, dk, dkdt, dv,
                                                           dvdt, H, S, scale, dropoutP, seed);
    } else {
        solder_flash_backward_dkdv<SOLDER_BF16, 128, 2, 32>(q, k, v, dout, keyMask, mdt, lse, delta, dk, dkdt, dv,
                                                            dvdt, H, S, scale, dropoutP, seed);
    }
}

template <int DT, int D, int BK>
__device__ __forceinline__ void solder_flash_backward_dq(const void* qp, const void* kp, const void* vp,
                                                         const void* doutp, const void* keyMask, int mdt,
                                                         const float* lse, const float* delta, void* dq, int dqdt,
                                                         int H, int S, float scale, float dropoutP, long long seed) {
    const int BQ = 64;  // 4 warps × 16 query rows
    const int LD = D + 8;
    const int KS = D / 16;  // k steps over the head dim
    const int NK = BK / 8;  // 8-key column tiles of S
    const int DN = D / 8;
    // K tile in rows [0, BK), V tile in [BK, 2·BK); Q and dO are staged in rows [0, 64) first
    SolderFlashDqSmem<D, BK>& sm = solder_flash_dq_smem<D, BK>();
    unsigned short* kvs = sm.kv;
    unsigned char* keyOk = sm.keyOk;
    unsigned short* ks = kvs;
    unsigned short* vs = kvs + BK * LD;

    int lane = threadIdx.x & 31;
    int warp = threadIdx.x >> 5;
    int g = lane >> 2;
    int t = lane & 3;
    long long bh = blockIdx.x;
    long long b = bh / H;
    long long h = bh - b * H;
    int q0 = blockIdx.y * BQ;
    long long rowStride = (long long)H * D;
    long long base = b * S * rowStride + h * D;
    const unsigned short* Q = (const unsigned short*)qp + base;
    const unsigned short* K = (const unsigned short*)kp + base;
    const unsigned short* V = (const unsigned short*)vp + base;
    const unsigned short* DO = (const unsigned short*)doutp + base;

    float maskedScore = solder_flash_key_mask(keyMask, mdt, b, S, keyOk);
    unsigned int qf[KS][4];
    unsigned int dof[KS][4];
    solder_flash_load_tile<D>(kvs, Q, rowStride, q0, BQ, S);
    __syncthreads();
#pragma unroll
    for (int kk = 0; kk < KS; kk++) {
        solder_flash_load_a(qf[kk], kvs, LD, warp * 16, kk * 16);
    }
    __syncthreads();
    solder_flash_load_tile<D>(kvs, DO, rowStride, q0, BQ, S);
    __syncthreads();
#pragma unroll
    for (int kk = 0; kk < KS; kk++) {
        solder_flash_load_a(dof[kk], kvs, LD, warp * 16, kk * 16);
    }

    int i0 = q0 + warp * 16 + g;
    int i1 = i0 + 8;
    unsigned long long bhS = (unsigned long long)bh * S;
    float lse0 = i0 < S ? lse[bhS + i0] : 0.0f;
    float lse1 = i1 < S ? lse[bhS + i1] : 0.0f;
    float delta0 = i0 < S ? delta[bhS + i0] : 0.0f;
    float delta1 = i1 < S ? delta[bhS + i1] : 0.0f;
    bool drop = dropoutP > 0.0f;
    float keepScale = 1.0f / (1.0f - dropoutP);
    unsigned long long sd = (unsigned long long)seed;

    float dqAcc[DN][4];
#pragma unroll
    for (int dn = 0; dn < DN; dn++) {
        dqAcc[dn][0] = dqAcc[dn][1] = dqAcc[dn][2] = dqAcc[dn][3] = 0.0f;
    }

    for (int k0 = 0; k0 < S; k0 += BK) {
        __syncthreads();  // the previous tile (or the dO staging) is no longer read
        solder_flash_load_tile<D>(ks, K, rowStride, k0, BK, S);
        solder_flash_load_tile<D>(vs, V, rowStride, k0, BK, S);
        __syncthreads();

        float s[NK][4];
        float dp[NK][4];
#pragma unroll
        for (int nk = 0; nk < NK; nk++) {
            s[nk][0] = s[nk][1] = s[nk][2] = s[nk][3] = 0.0f;
            dp[nk][0] = dp[nk][1] = dp[nk][2] = dp[nk][3] = 0.0f;
#pragma unroll
            for (int kk = 0; kk < KS; kk++) {
                unsigned int bf[2];
                solder_flash_load_b_nk(bf, ks, LD, nk * 8, kk * 16);
                solder_flash_mma<DT>(s[nk], qf[kk], bf);
                solder_flash_load_b_nk(bf, vs, LD, nk * 8, kk * 16);
                solder_flash_mma<DT>(dp[nk], dof[kk], bf);
            }
        }
        // dS into dp (the Pd values are not needed here)
        unsigned int keep = drop ? solder_flash_keep_bits(NK, sd, dropoutP, (bhS + i0) * S, (bhS + i1) * S, k0, 1ull)
                                 : 0u;
#pragma unroll
        for (int nk = 0; nk < NK; nk++) {
#pragma unroll
            for (int e = 0; e < 2; e++) {
                int j = k0 + nk * 8 + 2 * t + e;
                float unused;
                solder_flash_grad_element(s[nk][e], dp[nk][e], i0, j, S, lse0, delta0, scale, keyOk, maskedScore, drop,
                                          (keep >> (4 * nk + e)) & 1u, keepScale, &unused, &dp[nk][e]);
                solder_flash_grad_element(s[nk][2 + e], dp[nk][2 + e], i1, j, S, lse1, delta1, scale, keyOk,
                                          maskedScore, drop, (keep >> (4 * nk + 2 + e)) & 1u, keepScale, &unused,
                                          &dp[nk][2 + e]);
            }
        }
        // dQ += dS·K (keys as k)
#pragma unroll
        for (int kk = 0; kk < BK / 16; kk++) {
            unsigned int sa[4];
            solder_flash_c_to_a<DT>(sa, dp[2 * kk], dp[2 * kk + 1]);
#pragma unroll
            for (int dn = 0; dn < DN; dn++) {
                unsigned int bf[2];
                solder_flash_load_b_kn(bf, ks, LD, kk * 16, dn * 8);
                solder_flash_mma<DT>(dqAcc[dn], sa, bf);
            }
        }
    }

#pragma unroll
    for (int dn = 0; dn < DN; dn++) {
        int col = dn * 8 + 2 * t;
#pragma unroll
        for (int e = 0; e < 2; e++) {
            if (i0 < S) {
                solder_store(dq, dqdt, base + (long long)i0 * rowStride + col + e, dqAcc[dn][e] * scale);
            }
            if (i1 < S) {
                solder_store(dq, dqdt, base + (long long)i1 * rowStride + col + e, dqAcc[dn][2 + e] * scale);
            }
        }
    }
}

// dQ ([B, S, H·D], any float dtype dqdt) from q, k, v, dout (all dtype dt), lse and delta.
// Launch: grid (B·H, ceil(S/64)), block 128 (4 warps × 16 queries).
extern "C" __global__ void __launch_bounds__(128) solder_flash_attention_backward_dq_d32(
        const void* q, const void* k, const void* v, const void* dout, int dt, const void* keyMask, int mdt,
        const float* lse, const float* delta, void* dq, int dqdt, int H, int S, float scale, float dropoutP,
        long long seed) {
    if (dt == SOLDER_F16) {
        solder_flash_backward_dq<SOLDER_F16, 32, 64>(q, k, v, dout, keyMask, mdt, lse, delta, dq, dqdt, H, S, scale,
                                                     dropoutP, seed);
    } else {
        solder_flash_backward_dq<SOLDER_BF16, 32, 64>(q, k, v, dout, keyMask, mdt, lse, delta, dq, dqdt, H, S, scale,
                                                      dropoutP, seed);
    }
}

// As solder_flash_attention_backward_dq_d32, D = 64. Launch: grid (B·H, ceil(S/64)), block 128.
extern "C" __global__ void __launch_bounds__(128) solder_flash_attention_backward_dq_d64(
        const void* q, const void* k, const void* v, const void* dout, int dt, const void* keyMask, int mdt,
        const float* lse, const float* delta, void* dq, int dqdt, int H, int S, float scale, float dropoutP,
        long long seed) {
    if (dt == SOLDER_F16) {
        solder_flash_backward_dq<SOLDER_F16, 64, 64>(q, k, v, dout, keyMask, mdt, lse, delta, dq, dqdt, H, S, scale,
                                                     dropoutP, seed);
    } else {
        solder_flash_backward_dq<SOLDER_BF16, 64, 64>(q, k, v, dout, keyMask, mdt, lse, delta, dq, dqdt, H, S, scale,
                                                      dropoutP, seed);
    }
}

// As solder_flash_attention_backward_dq_d32, D = 128, with 32-key tiles.
// Launch: grid (B·H, ceil(S/64)), block 128.
extern "C" __global__ void __launch_bounds__(128) solder_flash_attention_backward_dq_d128(
        const void* q, const void* k, const void* v, const void* dout, int dt, const void* keyMask, int mdt,
        const float* lse, const float* delta, void* dq, int dqdt, int H, int S, float scale, float dropoutP,
        long long seed) {
    if (dt == SOLDER_F16) {
        solder_flash_backward_dq<SOLDER_F16, 128, 32>(q, k, v, dout, keyMask, mdt, lse, delta, dq, dqdt, H, S, scale,
                                                      dropoutP, seed);
    } else {
        solder_flash_backward_dq<SOLDER_BF16, 128, 32>(q, k, v, dout, keyMask, mdt, lse, delta, dq, dqdt, H, S, scale,
                                                       dropoutP, seed);
    }
}

// ====================================================================== float32 (SIMT)
//
// The same op, forward and backward, for float32 q, k, v at head dims 32, 64 and 128 — no
// tensor cores (their float32 form, TF32, keeps 10 mantissa bits, which is not float32
// attention), but the same flash structure: K/V (or Q/dO) tiles in shared memory, the online
// softmax, no S×S matrix in device memory, lse saved, the Philox dropout mask regenerated in the
// backward, and the masks of the bf16 kernels (solder_flash_key_mask, solder_flash_score and
// solder_flash_grad_element are shared). Every CTA owns 64 rows, as the bf16 kernels' do.
//
// T adjacent threads own one row (a query in the forward and the dQ pass, a key in the dK/dV
// pass): thread t < T of the group holds dims e·T + t, e < D/T, of the row's vectors in
// registers, and a dot product is the group's partial sums added with log2(T) shuffles. D/T = 16
// or 32 floats of each of two to four vectors fit in registers: T = 2 at D = 32 and 64 (128
// threads), T = 4 at D = 128 (256 threads). With dims interleaved within a group, its threads
// read adjacent words of a shared row, different banks, while the other groups of the warp read
// the same words (a broadcast): tiles need no padding. Tiles hold TR rows: 64, or 32 at D = 128
// (two 32 KiB float tiles would not fit in 48 KiB of static shared memory). Per key (forward,
// dQ) or query (dK/dV) the softmax is updated one element at a time — the running max m rises
// rarely, and a rise rescales o and l by exp(m_old − m_new) — which keeps the loops rolled and
// their Philox draws one copy in the code.

template <int D, int TR>
struct SolderFlashF32Smem {
    float a[TR * D];  // forward / dQ: K; dK/dV: Q
    float b[TR * D];  // forward / dQ: V; dK/dV: dO
    float lse[TR];    // dK/dV: the query tile's lse and delta
    float delta[TR];
    unsigned char keyOk[SOLDER_FLASH_MAX_S];
};

template <int D, int TR>
__device__ __forceinline__ SolderFlashF32Smem<D, TR>& solder_flash_f32_smem() {
    __shared__ __align__(16) SolderFlashF32Smem<D, TR> sm;
    return sm;
}

// TR rows × D floats from global (row r at g + r·rowStride, rows from row0) into s[TR][D], 16
// bytes at a time; rows at or past S are zero. Every thread of the block calls it.
template <int D, int TR>
__device__ __forceinline__ void solder_flash_f32_load_tile(float* s, const float* g, long long rowStride, int row0,
                                                           int S) {
    const int chunks = D / 4;
    for (int c = threadIdx.x; c < TR * chunks; c += blockDim.x) {
        int r = c / chunks;
        int col = (c - r * chunks) * 4;
        SolderFlashU4 v = {0u, 0u, 0u, 0u};
        if (row0 + r < S) {
            v = *(const SolderFlashU4*)(g + (long long)(row0 + r) * rowStride + col);
        }
        *(SolderFlashU4*)(s + r * D + col) = v;
    }
}

// Σ over the group's dims of x·row, x the thread's D/T registers, row a shared [D] row.
template <int D, int T>
__device__ __forceinline__ float solder_flash_f32_dot(const float* x, const float* row, int t) {
    float acc = 0.0f;
#pragma unroll
    for (int e = 0; e < D / T; e++) {
        acc += x[e] * row[e * T + t];
    }
#pragma unroll
    for (int off = 1; off < T; off <<= 1) {
        acc += __shfl_xor_sync(0xffffffffu, acc, off);
    }
    return acc;
}

// Row i of a [S, H·D] head into the thread's D/T registers (zeros past S).
template <int D, int T>
__device__ __forceinline__ void solder_flash_f32_load_row(float* x, const float* g, long long rowStride, int i, int S,
                                                          int t) {
#pragma unroll
    for (int e = 0; e < D / T; e++) {
        x[e] = i < S ? g[(long long)i * rowStride + e * T + t] : 0.0f;
    }
}

// Where a thread of the float32 kernels works: t, its place in its group of T; row, the group's
// row (a query, or a key in dK/dV) of head bh; the head's element offset and row stride in the
// [B, S, H·D] tensors; the score a masked key gets. Fills keyOk (every thread must call it).
struct SolderFlashF32Place {
    int t;
    int row;
    long long bh;
    long long rowStride;
    long long base;
    float maskedScore;
};

template <int D, int T>
__device__ __forceinline__ SolderFlashF32Place solder_flash_f32_place(const void* keyMask, int mdt, int H, int S,
                                                                      unsigned char* keyOk) {
    SolderFlashF32Place w;
    w.t = threadIdx.x % T;
    w.row = blockIdx.y * 64 + threadIdx.x / T;
    w.bh = blockIdx.x;
    long long b = w.bh / H;
    long long h = w.bh - b * H;
    w.rowStride = (long long)H * D;
    w.base = b * S * w.rowStride + h * D;
    w.maskedScore = solder_flash_key_mask(keyMask, mdt, b, S, keyOk);
    return w;
}

template <int D, int T, int TR>
__device__ __forceinline__ void solder_flash_forward_f32(const float* qp, const float* kp, const float* vp,
                                                         const void* keyMask, int mdt, float* outp, float* lse, int H,
                                                         int S, float scale, float dropoutP, long long seed) {
    const int E = D / T;
    SolderFlashF32Smem<D, TR>& sm = solder_flash_f32_smem<D, TR>();
    const SolderFlashF32Place w = solder_flash_f32_place<D, T>(keyMask, mdt, H, S, sm.keyOk);
    const int t = w.t;
    const int i = w.row;
    const long long bh = w.bh;
    const long long rowStride = w.rowStride;
    const long long base = w.base;
    const float maskedScore = w.maskedScore;

    float q[E];
    float o[E];
    solder_flash_f32_load_row<D, T>(q, qp + base, rowStride, i, S, t);
#pragma unroll
    for (int e = 0; e < E; e++) {
        o[e] = 0.0f;
    }
    float m = -SOLDER_FLT_MAX;
    float l = 0.0f;
    bool drop = dropoutP > 0.0f;
    float keepScale = 1.0f / (1.0f - dropoutP);
    unsigned long long row = ((unsigned long long)bh * S + i) * (unsigned long long)S;

    for (int k0 = 0; k0 < S; k0 += TR) {
        __syncthreads();  // the previous tile is no longer read
        solder_flash_f32_load_tile<D, TR>(sm.a, kp + base, rowStride, k0, S);
        solder_flash_f32_load_tile<D, TR>(sm.b, vp + base, rowStride, k0, S);
        __syncthreads();
        int n = S - k0 < TR ? S - k0 : TR;
#pragma unroll 1
        for (int jj = 0; jj < n; jj++) {
            float s = solder_flash_score(solder_flash_f32_dot<D, T>(q, sm.a + jj * D, t), scale, k0 + jj, S,
                                         sm.keyOk, maskedScore);
            if (s > m) {  // m starts at −FLT_MAX, so exp(m − s) is 0 after masked keys only: they drop out
                float a = expf(m - s);
                l *= a;
#pragma unroll
                for (int e = 0; e < E; e++) {
                    o[e] *= a;
                }
                m = s;
            }
            float p = expf(s - m);
            l += p;  // the denominator sums P before dropout
            if (drop) {
                p = solder_dropout_keep((unsigned long long)seed, row + k0 + jj, dropoutP) ? p * keepScale : 0.0f;
            }
            const float* vr = sm.b + jj * D;
#pragma unroll
            for (int e = 0; e < E; e++) {
                o[e] += p * vr[e * T + t];
            }
        }
    }
    if (i < S) {
        float inv = 1.0f / l;  // l ≥ 1: the row's max contributes exp(0)
        float* O = outp + base + (long long)i * rowStride;
#pragma unroll
        for (int e = 0; e < E; e++) {
            O[e * T + t] = o[e] * inv;
        }
        if (t == 0) {
            lse[bh * S + i] = m + logf(l);
        }
    }
}

// dK, dV of the block's 64 keys: a group of T threads per key, looping over TR-query tiles of Q and dO.
template <int D, int T, int TR>
__device__ __forceinline__ void solder_flash_backward_dkdv_f32(const float* qp, const float* kp, const float* vp,
                                                               const float* doutp, const void* keyMask, int mdt,
                                                               const float* lse, const float* delta, void* dk,
                                                               int dkdt, void* dv, int dvdt, int H, int S, float scale,
                                                               float dropoutP, long long seed) {
    const int E = D / T;
    SolderFlashF32Smem<D, TR>& sm = solder_flash_f32_smem<D, TR>();
    const SolderFlashF32Place w = solder_flash_f32_place<D, T>(keyMask, mdt, H, S, sm.keyOk);
    const int t = w.t;
    const int j = w.row;
    const long long bh = w.bh;
    const long long rowStride = w.rowStride;
    const long long base = w.base;
    const float maskedScore = w.maskedScore;

    float k[E];
    float v[E];
    float dkAcc[E];
    float dvAcc[E];
    solder_flash_f32_load_row<D, T>(k, kp + base, rowStride, j, S, t);
    solder_flash_f32_load_row<D, T>(v, vp + base, rowStride, j, S, t);
#pragma unroll
    for (int e = 0; e < E; e++) {
        dkAcc[e] = 0.0f;
        dvAcc[e] = 0.0f;
    }
    bool drop = dropoutP > 0.0f;
    float keepScale = 1.0f / (1.0f - dropoutP);

    for (int q0 = 0; q0 < S; q0 += TR) {
        __syncthreads();
        solder_flash_f32_load_tile<D, TR>(sm.a, qp + base, rowStride, q0, S);
        solder_flash_f32_load_tile<D, TR>(sm.b, doutp + base, rowStride, q0, S);
        for (int r = threadIdx.x; r < TR; r += blockDim.x) {
            sm.lse[r] = q0 + r < S ? lse[bh * S + q0 + r] : 0.0f;
            sm.delta[r] = q0 + r < S ? delta[bh * S + q0 + r] : 0.0f;
        }
        __syncthreads();
        int n = S - q0 < TR ? S - q0 : TR;
#pragma unroll 1
        for (int ii = 0; ii < n; ii++) {
            int i = q0 + ii;
            const float* qr = sm.a + ii * D;
            const float* dor = sm.b + ii * D;
            float s = solder_flash_f32_dot<D, T>(k, qr, t);
            float dp = solder_flash_f32_dot<D, T>(v, dor, t);
            bool keep = drop && j < S &&
                        solder_dropout_keep((unsigned long long)seed,
                                            ((unsigned long long)bh * S + i) * (unsigned long long)S + j, dropoutP);
            float pd;
            float ds;
            solder_flash_grad_element(s, dp, i, j, S, sm.lse[ii], sm.delta[ii], scale, sm.keyOk, maskedScore, drop,
                                      keep, keepScale, &pd, &ds);
#pragma unroll
            for (int e = 0; e < E; e++) {
                dvAcc[e] += pd * dor[e * T + t];
                dkAcc[e] += ds * qr[e * T + t];
            }
        }
    }
    if (j < S) {
        long long at = base + (long long)j * rowStride + t;
#pragma unroll
        for (int e = 0; e < E; e++) {
            if (dk != 0) {
                solder_store(dk, dkdt, at + e * T, dkAcc[e] * scale);
            }
            if (dv != 0) {
                solder_store(dv, dvdt, at + e * T, dvAcc[e]);
            }
        }
    }
}

// dQ of the block's 64 queries: a group of T threads per query, looping over TR-key tiles of K and V.
template <int D, int T, int TR>
__device__ __forceinline__ void solder_flash_backward_dq_f32(const float* qp, const float* kp, const float* vp,
                                                             const float* doutp, const void* keyMask, int mdt,
                                                             const float* lse, const float* delta, void* dq, int dqdt,
                                                             int H, int S, float scale, float dropoutP,
                                                             long long seed) {
    const int E = D / T;
    SolderFlashF32Smem<D, TR>& sm = solder_flash_f32_smem<D, TR>();
    const SolderFlashF32Place w = solder_flash_f32_place<D, T>(keyMask, mdt, H, S, sm.keyOk);
    const int t = w.t;
    const int i = w.row;
    const long long bh = w.bh;
    const long long rowStride = w.rowStride;
    const long long base = w.base;
    const float maskedScore = w.maskedScore;

    float q[E];
    float dO[E];
    float dqAcc[E];
    solder_flash_f32_load_row<D, T>(q, qp + base, rowStride, i, S, t);
    solder_flash_f32_load_row<D, T>(dO, doutp + base, rowStride, i, S, t);
#pragma unroll
    for (int e = 0; e < E; e++) {
        dqAcc[e] = 0.0f;
    }
    float lseI = i < S ? lse[bh * S + i] : 0.0f;
    float deltaI = i < S ? delta[bh * S + i] : 0.0f;
    bool drop = dropoutP > 0.0f;
    float keepScale = 1.0f / (1.0f - dropoutP);
    unsigned long long row = ((unsigned long long)bh * S + i) * (unsigned long long)S;

    for (int k0 = 0; k0 < S; k0 += TR) {
        __syncthreads();
        solder_flash_f32_load_tile<D, TR>(sm.a, kp + base, rowStride, k0, S);
        solder_flash_f32_load_tile<D, TR>(sm.b, vp + base, rowStride, k0, S);
        __syncthreads();
        int n = S - k0 < TR ? S - k0 : TR;
#pragma unroll 1
        for (int jj = 0; jj < n; jj++) {
            const float* kr = sm.a + jj * D;
            float s = solder_flash_f32_dot<D, T>(q, kr, t);
            float dp = solder_flash_f32_dot<D, T>(dO, sm.b + jj * D, t);
            bool keep = drop && i < S && solder_dropout_keep((unsigned long long)seed, row + k0 + jj, dropoutP);
            float pd;
            float ds;
            solder_flash_grad_element(s, dp, i, k0 + jj, S, lseI, deltaI, scale, sm.keyOk, maskedScore, drop, keep,
                                      keepScale, &pd, &ds);
#pragma unroll
            for (int e = 0; e < E; e++) {
                dqAcc[e] += ds * kr[e * T + t];
            }
        }
    }
    if (i < S) {
        long long at = base + (long long)i * rowStride + t;
#pragma unroll
        for (int e = 0; e < E; e++) {
            solder_store(dq, dqdt, at + e * T, dqAcc[e] * scale);
        }
    }
}

// out, lse from float32 q, k, v; otherwise as solder_flash_attention_forward_d32.
// Launch: grid (B·H, ceil(S/64)), block 128 (64 query pairs), no dynamic shared memory; S ≤ 512.
extern "C" __global__ void __launch_bounds__(128) solder_flash_attention_f32_forward_d32(
        const float* q, const float* k, const float* v, const void* keyMask, int mdt, float* out, float* lse, int H,
        int S, float scale, float dropoutP, long long seed) {
    solder_flash_forward_f32<32, 2, 64>(q, k, v, keyMask, mdt, out, lse, H, S, scale, dropoutP, seed);
}

// As solder_flash_attention_f32_forward_d32, D = 64.
extern "C" __global__ void __launch_bounds__(128) solder_flash_attention_f32_forward_d64(
        const float* q, const float* k, const float* v, const void* keyMask, int mdt, float* out, float* lse, int H,
        int S, float scale, float dropoutP, long long seed) {
    solder_flash_forward_f32<64, 2, 64>(q, k, v, keyMask, mdt, out, lse, H, S, scale, dropoutP, seed);
}

// As solder_flash_attention_f32_forward_d32, D = 128: block 256 (64 queries × 4 threads), 32-key tiles.
extern "C" __global__ void __launch_bounds__(256) solder_flash_attention_f32_forward_d128(
        const float* q, const float* k, const float* v, const void* keyMask, int mdt, float* out, float* lse, int H,
        int S, float scale, float dropoutP, long long seed) {
    solder_flash_forward_f32<128, 4, 32>(q, k, v, keyMask, mdt, out, lse, H, S, scale, dropoutP, seed);
}

// dK, dV from float32 q, k, v, dout; otherwise as solder_flash_attention_backward_dkdv_d32.
// Launch: grid (B·H, ceil(S/64)), block 128 (64 key pairs).
extern "C" __global__ void __launch_bounds__(128) solder_flash_attention_f32_backward_dkdv_d32(
        const float* q, const float* k, const float* v, const float* dout, const void* keyMask, int mdt,
        const float* lse, const float* delta, void* dk, int dkdt, void* dv, int dvdt, int H, int S, float scale,
        float dropoutP, long long seed) {
    solder_flash_backward_dkdv_f32<32, 2, 64>(q, k, v, dout, keyMask, mdt, lse, delta, dk, dkdt, dv, dvdt, H, S,
                                              scale, dropoutP, seed);
}

// As solder_flash_attention_f32_backward_dkdv_d32, D = 64.
extern "C" __global__ void __launch_bounds__(128) solder_flash_attention_f32_backward_dkdv_d64(
        const float* q, const float* k, const float* v, const float* dout, const void* keyMask, int mdt,
        const float* lse, const float* delta, void* dk, int dkdt, void* dv, int dvdt, int H, int S, float scale,
        float dropoutP, long long seed) {
    solder_flash_backward_dkdv_f32<64, 2, 64>(q, k, v, dout, keyMask, mdt, lse, delta, dk, dkdt, dv, dvdt, H, S,
                                              scale, dropoutP, seed);
}

// As solder_flash_attention_f32_backward_dkdv_d32, D = 128: block 256 (64 keys × 4 threads), 32-query tiles.
extern "C" __global__ void __launch_bounds__(256) solder_flash_attention_f32_backward_dkdv_d128(
        const float* q, const float* k, const float* v, const float* dout, const void* keyMask, int mdt,
        const float* lse, const float* delta, void* dk, int dkdt, void* dv, int dvdt, int H, int S, float scale,
        float dropoutP, long long seed) {
    solder_flash_backward_dkdv_f32<128, 4, 32>(q, k, v, dout, keyMask, mdt, lse, delta, dk, dkdt, dv, dvdt, H, S,
                                               scale, dropoutP, seed);
}

// dQ from float32 q, k, v, dout; otherwise as solder_flash_attention_backward_dq_d32.
// Launch: grid (B·H, ceil(S/64)), block 128 (64 query pairs).
extern "C" __global__ void __launch_bounds__(128) solder_flash_attention_f32_backward_dq_d32(
        const float* q, const float* k, const float* v, const float* dout, const void* keyMask, int mdt,
        const float* lse, const float* delta, void* dq, int dqdt, int H, int S, float scale, float dropoutP,
        long long seed) {
    solder_flash_backward_dq_f32<32, 2, 64>(q, k, v, dout, keyMask, mdt, lse, delta, dq, dqdt, H, S, scale, dropoutP,
                                            seed);
}

// As solder_flash_attention_f32_backward_dq_d32, D = 64.
extern "C" __global__ void __launch_bounds__(128) solder_flash_attention_f32_backward_dq_d64(
        const float* q, const float* k, const float* v, const float* dout, const void* keyMask, int mdt,
        const float* lse, const float* delta, void* dq, int dqdt, int H, int S, float scale, float dropoutP,
        long long seed) {
    solder_flash_backward_dq_f32<64, 2, 64>(q, k, v, dout, keyMask, mdt, lse, delta, dq, dqdt, H, S, scale, dropoutP,
                                            seed);
}

// As solder_flash_attention_f32_backward_dq_d32, D = 128: block 256 (64 queries × 4 threads), 32-key tiles.
extern "C" __global__ void __launch_bounds__(256) solder_flash_attention_f32_backward_dq_d128(
        const float* q, const float* k, const float* v, const float* dout, const void* keyMask, int mdt,
        const float* lse, const float* delta, void* dq, int dqdt, int H, int S, float scale, float dropoutP,
        long long seed) {
    solder_flash_backward_dq_f32<128, 4, 32>(q, k, v, dout, keyMask, mdt, lse, delta, dq, dqdt, H, S, scale,
                                             dropoutP, seed);
}
