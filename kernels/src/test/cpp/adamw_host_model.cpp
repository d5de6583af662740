// adamw_host_model.cpp — runs the kernels of adamw.cu on the HOST, for machines without a GPU
// (AdamwHostModelTest compiles it with g++ and checks what it prints).
//
// The kernels are elementwise with no shared memory and no barriers, so the model runs the
// blocks and their threads one after another. It prints the layout of SolderAdamwTensor as g++
// sees the declaration (the Java side writes the table at fixed offsets, CudaOptim.OFF_*), then
// checks that one launch of solder_adamw_multi over several parameters — a chunk list that
// crosses parameters and ends mid-parameter, fewer blocks than chunks, a clipping scale, a bf16
// gradient, per-parameter weight decay and bias corrections — gives bit for bit what one
// solder_adamw launch per parameter gives on gradients scaled beforehand (float32 g·scale),
// and that the low-precision copies it writes for some parameters (one bf16, one f16) hold the
// bits solder_convert gives for the updated parameters, the kernel a cast runs.
//
// Usage: adamw_host_model seed. Prints "layout ...", "copies N of M differ" and
// "mismatches N of M maxerr E chunks C".

#include <cmath>
#include <cstddef>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <math.h>
#include <random>
#include <vector>

#include "cuda_host_shim.h"

// Used by solder_common.cuh's block reductions, which adamw.cu does not call.
template <class T>
static inline T __shfl_xor_sync(unsigned, T, int) {
    std::abort();
}
static inline void __syncthreads() {
    std::abort();
}

#include "adamw.cu"
#include "elementwise.cu"

// Runs `kernel` as grid × block sequential threads.
template <class F>
static void launch(unsigned grid, unsigned block, F kernel) {
    gridDim = {grid, 1, 1};
    blockDim = {block, 1, 1};
    for (unsigned b = 0; b < grid; b++) {
        blockIdx = {b, 0, 0};
        for (unsigned t = 0; t < block; t++) {
            threadIdx = {t, 0, 0};
            kernel();
        }
    }
}

static unsigned short bf16(float f) {
    return solder_f32_to_bf16(f);
}

int main(int argc, char** argv) {
    if (argc != 2) {
        std::fprintf(stderr, "usage: adamw_host_model seed\n");
        return 2;
    }
    std::printf("layout size %zu param %zu grad %zu m %zu v %zu n %zu weightDecay %zu bc1 %zu bc2 %zu gdt %zu"
                " low %zu lowDt %zu\n",
                sizeof(SolderAdamwTensor), offsetof(SolderAdamwTensor, param), offsetof(SolderAdamwTensor, grad),
                offsetof(SolderAdamwTensor, m), offsetof(SolderAdamwTensor, v), offsetof(SolderAdamwTensor, n),
                offsetof(SolderAdamwTensor, weightDecay), offsetof(SolderAdamwTensor, bc1),
                offsetof(SolderAdamwTensor, bc2), offsetof(SolderAdamwTensor, gdt), offsetof(SolderAdamwTensor, low),
                offsetof(SolderAdamwTensor, lowDt));

    std::mt19937_64 rng(std::strtoull(argv[1], nullptr, 10));
    std::normal_distribution<float> normal(0.0f, 1.0f);
    std::uniform_real_distribution<float> unit(0.0f, 0.01f);
    const long long chunkSize = 1000;  // small, so few elements make many chunks
    const std::vector<long long> sizes = {1, 999, 1000, 2000, 3501, 7};
    const float lr = 1e-3f, beta1 = 0.9f, beta2 = 0.999f, eps = 1e-8f, gradScale = 0.37f;
    const size_t P = sizes.size();

    std::vector<std::vector<float>> p(P), m(P), v(P), g(P), p2, m2, v2, scaled(P);
    std::vector<std::vector<unsigned short>> gBf16(P), low(P);
    const int lowDt[] = {-1, SOLDER_BF16, -1, -1, SOLDER_F16, -1};  // parameters 1 and 4 keep a copy
    std::vector<SolderAdamwTensor> table(P);
    std::vector<int> chunkTensor;
    std::vector<long long> chunkStart;
    for (size_t i = 0; i < P; i++) {
        long long n = sizes[i];
        bool bf = i == 3;  // one parameter with a bf16 gradient
        for (long long e = 0; e < n; e++) {
            p[i].push_back(normal(rng));
            m[i].push_back(0.1f * normal(rng));
            v[i].push_back(unit(rng));
            float gi = normal(rng);
            if (bf) {
                gBf16[i].push_back(bf16(gi));
                gi = solder_bf16_to_f32(gBf16[i].back());
            }
            g[i].push_back(gi);
            scaled[i].push_back(gi * gradScale);
        }
        int t = (int)i + 1;
        table[i] = SolderAdamwTensor{nullptr, bf ? (const void*)gBf16[i].data() : (const void*)g[i].data(), nullptr,
                                     nullptr, n, i % 2 ? 0.01f : 0.0f, (float)(1 - std::pow(0.9, t)),
                                     (float)(1 - std::pow(0.999, t)), bf ? SOLDER_BF16 : SOLDER_F32, nullptr, 0};
        if (lowDt[i] >= 0) {
            low[i].assign(n, 0x7fff);  // a NaN pattern: an element the kernel skips cannot match
            table[i].low = low[i].data();
            table[i].lowDt = lowDt[i];
        }
        for (long long s = 0; s < n; s += chunkSize) {
            chunkTensor.push_back((int)i);
            chunkStart.push_back(s);
        }
    }
    std::vector<std::vector<float>> p0 = p, m0 = m, v0 = v;
    p2 = p;
    m2 = m;
    v2 = v;
    for (size_t i = 0; i < P; i++) {
        table[i].param = p[i].data();
        table[i].m = m[i].data();
        table[i].v = v[i].data();
    }
    int chunks = (int)chunkTensor.size();
    launch(chunks / 3 + 1, 256, [&] {
        solder_adamw_multi(table.data(), chunkTensor.data(), chunkStart.data(), chunks, chunkSize, lr, beta1, beta2,
                           eps, gradScale);
    });
    for (size_t i = 0; i < P; i++) {
        long long n = sizes[i];
        launch(2, 256, [&] {
            solder_adamw(p2[i].data(), scaled[i].data(), SOLDER_F32, m2[i].data(), v2[i].data(), n, lr, beta1, beta2,
                         eps, table[i].weightDecay, table[i].bc1, table[i].bc2);
        });
    }
    long long copyDiffs = 0, copied = 0;
    for (size_t i = 0; i < P; i++) {
        if (lowDt[i] < 0) {
            continue;
        }
        std::vector<unsigned short> cast(sizes[i]);
        long long n = sizes[i];
        launch(2, 256, [&] { solder_convert(p[i].data(), SOLDER_F32, cast.data(), lowDt[i], n); });
        for (long long e = 0; e < n; e++) {
            copied++;
            if (cast[e] != low[i][e] && copyDiffs++ < 5) {
                std::printf("copy of parameter %zu element %lld: %04x vs cast %04x\n", i, e, low[i][e], cast[e]);
            }
        }
    }
    std::printf("copies %lld of %lld differ\n", copyDiffs, copied);
    long long mismatches = 0, total = 0;
    for (size_t i = 0; i < P; i++) {
        for (long long e = 0; e < sizes[i]; e++) {
            total++;
            if (std::memcmp(&p[i][e], &p2[i][e], 4) || std::memcmp(&m[i][e], &m2[i][e], 4) ||
                std::memcmp(&v[i][e], &v2[i][e], 4)) {
                if (mismatches++ < 5) {
                    std::printf("mismatch parameter %zu element %lld: p %a vs %a\n", i, e, p[i][e], p2[i][e]);
                }
            }
        }
    }
    // Both sides skipping an element would also "match": check the parameters against a float64
    // evaluation of the update too (error relative to |p| + 1, float32 rounding is ~1e-7).
    double maxErr = 0;
    for (size_t i = 0; i < P; i++) {
        for (long long e = 0; e < sizes[i]; e++) {
            double gi = scaled[i][e];
            double mi = (double)m0[i][e] * beta1 + gi * (1.0 - beta1);
            double vi = (double)v0[i][e] * beta2 + gi * gi * (1.0 - beta2);
            double ref = (double)p0[i][e] * (1.0 - (double)lr * table[i].weightDecay)
                         - lr * (mi / table[i].bc1) / (std::sqrt(vi / table[i].bc2) + eps);
            maxErr = std::fmax(maxErr, std::fabs(p[i][e] - ref) / (std::fabs(ref) + 1.0));
        }
    }
    std::printf("mismatches %lld of %lld maxerr %.3g chunks %d\n", mismatches, total, maxErr, chunks);
    return 0;
}
