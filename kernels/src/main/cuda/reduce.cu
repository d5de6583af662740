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

// Stage 1: block g of G reduces the elements g·256 + t + k·G·256 (its grid-stride slice)
// into partials[g], as a double. mode picks the summand (see the defines above); b is read
// only in SOLDER_REDUCE_SQDIFF mode (else pass null).
// Launch: 1-D, 256 threads, G blocks (G fixed by the sizes alone, never by timing).
extern "C" __global__ void solder_reduce_partial(const void* a, int adt, const void* b, int bdt, int mode,
                                                 long long n, double* partials) {
    __shared__ double warpTotals[32];
    double acc = 0.0;
    SOLDER_FOR_EACH(i, n) {
        double x = (double)solder_load(a, adt, i);
        if (mode == SOLDER_REDUCE_SQDIFF) {
            x -= (double)solder_load(b, bdt, i);
        }
        acc += mode == SOLDER_REDUCE_SUM ? x : x * x;
    }
    double total = solder_block_sum_d(acc, warpTotals);
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
    double acc = 0.0;
    for (int i = threadIdx.x; i < count; i += blockDim.x) {
        acc += partials[i];
    }
    double total = solder_block_sum_d(acc, warpTotals);
    if (threadIdx.x == 0) {
        if (odt == SOLDER_F64) {
            ((double*)out)[0] = total * scale;
        } else {
            solder_store(out, odt, 0, (float)(total * scale));
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
        double total = 0.0;
        for (int y = 0; y < 8; y++) {
            total += slice[y][threadIdx.x];
        }
        partials[(long long)blockIdx.y * cols + c] = total;
    }
}

// Stage 2: out[c] = Σ_k partials[k·cols + c] over the chunks in order, written in dtype odt.
// Shared by sumToSuffix and LayerNorm's dgamma/dbeta.
// Launch: 1-D, 256 threads, grid-stride over the columns.
extern "C" __global__ void solder_column_sum_finish(const double* partials, int chunks, long long cols,
                                                    void* out, int odt) {
    SOLDER_FOR_EACH(c, cols) {
        double total = 0.0;
        for (int k = 0; k < chunks; k++) {
            total += partials[(long long)k * cols + c];
        }
        solder_store(out, odt, c, (float)total);
    }
}
