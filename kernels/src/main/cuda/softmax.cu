// softmax.cu — row softmax over the last dimension, with an optional mask, and its backward.
//
// One warp per row: rows are short (attention rows are S ≤ 512, classifier rows a handful
// of classes), so a warp covers a row in a few strided steps and reduces with shuffles,
// no shared memory and no __syncthreads. The row is read three times (max, sum, write);
// after the first pass it sits in L1/L2. 256-thread blocks carry 8 rows each; the grid
// strides over row groups. Statistics are float32, as in every framework's softmax.
//
// The attention path of the cuBLAS-only backend uses these on its [B·H·S, S] scores, in
// place (out == x, dx == dy are safe: each element is read, then written, by one lane after
// the row's reductions are done).

#include "solder_common.cuh"

#define SOLDER_MASK_NONE 0
#define SOLDER_MASK_ADDITIVE 1  // mask is a float tensor [g, cols] added to the row
#define SOLDER_MASK_KEYS 2      // mask is [g, cols], non-zero = attend, zero adds -FLT_MAX (HF)

// The masked input of element j of row r.
__device__ __forceinline__ float solder_masked(const void* x, int xdt, const void* mask, int mdt, int maskMode,
                                               long long maskRow, long long r, int cols, int j) {
    float v = solder_load(x, xdt, r * cols + j);
    if (maskMode == SOLDER_MASK_ADDITIVE) {
        v += solder_load(mask, mdt, maskRow * cols + j);
    } else if (maskMode == SOLDER_MASK_KEYS) {
        if (solder_is_zero(mask, mdt, maskRow * cols + j)) {
            v += -SOLDER_FLT_MAX;
        }
    }
    return v;
}

// out[r, :] = softmax(x[r, :] + mask[r / rowsPerMaskRow, :]) for r in [0, rows).
// mask is null (maskMode 0) or a [rows / rowsPerMaskRow, cols] tensor read per maskMode.
// Launch: block 256 (8 warps = 8 rows), grid-stride over ceil(rows/8) row groups.
extern "C" __global__ void solder_softmax_forward(const void* x, int xdt, const void* mask, int mdt, int maskMode,
                                                  long long rowsPerMaskRow, void* out, int odt,
                                                  long long rows, int cols) {
    int lane = threadIdx.x & 31;
    long long warpsPerBlock = blockDim.x >> 5;
    for (long long r = (long long)blockIdx.x * warpsPerBlock + (threadIdx.x >> 5); r < rows;
         r += (long long)gridDim.x * warpsPerBlock) {
        long long maskRow = maskMode == SOLDER_MASK_NONE ? 0 : r / rowsPerMaskRow;
        float m = -__int_as_float(0x7f800000);
        for (int j = lane; j < cols; j += 32) {
            m = fmaxf(m, solder_masked(x, xdt, mask, mdt, maskMode, maskRow, r, cols, j));
        }
        m = solder_warp_max(m);
        float s = 0.0f;
        for (int j = lane; j < cols; j += 32) {
            s += expf(solder_masked(x, xdt, mask, mdt, maskMode, maskRow, r, cols, j) - m);
        }
        s = solder_warp_sum(s);
        for (int j = lane; j < cols; j += 32) {
            float e = expf(solder_masked(x, xdt, mask, mdt, maskMode, maskRow, r, cols, j) - m);
            solder_store(out, odt, r * cols + j, e / s);
        }
    }
}

// dx[r, :] = y·(dy − Σ_j dy_j·y_j) per row, from the forward output y.
// Launch: block 256 (8 rows), grid-stride over row groups.
extern "C" __global__ void solder_softmax_backward(const void* y, int ydt, const void* dy, int dydt,
                                                   void* dx, int dxdt, long long rows, int cols) {
    int lane = threadIdx.x & 31;
    long long warpsPerBlock = blockDim.x >> 5;
    for (long long r = (long long)blockIdx.x * warpsPerBlock + (threadIdx.x >> 5); r < rows;
         r += (long long)gridDim.x * warpsPerBlock) {
        long long base = r * cols;
        float dot = 0.0f;
        for (int j = lane; j < cols; j += 32) {
            dot += solder_load(dy, dydt, base + j) * solder_load(y, ydt, base + j);
        }
        dot = solder_warp_sum(dot);
        for (int j = lane; j < cols; j += 32) {
            float yj = solder_load(y, ydt, base + j);
            float gj = solder_load(dy, dydt, base + j);
            solder_store(dx, dxdt, base + j, yj * (gj - dot));
        }
    }
}
