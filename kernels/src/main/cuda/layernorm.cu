// layernorm.cu — LayerNorm over the last dimension with a fused residual add, and its
// backward (input gradient per row; gamma/beta gradients as a deterministic two-stage
// column reduction).
//
// Forward and input-backward: one warp per row (BERT rows are 768 or 1024 wide: 24–32
// elements a lane), statistics in float32 with shuffle reductions; the variance is the
// two-pass Σ(h − mean)²/n (biased, as PyTorch), never E[h²] − mean², which cancels badly.
// The row is re-read from L1/L2 between passes rather than held in registers, so any width
// works with one kernel.
//
// Parameter gradients sum over all rows, which a per-row kernel cannot do without atomics;
// here each block reduces a chunk of rows for 32 columns into double partials, and
// solder_column_sum_finish (reduce.cu) adds the chunks in order — the same bits every run.

#include "solder_common.cuh"

// h = x + residual (residual may be null), rounded to h's dtype hdt as the stored h holds it,
// so the statistics are taken from the very values the backward will read (the CPU backend
// does the same).
__device__ __forceinline__ float solder_ln_input(const void* x, int xdt, const void* res, int rdt, int hdt,
                                                 long long i) {
    float v = solder_load(x, xdt, i);
    if (res != 0) {
        v = solder_round(hdt, v + solder_load(res, rdt, i));
    }
    return v;
}

// Per row r of [rows, cols]: h = x + residual; mean = Σh/cols; var = Σ(h − mean)²/cols;
// rstd = 1/sqrt(var + eps); out = (h − mean)·rstd·gamma + beta. Writes hOut (may be null:
// then it is not stored), out, and the float32 per-row mean and rstd for the backward. hdt is
// h's dtype (hOut's, or x's when hOut is null) and sets the rounding of x + residual.
// Launch: block 256 (8 warps = 8 rows), grid-stride over row groups.
extern "C" __global__ void solder_layernorm_forward(const void* x, int xdt, const void* res, int rdt,
                                                    const void* gamma, int gdt, const void* beta, int bdt,
                                                    float eps, void* out, int odt, void* hOut, int hdt,
                                                    float* mean, float* rstd, long long rows, int cols) {
    int lane = threadIdx.x & 31;
    long long warpsPerBlock = blockDim.x >> 5;
    for (long long r = (long long)blockIdx.x * warpsPerBlock + (threadIdx.x >> 5); r < rows;
         r += (long long)gridDim.x * warpsPerBlock) {
        long long base = r * cols;
        float s = 0.0f;
        for (int j = lane; j < cols; j += 32) {
            s += solder_ln_input(x, xdt, res, rdt, hdt, base + j);
        }
        float mu = solder_warp_sum(s) / (float)cols;
        float q = 0.0f;
        for (int j = lane; j < cols; j += 32) {
            float d = solder_ln_input(x, xdt, res, rdt, hdt, base + j) - mu;
            q += d * d;
        }
        float var = solder_warp_sum(q) / (float)cols;
        float rs = 1.0f / sqrtf(var + eps);
        for (int j = lane; j < cols; j += 32) {
            float h = solder_ln_input(x, xdt, res, rdt, hdt, base + j);
            if (hOut != 0) {
                solder_store(hOut, hdt, base + j, h);
            }
            float y = (h - mu) * rs * solder_load(gamma, gdt, j) + solder_load(beta, bdt, j);
            solder_store(out, odt, base + j, y);
        }
        if (lane == 0) {
            mean[r] = mu;
            rstd[r] = rs;
        }
    }
}

// Input gradient per row: with xhat = (h − mean)·rstd and g = dy·gamma,
// dh = rstd·(g − mean_j(g) − xhat·mean_j(g·xhat)). dh is also the residual's gradient.
// Launch: block 256 (8 rows), grid-stride over row groups.
extern "C" __global__ void solder_layernorm_backward_input(const void* dy, int dydt, const void* h, int hdt,
                                                           const void* gamma, int gdt, const float* mean,
                                                           const float* rstd, void* dh, int dhdt,
                                                           long long rows, int cols) {
    int lane = threadIdx.x & 31;
    long long warpsPerBlock = blockDim.x >> 5;
    for (long long r = (long long)blockIdx.x * warpsPerBlock + (threadIdx.x >> 5); r < rows;
         r += (long long)gridDim.x * warpsPerBlock) {
        long long base = r * cols;
        float mu = mean[r];
        float rs = rstd[r];
        float sg = 0.0f;
        float sgx = 0.0f;
        for (int j = lane; j < cols; j += 32) {
            float g = solder_load(dy, dydt, base + j) * solder_load(gamma, gdt, j);
            float xhat = (solder_load(h, hdt, base + j) - mu) * rs;
            sg += g;
            sgx += g * xhat;
        }
        float meanG = solder_warp_sum(sg) / (float)cols;
        float meanGX = solder_warp_sum(sgx) / (float)cols;
        for (int j = lane; j < cols; j += 32) {
            float g = solder_load(dy, dydt, base + j) * solder_load(gamma, gdt, j);
            float xhat = (solder_load(h, hdt, base + j) - mu) * rs;
            solder_store(dh, dhdt, base + j, rs * (g - meanG - xhat * meanGX));
        }
    }
}

// Stage 1 of dgamma[c] = Σ_r dy[r, c]·xhat[r, c] and dbeta[c] = Σ_r dy[r, c]: block (bx, by)
// owns columns bx·32 .. bx·32+31 and rows [by·rowsPerChunk, (by+1)·rowsPerChunk); thread
// (x, y) walks rows y, y+8, ...; the 8 slices are added in order and written to
// partGamma/partBeta[by·cols + c] (double). solder_column_sum_finish adds the chunks.
// Launch: block (32, 8), grid (ceil(cols/32), chunks).
extern "C" __global__ void solder_layernorm_backward_params_partial(const void* dy, int dydt, const void* h,
                                                                    int hdt, const float* mean,
                                                                    const float* rstd, long long rows,
                                                                    int cols, long long rowsPerChunk,
                                                                    double* partGamma, double* partBeta) {
    __shared__ double sliceG[8][32];
    __shared__ double sliceB[8][32];
    int c = blockIdx.x * 32 + threadIdx.x;
    long long r0 = (long long)blockIdx.y * rowsPerChunk;
    long long r1 = r0 + rowsPerChunk < rows ? r0 + rowsPerChunk : rows;
    double accG = 0.0;
    double accB = 0.0;
    if (c < cols) {
        for (long long r = r0 + threadIdx.y; r < r1; r += 8) {
            long long i = r * cols + c;
            float g = solder_load(dy, dydt, i);
            float xhat = (solder_load(h, hdt, i) - mean[r]) * rstd[r];
            accG += (double)(g * xhat);
            accB += (double)g;
        }
    }
    sliceG[threadIdx.y][threadIdx.x] = accG;
    sliceB[threadIdx.y][threadIdx.x] = accB;
    __syncthreads();
    if (threadIdx.y == 0 && c < cols) {
        long long o = (long long)blockIdx.y * cols + c;
        partGamma[o] = solder_slices_total(sliceG);
        partBeta[o] = solder_slices_total(sliceB);
    }
}

// ====================================================================== fused fast path
//
// solder_layernorm_fused_forward / solder_layernorm_fused_backward: the fused path's LayerNorm
// for the widths BERT uses (384, 768, 1024), with x, residual, out and h in one dtype (float32
// or bfloat16). The width is a template constant, so a warp holds its whole row in registers
// (≤ 32 floats a lane): the row is read from device memory ONCE, as 16-byte vectors (4 floats
// or 8 bf16 a load, coalesced across the warp), instead of three scalar passes. The Java side
// selects these kernels only when the width, dtypes and 16-byte alignment fit; everything else
// takes the generic kernels above (KernelPaths says which and why).
//
// The backward computes dh per row and, in the same pass, each block's partial dgamma/dbeta
// over its chunk of rows: every lane keeps its columns' sums in registers across the rows its
// warp visits, the block's 8 warps add into shared memory in warp order, and the block writes
// one double partial row; solder_column_sum_finish adds the chunks in order. Launch shapes
// depend on sizes only, so the result is the same bits on every run (no atomics).

// Stores n (a multiple of 4) float32 values at element offset e (16-byte aligned) of p.
template <int NV>
__device__ __forceinline__ void solder_vstore_f32(float* p, long long e, const float* v) {
#pragma unroll
    for (int k = 0; k < NV; k += 4) {
        solder_vstore<SOLDER_F32>(p, (e + k) >> 2, v + k);
    }
}

// Where the fused forward's h comes from. A source is a small per-thread struct: select(r) is
// called by every lane at the start of row r, then load(v, h) fills the N values of the row's
// 16-byte unit v. The LayerNorm's own source reads x + residual; BERT's embeddings read the sum
// of three table rows (SolderLnfEmbeddingSource, below) — one statistics-and-store body for both.
template <int COLS, int DT>
struct SolderLnfResidualSource {
    const void* x;
    const void* res;
    long long vbase;
    __device__ __forceinline__ void select(long long r) {
        vbase = r * (COLS / SolderVec<DT>::N);
    }
    __device__ __forceinline__ void load(int v, float* h) const {
        const int N = SolderVec<DT>::N;
        solder_vload<DT>(x, vbase + v, h);
        if (res != 0) {
            float rv[N];
            solder_vload<DT>(res, vbase + v, rv);
#pragma unroll
            for (int e = 0; e < N; e++) {
                h[e] = SolderVec<DT>::round(h[e] + rv[e]);
            }
        }
    }
};

// x + residual where x was dropped out first (BertLayer's LayerNorm(dropout(dense) + input)),
// the dropout of dropout.cu fused into the load: element i = r·COLS + j of x is kept when
// solder_dropout_keep(seed, i, p), scaled by 1/(1 − p) and rounded to x's dtype XT — the value
// solder_dropout would have stored — then added to the residual and rounded to h's dtype DT.
// XT is DT, or bfloat16 next to a float32 residual (an autocast layer: the dense output is
// bf16, the residual stream float32); then a unit of 4 floats takes 4 bf16 = one 8-byte load.
struct alignas(8) SolderU2 {
    unsigned int a, b;
};

template <int COLS, int DT, int XT>
struct SolderLnfDropoutSource {
    const void* x;
    const void* res;
    float p;
    float scale;
    unsigned long long seed;
    long long vbase;
    __device__ __forceinline__ void select(long long r) {
        vbase = r * (COLS / SolderVec<DT>::N);
    }
    __device__ __forceinline__ void load(int v, float* h) const {
        const int N = SolderVec<DT>::N;
        float xv[N];
        float rv[N];
        if (XT == DT) {
            solder_vload<DT>(x, vbase + v, xv);
        } else {  // XT bf16, DT float32: N = 4
            SolderU2 u = ((const SolderU2*)x)[vbase + v];
            SolderVec<SOLDER_BF16>::unpack2(u.a, xv);
            SolderVec<SOLDER_BF16>::unpack2(u.b, xv + 2);
        }
        solder_vload<DT>(res, vbase + v, rv);
        unsigned long long e0 = (unsigned long long)(vbase + v) * N;
#pragma unroll
        for (int e = 0; e < N; e++) {
            float d = solder_dropout_keep(seed, e0 + e, p) ? SolderVec<XT>::round(xv[e] * scale) : 0.0f;
            h[e] = SolderVec<DT>::round(d + rv[e]);
        }
    }
};

// One row per warp. Lane l owns vectors l, l+32, ... of the row (VPL of them; the last may
// be past the row's end when COLS/N is not a multiple of 32, e.g. 384 bf16 = 48 vectors).
template <int COLS, int DT, class Source>
__device__ __forceinline__ void solder_lnf_forward_rows(Source src, const void* gamma, int gdt, const void* beta,
                                                        int bdt, float eps, void* out, void* hOut, float* mean,
                                                        float* rstd, long long rows, void* outLow = 0) {
    const int N = SolderVec<DT>::N;
    const int NV = COLS / N;
    const int VPL = (NV + 31) / 32;
    int lane = threadIdx.x & 31;
    long long warpsPerBlock = blockDim.x >> 5;
    for (long long r = (long long)blockIdx.x * warpsPerBlock + (threadIdx.x >> 5); r < rows;
         r += (long long)gridDim.x * warpsPerBlock) {
        long long vbase = r * NV;
        float h[VPL * N];
        float s = 0.0f;
        src.select(r);
#pragma unroll
        for (int k = 0; k < VPL; k++) {
            int v = lane + 32 * k;
            if (v < NV) {
                src.load(v, h + k * N);
#pragma unroll
                for (int e = 0; e < N; e++) {
                    s += h[k * N + e];
                }
            }
        }
        float mu = solder_warp_sum(s) / (float)COLS;
        float q = 0.0f;
#pragma unroll
        for (int k = 0; k < VPL; k++) {
            if (lane + 32 * k < NV) {
#pragma unroll
                for (int e = 0; e < N; e++) {
                    float dv = h[k * N + e] - mu;
                    q += dv * dv;
                }
            }
        }
        float var = solder_warp_sum(q) / (float)COLS;
        float rs = 1.0f / sqrtf(var + eps);
#pragma unroll
        for (int k = 0; k < VPL; k++) {
            int v = lane + 32 * k;
            if (v < NV) {
                if (hOut != 0) {
                    solder_vstore<DT>(hOut, vbase + v, h + k * N);
                }
                float y[N];
#pragma unroll
                for (int e = 0; e < N; e++) {
                    int j = v * N + e;
                    y[e] = (h[k * N + e] - mu) * rs * solder_load(gamma, gdt, j) + solder_load(beta, bdt, j);
                }
                solder_vstore<DT>(out, vbase + v, y);
                if (DT == SOLDER_F32 && outLow != 0) {
                    // out's bfloat16 copy, rounded as solder_convert rounds: 4 values, 8 bytes.
                    SolderU2 w;
                    w.a = SolderVec<SOLDER_BF16>::pack2(y[0], y[1]);
                    w.b = SolderVec<SOLDER_BF16>::pack2(y[2], y[3]);
                    ((SolderU2*)outLow)[vbase + v] = w;
                }
            }
        }
        if (lane == 0) {
            mean[r] = mu;
            rstd[r] = rs;
        }
    }
}

// The fused forward: the same function as solder_layernorm_forward (h = x + residual rounded
// to dt, biased two-pass variance, rstd = 1/sqrt(var + eps)) for cols ∈ {384, 768, 1024} and
// x, res (may be null), out, hOut (may be null) all of dtype dt ∈ {float32, bfloat16}, every
// row pointer 16-byte aligned (the Java side checks). Other cases return without writing.
// Launch: block 256 (8 warps = 8 rows), grid-stride over row groups.
extern "C" __global__ void __launch_bounds__(256) solder_layernorm_fused_forward(
        const void* x, const void* res, int dt, const void* gamma, int gdt, const void* beta, int bdt, float eps,
        void* out, void* hOut, float* mean, float* rstd, long long rows, int cols) {
    if (dt == SOLDER_F32) {
        switch (cols) {
            case 384: solder_lnf_forward_rows<384, SOLDER_F32>(SolderLnfResidualSource<384, SOLDER_F32>{x, res, 0}, gamma, gdt, beta, bdt, eps, out, hOut, mean, rstd, rows); break;
            case 768: solder_lnf_forward_rows<768, SOLDER_F32>(SolderLnfResidualSource<768, SOLDER_F32>{x, res, 0}, gamma, gdt, beta, bdt, eps, out, hOut, mean, rstd, rows); break;
            case 1024: solder_lnf_forward_rows<1024, SOLDER_F32>(SolderLnfResidualSource<1024, SOLDER_F32>{x, res, 0}, gamma, gdt, beta, bdt, eps, out, hOut, mean, rstd, rows); break;
            default: break;
        }
    } else if (dt == SOLDER_BF16) {
        switch (cols) {
            case 384: solder_lnf_forward_rows<384, SOLDER_BF16>(SolderLnfResidualSource<384, SOLDER_BF16>{x, res, 0}, gamma, gdt, beta, bdt, eps, out, hOut, mean, rstd, rows); break;
            case 768: solder_lnf_forward_rows<768, SOLDER_BF16>(SolderLnfResidualSource<768, SOLDER_BF16>{x, res, 0}, gamma, gdt, beta, bdt, eps, out, hOut, mean, rstd, rows); break;
            case 1024: solder_lnf_forward_rows<1024, SOLDER_BF16>(SolderLnfResidualSource<1024, SOLDER_BF16>{x, res, 0}, gamma, gdt, beta, bdt, eps, out, hOut, mean, rstd, rows); break;
            default: break;
        }
    }
}

template <int DT, int XT>
__device__ __forceinline__ void solder_lnf_dropout_cols(const void* x, const void* res, float p, long long seed,
                                                        int cols, const void* gamma, int gdt, const void* beta,
                                                        int bdt, float eps, void* out, void* hOut, float* mean,
                                                        float* rstd, long long rows, void* outLow) {
    float scale = 1.0f / (1.0f - p);
    unsigned long long s = (unsigned long long)seed;
    switch (cols) {
        case 384: solder_lnf_forward_rows<384, DT>(SolderLnfDropoutSource<384, DT, XT>{x, res, p, scale, s, 0}, gamma, gdt, beta, bdt, eps, out, hOut, mean, rstd, rows, outLow); break;
        case 768: solder_lnf_forward_rows<768, DT>(SolderLnfDropoutSource<768, DT, XT>{x, res, p, scale, s, 0}, gamma, gdt, beta, bdt, eps, out, hOut, mean, rstd, rows, outLow); break;
        case 1024: solder_lnf_forward_rows<1024, DT>(SolderLnfDropoutSource<1024, DT, XT>{x, res, p, scale, s, 0}, gamma, gdt, beta, bdt, eps, out, hOut, mean, rstd, rows, outLow); break;
        default: break;
    }
}

// LayerNorm(dropout(x) + residual) in one pass: the fused forward with the dropout applied as
// x is loaded (SolderLnfDropoutSource above), instead of a dropout launch writing x's dropped
// copy and — under autocast — a conversion launch widening it. Writes out, hOut (h, needed by
// the backward; the backward is the fused LayerNorm backward and the dropout kernel on dh), mean,
// rstd, and, when outLow is not null and dt is float32, out rounded to bfloat16 into outLow: the
// copy autocast's products read (BERT's next projections), written from registers instead of by
// a conversion launch reading out back. Cases: h dtype dt ∈ {float32, bfloat16} for res, out,
// hOut; x of dtype dt, or bfloat16 when dt is float32; cols ∈ {384, 768, 1024}; pointers 16-byte
// aligned (outLow 8-byte). Others return.
// Launch: block 256 (8 warps = 8 rows), grid-stride over row groups — LaunchConfig.rows.
extern "C" __global__ void __launch_bounds__(256) solder_dropout_layernorm_fused_forward(
        const void* x, int xdt, const void* res, int dt, float p, long long seed, const void* gamma, int gdt,
        const void* beta, int bdt, float eps, void* out, void* hOut, float* mean, float* rstd, long long rows,
        int cols, void* outLow) {
    if (dt == SOLDER_F32 && xdt == SOLDER_F32) {
        solder_lnf_dropout_cols<SOLDER_F32, SOLDER_F32>(x, res, p, seed, cols, gamma, gdt, beta, bdt, eps, out, hOut, mean, rstd, rows, outLow);
    } else if (dt == SOLDER_F32 && xdt == SOLDER_BF16) {
        solder_lnf_dropout_cols<SOLDER_F32, SOLDER_BF16>(x, res, p, seed, cols, gamma, gdt, beta, bdt, eps, out, hOut, mean, rstd, rows, outLow);
    } else if (dt == SOLDER_BF16 && xdt == SOLDER_BF16) {
        solder_lnf_dropout_cols<SOLDER_BF16, SOLDER_BF16>(x, res, p, seed, cols, gamma, gdt, beta, bdt, eps, out, hOut, mean, rstd, rows, outLow);
    }
}

// ---------------------------------------------------------------- BERT's embeddings

// The embeddings' source: token r (of rows = B·S) reads row ids[r] of `word`, typeIds[r] of
// `type` and positionIds[r % seq] of `position` (the position ids are one [S] vector for every
// sequence, as HF's position_ids buffer), and h = (word + type) + position, each sum rounded to
// DT — the two adds of the unfused path (BertEmbeddings: add(add(word, type), position)).
// An id outside its table reads zeros, as solder_embedding_forward does, and the first one sets
// err[0] = 1, errInfo = {table·rows + r, id} with table 0 word, 1 type, 2 position.
// The embeddings' tables and ids, as the kernel receives them.
struct SolderEmbeddingTables {
    const void* ids;
    int idt;
    const void* typeIds;
    int tdt;
    const void* positionIds;
    int pdt;
    long long seq;
    const void* word;
    long long wordRows;
    const void* type;
    long long typeRows;
    const void* position;
    long long positionRows;
    long long rows;
    int* err;
    long long* errInfo;
};

template <int COLS, int DT>
struct SolderLnfEmbeddingSource {
    SolderEmbeddingTables a;
    long long w, t, p;  // unit offsets of the token's three table rows; −1: a bad id (zeros)

    __device__ __forceinline__ long long unit(long long id, long long vocab, int table, long long r) const {
        if (id >= 0 && id < vocab) {
            return id * (COLS / SolderVec<DT>::N);
        }
        if ((threadIdx.x & 31) == 0 && atomicCAS(a.err, 0, 1) == 0) {
            a.errInfo[0] = table * a.rows + r;
            a.errInfo[1] = id;
        }
        return -1;
    }
    __device__ __forceinline__ void select(long long r) {
        w = unit(solder_load_index(a.ids, a.idt, r), a.wordRows, 0, r);
        t = unit(solder_load_index(a.typeIds, a.tdt, r), a.typeRows, 1, r);
        p = unit(solder_load_index(a.positionIds, a.pdt, r % a.seq), a.positionRows, 2, r);
    }
    __device__ __forceinline__ static void row(const void* table, long long base, int v, float* x) {
        if (base >= 0) {
            solder_vload<DT>(table, base + v, x);
        } else {
#pragma unroll
            for (int e = 0; e < SolderVec<DT>::N; e++) {
                x[e] = 0.0f;
            }
        }
    }
    __device__ __forceinline__ void load(int v, float* h) const {
        const int N = SolderVec<DT>::N;
        float b[N];
        float c[N];
        row(a.word, w, v, h);
        row(a.type, t, v, b);
        row(a.position, p, v, c);
#pragma unroll
        for (int e = 0; e < N; e++) {
            h[e] = SolderVec<DT>::round(SolderVec<DT>::round(h[e] + b[e]) + c[e]);
        }
    }
};

template <int DT>
__device__ __forceinline__ void solder_lnf_embedding_cols(const SolderEmbeddingTables& a, int cols,
                                                          const void* gamma, int gdt, const void* beta, int bdt,
                                                          float eps, void* out, void* hOut, float* mean, float* rstd) {
    switch (cols) {
        case 384: solder_lnf_forward_rows<384, DT>(SolderLnfEmbeddingSource<384, DT>{a, 0, 0, 0}, gamma, gdt, beta, bdt, eps, out, hOut, mean, rstd, a.rows); break;
        case 768: solder_lnf_forward_rows<768, DT>(SolderLnfEmbeddingSource<768, DT>{a, 0, 0, 0}, gamma, gdt, beta, bdt, eps, out, hOut, mean, rstd, a.rows); break;
        case 1024: solder_lnf_forward_rows<1024, DT>(SolderLnfEmbeddingSource<1024, DT>{a, 0, 0, 0}, gamma, gdt, beta, bdt, eps, out, hOut, mean, rstd, a.rows); break;
        default: break;
    }
}

// BERT's embeddings up to (not including) their dropout, in one pass: per token, gather the
// word, token-type and position rows, h = (word + type) + position, then the fused LayerNorm
// (the same statistics and stores as solder_layernorm_fused_forward, through the source
// above). Replaces three gathers, two adds and a LayerNorm (six launches, five [rows, cols]
// intermediates). Tables, out and hOut (may be null) are all of dtype dt ∈ {float32, bfloat16},
// cols ∈ {384, 768, 1024}, every table row and pointer 16-byte aligned (the Java side checks);
// ids of any integer dtype. Other cases return without writing.
// Launch: block 256 (8 warps = 8 tokens), grid-stride over token groups — LaunchConfig.rows.
extern "C" __global__ void __launch_bounds__(256) solder_embeddings_layernorm_fused_forward(
        const void* ids, int idt, const void* typeIds, int tdt, const void* positionIds, int pdt, long long seq,
        const void* word, long long wordRows, const void* type, long long typeRows, const void* position,
        long long positionRows, int dt, const void* gamma, int gdt, const void* beta, int bdt, float eps, void* out,
        void* hOut, float* mean, float* rstd, long long rows, int cols, int* err, long long* errInfo) {
    SolderEmbeddingTables a{ids, idt, typeIds, tdt, positionIds, pdt, seq, word, wordRows, type, typeRows,
                            position, positionRows, rows, err, errInfo};
    if (dt == SOLDER_F32) {
        solder_lnf_embedding_cols<SOLDER_F32>(a, cols, gamma, gdt, beta, bdt, eps, out, hOut, mean, rstd);
    } else if (dt == SOLDER_BF16) {
        solder_lnf_embedding_cols<SOLDER_BF16>(a, cols, gamma, gdt, beta, bdt, eps, out, hOut, mean, rstd);
    }
}

// Where the backward puts dropout'(dh) when DROP (solder_dropout_layernorm_fused_backward): dx of
// dtype float32 or bfloat16; element i = r·COLS + j is kept when solder_dropout_keep(seed, i, p),
// then scaled by 1/(1 − p) — what solder_dropout writes from dh. Unused when !DROP.
struct SolderLnfDropoutGrad {
    void* dx;
    int dxdt;
    float p;
    unsigned long long seed;
};

// Stores the N float values of one unit at element offset e0 (a multiple of N) of p, of dtype dt
// (float32, or bfloat16 rounded as solder_store rounds): 16-byte stores, or 8-byte ones for 4 bf16.
template <int N>
__device__ __forceinline__ void solder_store_unit(void* p, int dt, long long e0, const float* v) {
    if (dt == SOLDER_F32) {
        solder_vstore_f32<N>((float*)p, e0, v);
    } else if (N == 8) {
        solder_vstore<SOLDER_BF16>(p, e0 / 8, v);
    } else {
        SolderU2 u;
        u.a = SolderVec<SOLDER_BF16>::pack2(v[0], v[1]);
        u.b = SolderVec<SOLDER_BF16>::pack2(v[2], v[3]);
        ((SolderU2*)p)[e0 / 4] = u;
    }
}

// Backward body: rows [r0, r1) of this block, warp w takes rows r0 + w, r0 + w + 8, ...
// dh (float32, may be null) per row, and when DROP also dx = dropout'(dh) (drop, above); the
// block's partial Σ dy·xhat and Σ dy per column into partGamma/partBeta[blockIdx.x·COLS + c]
// (double; both null: not computed).
template <int COLS, int DTY, int DTH, bool DROP>
__device__ __forceinline__ void solder_lnf_backward_rows(const void* dy, const void* h, const void* gamma, int gdt,
                                                         const float* mean, const float* rstd, float* dh,
                                                         long long rows, long long rowsPerChunk, double* partGamma,
                                                         double* partBeta, double* shG, double* shB,
                                                         SolderLnfDropoutGrad drop) {
    // One unit of N elements for both dy and h: the larger of the two vector widths (a
    // float32 operand next to a bf16 one takes two 16-byte loads per unit).
    const int N = SolderVec<DTY>::N > SolderVec<DTH>::N ? SolderVec<DTY>::N : SolderVec<DTH>::N;
    const int NV = COLS / N;
    const int VPL = (NV + 31) / 32;
    const int NY = SolderVec<DTY>::N;
    const int NH = SolderVec<DTH>::N;
    int lane = threadIdx.x & 31;
    int warp = threadIdx.x >> 5;
    int warps = blockDim.x >> 5;
    long long r0 = (long long)blockIdx.x * rowsPerChunk;
    long long r1 = r0 + rowsPerChunk < rows ? r0 + rowsPerChunk : rows;
    const float dropScale = DROP ? 1.0f / (1.0f - drop.p) : 1.0f;   // solder_dropout's scale
    float accG[VPL * N];
    float accB[VPL * N];
#pragma unroll
    for (int e = 0; e < VPL * N; e++) {
        accG[e] = 0.0f;
        accB[e] = 0.0f;
    }
    for (long long r = r0 + warp; r < r1; r += warps) {
        float mu = mean[r];
        float rs = rstd[r];
        float g[VPL * N];
        float xh[VPL * N];
        float sg = 0.0f;
        float sgx = 0.0f;
#pragma unroll
        for (int k = 0; k < VPL; k++) {
            int v = lane + 32 * k;
            if (v < NV) {
                long long e0 = r * COLS + (long long)v * N;  // element offset, a multiple of N
                float dyv[N];
                float hv[N];
#pragma unroll
                for (int p = 0; p < N; p += NY) {
                    solder_vload<DTY>(dy, (e0 + p) / NY, dyv + p);
                }
#pragma unroll
                for (int p = 0; p < N; p += NH) {
                    solder_vload<DTH>(h, (e0 + p) / NH, hv + p);
                }
#pragma unroll
                for (int e = 0; e < N; e++) {
                    int j = v * N + e;
                    float xhat = (hv[e] - mu) * rs;
                    float gg = dyv[e] * solder_load(gamma, gdt, j);
                    g[k * N + e] = gg;
                    xh[k * N + e] = xhat;
                    sg += gg;
                    sgx += gg * xhat;
                    accG[k * N + e] += dyv[e] * xhat;
                    accB[k * N + e] += dyv[e];
                }
            }
        }
        float meanG = solder_warp_sum(sg) / (float)COLS;
        float meanGX = solder_warp_sum(sgx) / (float)COLS;
        if (dh != 0 || DROP) {
#pragma unroll
            for (int k = 0; k < VPL; k++) {
                int v = lane + 32 * k;
                if (v < NV) {
                    long long e0 = r * COLS + (long long)v * N;
                    float o[N];
#pragma unroll
                    for (int e = 0; e < N; e++) {
                        o[e] = rs * (g[k * N + e] - meanG - xh[k * N + e] * meanGX);
                    }
                    if (dh != 0) {
                        solder_vstore_f32<N>(dh, e0, o);
                    }
                    if (DROP) {
                        float d[N];
#pragma unroll
                        for (int e = 0; e < N; e++) {
                            bool keep = solder_dropout_keep(drop.seed, (unsigned long long)(e0 + e), drop.p);
                            d[e] = keep ? o[e] * dropScale : 0.0f;
                        }
                        solder_store_unit<N>(drop.dx, drop.dxdt, e0, d);
                    }
                }
            }
        }
    }
    if (partGamma == 0 && partBeta == 0) {
        return;
    }
    // Warps add their column sums into shared memory one after another, in warp order.
    for (int w = 0; w < warps; w++) {
        if (warp == w) {
#pragma unroll
            for (int k = 0; k < VPL; k++) {
                int v = lane + 32 * k;
                if (v < NV) {
#pragma unroll
                    for (int e = 0; e < N; e++) {
                        int j = v * N + e;
                        shG[j] = (w == 0 ? 0.0 : shG[j]) + (double)accG[k * N + e];
                        shB[j] = (w == 0 ? 0.0 : shB[j]) + (double)accB[k * N + e];
                    }
                }
            }
        }
        __syncthreads();
    }
    long long o = (long long)blockIdx.x * COLS;
    for (int j = threadIdx.x; j < COLS; j += blockDim.x) {
        if (partGamma != 0) {
            partGamma[o + j] = shG[j];
        }
        if (partBeta != 0) {
            partBeta[o + j] = shB[j];
        }
    }
}

template <int DTY, int DTH, bool DROP>
__device__ __forceinline__ void solder_lnf_backward_cols(const void* dy, const void* h, const void* gamma, int gdt,
                                                         const float* mean, const float* rstd, float* dh,
                                                         long long rows, int cols, long long rowsPerChunk,
                                                         double* partGamma, double* partBeta, double* shG,
                                                         double* shB, SolderLnfDropoutGrad drop) {
    switch (cols) {
        case 384: solder_lnf_backward_rows<384, DTY, DTH, DROP>(dy, h, gamma, gdt, mean, rstd, dh, rows, rowsPerChunk, partGamma, partBeta, shG, shB, drop); break;
        case 768: solder_lnf_backward_rows<768, DTY, DTH, DROP>(dy, h, gamma, gdt, mean, rstd, dh, rows, rowsPerChunk, partGamma, partBeta, shG, shB, drop); break;
        case 1024: solder_lnf_backward_rows<1024, DTY, DTH, DROP>(dy, h, gamma, gdt, mean, rstd, dh, rows, rowsPerChunk, partGamma, partBeta, shG, shB, drop); break;
        default: break;
    }
}

// Both backward kernels: the dtype pair picks the instantiation.
template <bool DROP>
__device__ __forceinline__ void solder_lnf_backward(const void* dy, int dydt, const void* h, int hdt, const void* gamma,
                                                    int gdt, const float* mean, const float* rstd, float* dh,
                                                    long long rows, int cols, long long rowsPerChunk,
                                                    double* partGamma, double* partBeta, SolderLnfDropoutGrad drop) {
    __shared__ double shG[1024];
    __shared__ double shB[1024];
    if (dydt == SOLDER_F32 && hdt == SOLDER_F32) {
        solder_lnf_backward_cols<SOLDER_F32, SOLDER_F32, DROP>(dy, h, gamma, gdt, mean, rstd, dh, rows, cols, rowsPerChunk, partGamma, partBeta, shG, shB, drop);
    } else if (dydt == SOLDER_F32 && hdt == SOLDER_BF16) {
        solder_lnf_backward_cols<SOLDER_F32, SOLDER_BF16, DROP>(dy, h, gamma, gdt, mean, rstd, dh, rows, cols, rowsPerChunk, partGamma, partBeta, shG, shB, drop);
    } else if (dydt == SOLDER_BF16 && hdt == SOLDER_F32) {
        solder_lnf_backward_cols<SOLDER_BF16, SOLDER_F32, DROP>(dy, h, gamma, gdt, mean, rstd, dh, rows, cols, rowsPerChunk, partGamma, partBeta, shG, shB, drop);
    } else if (dydt == SOLDER_BF16 && hdt == SOLDER_BF16) {
        solder_lnf_backward_cols<SOLDER_BF16, SOLDER_BF16, DROP>(dy, h, gamma, gdt, mean, rstd, dh, rows, cols, rowsPerChunk, partGamma, partBeta, shG, shB, drop);
    }
}

// The fused backward: dh = rstd·(g − mean(g) − xhat·mean(g·xhat)) with g = dy·gamma (as
// solder_layernorm_backward_input) written as float32 (dh may be null), plus stage 1 of
// dgamma/dbeta: block b reduces rows [b·rowsPerChunk, (b+1)·rowsPerChunk) into
// partGamma/partBeta[b·cols + c] (double; null: skipped). dy and h are float32 or bfloat16
// (each its own), cols ∈ {384, 768, 1024}, pointers 16-byte aligned. Other cases return.
// Launch: block 256, grid = number of chunks (LaunchConfig.layerNormFusedChunks).
extern "C" __global__ void __launch_bounds__(256) solder_layernorm_fused_backward(
        const void* dy, int dydt, const void* h, int hdt, const void* gamma, int gdt, const float* mean,
        const float* rstd, float* dh, long long rows, int cols, long long rowsPerChunk, double* partGamma,
        double* partBeta) {
    solder_lnf_backward<false>(dy, dydt, h, hdt, gamma, gdt, mean, rstd, dh, rows, cols, rowsPerChunk, partGamma,
                               partBeta, SolderLnfDropoutGrad{0, 0, 0.0f, 0ull});
}

// The backward of LayerNorm(dropout(x) + residual) (solder_dropout_layernorm_fused_forward) in one
// pass: solder_layernorm_fused_backward's dh (the residual's gradient; may be null) and dgamma/dbeta
// partials, and also dx = dropout'(dh) — kept elements of dh scaled by 1/(1 − p), the others 0,
// with the forward's mask (element i = r·cols + j, solder_dropout_keep(seed, i, p)) — written as
// dxdt (float32, or bfloat16: an autocast layer's dense output), instead of a second launch that
// reads dh back. The same bits as solder_dropout applied to this kernel's dh. Cases as the fused
// backward, dx 16-byte aligned. Launch: as solder_layernorm_fused_backward.
extern "C" __global__ void __launch_bounds__(256) solder_dropout_layernorm_fused_backward(
        const void* dy, int dydt, const void* h, int hdt, const void* gamma, int gdt, const float* mean,
        const float* rstd, float* dh, void* dx, int dxdt, float p, long long seed, long long rows, int cols,
        long long rowsPerChunk, double* partGamma, double* partBeta) {
    solder_lnf_backward<true>(dy, dydt, h, hdt, gamma, gdt, mean, rstd, dh, rows, cols, rowsPerChunk, partGamma,
                              partBeta, SolderLnfDropoutGrad{dx, dxdt, p, (unsigned long long)seed});
}
