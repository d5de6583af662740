// elementwise.cu — fills, dtype conversions, strided copies, add/mul/scale, GELU and tanh.
//
// Every kernel here is one pass over memory with no reuse, so the whole design is: a 1-D
// grid-stride loop (256 threads a block, the block count capped by the Java side in
// LaunchConfig), 64-bit element indices, and float32 arithmetic between a load that converts
// from the input's dtype and a store that converts to the output's. Forward and backward of
// each activation sit side by side.
//
// The kernels the training step runs on big tensors (conversions, add, mul, scale, GELU and
// the fused bias + GELU) have two paths. When every tensor is float32/bf16/fp16 and 16-byte
// aligned (solder_vec8_ok: uniform across the launch), a thread takes eight elements at a
// time with 16-byte accesses (solder_load8/solder_store8) and the last n mod 8 elements go
// one by one; otherwise every element goes through solder_load/solder_store. Both paths do
// the same float32 arithmetic on the same values and round the same way, so they store the
// same bits (elementwise_host_model checks this). Their launch is LaunchConfig.vec8: threads
// for n / 8 units, not n elements.

#include "solder_common.cuh"

// Element index of the first thread and the stride of a 1-D grid-stride loop.
#define SOLDER_THREAD_INDEX ((long long)blockIdx.x * blockDim.x + threadIdx.x)
#define SOLDER_THREAD_STRIDE ((long long)gridDim.x * blockDim.x)

// Grid-stride loop over the elements the vector path leaves: [8·(n / 8), n) when vec, else all.
#define SOLDER_FOR_EACH_REST(i, n, vec)                                                          \
    for (long long i = ((vec) ? (n) / 8 * 8 : 0) + SOLDER_THREAD_INDEX; i < (n); i += SOLDER_THREAD_STRIDE)

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
// The vector path converts between two different floating types through float32. A same-dtype
// copy goes element by element, bits as they are (NaN payloads included): the Java side never
// launches one (CudaCopy copies the bytes), and load8/store8 would quiet a signalling NaN.
// Launch: LaunchConfig.vec8.
extern "C" __global__ void solder_convert(const void* src, int sdt, void* dst, int ddt, long long n) {
    bool vec = sdt != ddt && solder_vec8_ok(src, sdt) && solder_vec8_ok(dst, ddt);
    if (vec) {
        SOLDER_FOR_EACH(u, n / 8) {
            float v[8];
            solder_load8(src, sdt, u, v);
            solder_store8(dst, ddt, u, v);
        }
    }
    SOLDER_FOR_EACH_REST(i, n, vec) {
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

// alpha·x + beta·y with each product and the sum rounded on its own, never contracted into an
// FMA: the CPU backend's arithmetic (and FakeDeviceApi's), the same on both paths.
__device__ __forceinline__ float solder_axpby(float alpha, float x, float beta, float y) {
    return __fadd_rn(__fmul_rn(alpha, x), __fmul_rn(beta, y));
}

// out[i] = f(a[i]): the body of solder_scale and solder_gelu_forward. f is a functor
// float(float), so both paths compute every element with the same code.
template <class F>
__device__ __forceinline__ void solder_unary(const void* a, int adt, void* out, int odt, long long n, F f) {
    bool vec = solder_vec8_ok(a, adt) && solder_vec8_ok(out, odt);
    if (vec) {
        SOLDER_FOR_EACH(u, n / 8) {
            float x[8];
            solder_load8(a, adt, u, x);
#pragma unroll
            for (int e = 0; e < 8; e++) {
                x[e] = f(x[e]);
            }
            solder_store8(out, odt, u, x);
        }
    }
    SOLDER_FOR_EACH_REST(i, n, vec) {
        solder_store(out, odt, i, f(solder_load(a, adt, i)));
    }
}

// True when a binary op's three tensors can take the vector path: b as long as a (unit u of a
// meets unit u of b; the tail goes element by element), or b's length nb a multiple of 8 (b repeats
// along a's leading elements and a unit of a meets one whole unit of b).
__device__ __forceinline__ bool solder_binary_vec8(const void* a, int adt, const void* b, int bdt, const void* out,
                                                   int odt, long long n, long long nb) {
    return (nb == n || nb % 8 == 0) && solder_vec8_ok(a, adt) && solder_vec8_ok(b, bdt) && solder_vec8_ok(out, odt);
}

// out[i] = f(a[i], b[i mod nb]) with b equal to a in shape (nb == n) or repeated along a's
// leading elements (nb divides n): the body of solder_add, solder_mul and solder_gelu_backward.
// f is a functor float(float, float); one per kernel, so both paths compute every element with
// the same code.
template <class F>
__device__ __forceinline__ void solder_binary(const void* a, int adt, const void* b, int bdt, void* out, int odt,
                                              long long n, long long nb, F f) {
    bool vec = solder_binary_vec8(a, adt, b, bdt, out, odt, n, nb);
    if (vec) {
        long long unitsB = nb == n ? n / 8 : nb / 8;
        SOLDER_FOR_EACH(u, n / 8) {
            float x[8], y[8];
            solder_load8(a, adt, u, x);
            solder_load8(b, bdt, unitsB == n / 8 ? u : u % unitsB, y);
#pragma unroll
            for (int e = 0; e < 8; e++) {
                x[e] = f(x[e], y[e]);
            }
            solder_store8(out, odt, u, x);
        }
    }
    SOLDER_FOR_EACH_REST(i, n, vec) {
        long long j = nb == n ? i : i % nb;
        solder_store(out, odt, i, f(solder_load(a, adt, i), solder_load(b, bdt, j)));
    }
}

struct SolderAxpby {
    float alpha, beta;
    __device__ __forceinline__ float operator()(float x, float y) const {
        return solder_axpby(alpha, x, beta, y);
    }
};

struct SolderTimes {
    __device__ __forceinline__ float operator()(float x, float y) const {
        return x * y;
    }
};

// out[i] = alpha·a[i] + beta·b[i mod nb]: b equal to a in shape (nb == n) or repeated along
// a's leading elements (nb divides n). out may alias a (each element is read, then
// written, by the same thread).
// Launch: LaunchConfig.vec8.
extern "C" __global__ void solder_add(const void* a, int adt, const void* b, int bdt, float alpha, float beta,
                                      void* out, int odt, long long n, long long nb) {
    solder_binary(a, adt, b, bdt, out, odt, n, nb, SolderAxpby{alpha, beta});
}

// out[i] = a[i]·b[i mod nb], broadcasting as solder_add. out may alias a.
// Launch: LaunchConfig.vec8.
extern "C" __global__ void solder_mul(const void* a, int adt, const void* b, int bdt,
                                      void* out, int odt, long long n, long long nb) {
    solder_binary(a, adt, b, bdt, out, odt, n, nb, SolderTimes{});
}

struct SolderScaleBy {
    float s;
    __device__ __forceinline__ float operator()(float x) const {
        return s * x;
    }
};

// out[i] = s·a[i]. out may alias a.
// Launch: LaunchConfig.vec8.
extern "C" __global__ void solder_scale(const void* a, int adt, float s, void* out, int odt, long long n) {
    solder_unary(a, adt, out, odt, n, SolderScaleBy{s});
}

// ------------------------------------------------------------------ GELU

#define SOLDER_SQRT1_2 0.70710678118654752440f      // 1/sqrt(2)
#define SOLDER_INV_SQRT_2PI 0.39894228040143267794f // 1/sqrt(2·pi)
#define SOLDER_SQRT_2_OVER_PI 0.79788456080286535588f
#define SOLDER_GELU_C 0.044715f

// gelu(v). Exact (HF "gelu"): v·Φ(v) = 0.5·v·(1 + erf(v/√2)). With tanhApprox (HF
// "gelu_new"): 0.5·v·(1 + tanh(√(2/π)·(v + 0.044715·v³))). One function for every kernel and
// both paths, so they all compute the same bits.
__device__ __forceinline__ float solder_gelu(float v, bool tanhApprox) {
    if (tanhApprox) {
        float u = SOLDER_SQRT_2_OVER_PI * (v + SOLDER_GELU_C * v * v * v);
        return 0.5f * v * (1.0f + tanhf(u));
    }
    return 0.5f * v * (1.0f + erff(v * SOLDER_SQRT1_2));
}

// gelu'(v). Exact: Φ(v) + v·φ(v) with φ the standard normal density. Tanh form:
// 0.5·(1 + t) + 0.5·v·(1 − t²)·√(2/π)·(1 + 3·0.044715·v²).
__device__ __forceinline__ float solder_gelu_grad(float v, bool tanhApprox) {
    if (tanhApprox) {
        float u = SOLDER_SQRT_2_OVER_PI * (v + SOLDER_GELU_C * v * v * v);
        float t = tanhf(u);
        float du = SOLDER_SQRT_2_OVER_PI * (1.0f + 3.0f * SOLDER_GELU_C * v * v);
        return 0.5f * (1.0f + t) + 0.5f * v * (1.0f - t * t) * du;
    }
    float cdf = 0.5f * (1.0f + erff(v * SOLDER_SQRT1_2));
    float pdf = SOLDER_INV_SQRT_2PI * expf(-0.5f * v * v);
    return cdf + v * pdf;
}

struct SolderGelu {
    bool tanhApprox;
    __device__ __forceinline__ float operator()(float v) const {
        return solder_gelu(v, tanhApprox);
    }
};

// dy·gelu'(v), taking (v, dy).
struct SolderGeluGrad {
    bool tanhApprox;
    __device__ __forceinline__ float operator()(float v, float dy) const {
        return dy * solder_gelu_grad(v, tanhApprox);
    }
};

// GELU forward: out = gelu(x). Launch: LaunchConfig.vec8.
extern "C" __global__ void solder_gelu_forward(const void* x, int xdt, void* out, int odt, long long n,
                                               int tanhApprox) {
    solder_unary(x, xdt, out, odt, n, SolderGelu{tanhApprox != 0});
}

// GELU backward: dx = dy·gelu'(x), dy of x's shape. Launch: LaunchConfig.vec8.
extern "C" __global__ void solder_gelu_backward(const void* x, int xdt, const void* dy, int dydt,
                                                void* dx, int dxdt, long long n, int tanhApprox) {
    solder_binary(x, xdt, dy, dydt, dx, dxdt, n, n, SolderGeluGrad{tanhApprox != 0});
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
// linear (add) + gelu would store. Flat over the rows·cols elements: with cols a multiple of 8
// a unit of 8 never straddles two rows and meets one unit of bias.
// Launch: LaunchConfig.vec8(rows·cols).
extern "C" __global__ void solder_bias_gelu_forward(void* pre, int pdt, const void* bias, int bdt, void* out,
                                                    int odt, long long rows, int cols) {
    long long n = rows * cols;
    bool vec = cols % 8 == 0 && solder_vec8_ok(pre, pdt) && solder_vec8_ok(bias, bdt) && solder_vec8_ok(out, odt);
    if (vec) {
        int unitsPerRow = cols / 8;
        SOLDER_FOR_EACH(u, n / 8) {
            float v[8], b[8];
            solder_load8(pre, pdt, u, v);
            solder_load8(bias, bdt, u % unitsPerRow, b);
#pragma unroll
            for (int e = 0; e < 8; e++) {
                v[e] = solder_round(pdt, v[e] + b[e]);
            }
            solder_store8(pre, pdt, u, v);
#pragma unroll
            for (int e = 0; e < 8; e++) {
                v[e] = solder_gelu(v[e], false);
            }
            solder_store8(out, odt, u, v);
        }
    }
    SOLDER_FOR_EACH_REST(i, n, vec) {
        float v = solder_round(pdt, solder_load(pre, pdt, i) + solder_load(bias, bdt, i % cols));
        solder_store(pre, pdt, i, v);
        solder_store(out, odt, i, solder_gelu(v, false));
    }
}

// dpre[r, c] = dy[r, c]·gelu_erf'(pre[r, c]) (stored in dpdt) and stage 1 of dbias = Σ_r dpre:
// block (bx, by) owns columns bx·256 .. bx·256+255 — thread x the eight columns bx·256 + 8x ..
// — and rows [by·rowsPerChunk, (by+1)·rowsPerChunk); thread (x, y) walks rows y, y+8, ...; for
// each column the 8 slices add in order into partials[by·cols + c] (double) — the layout
// solder_column_sum_finish reduces, and the order of a 32-column (32, 8) column reduction
// (solder_slices_total), so the sums are the same bits as reduce.cu's over the stored dpre.
// Eight columns a thread give 16-byte accesses on the vector path (cols a multiple of 8, every
// tensor aligned); otherwise the thread walks its columns one by one.
// Launch: block (32, 8), grid (ceil(cols/256), chunks) (LaunchConfig.columnSplit with
// BIAS_GELU_TILE).
extern "C" __global__ void solder_bias_gelu_backward(const void* pre, int pdt, const void* dy, int dydt,
                                                     void* dpre, int dpdt, long long rows, int cols,
                                                     long long rowsPerChunk, double* partials) {
    __shared__ double slice[8][32];
    bool vec = cols % 8 == 0 && solder_vec8_ok(pre, pdt) && solder_vec8_ok(dy, dydt) && solder_vec8_ok(dpre, dpdt);
    int c0 = blockIdx.x * 256 + threadIdx.x * 8;
    long long r0 = (long long)blockIdx.y * rowsPerChunk;
    long long r1 = r0 + rowsPerChunk < rows ? r0 + rowsPerChunk : rows;
    double acc[8];
#pragma unroll
    for (int e = 0; e < 8; e++) {
        acc[e] = 0.0;
    }
    if (vec && c0 < cols) {
        for (long long r = r0 + threadIdx.y; r < r1; r += 8) {
            long long u = (r * cols + c0) / 8;
            float v[8], g[8];
            solder_load8(pre, pdt, u, v);
            solder_load8(dy, dydt, u, g);
#pragma unroll
            for (int e = 0; e < 8; e++) {
                g[e] = solder_round(dpdt, g[e] * solder_gelu_grad(v[e], false));
                acc[e] += (double)g[e];
            }
            solder_store8(dpre, dpdt, u, g);
        }
    } else if (!vec) {
        for (long long r = r0 + threadIdx.y; r < r1; r += 8) {
#pragma unroll
            for (int e = 0; e < 8; e++) {
                if (c0 + e < cols) {
                    long long i = r * cols + c0 + e;
                    float g = solder_round(dpdt, solder_load(dy, dydt, i)
                                                     * solder_gelu_grad(solder_load(pre, pdt, i), false));
                    solder_store(dpre, dpdt, i, g);
                    acc[e] += (double)g;
                }
            }
        }
    }
    // The block's 256 columns go through the (32, 8) slice table in eight groups of 32: group k
    // holds element k of every thread, i.e. columns bx·256 + 8x + k for x = 0..31.
#pragma unroll
    for (int k = 0; k < 8; k++) {
        slice[threadIdx.y][threadIdx.x] = acc[k];
        __syncthreads();
        if (threadIdx.y == 0 && c0 + k < cols) {
            partials[(long long)blockIdx.y * cols + c0 + k] = solder_slices_total(slice);
        }
        __syncthreads();
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
