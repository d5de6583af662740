// rows_host_model.cpp — the cuBLAS-only path's row kernels on the HOST, against float64
// references (RowsHostModelTest compiles it with g++, plain and under the sanitizers of
// HostSanitizer, and checks what it prints). These kernels passed CudaParityGpuTest on a card;
// what this adds is their shared-memory and shuffle code under ThreadSanitizer and
// AddressSanitizer, which compute-sanitizer has not yet run on a card, at shapes that leave
// partial warps, partial column tiles, a grid smaller than the rows and a short last chunk.
//
// ln: solder_layernorm_forward (residual fused, h stored), solder_layernorm_backward_input and
// solder_layernorm_backward_params_partial + solder_column_sum_finish (dgamma, dbeta).
//   rows_host_model ln ROWS COLS DT SEED prints
//   ln rows R outErr E1 statErr E2 dhErr E3 paramErr E4
// sm: solder_softmax_forward with mask mode M (0 none, 1 additive float, 2 keys int32 with a
// row of only masked keys) and solder_softmax_backward.
//   rows_host_model sm ROWS COLS M DT SEED prints
//   sm rows R outErr E1 dxErr E2
// att: solder_attention_softmax_forward (key-padding mask, one batch entry fully padded) and
// solder_attention_softmax_backward with dropout P.
//   rows_host_model att B H S P SEED prints
//   att rows R outErr E1 gradErr E2 dropped F
// emb: solder_embedding_forward, rows copied bit for bit, and a bad id zeroing its row and
// reported (ids int64).
//   rows_host_model emb ROWS COLS VOCAB DT SEED prints
//   emb rows R mismatches M badId ROW ID
// Errors are the largest |kernel − reference| over the largest |reference| (1 if smaller); 1e30
// when an output holds NaN (the outputs start as NaN, so an element never written shows).

#include <algorithm>
#include <cfloat>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <random>
#include <vector>

#include "host_threads.h"
#include "attention.cu"
#include "embedding.cu"
#include "layernorm.cu"
#include "reduce.cu"
#include "softmax.cu"
#include "host_tables.h"

// Worst |got − ref| relative to max(1, max |ref|), and whether got is NaN anywhere (unwritten).
struct Worst {
    double err = 0, scale = 1;
    bool nan = false;
    void add(double ref, double got) {
        nan |= std::isnan(got);
        err = std::max(err, std::fabs(got - ref));
        scale = std::max(scale, std::fabs(ref));
    }
    double rel() const { return nan ? 1e30 : err / scale; }   // an unwritten (NaN) element fails any bound
};

// softmax(v) in float64 (v holds the masked inputs as the kernels form them, in float32).
static std::vector<double> softmaxRef(const std::vector<double>& v) {
    double m = -INFINITY;
    for (double x : v) {
        m = std::max(m, x);
    }
    double s = 0;
    for (double x : v) {
        s += std::exp(x - m);
    }
    std::vector<double> p(v.size());
    for (size_t j = 0; j < v.size(); j++) {
        p[j] = std::exp(v[j] - m) / s;
    }
    return p;
}

// At most 3 blocks of 8 rows: the kernels' grid-stride loop runs more than once when rows > 24.
static int cappedRowBlocks(long long rows) {
    return std::min(rowBlocks(rows), 3);
}

// ------------------------------------------------------------------ ln

static int ln(long long rows, int cols, int dt, unsigned long long seed) {
    std::mt19937_64 rng(seed);
    const long long n = rows * cols;
    Table x = makeTable(n, dt, rng, 1.0f), res = makeTable(n, dt, rng, 1.0f), dy = makeTable(n, dt, rng, 1.0f);
    std::vector<float> gamma, beta;
    makeAffine(cols, rng, gamma, beta);
    const float eps = 1e-12f;
    Table out = emptyLike(n, dt), h = emptyLike(n, dt), dh = emptyLike(n, dt);
    std::vector<float> mean(rows, NAN), rstd(rows, NAN);
    launch(cappedRowBlocks(rows), 1, 256, [&] {
        solder_layernorm_forward(x.ptr(), dt, res.ptr(), dt, gamma.data(), SOLDER_F32, beta.data(), SOLDER_F32, eps,
                                 out.ptr(), dt, h.ptr(), dt, mean.data(), rstd.data(), rows, cols);
    });
    launch(cappedRowBlocks(rows), 1, 256, [&] {
        solder_layernorm_backward_input(dy.ptr(), dt, h.ptr(), dt, gamma.data(), SOLDER_F32, mean.data(), rstd.data(),
                                        dh.ptr(), dt, rows, cols);
    });
    // dgamma/dbeta: chunks of 5 rows (the last one short), 32-column tiles (the last one partial),
    // then one finish launch with a single block per output, striding over the column tiles
    const long long rowsPerChunk = 5;
    const int chunks = (int)((rows + rowsPerChunk - 1) / rowsPerChunk);
    const int tiles = (cols + 31) / 32;
    std::vector<double> partG((size_t)chunks * cols, NAN), partB((size_t)chunks * cols, NAN);
    launch(tiles, chunks, 32, 8, [&] {
        solder_layernorm_backward_params_partial(dy.ptr(), dt, h.ptr(), dt, mean.data(), rstd.data(), rows, cols,
                                                 rowsPerChunk, partG.data(), partB.data());
    });
    std::vector<float> dgamma(cols, NAN), dbeta(cols, NAN);
    launch(1, 2, 32, 8, [&] {
        solder_column_sum_finish(partG.data(), partB.data(), chunks, cols, dgamma.data(), dbeta.data(), SOLDER_F32);
    });

    Worst outW, statW, dhW, paramW;
    std::vector<double> dgRef(cols, 0.0), dbRef(cols, 0.0);
    for (long long r = 0; r < rows; r++) {
        // h as the kernel stores it: x + residual in float32, rounded to dt
        std::vector<double> hv(cols);
        double mu = 0;
        for (int j = 0; j < cols; j++) {
            hv[j] = roundTo(dt, x.at(r * cols + j) + res.at(r * cols + j));
            mu += hv[j];
        }
        mu /= cols;
        double var = 0;
        for (int j = 0; j < cols; j++) {
            var += (hv[j] - mu) * (hv[j] - mu);
        }
        double rs = 1.0 / std::sqrt(var / cols + eps);
        statW.add(mu, mean[r]);
        statW.add(rs, rstd[r]);
        double sg = 0, sgx = 0;
        for (int j = 0; j < cols; j++) {
            long long i = r * cols + j;
            double xhat = (hv[j] - mu) * rs;
            outW.add(hv[j], valueOf(h, i));
            outW.add(xhat * gamma[j] + beta[j], valueOf(out, i));
            double g = dy.at(i) * (double)gamma[j];
            sg += g;
            sgx += g * xhat;
            dgRef[j] += dy.at(i) * xhat;
            dbRef[j] += dy.at(i);
        }
        for (int j = 0; j < cols; j++) {
            long long i = r * cols + j;
            double xhat = (hv[j] - mu) * rs;
            double g = dy.at(i) * (double)gamma[j];
            dhW.add(rs * (g - sg / cols - xhat * sgx / cols), valueOf(dh, i));
        }
    }
    for (int j = 0; j < cols; j++) {
        paramW.add(dgRef[j], dgamma[j]);
        paramW.add(dbRef[j], dbeta[j]);
    }
    std::printf("ln rows %lld outErr %.3e statErr %.3e dhErr %.3e paramErr %.3e\n", rows, outW.rel(), statW.rel(),
                dhW.rel(), paramW.rel());
    return 0;
}

// ------------------------------------------------------------------ sm

static int sm(long long rows, int cols, int maskMode, int dt, unsigned long long seed) {
    std::mt19937_64 rng(seed);
    const long long n = rows * cols;
    const long long rowsPerMaskRow = 4;
    const long long maskRows = (rows + rowsPerMaskRow - 1) / rowsPerMaskRow;
    Table x = makeTable(n, dt, rng, 2.0f), dy = makeTable(n, dt, rng, 1.0f);
    Table additive = makeTable(maskRows * cols, SOLDER_F32, rng, 1.0f);
    std::vector<int> keys(maskRows * cols);
    for (long long i = 0; i < maskRows * cols; i++) {
        keys[i] = i / cols == 0 ? 0 : (int)(rng() % 3 != 0);   // mask row 0 masks every key
    }
    const void* mask = maskMode == SOLDER_MASK_ADDITIVE ? additive.ptr()
                       : maskMode == SOLDER_MASK_KEYS   ? (const void*)keys.data()
                                                        : nullptr;
    int mdt = maskMode == SOLDER_MASK_KEYS ? SOLDER_I32 : SOLDER_F32;
    Table y = emptyLike(n, dt), dx = emptyLike(n, dt);
    launch(cappedRowBlocks(rows), 1, 256, [&] {
        solder_softmax_forward(x.ptr(), dt, mask, mdt, maskMode, rowsPerMaskRow, y.ptr(), dt, rows, cols);
    });
    launch(cappedRowBlocks(rows), 1, 256, [&] {
        solder_softmax_backward(y.ptr(), dt, dy.ptr(), dt, dx.ptr(), dt, rows, cols);
    });
    Worst yW, dxW;
    for (long long r = 0; r < rows; r++) {
        long long mr = r / rowsPerMaskRow;
        // the masked inputs as the kernel forms them, in float32
        std::vector<double> v(cols);
        for (int j = 0; j < cols; j++) {
            float f = x.at(r * cols + j);
            if (maskMode == SOLDER_MASK_ADDITIVE) {
                f += additive.at(mr * cols + j);
            } else if (maskMode == SOLDER_MASK_KEYS && keys[mr * cols + j] == 0) {
                f += -FLT_MAX;
            }
            v[j] = f;
        }
        std::vector<double> ref = softmaxRef(v);
        double dot = 0;
        for (int j = 0; j < cols; j++) {
            long long i = r * cols + j;
            yW.add(ref[j], valueOf(y, i));
            dot += dy.at(i) * (double)valueOf(y, i);
        }
        for (int j = 0; j < cols; j++) {
            long long i = r * cols + j;
            dxW.add(valueOf(y, i) * (dy.at(i) - dot), valueOf(dx, i));
        }
    }
    std::printf("sm rows %lld outErr %.3e dxErr %.3e\n", rows, yW.rel(), dxW.rel());
    return 0;
}

// ------------------------------------------------------------------ att

static int att(int B, int H, int S, float p, unsigned long long seed) {
    std::mt19937_64 rng(seed);
    const long long rows = (long long)B * H * S;
    const long long n = rows * S;
    std::vector<float> scores = makeTable(n, SOLDER_F32, rng, 3.0f).f32;
    const std::vector<float> raw = scores;
    std::vector<int> keyMask((size_t)B * S);
    for (int b = 0; b < B; b++) {
        int len = b == B - 1 ? 0 : 1 + (int)(rng() % S);   // the last entry fully padded
        for (int j = 0; j < S; j++) {
            keyMask[(size_t)b * S + j] = j < len;
        }
    }
    launch(cappedRowBlocks(rows), 1, 256, [&] {
        solder_attention_softmax_forward(scores.data(), keyMask.data(), SOLDER_I32, (long long)H * S, rows, S);
    });
    const std::vector<float> P = scores;
    std::vector<float> grad = makeTable(n, SOLDER_F32, rng, 1.0f).f32;
    const std::vector<float> dPd = grad;
    long long dseed = (long long)(rng() >> 1);
    launch(cappedRowBlocks(rows), 1, 256, [&] {
        solder_attention_softmax_backward(P.data(), grad.data(), rows, S, p, dseed);
    });
    Worst pW, gW;
    long dropped = 0;
    for (long long r = 0; r < rows; r++) {
        long long b = r / ((long long)H * S);
        std::vector<double> v(S);
        for (int j = 0; j < S; j++) {
            float f = raw[r * S + j];
            if (keyMask[b * S + j] == 0) {
                f += -FLT_MAX;
            }
            v[j] = f;
        }
        std::vector<double> ref = softmaxRef(v);
        double dot = 0;
        std::vector<double> g(S);
        for (int j = 0; j < S; j++) {
            pW.add(ref[j], P[r * S + j]);
            bool keep = p == 0.0f || solder_dropout_keep((unsigned long long)dseed,
                                                         (unsigned long long)(r * S + j), p);
            dropped += !keep;
            g[j] = keep ? dPd[r * S + j] / (1.0 - p) : 0.0;
            dot += g[j] * P[r * S + j];
        }
        for (int j = 0; j < S; j++) {
            gW.add(P[r * S + j] * (g[j] - dot), grad[r * S + j]);
        }
    }
    std::printf("att rows %lld outErr %.3e gradErr %.3e dropped %.4f\n", rows, pW.rel(), gW.rel(),
                (double)dropped / (double)n);
    return 0;
}

// ------------------------------------------------------------------ emb

static int emb(long long rows, int cols, long long vocab, int dt, unsigned long long seed) {
    std::mt19937_64 rng(seed);
    Table table = makeTable(vocab * cols, dt, rng, 1.0f);
    std::vector<long long> ids(rows);
    for (long long r = 0; r < rows; r++) {
        ids[r] = (long long)(rng() % vocab);
    }
    const long long badRow = rows / 2, badId = vocab + 3;
    ids[badRow] = badId;
    Table out = emptyLike(rows * cols, dt);
    int err = 0;
    long long errInfo[2] = {-1, -1};
    launch(3, 1, 256, [&] {
        solder_embedding_forward(ids.data(), SOLDER_I64, table.ptr(), dt, out.ptr(), dt, rows, cols, vocab, &err,
                                 errInfo);
    });
    long mismatches = 0;
    for (long long r = 0; r < rows; r++) {
        for (int c = 0; c < cols; c++) {
            float want = r == badRow ? 0.0f : valueOf(table, ids[r] * cols + c);
            mismatches += bitsOf(valueOf(out, r * cols + c)) != bitsOf(want);
        }
    }
    std::printf("emb rows %lld mismatches %ld badId %lld %lld\n", rows, mismatches, err ? errInfo[0] : -1LL,
                err ? errInfo[1] : -1LL);
    return 0;
}

int main(int argc, char** argv) {
    auto arg = [&](int i) { return std::strtoll(argv[i], nullptr, 10); };
    if (argc == 6 && std::strcmp(argv[1], "ln") == 0) {
        return ln(arg(2), (int)arg(3), (int)arg(4), std::strtoull(argv[5], nullptr, 10));
    }
    if (argc == 7 && std::strcmp(argv[1], "sm") == 0) {
        return sm(arg(2), (int)arg(3), (int)arg(4), (int)arg(5), std::strtoull(argv[6], nullptr, 10));
    }
    if (argc == 7 && std::strcmp(argv[1], "att") == 0) {
        return att((int)arg(2), (int)arg(3), (int)arg(4), std::strtof(argv[5], nullptr),
                   std::strtoull(argv[6], nullptr, 10));
    }
    if (argc == 7 && std::strcmp(argv[1], "emb") == 0) {
        return emb(arg(2), (int)arg(3), arg(4), (int)arg(5), std::strtoull(argv[6], nullptr, 10));
    }
    std::fprintf(stderr, "usage: rows_host_model ln ROWS COLS DT SEED | sm ROWS COLS MASK DT SEED |"
                         " att B H S P SEED | emb ROWS COLS VOCAB DT SEED\n");
    return 2;
}
