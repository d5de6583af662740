// reduce_host_model.cpp — runs the sum-of-squares kernels of reduce.cu on the HOST, for machines
// without a GPU (ReduceHostModelTest compiles it with g++ and checks what it prints).
//
// Every CUDA thread is a host thread (host_threads.h: block barriers and warp shuffles as on the
// GPU), blocks one after another. It prints the layout of SolderSumSqTensor as g++ sees the
// declaration (CudaReduce writes the table at fixed offsets, CudaReduce.SUMSQ_OFF_*), then checks
// that the two-launch many-tensor sum (solder_sumsq_multi_partial/finish) gives every tensor the
// bits of its own solder_reduce_partial + solder_reduce_finish launches: tensors of 0, 1, 3 and
// several blocks, one whose G is smaller than its element count needs (each thread loops), a
// bf16 tensor, and fewer blocks than partials (the partial kernel strides).
//
// Usage: reduce_host_model seed. Prints "layout ...", then "mismatches N of M maxrel E".

#include <cmath>
#include <cstddef>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <math.h>
#include <random>
#include <vector>

#include "host_threads.h"
#include "reduce.cu"

int main(int argc, char** argv) {
    if (argc != 2) {
        std::fprintf(stderr, "usage: reduce_host_model seed\n");
        return 2;
    }
    std::printf("layout size %zu x %zu n %zu firstPartial %zu dt %zu blocks %zu\n", sizeof(SolderSumSqTensor),
                offsetof(SolderSumSqTensor, x), offsetof(SolderSumSqTensor, n),
                offsetof(SolderSumSqTensor, firstPartial), offsetof(SolderSumSqTensor, dt),
                offsetof(SolderSumSqTensor, blocks));
    std::mt19937_64 rng(std::strtoull(argv[1], nullptr, 10));
    std::normal_distribution<float> normal(0.0f, 1.0f);
    // (elements, blocks G, bf16?): G as LaunchConfig.reducePartial picks it, except 5000 → 3
    struct Case {
        long long n;
        int blocks;
        bool bf16;
    };
    const std::vector<Case> cases = {{3, 1, false}, {0, 1, false}, {1237, 5, false}, {5000, 3, false},
                                     {513, 3, true}, {4096, 16, false}};
    const int count = (int)cases.size();
    std::vector<std::vector<float>> f32(count);
    std::vector<std::vector<unsigned short>> b16(count);
    std::vector<SolderSumSqTensor> table(count);
    long long total = 0;
    for (int i = 0; i < count; i++) {
        for (long long e = 0; e < cases[i].n; e++) {
            float v = normal(rng);
            if (cases[i].bf16) {
                b16[i].push_back(solder_f32_to_bf16(v));
            } else {
                f32[i].push_back(v);
            }
        }
        const void* x = cases[i].bf16 ? (const void*)b16[i].data() : (const void*)f32[i].data();
        table[i] = SolderSumSqTensor{x, cases[i].n, total, cases[i].bf16 ? SOLDER_BF16 : SOLDER_F32, cases[i].blocks};
        total += cases[i].blocks;
    }

    // Each tensor alone, as CudaReduce.reduceAll launches it.
    std::vector<double> own(count);
    for (int i = 0; i < count; i++) {
        std::vector<double> partials(cases[i].blocks, -1.0);
        launch(cases[i].blocks, 1, 256, [&] {
            solder_reduce_partial(table[i].x, table[i].dt, nullptr, 0, SOLDER_REDUCE_SUMSQ, cases[i].n,
                                  partials.data());
        });
        launch(1, 1, 256, [&] { solder_reduce_finish(partials.data(), cases[i].blocks, 1.0, &own[i], SOLDER_F64); });
    }

    // All of them in two launches, with fewer blocks than partials and than tensors.
    std::vector<double> partials(total, -1.0), out(count, -1.0);
    launch(7, 1, 256, [&] { solder_sumsq_multi_partial(table.data(), count, total, partials.data()); });
    launch(2, 1, 256, [&] { solder_sumsq_multi_finish(table.data(), count, partials.data(), out.data()); });

    long long mismatches = 0;
    double maxRel = 0;
    for (int i = 0; i < count; i++) {
        if (std::memcmp(&own[i], &out[i], sizeof(double)) != 0) {
            mismatches++;
            std::printf("tensor %d: many-tensor %a vs own launch %a\n", i, out[i], own[i]);
        }
        // Both could agree on a wrong sum: check against a plain float64 loop too.
        double ref = 0;
        for (long long e = 0; e < cases[i].n; e++) {
            double v = cases[i].bf16 ? (double)solder_bf16_to_f32(b16[i][e]) : (double)f32[i][e];
            ref += v * v;
        }
        maxRel = std::fmax(maxRel, std::fabs(out[i] - ref) / (ref + 1e-300));
    }
    std::printf("mismatches %lld of %d maxrel %.3g\n", mismatches, count, maxRel);
    return 0;
}
