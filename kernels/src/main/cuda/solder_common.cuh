// solder_common.cuh — what every Solder kernel file shares.
//
// The kernels of the cuBLAS-only path take their tensors as untyped pointers plus a dtype
// code, and convert to float32 on load and back on store. One kernel then serves float32,
// bfloat16 and float16 (and the integer ids/labels), instead of one instantiation per dtype
// combination: the switch on the code is uniform across a warp, so it costs a few
// instructions, and these kernels are memory-bound.
//
// The file needs no CUDA header at all (no cuda_fp16.h, cuda_bf16.h, cfloat, cstdint), so
// the very same text compiles with nvcc at build time and with NVRTC at run time, where no
// include path is configured. The Java side inlines this header textually for NVRTC.

#ifndef SOLDER_COMMON_CUH
#define SOLDER_COMMON_CUH

// dtype codes: equal to the ordinals of dev.solder.DType (a Java test checks this).
#define SOLDER_F32 0
#define SOLDER_BF16 1
#define SOLDER_F16 2
#define SOLDER_I32 3
#define SOLDER_I64 4
// Internal only (reductions write their double result here): never a tensor dtype.
#define SOLDER_F64 5

#define SOLDER_FLT_MAX 3.402823466e+38f

// Grid-stride loop over [0, n) for 1-D launches (64-bit indices).
#define SOLDER_FOR_EACH(i, n)                                                                   \
    for (long long i = (long long)blockIdx.x * blockDim.x + threadIdx.x; i < (n);               \
         i += (long long)gridDim.x * blockDim.x)

// ------------------------------------------------------------------ scalar conversions

// bfloat16 -> float32 is exact: the bf16 bits are the high half of the float's bits.
__device__ __forceinline__ float solder_bf16_to_f32(unsigned short h) {
    return __uint_as_float(((unsigned int)h) << 16);
}

// float32 -> bfloat16, round to nearest even; a NaN stays a (quiet) NaN. Bit for bit the
// function dev.solder.DType.floatToBf16 computes, so CPU and GPU casts agree exactly.
__device__ __forceinline__ unsigned short solder_f32_to_bf16(float f) {
    unsigned int b = __float_as_uint(f);
    if ((b & 0x7fffffffu) > 0x7f800000u) {
        return (unsigned short)((b >> 16) | 0x40u);
    }
    unsigned int rounding = 0x7fffu + ((b >> 16) & 1u);
    return (unsigned short)((b + rounding) >> 16);
}

// IEEE half <-> float32 through the PTX conversions (round to nearest even), which need no
// header. Java's Float.floatToFloat16 rounds the same way.
__device__ __forceinline__ float solder_f16_to_f32(unsigned short h) {
    float f;
    asm("cvt.f32.f16 %0, %1;" : "=f"(f) : "h"(h));
    return f;
}

__device__ __forceinline__ unsigned short solder_f32_to_f16(float f) {
    unsigned short h;
    asm("cvt.rn.f16.f32 %0, %1;" : "=h"(h) : "f"(f));
    return h;
}

// ------------------------------------------------------------------ typed loads and stores

// Element i of a tensor of dtype dt, as float32. Integers convert as Java's (float)(double)v
// does (int64 goes through double first, so the rare double rounding matches the CPU).
__device__ __forceinline__ float solder_load(const void* p, int dt, long long i) {
    switch (dt) {
        case SOLDER_BF16: return solder_bf16_to_f32(((const unsigned short*)p)[i]);
        case SOLDER_F16: return solder_f16_to_f32(((const unsigned short*)p)[i]);
        case SOLDER_I32: return (float)((const int*)p)[i];
        case SOLDER_I64: return (float)(double)((const long long*)p)[i];
        case SOLDER_F64: return (float)((const double*)p)[i];
        default: return ((const float*)p)[i];
    }
}

// Stores v as element i of a tensor of dtype dt. Integer targets truncate toward zero and
// saturate (NaN -> 0), as Java's (int)/(long) casts of a double do.
__device__ __forceinline__ void solder_store(void* p, int dt, long long i, float v) {
    switch (dt) {
        case SOLDER_BF16: ((unsigned short*)p)[i] = solder_f32_to_bf16(v); break;
        case SOLDER_F16: ((unsigned short*)p)[i] = solder_f32_to_f16(v); break;
        case SOLDER_I32: ((int*)p)[i] = (int)v; break;
        case SOLDER_I64: ((long long*)p)[i] = (long long)v; break;
        case SOLDER_F64: ((double*)p)[i] = (double)v; break;
        default: ((float*)p)[i] = v; break;
    }
}

// v rounded to dtype dt and back (the value a store of v into a dt tensor would hold).
__device__ __forceinline__ float solder_round(int dt, float v) {
    switch (dt) {
        case SOLDER_BF16: return solder_bf16_to_f32(solder_f32_to_bf16(v));
        case SOLDER_F16: return solder_f16_to_f32(solder_f32_to_f16(v));
        default: return v;
    }
}

// Element i of an integer tensor (ids, labels, masks) as a 64-bit integer. Floating codes
// are accepted too (a float attention mask), truncated toward zero.
__device__ __forceinline__ long long solder_load_index(const void* p, int dt, long long i) {
    switch (dt) {
        case SOLDER_I32: return (long long)((const int*)p)[i];
        case SOLDER_I64: return ((const long long*)p)[i];
        default: return (long long)solder_load(p, dt, i);
    }
}

// True when element i of a mask (int or float) is zero: HF's "0 = do not attend".
__device__ __forceinline__ bool solder_is_zero(const void* p, int dt, long long i) {
    switch (dt) {
        case SOLDER_I32: return ((const int*)p)[i] == 0;
        case SOLDER_I64: return ((const long long*)p)[i] == 0;
        default: return solder_load(p, dt, i) == 0.0f;
    }
}

// ------------------------------------------------------------------ 16-byte vector accesses
//
// A memory-bound kernel moves the most bytes per instruction with 16-byte loads and stores:
// 4 float32 or 8 bfloat16/float16 values. Scalar 2-byte accesses to bf16 tensors reach about
// a third of an H100's bandwidth (bias + GELU over [4096, 3072]: 989 GB/s scalar in bf16
// against 2255 GB/s in float32, bench/results/2026-11-27-h100-fused-kernels.md). The unpacking
// and packing below convert exactly as solder_load and solder_store do, so a kernel's vector
// path and its scalar path store the same bits.

// A 16-byte access: 4 floats or 8 halves.
struct alignas(16) SolderU4 {
    unsigned int a, b, c, d;
};

template <int DT>
struct SolderVec;

template <>
struct SolderVec<SOLDER_F32> {
    static const int N = 4;
    __device__ __forceinline__ static void unpack(const SolderU4& u, float* v) {
        v[0] = __uint_as_float(u.a);
        v[1] = __uint_as_float(u.b);
        v[2] = __uint_as_float(u.c);
        v[3] = __uint_as_float(u.d);
    }
    __device__ __forceinline__ static SolderU4 pack(const float* v) {
        SolderU4 u;
        u.a = __float_as_uint(v[0]);
        u.b = __float_as_uint(v[1]);
        u.c = __float_as_uint(v[2]);
        u.d = __float_as_uint(v[3]);
        return u;
    }
    __device__ __forceinline__ static float round(float v) {
        return v;
    }
};

// Eight 16-bit floats (DT bf16 or fp16), two to a 32-bit word, low half first.
template <int DT>
struct SolderVecHalf {
    static const int N = 8;
    __device__ __forceinline__ static float toF(unsigned short h) {
        return DT == SOLDER_BF16 ? solder_bf16_to_f32(h) : solder_f16_to_f32(h);
    }
    __device__ __forceinline__ static unsigned short fromF(float f) {
        return DT == SOLDER_BF16 ? solder_f32_to_bf16(f) : solder_f32_to_f16(f);
    }
    __device__ __forceinline__ static void unpack2(unsigned int w, float* v) {
        v[0] = toF((unsigned short)(w & 0xffffu));
        v[1] = toF((unsigned short)(w >> 16));
    }
    __device__ __forceinline__ static void unpack(const SolderU4& u, float* v) {
        unpack2(u.a, v);
        unpack2(u.b, v + 2);
        unpack2(u.c, v + 4);
        unpack2(u.d, v + 6);
    }
    __device__ __forceinline__ static unsigned int pack2(float lo, float hi) {
        return (unsigned int)fromF(lo) | ((unsigned int)fromF(hi) << 16);
    }
    __device__ __forceinline__ static SolderU4 pack(const float* v) {
        SolderU4 u;
        u.a = pack2(v[0], v[1]);
        u.b = pack2(v[2], v[3]);
        u.c = pack2(v[4], v[5]);
        u.d = pack2(v[6], v[7]);
        return u;
    }
    __device__ __forceinline__ static float round(float v) {
        return toF(fromF(v));
    }
};

template <>
struct SolderVec<SOLDER_BF16> : SolderVecHalf<SOLDER_BF16> {
};

template <>
struct SolderVec<SOLDER_F16> : SolderVecHalf<SOLDER_F16> {
};

// 16-byte unit vi of p (element vi·N of its dtype), as N float32 values.
template <int DT>
__device__ __forceinline__ void solder_vload(const void* p, long long vi, float* v) {
    SolderU4 u = ((const SolderU4*)p)[vi];
    SolderVec<DT>::unpack(u, v);
}

template <int DT>
__device__ __forceinline__ void solder_vstore(void* p, long long vi, const float* v) {
    ((SolderU4*)p)[vi] = SolderVec<DT>::pack(v);
}

// True when p is a float32, bfloat16 or float16 tensor that solder_load8/solder_store8 may
// access: a floating dtype and a 16-byte aligned pointer. The check is uniform across a launch,
// so a kernel branches on it once and every thread takes the same path.
__device__ __forceinline__ bool solder_vec8_ok(const void* p, int dt) {
    return (dt == SOLDER_F32 || dt == SOLDER_BF16 || dt == SOLDER_F16) && ((unsigned long long)p & 15u) == 0;
}

// Elements 8u .. 8u + 7 of p (dtype dt; solder_vec8_ok) as float32: one 16-byte load for a
// 16-bit type, two for float32. The values solder_load would give, element for element.
__device__ __forceinline__ void solder_load8(const void* p, int dt, long long u, float* v) {
    switch (dt) {
        case SOLDER_BF16: solder_vload<SOLDER_BF16>(p, u, v); break;
        case SOLDER_F16: solder_vload<SOLDER_F16>(p, u, v); break;
        default:
            solder_vload<SOLDER_F32>(p, 2 * u, v);
            solder_vload<SOLDER_F32>(p, 2 * u + 1, v + 4);
            break;
    }
}

// Stores v as elements 8u .. 8u + 7 of p, rounded as solder_store rounds each one.
__device__ __forceinline__ void solder_store8(void* p, int dt, long long u, const float* v) {
    switch (dt) {
        case SOLDER_BF16: solder_vstore<SOLDER_BF16>(p, u, v); break;
        case SOLDER_F16: solder_vstore<SOLDER_F16>(p, u, v); break;
        default:
            solder_vstore<SOLDER_F32>(p, 2 * u, v);
            solder_vstore<SOLDER_F32>(p, 2 * u + 1, v + 4);
            break;
    }
}

// ------------------------------------------------------------------ warp reductions

// Butterfly reductions: every lane ends with the same value, summed in the same order on
// every run, so results are deterministic.
__device__ __forceinline__ float solder_warp_sum(float v) {
    for (int off = 16; off > 0; off >>= 1) {
        v += __shfl_xor_sync(0xffffffffu, v, off);
    }
    return v;
}

__device__ __forceinline__ float solder_warp_max(float v) {
    for (int off = 16; off > 0; off >>= 1) {
        v = fmaxf(v, __shfl_xor_sync(0xffffffffu, v, off));
    }
    return v;
}

__device__ __forceinline__ double solder_warp_sum_d(double v) {
    for (int off = 16; off > 0; off >>= 1) {
        v += __shfl_xor_sync(0xffffffffu, v, off);
    }
    return v;
}

// Sum of v over a 1-D block (blockDim.x a multiple of 32, at most 1024), in a fixed order:
// butterfly within each warp, then warp 0's thread 0 adds the warp totals in warp order.
// The result is valid in thread 0 only. Every thread of the block must call it.
__device__ __forceinline__ double solder_block_sum_d(double v, double* shared32) {
    v = solder_warp_sum_d(v);
    int warp = threadIdx.x >> 5;
    int lane = threadIdx.x & 31;
    if (lane == 0) {
        shared32[warp] = v;
    }
    __syncthreads();
    double total = 0.0;
    if (threadIdx.x == 0) {
        int warps = blockDim.x >> 5;
        for (int w = 0; w < warps; w++) {
            total += shared32[w];
        }
    }
    __syncthreads();  // the caller may reuse shared32 right away
    return total;
}

// The second half of a (32, 8)-block column sum: slice[y][x] holds slice y's sum for column x of
// the block's tile; thread (x, 0) adds the 8 slices in slice order — the one fixed order that the
// column-sum kernels (reduce.cu, the bias-GELU backward) and FakeDeviceApi's models share.
__device__ __forceinline__ double solder_slices_total(const double (*slice)[32]) {
    double total = 0.0;
    for (int y = 0; y < 8; y++) {
        total += slice[y][threadIdx.x];
    }
    return total;
}

// ------------------------------------------------------------------ Philox4x32-10

// The first 32-bit output word of Philox4x32-10 for counter (lo32(index), hi32(index), 0, 0)
// and key (lo32(seed), hi32(seed)): exactly dev.solder.Philox.bits, so a dropout mask drawn
// here equals the CPU backend's for the same seed and element index.
__device__ __forceinline__ unsigned int solder_philox_bits(unsigned long long seed, unsigned long long index) {
    unsigned int c0 = (unsigned int)index;
    unsigned int c1 = (unsigned int)(index >> 32);
    unsigned int c2 = 0u;
    unsigned int c3 = 0u;
    unsigned int k0 = (unsigned int)seed;
    unsigned int k1 = (unsigned int)(seed >> 32);
#pragma unroll
    for (int round = 0; round < 10; round++) {
        unsigned int lo0 = 0xD2511F53u * c0;
        unsigned int hi0 = __umulhi(0xD2511F53u, c0);
        unsigned int lo1 = 0xCD9E8D57u * c2;
        unsigned int hi1 = __umulhi(0xCD9E8D57u, c2);
        unsigned int n0 = hi1 ^ c1 ^ k0;
        unsigned int n2 = hi0 ^ c3 ^ k1;
        c0 = n0;
        c1 = lo1;
        c2 = n2;
        c3 = lo0;
        k0 += 0x9E3779B9u;
        k1 += 0xBB67AE85u;
    }
    return c0;
}

// Dropout's rule (dev.solder.Philox.keep): uniform = (bits >> 8)·2^-24, kept when >= p.
__device__ __forceinline__ bool solder_dropout_keep(unsigned long long seed, unsigned long long index, float p) {
    float u = (float)(solder_philox_bits(seed, index) >> 8) * 5.9604644775390625e-8f;
    return u >= p;
}

#endif  // SOLDER_COMMON_CUH
