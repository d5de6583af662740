// reduce.cu — deterministic reductions: sum of everything (sumAll, sumSquares, the MSE
// numerator) and the sum over leading rows onto a suffix (sumToSuffix, bias gradients).
//
// Both are two-stage and never use atomics, so a result depends only on the input and the
// launch shape the Java side picks (a pure function of the sizes): run twice, get the same
// bits. Accumulation is in double throughout, matching the CPU backend's float64 sums; on
// the GPUs Solder targets the extra cost hides behind memory traffic.

#include "solder_common.cuh"

// ------------------------------------------------------------------ sum of everything

#define SOLDER_REDUCE_SUM 0      // Σ a
#define SOLDER_REDUCE_SUMSQ 1    // Σ a²
#define SOLDER_REDUCE_SQDIFF 2   // Σ (a − b)²

// Block g of G's share of stage 1: the elements g·256 + t + k·G·256 (its grid-stride slice),
// summed as doubles per thread, then over the block in a fixed order. mode picks the summand
// (see the defines above); b is read only in SOLDER_REDUCE_SQDIFF mode (else pass null).
// Shared by the one-tensor kernel and the many-tensor one below, so both give the same bits.
__device__ __forceinline__ double solder_reduce_slice(const void* a, int adt, const void* b, int bdt, int mode,
                                                      long long n, long long g, long long G, double* warpTotals) {
    double acc = 0.0;
    for (long long i = g * blockDim.x + threadIdx.x; i < n; i += G * blockDim.x) {
        double x = (double)solder_load(a, adt, i);
        if (mode == SOLDER_REDUCE_SQDIFF) {
            x -= (double)solder_load(b, bdt, i);
        }
        acc += mode == SOLDER_REDUCE_SUM ? x : x * x;
    }
    return solder_block_sum_d(acc, warpTotals);
}

// Σ partials[0..count), summed by one block in a fixed order (stage 2's body).
__device__ __forceinline__ double solder_reduce_partials(const double* partials, int count, double* warpTotals) {
    double acc = 0.0;
    for (int i = threadIdx.x; i < count; i += blockDim.x) {
        acc += partials[i];
    }
    return solder_block_sum_d(acc, warpTotals);
}

// Stage 1: block g of G writes its slice's sum (solder_reduce_slice) to partials[g].
// Launch: 1-D, 256 threads, G blocks (G fixed by the sizes alone, never by timing).
extern "C" __global__ void solder_reduce_partial(const void* a, int adt, const void* b, int bdt, int mode,
                                                 long long n, double* partials) {
    __shared__ double warpTotals[32];
    double total = solder_reduce_slice(a, adt, b, bdt, mode, n, blockIdx.x, gridDim.x, warpTotals);
    if (threadIdx.x == 0) {
        partials[blockIdx.x] = total;
    }
}

// Stage 2: out[0] = scale·Σ partials[0..count), summed by one block in a fixed order. out is
// a one-element tensor of dtype odt, or a double (odt = SOLDER_F64) the host reads back.
// Launch: 1 block of 256 threads.
extern "C" __global__ void solder_reduce_finish(const double* partials, int count, double scale,
                                                void* out, int odt) {
    __shared__ double warpTotals[32];
    double total = solder_reduce_partials(partials, count, warpTotals);
    if (threadIdx.x == 0) {
        if (odt == SOLDER_F64) {
            ((double*)out)[0] = total * scale;
        } else {
            solder_store(out, odt, 0, (float)(total * scale));
        }
    }
}

// ------------------------------------------------------------------ Σ x² of many tensors

// One row of the many-tensor table: 32 bytes, 8-byte aligned. CudaReduce.sumSquaresAll writes it
// at these offsets (0, 8, 16, 24, 28); the host-model test checks them against this declaration.
// Tensor i's partials are partials[firstPartial, firstPartial + blocks), blocks being the G
// that solder_reduce_partial would be launched with for it alone (LaunchConfig.reducePartial).
struct SolderSumSqTensor {
    const void* x;
    long long n;
    long long firstPartial;
    int dt;
    int blocks;
};

// Stage 1 of Σ x² for every tensor of the table in one launch (a global gradient norm: one launch
// instead of two per parameter). Partial p belongs to the last tensor whose firstPartial ≤ p, and
// is that tensor's block g = p − firstPartial of G = blocks: the same slice, summed the same
// way, as solder_reduce_partial's block g, so each tensor's sum has the bits of its own launch.
// Launch: 1-D, 256 threads, blocks striding over the partials (LaunchConfig.chunks).
extern "C" __global__ void solder_sumsq_multi_partial(const SolderSumSqTensor* tensors, int count,
                                                      long long totalPartials, double* partials) {
    __shared__ double warpTotals[32];
    for (long long p = blockIdx.x; p < totalPartials; p += gridDim.x) {
        int lo = 0;
        int hi = count - 1;
        while (lo < hi) {
            int mid = (lo + hi + 1) >> 1;
            if (tensors[mid].firstPartial <= p) {
                lo = mid;
            } else {
                hi = mid - 1;
            }
        }
        const SolderSumSqTensor t = tensors[lo];
        double total = solder_reduce_slice(t.x, t.dt, nullptr, 0, SOLDER_REDUCE_SUMSQ, t.n, p - t.firstPartial,
                                           t.blocks, warpTotals);
        if (threadIdx.x == 0) {
            partials[p] = total;
        }
    }
}

// Stage 2: out[i] = Σ of tensor i's partials, as solder_reduce_finish sums them (scale 1).
// Launch: 1-D, 256 threads, blocks striding over the tensors (LaunchConfig.chunks).
extern "C" __global__ void solder_sumsq_multi_finish(const SolderSumSqTensor* tensors, int count,
                                                     const double* partials, double* out) {
    __shared__ double warpTotals[32];
    for (int i = blockIdx.x; i < count; i += gridDim.x) {
        const SolderSumSqTensor t = tensors[i];
        double total = solder_reduce_partials(partials + t.firstPartial, t.blocks, warpTotals);
        if (threadIdx.x == 0) {
            out[i] = total;
        }
    }
}

// ------------------------------------------------------------------ sum over rows (columns)

// Stage 1 of out[c] = Σ_r a[r, c] for a viewed as [rows, cols]: block (bx, by) owns 32
// columns and the rows of chunk by ([by·rowsPerChunk, (by+1)·rowsPerChunk)); thread (x, y)
// sums rows y, y+8, ... of its chunk for column bx·32+x (a warp reads 32 consecutive
// elements: coalesced), then the 8 row-slices are added in order and written to
// partials[by·cols + c].
// Launch: block (32, 8), grid (ceil(cols/32), chunks).
extern "C" __global__ void solder_column_sum_partial(const void* a, int adt, long long rows, long long cols,
                                                     long long rowsPerChunk, double* partials) {
    __shared__ double slice[8][32];
    long long c = (long long)blockIdx.x * 32 + threadIdx.x;
    long long r0 = (long long)blockIdx.y * rowsPerChunk;
    long long r1 = r0 + rowsPerChunk < rows ? r0 + rowsPerChunk : rows;
    double acc = 0.0;
    if (c < cols) {
        for (long long r = r0 + threadIdx.y; r < r1; r += 8) {
            acc += (double)solder_load(a, adt, r * cols + c);
        }
    }
    slice[threadIdx.y][threadIdx.x] = acc;
    __syncthreads();
    if (threadIdx.y == 0 && c < cols) {
        partials[(long long)blockIdx.y * cols + c] = solder_slices_total(slice);
    }
}

// Stage 2: out[c] = Σ_k partials[k·cols + c] over the chunks, written in dtype odt; the blocks
// with blockIdx.y = 1 do the same for partials2 into out2 (LayerNorm's dgamma and dbeta in one
// launch; with gridDim.y = 1 partials2 and out2 are unused and may be null). Shared by
// sumToSuffix, the bias-GELU backward and both LayerNorm backwards.
//
// The order is stage 1's, turned on the chunks: block x owns 32 columns (grid-stride over column
// tiles); thread (x, s) adds chunks s, s + 8, s + 16, ... of column c in chunk order, then the 8
// slice sums are added in slice order. A fixed order, so the same bits every run (FakeDeviceApi
// models exactly this order).
// Why 8 slices and not one thread per column: a column's chunk sum is a chain of dependent adds,
// each waiting on a load from L2, and there are only a few hundred columns (768 × 2 for
// BERT-base's LayerNorm, over 256 chunks on the fused path). One thread per column kept ~1,500
// threads of the whole GPU busy with 256-long chains; eight per column make the chains 32 long
// with eight times the loads in flight.
// Launch: block (32, 8), grid (LaunchConfig.columnFinish: ceil(cols/32) capped, 1 or 2).
extern "C" __global__ void solder_column_sum_finish(const double* partials, const double* partials2, int chunks,
                                                    long long cols, void* out, void* out2, int odt) {
    __shared__ double slice[8][32];
    const double* part = blockIdx.y == 0 ? partials : partials2;
    void* dst = blockIdx.y == 0 ? out : out2;
    // c0 is the same for every thread of the block, so all of them reach both barriers.
    for (long long c0 = (long long)blockIdx.x * 32; c0 < cols; c0 += (long long)gridDim.x * 32) {
        long long c = c0 + threadIdx.x;
        double acc = 0.0;
        if (c < cols) {
            for (int k = threadIdx.y; k < chunks; k += 8) {
                acc += part[(long long)k * cols + c];
            }
        }
        slice[threadIdx.y][threadIdx.x] = acc;
        __syncthreads();
        if (threadIdx.y == 0 && c < cols) {
            solder_store(dst, odt, c, (float)solder_slices_total(slice));
        }
        __syncthreads();
    }
}
