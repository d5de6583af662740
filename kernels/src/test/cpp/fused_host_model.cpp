// fused_host_model.cpp — runs the fused path's cross-entropy kernel (loss.cu) on the HOST next to
// the unfused kernels it replaces, for machines without a GPU (FusedHostModelTest compiles it
// with g++ and checks what it prints). Threads, barriers and shuffles: host_threads.h.
//
// What it checks: solder_cross_entropy_fused_forward gives, bit for bit, the rowLoss of
// solder_cross_entropy_forward and the dlogits of solder_cross_entropy_backward with dloss = 1
// (as loss.cu promises), both against a float64 reference, and reports a bad label as the
// unfused forward does. What it cannot: the GPU's expf/logf and its scheduling.
//
// Usage: fused_host_model ce ROWS CLASSES DT SEED   (DT 0 float32, 1 bfloat16 logits). Prints
//   ce mismatches M rows R maxLossErr E1 maxGradErr E2
//   ce badLabel fused ROW LABEL unfused ROW LABEL
// (every fourth row ignored; the second run puts label CLASSES + 2 at row ROWS / 2).

#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <math.h>
#include <random>
#include <vector>

#include "host_threads.h"
#include "loss.cu"

static unsigned bitsOf(float f) {
    unsigned u;
    std::memcpy(&u, &f, 4);
    return u;
}

// Logits as the kernels read them: float32, or bfloat16 halves in a 16-bit array.
struct Logits {
    std::vector<float> f32;
    std::vector<unsigned short> bf16;
    std::vector<double> value;  // what the kernels see, for the float64 reference
    int dt;
    const void* ptr() const { return dt == SOLDER_F32 ? (const void*)f32.data() : (const void*)bf16.data(); }
};

static Logits makeLogits(long long n, int dt, std::mt19937_64& rng) {
    std::normal_distribution<float> nd(0.0f, 3.0f);
    Logits l;
    l.dt = dt;
    for (long long i = 0; i < n; i++) {
        float x = nd(rng);
        if (dt == SOLDER_F32) {
            l.f32.push_back(x);
            l.value.push_back(x);
        } else {
            unsigned short h = solder_f32_to_bf16(x);
            l.bf16.push_back(h);
            l.value.push_back(solder_bf16_to_f32(h));
        }
    }
    return l;
}

struct CeRun {
    std::vector<float> rowLoss, dlogits;
    float loss = 0;
    int err = 0;
    long long errInfo[2] = {-1, -1};
};

static int rowBlocks(long long rows) {
    return (int)((rows + 7) / 8);
}

static CeRun runCe(const Logits& lg, const std::vector<long long>& labels, long long rows, int classes, bool fused) {
    const long long ignore = -100;
    CeRun r;
    r.rowLoss.assign(rows, NAN);
    r.dlogits.assign(rows * classes, NAN);
    float count = NAN;
    launch(1, 1, 256, [&] { solder_count_labels(labels.data(), SOLDER_I64, ignore, rows, &count); });
    if (fused) {
        launch(rowBlocks(rows), 1, 256, [&] {
            solder_cross_entropy_fused_forward(lg.ptr(), lg.dt, labels.data(), SOLDER_I64, ignore, rows, classes,
                                               &count, r.rowLoss.data(), r.dlogits.data(), &r.err, r.errInfo);
        });
    } else {
        launch(rowBlocks(rows), 1, 256, [&] {
            solder_cross_entropy_forward(lg.ptr(), lg.dt, labels.data(), SOLDER_I64, ignore, rows, classes,
                                         r.rowLoss.data(), &r.err, r.errInfo);
        });
        float one = 1.0f;
        launch(rowBlocks(rows), 1, 256, [&] {
            solder_cross_entropy_backward(lg.ptr(), lg.dt, labels.data(), SOLDER_I64, ignore, &one, SOLDER_F32, &count,
                                          r.dlogits.data(), SOLDER_F32, rows, classes);
        });
    }
    launch(1, 1, 256, [&] {
        solder_cross_entropy_reduce(r.rowLoss.data(), labels.data(), SOLDER_I64, ignore, rows, &r.loss, SOLDER_F32);
    });
    return r;
}

static int ce(long long rows, int classes, int dt, unsigned long long seed) {
    std::mt19937_64 rng(seed);
    Logits lg = makeLogits(rows * classes, dt, rng);
    std::vector<long long> labels(rows);
    for (long long r = 0; r < rows; r++) {
        labels[r] = r % 4 == 1 ? -100 : (long long)(rng() % classes);
    }
    CeRun f = runCe(lg, labels, rows, classes, true);
    CeRun u = runCe(lg, labels, rows, classes, false);
    long mismatches = 0;
    for (long long r = 0; r < rows; r++) {
        mismatches += bitsOf(f.rowLoss[r]) != bitsOf(u.rowLoss[r]);
    }
    for (long long i = 0; i < rows * classes; i++) {
        mismatches += bitsOf(f.dlogits[i]) != bitsOf(u.dlogits[i]);
    }
    mismatches += bitsOf(f.loss) != bitsOf(u.loss);
    mismatches += f.err != 0 || u.err != 0;

    // float64 reference: mean over non-ignored rows of lse − x[label]; grad (softmax − onehot)/count
    double count = 0;
    for (long long r = 0; r < rows; r++) {
        count += labels[r] != -100;
    }
    double sum = 0;
    double maxGradErr = 0;
    for (long long r = 0; r < rows; r++) {
        const double* x = &lg.value[r * classes];
        if (labels[r] == -100) {
            for (int j = 0; j < classes; j++) {
                maxGradErr = std::max(maxGradErr, std::fabs((double)f.dlogits[r * classes + j]));
            }
            continue;
        }
        double m = -INFINITY;
        for (int j = 0; j < classes; j++) {
            m = std::max(m, x[j]);
        }
        double s = 0;
        for (int j = 0; j < classes; j++) {
            s += std::exp(x[j] - m);
        }
        double lse = m + std::log(s);
        sum += lse - x[labels[r]];
        for (int j = 0; j < classes; j++) {
            double g = (std::exp(x[j] - lse) - (j == labels[r] ? 1.0 : 0.0)) / count;
            maxGradErr = std::max(maxGradErr, std::fabs(g - (double)f.dlogits[r * classes + j]));
        }
    }
    double lossErr = std::fabs(sum / count - (double)f.loss) / std::max(1.0, sum / count);
    std::printf("ce mismatches %ld rows %lld maxLossErr %.3e maxGradErr %.3e\n", mismatches, rows, lossErr, maxGradErr);

    labels[rows / 2] = classes + 2;
    CeRun fb = runCe(lg, labels, rows, classes, true);
    CeRun ub = runCe(lg, labels, rows, classes, false);
    std::printf("ce badLabel fused %lld %lld unfused %lld %lld\n", fb.err ? fb.errInfo[0] : -1LL,
                fb.err ? fb.errInfo[1] : -1LL, ub.err ? ub.errInfo[0] : -1LL, ub.err ? ub.errInfo[1] : -1LL);
    return 0;
}

int main(int argc, char** argv) {
    if (argc == 6 && std::strcmp(argv[1], "ce") == 0) {
        return ce(std::atoll(argv[2]), std::atoi(argv[3]), std::atoi(argv[4]), std::strtoull(argv[5], nullptr, 10));
    }
    std::fprintf(stderr, "usage: fused_host_model ce ROWS CLASSES DT SEED\n");
    return 2;
}
