// fused_host_model.cpp — runs the fused path's one-pass kernels on the HOST next to the unfused
// kernels they replace, for machines without a GPU (FusedHostModelTest compiles it with g++ and
// checks what it prints). Threads, barriers and shuffles: host_threads.h. What it cannot check:
// the GPU's expf/logf/sqrtf and its scheduling.
//
// ce: solder_cross_entropy_fused_forward (loss.cu) gives, bit for bit, the rowLoss of
// solder_cross_entropy_forward and the dlogits of solder_cross_entropy_backward with dloss = 1
// (as loss.cu promises), both against a float64 reference, and reports a bad label as the
// unfused forward does.
//   fused_host_model ce ROWS CLASSES DT SEED   (DT 0 float32, 1 bfloat16 logits) prints
//   ce mismatches M rows R maxLossErr E1 maxGradErr E2
//   ce badLabel fused ROW LABEL unfused ROW LABEL
// (every fourth row ignored; the second run puts label CLASSES + 2 at row ROWS / 2).
//
// emb: solder_embeddings_layernorm_fused_forward (layernorm.cu) against h summed on the host in
// the unfused order ((word + type) + position, rounded to DT after each add) fed to
// solder_layernorm_fused_forward: h, out, mean, rstd bit for bit; and
// solder_embeddings_backward_fused (embedding.cu) against three solder_embedding_backward
// launches (the position ids spread to one per token): every table gradient bit for bit; those
// launches, and one with fewer buckets than ids, against the scatter's order written out on the
// host, bit for bit; out and the gradients also against float64 references; a bad token-type id
// reported with its table.
//   fused_host_model emb B S COLS DT SEED prints
//   emb mismatches M tokens T maxOutErr E1 maxGradErr E2
//   emb badId CODE ID        (CODE = table·rows + token, as CudaEmbeddings decodes it)
//
// dln: solder_dropout_layernorm_fused_forward (layernorm.cu) against solder_dropout into x's
// dtype, widened on the host when x is bf16 beside a float32 residual, then
// solder_layernorm_fused_forward with the residual: h, out, mean, rstd bit for bit, out against
// a float64 LayerNorm of the host's h, and the share of x dropped; then
// solder_dropout_layernorm_fused_backward against solder_layernorm_fused_backward followed by
// solder_dropout of its dh into x's dtype: dh, dx, dgamma/dbeta partials bit for bit (B counts
// the differing values), with and without dh.
//   fused_host_model dln ROWS COLS XT DT P SEED prints
//   dln mismatches M rows R maxOutErr E dropped F backward B

#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <math.h>
#include <random>
#include <vector>

#include "host_threads.h"
#include "dropout.cu"
#include "embedding.cu"
#include "layernorm.cu"
#include "loss.cu"
#include "host_tables.h"

struct CeRun {
    std::vector<float> rowLoss, dlogits;
    float loss = 0;
    int err = 0;
    long long errInfo[2] = {-1, -1};
};

static CeRun runCe(Table& lg, const std::vector<long long>& labels, long long rows, int classes, bool fused) {
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
    Table lg = makeTable(rows * classes, dt, rng, 3.0f);
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
        const float* x = &lg.value[r * classes];
        if (labels[r] == -100) {
            for (int j = 0; j < classes; j++) {
                maxGradErr = std::max(maxGradErr, std::fabs((double)f.dlogits[r * classes + j]));
            }
            continue;
        }
        double m = -INFINITY;
        for (int j = 0; j < classes; j++) {
            m = std::max(m, (double)x[j]);
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

// ------------------------------------------------------------------ emb

// Largest |y − out| / (|y| + 1) over a [rows, cols] LayerNorm, y evaluated in float64 from h
// (two-pass biased variance, as the kernels).
static double layerNormErr(const Table& h, const Table& out, const std::vector<float>& gamma,
                           const std::vector<float>& beta, long long rows, int cols, float eps) {
    double worst = 0;
    for (long long r = 0; r < rows; r++) {
        double mu = 0, var = 0;
        for (int j = 0; j < cols; j++) {
            mu += valueOf(h, r * cols + j);
        }
        mu /= cols;
        for (int j = 0; j < cols; j++) {
            double d = valueOf(h, r * cols + j) - mu;
            var += d * d;
        }
        double rs = 1.0 / std::sqrt(var / cols + eps);
        for (int j = 0; j < cols; j++) {
            double y = (valueOf(h, r * cols + j) - mu) * rs * gamma[j] + beta[j];
            worst = std::max(worst, std::fabs(y - valueOf(out, r * cols + j)) / (std::fabs(y) + 1));
        }
    }
    return worst;
}

static int emb(int B, int S, int cols, int dt, unsigned long long seed) {
    std::mt19937_64 rng(seed);
    const long long rows = (long long)B * S;
    const long long V = 40, TV = 2, PV = S + 2;
    Table word = makeTable(V * cols, dt, rng, 1.0f);
    Table type = makeTable(TV * cols, dt, rng, 1.0f);
    Table pos = makeTable(PV * cols, dt, rng, 1.0f);
    std::vector<float> gamma, beta;
    makeAffine(cols, rng, gamma, beta);
    std::vector<long long> ids(rows), types(rows), positions(S), spread(rows);
    for (long long n = 0; n < rows; n++) {
        ids[n] = n % 4 == 3 ? 0 : (long long)(rng() % V);  // 0 doubles as the padding id
        types[n] = n % S > S / 2;
    }
    for (int i = 0; i < S; i++) {
        positions[i] = i + 1;
    }
    for (long long n = 0; n < rows; n++) {
        spread[n] = positions[n % S];
    }
    int err = 0;
    long long errInfo[2] = {-1, -1};
    const float eps = 1e-12f;
    auto rowBlocks = [&] { return (int)((rows + 7) / 8); };

    // fused forward
    Table out = emptyLike(rows * cols, dt), h = emptyLike(rows * cols, dt);
    std::vector<float> mean(rows, NAN), rstd(rows, NAN);
    launch(rowBlocks(), 1, 256, [&] {
        solder_embeddings_layernorm_fused_forward(ids.data(), SOLDER_I64, types.data(), SOLDER_I64, positions.data(),
                                                  SOLDER_I64, S, word.ptr(), V, type.ptr(), TV, pos.ptr(), PV, dt,
                                                  gamma.data(), SOLDER_F32, beta.data(), SOLDER_F32, eps, out.ptr(),
                                                  h.ptr(), mean.data(), rstd.data(), rows, cols, &err, errInfo);
    });
    // unfused: h summed here in the unfused order, then the fused LayerNorm
    Table hRef = emptyLike(rows * cols, dt), outRef = emptyLike(rows * cols, dt);
    for (long long n = 0; n < rows; n++) {
        for (int j = 0; j < cols; j++) {
            float v = roundTo(dt, roundTo(dt, word.at(ids[n] * cols + j) + type.at(types[n] * cols + j))
                                      + pos.at(positions[n % S] * cols + j));
            if (dt == SOLDER_F32) {
                hRef.f32[n * cols + j] = v;
            } else {
                hRef.bf16[n * cols + j] = solder_f32_to_bf16(v);
            }
        }
    }
    std::vector<float> meanRef(rows, NAN), rstdRef(rows, NAN);
    launch(rowBlocks(), 1, 256, [&] {
        solder_layernorm_fused_forward(hRef.ptr(), nullptr, dt, gamma.data(), SOLDER_F32, beta.data(), SOLDER_F32, eps,
                                       outRef.ptr(), nullptr, meanRef.data(), rstdRef.data(), rows, cols);
    });
    long mismatches = err != 0;
    for (long long i = 0; i < rows * cols; i++) {
        mismatches += bitsOf(valueOf(h, i)) != bitsOf(valueOf(hRef, i));
        mismatches += bitsOf(valueOf(out, i)) != bitsOf(valueOf(outRef, i));
    }
    for (long long n = 0; n < rows; n++) {
        mismatches += bitsOf(mean[n]) != bitsOf(meanRef[n]);
        mismatches += bitsOf(rstd[n]) != bitsOf(rstdRef[n]);
    }
    double maxOutErr = layerNormErr(hRef, out, gamma, beta, rows, cols, eps);  // of the rounded sums

    // backward: dh from a random dy through the fused LayerNorm backward, then the scatters
    std::vector<float> dy(rows * cols), dh(rows * cols, NAN);
    std::normal_distribution<float> nd(0.0f, 1.0f);
    for (auto& v : dy) {
        v = nd(rng);
    }
    launch(1, 1, 256, [&] {
        solder_layernorm_fused_backward(dy.data(), SOLDER_F32, h.ptr(), dt, gamma.data(), SOLDER_F32, mean.data(),
                                        rstd.data(), dh.data(), rows, cols, rows, nullptr, nullptr);
    });
    const int tile = SOLDER_EMB_TILE;
    int tiles = (cols + tile - 1) / tile;
    std::vector<float> dW(V * cols, 0.0f), dT(TV * cols, 0.0f), dP(PV * cols, 0.0f);
    launch(tiles, (int)(V + TV + PV), tile, [&] {
        solder_embeddings_backward_fused(dh.data(), rows, cols, ids.data(), SOLDER_I64, dW.data(), V, 0, (int)V,
                                         types.data(), SOLDER_I64, dT.data(), TV, (int)TV, positions.data(), SOLDER_I64,
                                         S, dP.data(), PV, (int)PV);
    });
    std::vector<float> rW(V * cols, 0.0f), rT(TV * cols, 0.0f), rP(PV * cols, 0.0f);
    launch(tiles, (int)V, tile, [&] {
        solder_embedding_backward(ids.data(), SOLDER_I64, dh.data(), SOLDER_F32, rW.data(), rows, cols, V, 0, (int)V);
    });
    launch(tiles, (int)TV, tile, [&] {
        solder_embedding_backward(types.data(), SOLDER_I64, dh.data(), SOLDER_F32, rT.data(), rows, cols, TV, -1,
                                  (int)TV);
    });
    launch(tiles, (int)PV, tile, [&] {
        solder_embedding_backward(spread.data(), SOLDER_I64, dh.data(), SOLDER_F32, rP.data(), rows, cols, PV, -1,
                                  (int)PV);
    });
    double maxGradErr = 0;
    auto compare = [&](const std::vector<float>& got, const std::vector<float>& ref, const std::vector<long long>& idOf,
                       long long period, long long pad) {
        std::vector<double> exact(got.size(), 0.0);
        for (long long n = 0; n < rows; n++) {
            long long id = idOf[n % period];
            if (id == pad) {
                continue;
            }
            for (int j = 0; j < cols; j++) {
                exact[id * cols + j] += dh[n * cols + j];
            }
        }
        for (size_t i = 0; i < got.size(); i++) {
            mismatches += bitsOf(got[i]) != bitsOf(ref[i]);
            maxGradErr = std::max(maxGradErr, std::fabs(exact[i] - got[i]) / (std::fabs(exact[i]) + 1));
        }
    };
    compare(dW, rW, ids, rows, 0);
    compare(dT, rT, types, rows, -1);
    compare(dP, rP, positions, S, -1);

    // The scatter's documented order, written out: per bucket and column, positions ascending,
    // a run of equal ids summed from 0 in float32, then added to the table. Bit for bit against
    // the unfused launches above (one id a bucket: the type table's long runs, the spread
    // positions), and against a word-table launch with 7 buckets for 40 ids, where a bucket sees
    // several ids and its runs break.
    auto ordered = [&](const std::vector<long long>& idOf, long long period, long long vocab, long long pad,
                       long long buckets) {
        std::vector<float> t(vocab * cols, 0.0f);
        for (long long b = 0; b < buckets; b++) {
            for (int j = 0; j < cols; j++) {
                long long cur = -1;
                float acc = 0.0f;
                for (long long n = 0; n < rows; n++) {
                    long long id = idOf[n % period];
                    if (id < 0 || id >= vocab || id == pad || id % buckets != b) {
                        continue;
                    }
                    if (id != cur) {
                        if (cur >= 0) {
                            t[cur * cols + j] += acc;
                        }
                        cur = id;
                        acc = 0.0f;
                    }
                    acc += dh[n * cols + j];
                }
                if (cur >= 0) {
                    t[cur * cols + j] += acc;
                }
            }
        }
        return t;
    };
    std::vector<float> r7(V * cols, 0.0f);
    launch(tiles, 7, tile, [&] {
        solder_embedding_backward(ids.data(), SOLDER_I64, dh.data(), SOLDER_F32, r7.data(), rows, cols, V, 0, 7);
    });
    long orderMismatches = 0;
    auto same = [&](const std::vector<float>& got, const std::vector<float>& want) {
        for (size_t i = 0; i < got.size(); i++) {
            orderMismatches += bitsOf(got[i]) != bitsOf(want[i]);
        }
    };
    same(rW, ordered(ids, rows, V, 0, V));
    same(rT, ordered(types, rows, TV, -1, TV));
    same(rP, ordered(spread, rows, PV, -1, PV));
    same(r7, ordered(ids, rows, V, 0, 7));
    mismatches += orderMismatches;
    std::printf("emb mismatches %ld tokens %lld maxOutErr %.3e maxGradErr %.3e\n", mismatches, rows, maxOutErr,
                maxGradErr);

    // a token-type id outside its 2-row table
    types[rows - 2] = 7;
    err = 0;
    launch(rowBlocks(), 1, 256, [&] {
        solder_embeddings_layernorm_fused_forward(ids.data(), SOLDER_I64, types.data(), SOLDER_I64, positions.data(),
                                                  SOLDER_I64, S, word.ptr(), V, type.ptr(), TV, pos.ptr(), PV, dt,
                                                  gamma.data(), SOLDER_F32, beta.data(), SOLDER_F32, eps, out.ptr(),
                                                  h.ptr(), mean.data(), rstd.data(), rows, cols, &err, errInfo);
    });
    std::printf("emb badId %lld %lld\n", err ? errInfo[0] : -1LL, err ? errInfo[1] : -1LL);
    return 0;
}

// ------------------------------------------------------------------ dln

static int dln(long long rows, int cols, int xt, int dt, float p, unsigned long long seed) {
    std::mt19937_64 rng(seed);
    const long long n = rows * cols;
    Table x = makeTable(n, xt, rng, 2.0f);
    Table res = makeTable(n, dt, rng, 1.0f);
    std::vector<float> gamma, beta;
    makeAffine(cols, rng, gamma, beta);
    long long dropSeed = (long long)(rng() >> 1);
    const float eps = 1e-12f;
    int blocks = (int)((rows + 7) / 8);
    Table out = emptyLike(n, dt), h = emptyLike(n, dt);
    std::vector<float> mean(rows, NAN), rstd(rows, NAN);
    // a float32 out's bfloat16 copy, written by the same pass (poisoned first: every element must be written)
    std::vector<unsigned short> low(dt == SOLDER_F32 ? n : 0, (unsigned short)0x7fc1);
    launch(blocks, 1, 256, [&] {
        solder_dropout_layernorm_fused_forward(x.ptr(), xt, res.ptr(), dt, p, dropSeed, gamma.data(), SOLDER_F32,
                                               beta.data(), SOLDER_F32, eps, out.ptr(), h.ptr(), mean.data(),
                                               rstd.data(), rows, cols, dt == SOLDER_F32 ? low.data() : nullptr);
    });
    // unfused: the dropout kernel into x's dtype, widened exactly when the residual is float32
    Table dropped = emptyLike(n, xt);
    launch(64, 1, 256, [&] { solder_dropout(x.ptr(), xt, dropped.ptr(), xt, n, p, dropSeed); });
    Table wide = emptyLike(n, dt);
    long zeros = 0;
    for (long long i = 0; i < n; i++) {
        float v = valueOf(dropped, i);
        zeros += v == 0.0f;
        if (dt == SOLDER_F32) {
            wide.f32[i] = v;
        } else {
            wide.bf16[i] = solder_f32_to_bf16(v);
        }
    }
    Table outRef = emptyLike(n, dt), hRef = emptyLike(n, dt);
    std::vector<float> meanRef(rows, NAN), rstdRef(rows, NAN);
    launch(blocks, 1, 256, [&] {
        solder_layernorm_fused_forward(wide.ptr(), res.ptr(), dt, gamma.data(), SOLDER_F32, beta.data(), SOLDER_F32,
                                       eps, outRef.ptr(), hRef.ptr(), meanRef.data(), rstdRef.data(), rows, cols);
    });
    long mismatches = 0;
    for (long long i = 0; i < n; i++) {
        mismatches += bitsOf(valueOf(h, i)) != bitsOf(valueOf(hRef, i));
        mismatches += bitsOf(valueOf(out, i)) != bitsOf(valueOf(outRef, i));
    }
    for (long long r = 0; r < rows; r++) {
        mismatches += bitsOf(mean[r]) != bitsOf(meanRef[r]);
        mismatches += bitsOf(rstd[r]) != bitsOf(rstdRef[r]);
    }
    for (long long i = 0; i < (long long)low.size(); i++) {
        mismatches += low[i] != solder_f32_to_bf16(out.f32[i]);   // what solder_convert writes
    }
    double maxOutErr = layerNormErr(hRef, out, gamma, beta, rows, cols, eps);

    // backward: solder_dropout_layernorm_fused_backward against solder_layernorm_fused_backward
    // followed by solder_dropout of its dh into x's dtype (what the SPI's default composes), with
    // and without dh (a residual that needs no gradient): dh, dx and the dgamma/dbeta partials
    // bit for bit. dy is float32, as the gradient of a float32 LayerNorm output is.
    std::vector<float> dy(n);
    std::normal_distribution<float> nd(0.0f, 1.0f);
    for (auto& v : dy) {
        v = nd(rng);
    }
    const long long perChunk = 16;
    const int chunks = (int)((rows + perChunk - 1) / perChunk);
    std::vector<float> dhRef(n, NAN);
    std::vector<double> pgRef(chunks * cols, NAN), pbRef(chunks * cols, NAN);
    launch(chunks, 1, 256, [&] {
        solder_layernorm_fused_backward(dy.data(), SOLDER_F32, h.ptr(), dt, gamma.data(), SOLDER_F32, mean.data(),
                                        rstd.data(), dhRef.data(), rows, cols, perChunk, pgRef.data(), pbRef.data());
    });
    Table dxRef = emptyLike(n, xt);
    launch(64, 1, 256, [&] { solder_dropout(dhRef.data(), SOLDER_F32, dxRef.ptr(), xt, n, p, dropSeed); });
    long backward = 0;
    for (int withDh = 1; withDh >= 0; withDh--) {
        std::vector<float> dh(n, NAN);
        Table dx = emptyLike(n, xt);
        std::vector<double> pg(chunks * cols, NAN), pb(chunks * cols, NAN);
        launch(chunks, 1, 256, [&] {
            solder_dropout_layernorm_fused_backward(dy.data(), SOLDER_F32, h.ptr(), dt, gamma.data(), SOLDER_F32,
                                                    mean.data(), rstd.data(), withDh ? dh.data() : nullptr, dx.ptr(),
                                                    xt, p, dropSeed, rows, cols, perChunk, pg.data(), pb.data());
        });
        for (long long i = 0; i < n; i++) {
            backward += bitsOf(valueOf(dx, i)) != bitsOf(valueOf(dxRef, i));
            if (withDh) {
                backward += bitsOf(dh[i]) != bitsOf(dhRef[i]);
            }
        }
        backward += std::memcmp(pg.data(), pgRef.data(), pg.size() * sizeof(double)) != 0;
        backward += std::memcmp(pb.data(), pbRef.data(), pb.size() * sizeof(double)) != 0;
    }
    std::printf("dln mismatches %ld rows %lld maxOutErr %.3e dropped %.4f backward %ld\n", mismatches, rows,
                maxOutErr, (double)zeros / n, backward);
    return 0;
}

int main(int argc, char** argv) {
    if (argc == 6 && std::strcmp(argv[1], "ce") == 0) {
        return ce(std::atoll(argv[2]), std::atoi(argv[3]), std::atoi(argv[4]), std::strtoull(argv[5], nullptr, 10));
    }
    if (argc == 7 && std::strcmp(argv[1], "emb") == 0) {
        return emb(std::atoi(argv[2]), std::atoi(argv[3]), std::atoi(argv[4]), std::atoi(argv[5]),
                   std::strtoull(argv[6], nullptr, 10));
    }
    if (argc == 8 && std::strcmp(argv[1], "dln") == 0) {
        return dln(std::atoll(argv[2]), std::atoi(argv[3]), std::atoi(argv[4]), std::atoi(argv[5]),
                   (float)std::atof(argv[6]), std::strtoull(argv[7], nullptr, 10));
    }
    std::fprintf(stderr, "usage: fused_host_model ce ROWS CLASSES DT SEED | emb B S COLS DT SEED"
                         " | dln ROWS COLS XT DT P SEED\n");
    return 2;
}
