// host_tables.h — the host models' tensors: values drawn at random and held as the kernels
// read them (float32, or bfloat16 in a 16-bit array), with what a kernel sees of each element.
// Include after the .cu files (it uses solder_common.cuh's bf16 conversions).

#ifndef SOLDER_HOST_TABLES_H
#define SOLDER_HOST_TABLES_H

#include <cmath>
#include <cstring>
#include <random>
#include <vector>

static unsigned bitsOf(float f) {
    unsigned u;
    std::memcpy(&u, &f, 4);
    return u;
}

// A tensor as the kernels read it (float32, or bf16 halves in a 16-bit array) and the values they
// see: logits, embedding tables, activations.
struct Table {
    std::vector<float> f32;
    std::vector<unsigned short> bf16;
    std::vector<float> value;
    int dt;
    void* ptr() { return dt == SOLDER_F32 ? (void*)f32.data() : (void*)bf16.data(); }
    float at(long long i) const { return value[i]; }
};

static Table makeTable(long long n, int dt, std::mt19937_64& rng, float scale) {
    std::normal_distribution<float> nd(0.0f, scale);
    Table t;
    t.dt = dt;
    for (long long i = 0; i < n; i++) {
        float x = nd(rng);
        if (dt == SOLDER_F32) {
            t.f32.push_back(x);
            t.value.push_back(x);
        } else {
            unsigned short h = solder_f32_to_bf16(x);
            t.bf16.push_back(h);
            t.value.push_back(solder_bf16_to_f32(h));
        }
    }
    return t;
}

static Table emptyLike(long long n, int dt) {
    Table t;
    t.dt = dt;
    t.f32.assign(dt == SOLDER_F32 ? n : 0, NAN);
    t.bf16.assign(dt == SOLDER_BF16 ? n : 0, 0x7fc0);
    return t;
}

static float valueOf(const Table& t, long long i) {
    return t.dt == SOLDER_F32 ? t.f32[i] : solder_bf16_to_f32(t.bf16[i]);
}

static float roundTo(int dt, float v) {
    return dt == SOLDER_F32 ? v : solder_bf16_to_f32(solder_f32_to_bf16(v));
}

// A LayerNorm's gamma (uniform in [0.5, 1.5)) and beta (normal), drawn column by column.
static void makeAffine(int cols, std::mt19937_64& rng, std::vector<float>& gamma, std::vector<float>& beta) {
    std::uniform_real_distribution<float> ud(0.5f, 1.5f);
    std::normal_distribution<float> nd(0.0f, 1.0f);
    gamma.resize(cols);
    beta.resize(cols);
    for (int j = 0; j < cols; j++) {
        gamma[j] = ud(rng);
        beta[j] = nd(rng);
    }
}

// Blocks of 256 threads for one warp per row (8 rows a block), as LaunchConfig.rows sizes them
// when the grid is not capped.
static int rowBlocks(long long rows) {
    return (int)((rows + 7) / 8);
}

#endif
