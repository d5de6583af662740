// cuda_host_shim.h — what the host models (flash_host_model.cpp, adamw_host_model.cpp) need to
// compile a .cu file with g++: the CUDA qualifiers as no-ops, the launch coordinates, and the
// bit-level intrinsics the kernels call. A model includes this, defines how threads run (and,
// if its kernels use them, barriers and shuffles), then includes the .cu file.
//
// Define SOLDER_HOST_THREADS before including when every CUDA thread is its own host thread
// (threadIdx is then per host thread).

#ifndef SOLDER_CUDA_HOST_SHIM_H
#define SOLDER_CUDA_HOST_SHIM_H

#include <cstdlib>
#include <cstring>

#define __device__
#define __forceinline__ inline
#define __global__
#define __launch_bounds__(n)
#define __shared__ static
#define __align__(n) __attribute__((aligned(n)))
#define asm(...)

struct SolderDim3 {
    unsigned x, y, z;
};
#ifdef SOLDER_HOST_THREADS
thread_local SolderDim3 threadIdx, blockIdx;   // host_threads.h: each thread walks the blocks
#else
static SolderDim3 threadIdx, blockIdx;
#endif
static SolderDim3 blockDim, gridDim;

static inline unsigned __umulhi(unsigned a, unsigned b) {
    return (unsigned)(((unsigned long long)a * b) >> 32);
}
static inline float __uint_as_float(unsigned u) {
    float f;
    std::memcpy(&f, &u, 4);
    return f;
}
static inline unsigned __float_as_uint(float f) {
    unsigned u;
    std::memcpy(&u, &f, 4);
    return u;
}
static inline float __int_as_float(int i) {
    float f;
    std::memcpy(&f, &i, 4);
    return f;
}
// Round-to-nearest float32 arithmetic that CUDA never contracts; on the host (no -mfma) plain
// float operations are never contracted either.
static inline float __fadd_rn(float a, float b) {
    return a + b;
}
static inline float __fmul_rn(float a, float b) {
    return a * b;
}
[[noreturn]] static inline void __trap() {
    std::abort();
}

#endif
