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
        double tg = 0.0;
        double tb = 0.0;
        for (int y = 0; y < 8; y++) {
            tg += sliceG[y][threadIdx.x];
            tb += sliceB[y][threadIdx.x];
        }
        long long o = (long long)blockIdx.y * cols + c;
        partGamma[o] = tg;
        partBeta[o] = tb;
    }
}
