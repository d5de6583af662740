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
// Then the column finish: solder_column_sum_finish against its order written out here, bit for
// bit (on inputs where the order changes the float result, counted as "ordermatters"), and
// against a plain chunk-order loop within float32 rounding where the order does not matter.
//
// Usage: reduce_host_model seed. Prints "layout ...", "mismatches N of M maxrel E", then
// "finish mismatches N of M maxrel E ordermatters K".

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

    // The column finish (stage 2 of sumToSuffix and of LayerNorm's dgamma/dbeta): each column's
    // chunks in eight slices k ≡ s (mod 8), each in chunk order, the slices in order — the order
    // FakeDeviceApi models — and one or two outputs a launch. Cases (chunks, cols, planes, grid x):
    // the fused LayerNorm's 256 × 768 pair, a cuBLAS-path split, fewer chunks than slices, one
    // chunk, and a grid smaller than the column tiles (the kernel strides).
    struct Finish {
        int chunks;
        long long cols;
        int planes;
        int gx;
    };
    const std::vector<Finish> finishes = {{256, 768, 2, 24}, {42, 768, 1, 24}, {5, 50, 2, 2}, {1, 3, 1, 1},
                                          {37, 100, 2, 2}};
    long long fMismatch = 0, fChecked = 0, orderMatters = 0;
    double fMaxRel = 0;
    for (const Finish& f : finishes) {
        std::vector<double> pa(f.chunks * f.cols), pb(f.chunks * f.cols);
        // plane A: in each column a +2^60 and a −2^60 among terms of size ~1, so that which small
        // terms vanish into the big one depends on the order of the adds, and the result with it
        // (the bit-for-bit check can tell the kernel's order from another)
        for (double& v : pa) {
            v = (double)normal(rng);
        }
        if (f.chunks >= 2) {
            std::uniform_int_distribution<int> pick(0, f.chunks - 1);
            for (long long c = 0; c < f.cols; c++) {
                int k1 = pick(rng);
                int k2 = (k1 + 1 + pick(rng) % (f.chunks - 1)) % f.chunks;
                pa[k1 * f.cols + c] = 0x1p60;
                pa[k2 * f.cols + c] = -0x1p60;
            }
        }
        for (double& v : pb) {
            v = (double)normal(rng);
        }
        std::vector<float> oa(f.cols, -1.0f), ob(f.cols, -1.0f);
        launch(f.gx, f.planes, 32, 8, [&] {
            solder_column_sum_finish(pa.data(), f.planes == 2 ? pb.data() : nullptr, f.chunks, f.cols, oa.data(),
                                     f.planes == 2 ? ob.data() : nullptr, SOLDER_F32);
        });
        for (int plane = 0; plane < f.planes; plane++) {
            const std::vector<double>& part = plane == 0 ? pa : pb;
            const std::vector<float>& out = plane == 0 ? oa : ob;
            for (long long c = 0; c < f.cols; c++) {
                double total = 0, plain = 0;
                for (int sl = 0; sl < 8; sl++) {
                    double acc = 0;
                    for (int k = sl; k < f.chunks; k += 8) {
                        acc += part[k * f.cols + c];
                    }
                    total += acc;
                }
                for (int k = 0; k < f.chunks; k++) {
                    plain += part[k * f.cols + c];
                }
                float want = (float)total;
                fChecked++;
                if (std::memcmp(&want, &out[c], sizeof(float)) != 0) {
                    fMismatch++;
                    std::printf("finish chunks %d cols %lld plane %d col %lld: %a vs %a\n", f.chunks, f.cols, plane,
                                c, out[c], want);
                }
                float plainF = (float)plain;
                if (std::memcmp(&want, &plainF, sizeof(float)) != 0) {
                    orderMatters++;
                } else if (plane == 1) {
                    fMaxRel = std::fmax(fMaxRel, std::fabs((double)out[c] - plain) / (std::fabs(plain) + 1e-30));
                }
            }
        }
    }
    std::printf("finish mismatches %lld of %lld maxrel %.3g ordermatters %lld\n", fMismatch, fChecked, fMaxRel,
                orderMatters);
    return 0;
}
