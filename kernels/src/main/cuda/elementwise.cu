// elementwise.cu — fills, dtype conversions, strided copies, add/mul/scale, GELU and tanh.
//
// Every kernel here is one pass over memory with no reuse, so the whole design is: a 1-D
// grid-stride loop (256 threads a block, the block count capped by the Java side in
// KernelLauncher.gridFor), 64-bit element indices, and float32 arithmetic between a load
// that converts from the input's dtype and a store that converts to the output's.
// Forward and backward of each activation sit side by side.

#include "solder_common.cuh"

// ------------------------------------------------------------------ fill

// out[i] = value for i in [0, n), value converted to dtype dt as Java's casts of a double do
// ((float) then round for floating types; truncation toward zero for integers).
// Launch: 1-D, 256 threads, grid-stride.
extern "C" __global__ void solder_fill(void* out, int dt, long long n, double value) {
    SOLDER_FOR_EACH(i, n) {
        switch (dt) {
            case SOLDER_I32: ((int*)out)[i] = (int)value; break;
            case SOLDER_I64: ((long long*)out)[i] = (long long)value; break;
            default: solder_store(out, dt, i, (float)value); break;
        }
    }
}

// ------------------------------------------------------------------ copies with conversion

// One element from src[si] (dtype sdt) to dst[di] (dtype ddt), converting as the CPU
// backend's CpuCopy does: same dtype copies the bits; integer to integer truncates the
// two's-complement value; floating to floating goes through float32 (exact for all three
// formats); anything mixing integers and floats goes through double, like Java's casts.
__device__ __forceinline__ void solder_copy_element(const void* src, int sdt, long long si,
                                                    void* dst, int ddt, long long di) {
    if (sdt == ddt) {
        switch (sdt) {
            case SOLDER_BF16:
            case SOLDER_F16: ((unsigned short*)dst)[di] = ((const unsigned short*)src)[si]; break;
            case SOLDER_I64: ((long long*)dst)[di] = ((const long long*)src)[si]; break;
            default: ((unsigned int*)dst)[di] = ((const unsigned int*)src)[si]; break;
        }
        return;
    }
    bool sInt = sdt == SOLDER_I32 || sdt == SOLDER_I64;
    bool dInt = ddt == SOLDER_I32 || ddt == SOLDER_I64;
    if (sInt && dInt) {
        long long v = solder_load_index(src, sdt, si);
        if (ddt == SOLDER_I32) {
            ((int*)dst)[di] = (int)(unsigned int)(unsigned long long)v;
        } else {
            ((long long*)dst)[di] = v;
        }
        return;
    }
    if (!sInt && !dInt) {
        solder_store(dst, ddt, di, solder_load(src, sdt, si));
        return;
    }
    double v;
    if (sdt == SOLDER_I32) {
        v = (double)((const int*)src)[si];
    } else if (sdt == SOLDER_I64) {
        v = (double)((const long long*)src)[si];
    } else {
        v = (double)solder_load(src, sdt, si);
    }
    switch (ddt) {
        case SOLDER_I32: ((int*)dst)[di] = (int)v; break;
        case SOLDER_I64: ((long long*)dst)[di] = (long long)v; break;
        default: solder_store(dst, ddt, di, (float)v); break;
    }
}

// dst[i] = convert(src[i]) for contiguous tensors of n elements (casts, to(dtype)).
// Launch: 1-D, 256 threads, grid-stride.
extern "C" __global__ void solder_convert(const void* src, int sdt, void* dst, int ddt, long long n) {
    SOLDER_FOR_EACH(i, n) {
        solder_copy_element(src, sdt, i, dst, ddt, i);
    }
}

// Strided copy with conversion: both tensors are views of up to 6 dims (the Java side
// merges dims that are contiguous in both and pads the front with size-1 dims, so the
// shape is always [s0..s5], outermost first). Element i of the row-major walk over the
// shape reads src at Σ idx_d·ss_d and writes dst at Σ idx_d·ds_d (offsets in elements,
// relative to the pointers, which already include each view's offset).
// Launch: 1-D, 256 threads, grid-stride over the n elements.
extern "C" __global__ void solder_copy_strided(const void* src, int sdt, void* dst, int ddt, long long n,
                                               long long s0, long long s1, long long s2,
                                               long long s3, long long s4, long long s5,
                                               long long ss0, long long ss1, long long ss2,
                                               long long ss3, long long ss4, long long ss5,
                                               long long ds0, long long ds1, long long ds2,
                                               long long ds3, long long ds4, long long ds5) {
    SOLDER_FOR_EACH(i, n) {
        long long rem = i;
        long long si = 0;
        long long di = 0;
        long long idx;
        idx = rem % s5; rem /= s5; si += idx * ss5; di += idx * ds5;
        idx = rem % s4; rem /= s4; si += idx * ss4; di += idx * ds4;
        idx = rem % s3; rem /= s3; si += idx * ss3; di += idx * ds3;
        idx = rem % s2; rem /= s2; si += idx * ss2; di += idx * ds2;
        idx = rem % s1; rem /= s1; si += idx * ss1; di += idx * ds1;
        idx = rem;      (void)s0;  si += idx * ss0; di += idx * ds0;
        solder_copy_element(src, sdt, si, dst, ddt, di);
    }
}

// ------------------------------------------------------------------ add, mul, scale

// out[i] = alpha·a[i] + beta·b[i mod nb]: b equal to a in shape (nb == n) or repeated along
// a's leading elements (nb divides n). out may alias a (each element is read, then
// written, by the same thread).
// Launch: 1-D, 256 threads, grid-stride.
extern "C" __global__ void solder_add(const void* a, int adt, const void* b, int bdt, float alpha, float beta,
                                      void* out, int odt, long long n, long long nb) {
    SOLDER_FOR_EACH(i, n) {
        long long j = nb == n ? i : i % nb;
        float v = alpha * solder_load(a, adt, i) + beta * solder_load(b, bdt, j);
        solder_store(out, odt, i, v);
    }
}

// out[i] = a[i]·b[i mod nb], broadcasting as solder_add. out may alias a.
// Launch: 1-D, 256 threads, grid-stride.
extern "C" __global__ void solder_mul(const void* a, int adt, const void* b, int bdt,
                                      void* out, int odt, long long n, long long nb) {
    SOLDER_FOR_EACH(i, n) {
        long long j = nb == n ? i : i % nb;
        solder_store(out, odt, i, solder_load(a, adt, i) * solder_load(b, bdt, j));
    }
}

// out[i] = s·a[i]. out may alias a.
// Launch: 1-D, 256 threads, grid-stride.
extern "C" __global__ void solder_scale(const void* a, int adt, float s, void* out, int odt, long long n) {
    SOLDER_FOR_EACH(i, n) {
        solder_store(out, odt, i, s * solder_load(a, adt, i));
    }
}

// ------------------------------------------------------------------ GELU

#define SOLDER_SQRT1_2 0.70710678118654752440f      // 1/sqrt(2)
#define SOLDER_INV_SQRT_2PI 0.39894228040143267794f // 1/sqrt(2·pi)
#define SOLDER_SQRT_2_OVER_PI 0.79788456080286535588f
#define SOLDER_GELU_C 0.044715f

// GELU forward. Exact (HF "gelu"): x·Φ(x) = 0.5·x·(1 + erf(x/√2)). With tanhApprox
// (HF "gelu_new"): 0.5·x·(1 + tanh(√(2/π)·(x + 0.044715·x³))).
// Launch: 1-D, 256 threads, grid-stride.
extern "C" __global__ void solder_gelu_forward(const void* x, int xdt, void* out, int odt, long long n,
                                               int tanhApprox) {
    SOLDER_FOR_EACH(i, n) {
        float v = solder_load(x, xdt, i);
        float y;
        if (tanhApprox) {
            float u = SOLDER_SQRT_2_OVER_PI * (v + SOLDER_GELU_C * v * v * v);
            y = 0.5f * v * (1.0f + tanhf(u));
        } else {
            y = 0.5f * v * (1.0f + erff(v * SOLDER_SQRT1_2));
        }
        solder_store(out, odt, i, y);
    }
}

// GELU backward: dx = dy·gelu'(x). Exact: gelu'(x) = Φ(x) + x·φ(x) with φ the standard
// normal density. Tanh form: 0.5·(1 + t) + 0.5·x·(1 − t²)·√(2/π)·(1 + 3·0.044715·x²).
// Launch: 1-D, 256 threads, grid-stride.
extern "C" __global__ void solder_gelu_backward(const void* x, int xdt, const void* dy, int dydt,
                                                void* dx, int dxdt, long long n, int tanhApprox) {
    SOLDER_FOR_EACH(i, n) {
        float v = solder_load(x, xdt, i);
        float g;
        if (tanhApprox) {
            float u = SOLDER_SQRT_2_OVER_PI * (v + SOLDER_GELU_C * v * v * v);
            float t = tanhf(u);
            float du = SOLDER_SQRT_2_OVER_PI * (1.0f + 3.0f * SOLDER_GELU_C * v * v);
            g = 0.5f * (1.0f + t) + 0.5f * v * (1.0f - t * t) * du;
        } else {
            float cdf = 0.5f * (1.0f + erff(v * SOLDER_SQRT1_2));
            float pdf = SOLDER_INV_SQRT_2PI * expf(-0.5f * v * v);
            g = cdf + v * pdf;
        }
        solder_store(dx, dxdt, i, solder_load(dy, dydt, i) * g);
    }
}

// ------------------------------------------------------------------ fused bias + GELU (fused path)
//
// The up-projection's epilogue on the fused path: the GEMM (cuBLAS) writes x·Wᵀ into pre, then
// one pass adds the bias, stores the pre-activation (saved for the backward) and the exact-erf
// GELU of it — instead of an add kernel and a gelu kernel (two reads and two writes of the
// [rows, cols] tensor instead of one read and two writes). cuBLASLt's GELU epilogue is the
// tanh form, which differs from the erf form by ~1e-2: it could serve only "gelu_new".
// The backward fuses dGELU with stage 1 of the bias gradient's column reduction.

// pre[r, c] = round_pdt(pre[r, c] + bias[c]); out[r, c] = gelu_erf(pre[r, c]) — the very values
// linear (add) + gelu would store. Launch: block 256, one row a block, grid-stride over rows.
extern "C" __global__ void solder_bias_gelu_forward(void* pre, int pdt, const void* bias, int bdt, void* out,
                                                    int odt, long long rows, int cols) {
    for (long long r = blockIdx.x; r < rows; r += gridDim.x) {
        long long base = r * cols;
        for (int c = threadIdx.x; c < cols; c += blockDim.x) {
            float v = solder_round(pdt, solder_load(pre, pdt, base + c) + solder_load(bias, bdt, c));
            solder_store(pre, pdt, base + c, v);
            solder_store(out, odt, base + c, 0.5f * v * (1.0f + erff(v * SOLDER_SQRT1_2)));
        }
    }
}

// dpre[r, c] = dy[r, c]·gelu_erf'(pre[r, c]) (stored in dpdt) and stage 1 of dbias = Σ_r dpre:
// block (bx, by) owns columns bx·32 .. bx·32+31 and rows [by·rowsPerChunk, (by+1)·rowsPerChunk),
// thread (x, y) walks rows y, y+8, ...; the 8 slices add in order into partials[by·cols + c]
// (double) — the layout solder_column_sum_finish reduces. Sums the stored (rounded) dpre, as
// sumToSuffix over the stored tensor would.
// Launch: block (32, 8), grid (ceil(cols/32), chunks) (LaunchConfig.columnSplit).
extern "C" __global__ void solder_bias_gelu_backward(const void* pre, int pdt, const void* dy, int dydt,
                                                     void* dpre, int dpdt, long long rows, int cols,
                                                     long long rowsPerChunk, double* partials) {
    __shared__ double slice[8][32];
    int c = blockIdx.x * 32 + threadIdx.x;
    long long r0 = (long long)blockIdx.y * rowsPerChunk;
    long long r1 = r0 + rowsPerChunk < rows ? r0 + rowsPerChunk : rows;
    double acc = 0.0;
    if (c < cols) {
        for (long long r = r0 + threadIdx.y; r < r1; r += 8) {
            long long i = r * cols + c;
            float v = solder_load(pre, pdt, i);
            float cdf = 0.5f * (1.0f + erff(v * SOLDER_SQRT1_2));
            float pdf = SOLDER_INV_SQRT_2PI * expf(-0.5f * v * v);
            float g = solder_round(dpdt, solder_load(dy, dydt, i) * (cdf + v * pdf));
            solder_store(dpre, dpdt, i, g);
            acc += (double)g;
        }
    }
    slice[threadIdx.y][threadIdx.x] = acc;
    __syncthreads();
    if (threadIdx.y == 0 && c < cols) {
        partials[(long long)blockIdx.y * cols + c] = solder_slices_total(slice);
    }
}

// ------------------------------------------------------------------ tanh

// out = tanh(x) (the BERT pooler's activation).
// Launch: 1-D, 256 threads, grid-stride.
extern "C" __global__ void solder_tanh_forward(const void* x, int xdt, void* out, int odt, long long n) {
    SOLDER_FOR_EACH(i, n) {
        solder_store(out, odt, i, tanhf(solder_load(x, xdt, i)));
    }
}

// dx = dy·(1 − y²), from the forward's output y.
// Launch: 1-D, 256 threads, grid-stride.
extern "C" __global__ void solder_tanh_backward(const void* y, int ydt, const void* dy, int dydt,
                                                void* dx, int dxdt, long long n) {
    SOLDER_FOR_EACH(i, n) {
        float t = solder_load(y, ydt, i);
        solder_store(dx, dxdt, i, solder_load(dy, dydt, i) * (1.0f - t * t));
    }
}
