// flash_host_model.cpp — runs the kernels of flash_attention.cu on the HOST, for machines without
// a GPU (FlashAttentionHostModelTest compiles it with g++ and checks what it prints).
//
// Every CUDA thread of a block is a std::thread; __syncthreads is a block barrier, warp shuffles
// and mma.sync go through a per-warp exchange buffer and a warp barrier. mma.sync.m16n8k16 is
// modelled from the PTX ISA fragment tables (A 16×16 row-major in 4 regs, B 16×8 in 2 regs, C in 4
// floats; g = lane/4, t = lane%4) — the same tables the kernels were written against, applied
// here to whole matrices, so the test checks how the kernels compose fragments (C → A reuse,
// [n][k] and [k][n] operand loads, tails, masks, dropout bits, barriers), not the hardware.
// ldmatrix (x2, x4, .trans) is modelled the same way from its PTX description: lanes post row
// addresses, then each lane takes its pairs.
// cvt.rn.{bf16x2,f16x2} is modelled as two round-to-nearest-even conversions (lo in the low half;
// fp16 through g++'s _Float16).
//
// Usage: flash_host_model B H S D p maskMode seed dt   (dt 1 bf16, 2 fp16 operands, 0 float32 —
// the SIMT kernels; maskMode 0 none, 1 with a padded and a fully masked batch entry). Prints one line of errors against a float64 reference
// of CpuAttention's semantics (see the top of flash_attention.cu).

#include <algorithm>
#include <atomic>
#include <cmath>
#include <barrier>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <math.h>
#include <memory>
#include <random>
#include <thread>
#include <vector>

#include "host_threads.h"

static unsigned solder_host_pack_bf16(float lo, float hi);
static unsigned solder_host_pack_f16(float lo, float hi);
static void solder_host_mma(float* c, const unsigned* a, const unsigned* b, int dt);
static void solder_host_ldmatrix(unsigned* r, const unsigned short* row, int n, bool trans);
static void solder_host_cp_async16(unsigned short* dst, const unsigned short* src, int bytes);
static void solder_host_cp_commit();
template <int N>
static void solder_host_cp_wait();

#define SOLDER_FLASH_HOST_MODEL 1
#include "flash_attention.cu"

static unsigned solder_host_pack_bf16(float lo, float hi) {
    return ((unsigned)solder_f32_to_bf16(hi) << 16) | solder_f32_to_bf16(lo);
}

// IEEE half through the compiler's _Float16 (round to nearest even, as cvt.rn.f16x2.f32)
static unsigned short host_f32_to_f16(float x) {
    _Float16 h = (_Float16)x;
    unsigned short u;
    std::memcpy(&u, &h, 2);
    return u;
}

static float host_f16_to_f32(unsigned short u) {
    _Float16 h;
    std::memcpy(&h, &u, 2);
    return (float)h;
}

static unsigned solder_host_pack_f16(float lo, float hi) {
    return ((unsigned)host_f32_to_f16(hi) << 16) | host_f32_to_f16(lo);
}

static float half16(unsigned word, int half, int dt) {
    unsigned short u = (unsigned short)(word >> (16 * half));
    return dt == SOLDER_BF16 ? solder_bf16_to_f32(u) : host_f16_to_f32(u);
}

// D = A·B + C for the warp, each lane passing its fragments (PTX ISA, mma.m16n8k16, .bf16).
static void solder_host_mma(float* c, const unsigned* a, const unsigned* b, int dt) {
    Warp* w = tWarp;
    int lane = tLane;
    std::memcpy(w->a[lane], a, sizeof(unsigned) * 4);
    std::memcpy(w->b[lane], b, sizeof(unsigned) * 2);
    w->bar.arrive_and_wait();
    int g = lane >> 2;
    int t = lane & 3;
    float d[4];
    for (int q = 0; q < 4; q++) {
        int row = g + (q >= 2 ? 8 : 0);
        int col = 2 * t + (q & 1);
        float acc = c[q];
        for (int k = 0; k < 16; k++) {
            int al = (row % 8) * 4 + (k % 8) / 2;
            int ar = (row >= 8 ? 1 : 0) + (k >= 8 ? 2 : 0);
            int bl = col * 4 + (k % 8) / 2;
            int br = k >= 8 ? 1 : 0;
            acc += half16(w->a[al][ar], k & 1, dt) * half16(w->b[bl][br], k & 1, dt);
        }
        d[q] = acc;
    }
    w->bar.arrive_and_wait();
    for (int q = 0; q < 4; q++) {
        c[q] = d[q];
    }
}

// ldmatrix.sync.aligned.m8n8.{x2,x4}{,.trans}.shared.b16 for the warp (PTX ISA): lane 8·m + r
// gives the address of row r of block m (lanes 16-31 are ignored for .x2); lane L receives, from
// each block m, row L/4, elements 2·(L%4) and 2·(L%4) + 1 (the lower in the low half) — or with
// .trans the elements (2·(L%4), L/4) and (2·(L%4) + 1, L/4). Rows must be 16-byte aligned.
static void solder_host_ldmatrix(unsigned* r, const unsigned short* row, int n, bool trans) {
    Warp* w = tWarp;
    int lane = tLane;
    if (((unsigned long long)row & 15) != 0) {
        std::fprintf(stderr, "ldmatrix: lane %d row address %p is not 16-byte aligned\n", lane, (const void*)row);
        std::abort();
    }
    w->rows[lane] = row;
    w->bar.arrive_and_wait();
    int g = lane >> 2;
    int t = lane & 3;
    for (int m = 0; m < n; m++) {
        unsigned lo;
        unsigned hi;
        if (trans) {
            lo = w->rows[8 * m + 2 * t][g];
            hi = w->rows[8 * m + 2 * t + 1][g];
        } else {
            lo = w->rows[8 * m + g][2 * t];
            hi = w->rows[8 * m + g][2 * t + 1];
        }
        r[m] = lo | (hi << 16);
    }
    w->bar.arrive_and_wait();
}

// cp.async.cg.shared.global (16 bytes, zero-filled past `bytes`), commit_group and wait_group N,
// per thread as in the PTX ISA: a copy is queued in the thread's open group, commit closes the
// group, and wait_group N performs the copies of all but the newest N closed groups — only then
// does the data land in shared memory, so a kernel that reads a tile before waiting for it (and
// the barrier after) reads poison here. Until its group is waited for, a copy's 16 bytes may land
// at any moment on the GPU, so the model writes them twice: all ones (a NaN in bf16 and fp16) when
// the copy is issued, the data when it is waited for. A read of the tile before the wait then
// reads NaN, and under ThreadSanitizer (KernelSanitizerHostTest) a copy issued into a buffer
// another thread still reads is a race from the moment it is issued.
struct HostCpCopy {
    unsigned short* dst;
    const unsigned short* src;
    int bytes;
};
thread_local std::vector<HostCpCopy> tCpOpen;
thread_local std::vector<std::vector<HostCpCopy>> tCpGroups;

static void solder_host_cp_async16(unsigned short* dst, const unsigned short* src, int bytes) {
    if (((unsigned long long)dst & 15) != 0 || ((unsigned long long)src & 15) != 0) {
        std::fprintf(stderr, "cp.async: unaligned 16-byte copy %p <- %p\n", (void*)dst, (const void*)src);
        std::abort();
    }
    // element by element, not memset: g++ expands a 16-byte memset inline, where
    // ThreadSanitizer does not see it
    for (int i = 0; i < 8; i++) {
        dst[i] = 0xffff;
    }
    tCpOpen.push_back({dst, src, bytes});
}

static void solder_host_cp_commit() {
    tCpGroups.push_back(std::move(tCpOpen));
    tCpOpen.clear();
}

template <int N>
static void solder_host_cp_wait() {
    while (tCpGroups.size() > (size_t)N) {
        for (const HostCpCopy& c : tCpGroups.front()) {
            const unsigned char* from = (const unsigned char*)c.src;
            unsigned char* to = (unsigned char*)c.dst;
            for (int i = 0; i < 16; i++) {   // as above, stores ThreadSanitizer sees
                to[i] = i < c.bytes ? from[i] : 0;
            }
        }
        tCpGroups.erase(tCpGroups.begin());
    }
}

struct Err {
    double num = 0, den = 0, worst = 0;
    long nan = 0;
    std::vector<double> ref, got;
    void add(double r, double g) {
        ref.push_back(r);
        got.push_back(g);
        if (std::isnan(g)) {
            nan++;
            return;
        }
        num += (g - r) * (g - r);
        den += r * r;
    }
    double rel() const {
        return std::sqrt(num) / std::max(std::sqrt(den), 1e-300);
    }
    // largest |got − ref| in units of the reference's rms
    double worstOverRms() const {
        double rms = std::sqrt(den / std::max<size_t>(1, ref.size()));
        double m = 0;
        for (size_t i = 0; i < ref.size(); i++) {
            m = std::max(m, std::fabs(got[i] - ref[i]) / std::max(rms, 1e-300));
        }
        return m;
    }
};

int main(int argc, char** argv) {
    if (argc != 9) {
        std::fprintf(stderr, "usage: flash_host_model B H S D p maskMode seed dt\n");
        return 2;
    }
    int B = std::atoi(argv[1]);
    int H = std::atoi(argv[2]);
    int S = std::atoi(argv[3]);
    int D = std::atoi(argv[4]);
    float p = (float)std::atof(argv[5]);
    int maskMode = std::atoi(argv[6]);
    unsigned long long seed = std::strtoull(argv[7], nullptr, 10);
    int DT = std::atoi(argv[8]);
    if (DT != SOLDER_BF16 && DT != SOLDER_F16 && DT != SOLDER_F32) {
        std::fprintf(stderr, "dt must be %d (bf16), %d (fp16) or %d (float32)\n", SOLDER_BF16, SOLDER_F16, SOLDER_F32);
        return 2;
    }
    const bool f32 = DT == SOLDER_F32;
    auto toHalf = [&](float x) { return DT == SOLDER_BF16 ? solder_f32_to_bf16(x) : host_f32_to_f16(x); };
    float scale = 1.0f / std::sqrt((float)D);
    long long n = (long long)B * S * H * D;
    long long rowStride = (long long)H * D;

    std::mt19937_64 rng(seed);
    std::normal_distribution<float> normal(0.0f, 1.0f);
    // Each operand as drawn (float32) and rounded to the half type; the kernels read one or the
    // other, the reference the values the kernels read (x32 below).
    std::vector<float> q32, k32, v32, dO32;
    auto bf16s = [&](std::vector<unsigned short>& x, std::vector<float>& x32) {
        x.resize(n);
        x32.resize(n);
        for (long long e = 0; e < n; e++) {
            float r = normal(rng);
            x[e] = toHalf(r);
            x32[e] = f32 ? r : DT == SOLDER_BF16 ? solder_bf16_to_f32(x[e]) : host_f16_to_f32(x[e]);
        }
    };
    // 16-byte aligned operand buffers (std::vector<unsigned short> data is 16-aligned with glibc's
    // malloc, but make sure)
    std::vector<unsigned short> q, k, v, dO;
    bf16s(q, q32);
    bf16s(k, k32);
    bf16s(v, v32);
    bf16s(dO, dO32);
    for (auto* x : {&q, &k, &v, &dO}) {
        if (((unsigned long long)x->data() & 15) != 0) {
            std::fprintf(stderr, "unaligned host buffer\n");
            return 2;
        }
    }
    std::vector<int> mask((size_t)B * S, 1);
    if (maskMode == 1) {
        for (int b = 0; b < B; b++) {
            int keep = b == 0 ? S : b == 1 ? std::max(1, S - S / 3 - 1) : 0;
            for (int j = 0; j < S; j++) {
                mask[(size_t)b * S + j] = j < keep ? 1 : 0;
            }
        }
    }
    const void* maskp = maskMode == 1 ? (const void*)mask.data() : nullptr;
    std::vector<unsigned short> out(n, DT == SOLDER_BF16 ? 0x7fc0 : 0x7e00);  // NaN poison
    std::vector<float> outF(n, NAN);                                            // the float32 kernels' out
    std::vector<float> lse((size_t)B * H * S, NAN);
    std::vector<float> delta((size_t)B * H * S, NAN);
    std::vector<float> dq(n, NAN), dk(n, NAN), dv(n, NAN);
    int bh = B * H;
    int qTiles = (S + 63) / 64;
    // launch shapes: the float32 kernels have 64 keys per dK/dV CTA at every D, and 4 threads a row at D = 128
    int keys = D == 128 && !f32 ? 32 : 64;
    int rowThreads = f32 && D == 128 ? 256 : 128;
    int keyThreads = f32 ? rowThreads : keys * 2;

    launch(bh, qTiles, rowThreads, [&] {
        if (f32) {
            (D == 32 ? solder_flash_attention_f32_forward_d32
             : D == 64 ? solder_flash_attention_f32_forward_d64 : solder_flash_attention_f32_forward_d128)(
                    q32.data(), k32.data(), v32.data(), maskp, SOLDER_I32, outF.data(), lse.data(), H, S, scale, p,
                    (long long)seed);
        } else if (D == 32) {
            solder_flash_attention_forward_d32(q.data(), k.data(), v.data(), DT, maskp, SOLDER_I32, out.data(),
                                               lse.data(), H, S, scale, p, (long long)seed);
        } else if (D == 64) {
            solder_flash_attention_forward_d64(q.data(), k.data(), v.data(), DT, maskp, SOLDER_I32, out.data(),
                                               lse.data(), H, S, scale, p, (long long)seed);
        } else {
            solder_flash_attention_forward_d128(q.data(), k.data(), v.data(), DT, maskp, SOLDER_I32,
                                                out.data(), lse.data(), H, S, scale, p, (long long)seed);
        }
    });
    long long rows = (long long)B * S * H;
    std::vector<float> out32(n);
    for (long long x = 0; x < n; x++) {
        out32[x] = f32 ? outF[x] : DT == SOLDER_BF16 ? solder_bf16_to_f32(out[x]) : host_f16_to_f32(out[x]);
    }
    launch((int)((rows + 7) / 8), 1, 256, [&] {
        if (DT == SOLDER_BF16) {
            solder_flash_attention_backward_dot(dO.data(), DT, out.data(), DT, delta.data(), rows, H, S, D);
        } else {
            // solder_common.cuh converts fp16 with inline PTX, which the host cannot run: give the
            // (dtype-generic) δ kernel the same values as float32
            solder_flash_attention_backward_dot(dO32.data(), SOLDER_F32, out32.data(), SOLDER_F32, delta.data(), rows, H,
                                                S, D);
        }
    });
    launch(bh, (S + keys - 1) / keys, keyThreads, [&] {
        if (f32) {
            (D == 32 ? solder_flash_attention_f32_backward_dkdv_d32
             : D == 64 ? solder_flash_attention_f32_backward_dkdv_d64 : solder_flash_attention_f32_backward_dkdv_d128)(
                    q32.data(), k32.data(), v32.data(), dO32.data(), maskp, SOLDER_I32, lse.data(), delta.data(),
                    dk.data(), SOLDER_F32, dv.data(), SOLDER_F32, H, S, scale, p, (long long)seed);
        } else if (D == 32) {
            solder_flash_attention_backward_dkdv_d32(q.data(), k.data(), v.data(), dO.data(), DT, maskp,
                                                     SOLDER_I32, lse.data(), delta.data(), dk.data(), SOLDER_F32,
                                                     dv.data(), SOLDER_F32, H, S, scale, p, (long long)seed);
        } else if (D == 64) {
            solder_flash_attention_backward_dkdv_d64(q.data(), k.data(), v.data(), dO.data(), DT, maskp,
                                                     SOLDER_I32, lse.data(), delta.data(), dk.data(), SOLDER_F32,
                                                     dv.data(), SOLDER_F32, H, S, scale, p, (long long)seed);
        } else {
            solder_flash_attention_backward_dkdv_d128(q.data(), k.data(), v.data(), dO.data(), DT, maskp,
                                                      SOLDER_I32, lse.data(), delta.data(), dk.data(), SOLDER_F32,
                                                      dv.data(), SOLDER_F32, H, S, scale, p, (long long)seed);
        }
    });
    launch(bh, qTiles, rowThreads, [&] {
        if (f32) {
            (D == 32 ? solder_flash_attention_f32_backward_dq_d32
             : D == 64 ? solder_flash_attention_f32_backward_dq_d64 : solder_flash_attention_f32_backward_dq_d128)(
                    q32.data(), k32.data(), v32.data(), dO32.data(), maskp, SOLDER_I32, lse.data(), delta.data(),
                    dq.data(), SOLDER_F32, H, S, scale, p, (long long)seed);
        } else if (D == 32) {
            solder_flash_attention_backward_dq_d32(q.data(), k.data(), v.data(), dO.data(), DT, maskp,
                                                   SOLDER_I32, lse.data(), delta.data(), dq.data(), SOLDER_F32, H, S,
                                                   scale, p, (long long)seed);
        } else if (D == 64) {
            solder_flash_attention_backward_dq_d64(q.data(), k.data(), v.data(), dO.data(), DT, maskp,
                                                   SOLDER_I32, lse.data(), delta.data(), dq.data(), SOLDER_F32, H, S,
                                                   scale, p, (long long)seed);
        } else {
            solder_flash_attention_backward_dq_d128(q.data(), k.data(), v.data(), dO.data(), DT, maskp,
                                                    SOLDER_I32, lse.data(), delta.data(), dq.data(), SOLDER_F32, H, S,
                                                    scale, p, (long long)seed);
        }
    });

    // float64 reference with CpuAttention's semantics, from the values the kernels read
    auto f = [](float x) { return (double)x; };
    Err eOut, eLse, eDq, eDk, eDv;
    std::vector<double> rdq(n, 0), rdk(n, 0), rdv(n, 0);
    for (int b = 0; b < B; b++) {
        bool any = false;
        for (int j = 0; j < S; j++) {
            any |= mask[(size_t)b * S + j] != 0;
        }
        for (int h = 0; h < H; h++) {
            long long base = (long long)b * S * rowStride + (long long)h * D;
            unsigned long long bhS = ((unsigned long long)b * H + h) * S;
            for (int i = 0; i < S; i++) {
                std::vector<double> sc(S), P(S), Pd(S), dP(S);
                double m = -INFINITY;
                for (int j = 0; j < S; j++) {
                    double acc = 0;
                    for (int e = 0; e < D; e++) {
                        acc += f(q32[base + i * rowStride + e]) * f(k32[base + j * rowStride + e]);
                    }
                    bool ok = mask[(size_t)b * S + j] != 0;
                    sc[j] = ok ? acc * scale : any ? -INFINITY : 0.0;
                    m = std::max(m, sc[j]);
                }
                double l = 0;
                for (int j = 0; j < S; j++) {
                    l += std::exp(sc[j] - m);
                }
                eLse.add(m + std::log(l), lse[bhS + i]);
                double dot = 0;
                for (int j = 0; j < S; j++) {
                    P[j] = std::exp(sc[j] - m) / l;
                    bool keep = p <= 0.0f || solder_dropout_keep(seed, (bhS + i) * S + j, p);
                    Pd[j] = keep ? P[j] / (1.0 - p) : 0.0;
                    double dpd = 0;
                    for (int e = 0; e < D; e++) {
                        dpd += f(dO32[base + i * rowStride + e]) * f(v32[base + j * rowStride + e]);
                    }
                    dP[j] = keep ? dpd / (1.0 - p) : 0.0;
                    dot += dP[j] * P[j];
                }
                for (int e = 0; e < D; e++) {
                    double o = 0;
                    for (int j = 0; j < S; j++) {
                        o += Pd[j] * f(v32[base + j * rowStride + e]);
                    }
                    eOut.add(o, out32[base + i * rowStride + e]);
                }
                for (int j = 0; j < S; j++) {
                    double ds = P[j] * (dP[j] - dot);
                    for (int e = 0; e < D; e++) {
                        rdq[base + i * rowStride + e] += scale * ds * f(k32[base + j * rowStride + e]);
                        rdk[base + j * rowStride + e] += scale * ds * f(q32[base + i * rowStride + e]);
                        rdv[base + j * rowStride + e] += Pd[j] * f(dO32[base + i * rowStride + e]);
                    }
                }
            }
        }
    }
    for (long long x = 0; x < n; x++) {
        eDq.add(rdq[x], dq[x]);
        eDk.add(rdk[x], dk[x]);
        eDv.add(rdv[x], dv[x]);
    }
    std::printf("out %.3e %.3e %ld lse %.3e %.3e %ld dq %.3e %.3e %ld dk %.3e %.3e %ld dv %.3e %.3e %ld\n",
                eOut.rel(), eOut.worstOverRms(), eOut.nan, eLse.rel(), eLse.worstOverRms(), eLse.nan, eDq.rel(),
                eDq.worstOverRms(), eDq.nan, eDk.rel(), eDk.worstOverRms(), eDk.nan, eDv.rel(), eDv.worstOverRms(),
                eDv.nan);
    // For S = 1 the reference dq and dk are exactly 0 (softmax over one key), so no relative error
    // exists: the test bounds the kernels' largest |dq|, |dk| through max|dO|·max|v|·max(|k|, |q|).
    auto maxAbs = [](const std::vector<float>& x) {
        double m = 0;
        for (float e : x) {
            m = std::max(m, (double)std::fabs(e));
        }
        return m;
    };
    std::printf("zero %.6e %.6e %.6e\n", maxAbs(dq), maxAbs(dk), maxAbs(dO32) * maxAbs(v32) * std::max(maxAbs(k32), maxAbs(q32)));
    return 0;
}
