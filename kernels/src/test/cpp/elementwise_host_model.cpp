// elementwise_host_model.cpp — the 16-byte vector paths of elementwise.cu against their scalar
// paths, on the HOST (ElementwiseHostModelTest compiles it with g++ and checks what it prints).
//
// Every kernel with a vector path picks it when its tensors are 16-byte aligned (solder_vec8_ok)
// and walks elements one by one otherwise. This model runs each kernel twice on the same values:
// once from 16-byte aligned buffers (vector path) and once from buffers one element off
// (scalar path), with the launch shape the Java side uses (LaunchConfig.vec8, or the bias-GELU
// backward's 256-column tiles), and compares every stored element bit for bit. Inputs mix normal
// values with NaNs carrying payloads, infinities, signed zeros, subnormals and bf16 rounding
// ties; lengths leave a tail of n mod 8 elements. The bias-GELU backward's partial column sums are
// also checked against the slice order written out on the host (solder_slices_total's order over
// the stored dpre), bit for bit. What it cannot check: the GPU's erff/expf/tanhf, its memory
// system, and float16 (the PTX conversions are no-ops on the host).
//
//   elementwise_host_model SEED prints one line per case,
//   CASE mismatches M elements N
// and, last, "total mismatches M cases C".

#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <math.h>
#include <random>
#include <string>
#include <vector>

#include "host_threads.h"
#include "elementwise.cu"

static const int THREADS = 256;

static int sizeOf(int dt) {
    return dt == SOLDER_F32 ? 4 : 2;
}

// A tensor's bytes, twice: at a 16-byte aligned address (vector path) and one element further
// (scalar path). Both copies start with the same values.
struct Buf {
    int dt;
    long long n;
    std::vector<SolderU4> alignedStore, offsetStore;

    Buf(int dt_, long long n_) : dt(dt_), n(n_) {
        long long units = (n * sizeOf(dt) + 16) / 16 + 1;
        alignedStore.assign(units, SolderU4{0, 0, 0, 0});
        offsetStore.assign(units, SolderU4{0, 0, 0, 0});
    }
    unsigned char* aligned() { return (unsigned char*)alignedStore.data(); }
    unsigned char* offset() { return (unsigned char*)offsetStore.data() + sizeOf(dt); }
    void* ptr(bool vec) { return vec ? (void*)aligned() : (void*)offset(); }
    unsigned bitsAt(bool vec, long long i) {
        unsigned char* p = vec ? aligned() : offset();
        unsigned u = 0;
        std::memcpy(&u, p + i * sizeOf(dt), sizeOf(dt));
        return u;
    }
    void setBits(long long i, unsigned u) {
        std::memcpy(aligned() + i * sizeOf(dt), &u, sizeOf(dt));
        std::memcpy(offset() + i * sizeOf(dt), &u, sizeOf(dt));
    }
    float valueAt(bool vec, long long i) { return solder_load(ptr(vec), dt, i); }
};

// Random values of dtype dt, with special values mixed in: quiet and signalling NaNs with
// payloads, ±inf, ±0, subnormals, and (for bf16 stores) float32 values halfway between bf16s.
static void fill(Buf& b, std::mt19937_64& rng, float scale, bool specials = true) {
    std::normal_distribution<float> nd(0.0f, scale);
    std::uniform_int_distribution<int> pick(0, 15);
    for (long long i = 0; i < b.n; i++) {
        float f = nd(rng);
        unsigned u;
        std::memcpy(&u, &f, 4);
        switch (specials ? pick(rng) : 15) {
            case 0: u = 0x7fc01234u; break;        // quiet NaN with a payload
            case 1: u = 0x7f812345u; break;        // signalling NaN
            case 2: u = (i & 1) ? 0xff800000u : 0x7f800000u; break;
            case 3: u = (i & 1) ? 0x80000000u : 0u; break;
            case 4: u = 0x00012345u; break;        // subnormal
            case 5: u = (u & 0xffff0000u) | 0x8000u; break;  // a bf16 rounding tie
            default: break;
        }
        if (b.dt == SOLDER_F32) {
            b.setBits(i, u);
        } else {
            b.setBits(i, u >> 16);
        }
    }
}

static long long gMismatches = 0;
static int gCases = 0;

static bool isNaN(int dt, unsigned u) {
    return dt == SOLDER_F32 ? (u & 0x7fffffffu) > 0x7f800000u : (u & 0x7fffu) > 0x7f80u;
}

// Compares every element of out's two copies bit for bit and prints the case's line. Where the
// kernel computes (anyNaN), two NaNs match whatever their payloads: which operand's payload an
// x86 add of two NaNs keeps depends on how g++ ordered the operands, and the GPU's arithmetic
// returns one canonical NaN anyway. Copies (convert) must keep payloads exactly.
static void report(const std::string& name, std::vector<Buf*> outs, bool anyNaN = true) {
    long long bad = 0;
    long long total = 0;
    for (Buf* o : outs) {
        for (long long i = 0; i < o->n; i++) {
            unsigned a = o->bitsAt(true, i);
            unsigned b = o->bitsAt(false, i);
            if (a != b && !(anyNaN && isNaN(o->dt, a) && isNaN(o->dt, b))) {
                if (bad < 3) {
                    std::printf("  %s element %lld: vector 0x%x scalar 0x%x\n", name.c_str(), i, o->bitsAt(true, i),
                                o->bitsAt(false, i));
                }
                bad++;
            }
            total++;
        }
    }
    std::printf("%s mismatches %lld elements %lld\n", name.c_str(), bad, total);
    gMismatches += bad;
    gCases++;
}

static int vec8Blocks(long long n) {
    long long units = (n + 7) / 8;
    long long blocks = (units + THREADS - 1) / THREADS;
    return (int)(blocks < 1 ? 1 : blocks);
}

template <class F>
static void both(long long n, F kernel) {
    for (int v = 0; v < 2; v++) {
        bool vec = v == 0;
        launch(vec8Blocks(n), 1, THREADS, [&] { kernel(vec); });
    }
}

static void convert(std::mt19937_64& rng, int sdt, int ddt, long long n) {
    Buf src(sdt, n), dst(ddt, n);
    fill(src, rng, 3.0f);
    both(n, [&](bool vec) { solder_convert(src.ptr(vec), sdt, dst.ptr(vec), ddt, n); });
    report("convert " + std::to_string(sdt) + "->" + std::to_string(ddt) + " n " + std::to_string(n), {&dst},
           sdt != ddt);
}

static void add(std::mt19937_64& rng, int adt, int bdt, int odt, long long n, long long nb, bool alias) {
    Buf a(adt, n), b(bdt, nb), out(odt, n);
    fill(a, rng, 2.0f);
    fill(b, rng, 2.0f);
    both(n, [&](bool vec) {
        solder_add(a.ptr(vec), adt, b.ptr(vec), bdt, 0.75f, -1.25f, alias ? a.ptr(vec) : out.ptr(vec), alias ? adt : odt,
                   n, nb);
    });
    report("add " + std::to_string(adt) + "," + std::to_string(bdt) + "->" + std::to_string(alias ? adt : odt) + " n "
               + std::to_string(n) + " nb " + std::to_string(nb) + (alias ? " in place" : ""),
           {alias ? &a : &out});
}

static void mulScale(std::mt19937_64& rng, int adt, int bdt, int odt, long long n, long long nb) {
    Buf a(adt, n), b(bdt, nb), out(odt, n), scaled(odt, n);
    fill(a, rng, 2.0f);
    fill(b, rng, 2.0f);
    both(n, [&](bool vec) {
        solder_mul(a.ptr(vec), adt, b.ptr(vec), bdt, out.ptr(vec), odt, n, nb);
        solder_scale(a.ptr(vec), adt, -0.3f, scaled.ptr(vec), odt, n);
    });
    report("mul+scale " + std::to_string(adt) + "," + std::to_string(bdt) + "->" + std::to_string(odt) + " n "
               + std::to_string(n) + " nb " + std::to_string(nb),
           {&out, &scaled});
}

static void gelu(std::mt19937_64& rng, int xdt, int odt, long long n, int tanhApprox) {
    Buf x(xdt, n), dy(odt, n), out(odt, n), dx(xdt, n);
    fill(x, rng, 2.5f);
    fill(dy, rng, 1.0f);
    both(n, [&](bool vec) {
        solder_gelu_forward(x.ptr(vec), xdt, out.ptr(vec), odt, n, tanhApprox);
        solder_gelu_backward(x.ptr(vec), xdt, dy.ptr(vec), odt, dx.ptr(vec), xdt, n, tanhApprox);
    });
    report(std::string("gelu ") + (tanhApprox ? "tanh " : "erf ") + std::to_string(xdt) + "->" + std::to_string(odt)
               + " n " + std::to_string(n),
           {&out, &dx});
}

static void biasGeluForward(std::mt19937_64& rng, int pdt, int bdt, long long rows, int cols) {
    long long n = rows * cols;
    Buf pre(pdt, n), bias(bdt, cols), out(pdt, n);
    fill(pre, rng, 2.0f);
    fill(bias, rng, 0.5f);
    both(n, [&](bool vec) { solder_bias_gelu_forward(pre.ptr(vec), pdt, bias.ptr(vec), bdt, out.ptr(vec), pdt, rows, cols); });
    report("biasGelu fwd " + std::to_string(pdt) + " bias " + std::to_string(bdt) + " [" + std::to_string(rows) + ","
               + std::to_string(cols) + "]",
           {&pre, &out});
}

// The backward with the launch CudaFused.biasGeluBackward makes: (32, 8) blocks of 256 columns,
// `chunks` row chunks. Its partials are double; they go through Buf as float32 pairs.
static void biasGeluBackward(std::mt19937_64& rng, int pdt, int dpdt, long long rows, int cols, int chunks) {
    long long n = rows * cols;
    long long perChunk = (rows + chunks - 1) / chunks;
    chunks = (int)((rows + perChunk - 1) / perChunk);
    Buf pre(pdt, n), dy(dpdt, n), dpre(dpdt, n), partials(SOLDER_F32, 2LL * chunks * cols);
    // No NaNs or infinities here: one in a column makes its partial NaN, which hides the order.
    // Instead ±2^60 in some rows of dy, so that the order of the adds changes the double sums.
    fill(pre, rng, 2.0f, false);
    std::normal_distribution<float> nd(0.0f, 1.0f);
    for (long long i = 0; i < n; i++) {
        long long r = i / cols;
        bool big = r % 13 == 0 || r % 13 == 6;
        float f = !big ? nd(rng) : r % 13 == 0 ? 1152921504606846976.0f : -1152921504606846976.0f;
        if (big) {
            // The same pre in both rows, so the two big dpre cancel exactly when they meet.
            float three = 3.0f;
            unsigned t;
            std::memcpy(&t, &three, 4);
            pre.setBits(i, pdt == SOLDER_F32 ? t : t >> 16);
        }
        unsigned u;
        std::memcpy(&u, &f, 4);
        dy.setBits(i, dpdt == SOLDER_F32 ? u : u >> 16);
    }
    int tiles = (cols + 255) / 256;
    for (int v = 0; v < 2; v++) {
        bool vec = v == 0;
        double* part = (double*)(vec ? (void*)partials.aligned() : (void*)(partials.offsetStore.data()));
        launch(tiles, chunks, 32, 8, [&] {
            solder_bias_gelu_backward(pre.ptr(vec), pdt, dy.ptr(vec), dpdt, dpre.ptr(vec), dpdt, rows, cols, perChunk,
                                      part);
        });
    }
    std::string name = "biasGelu bwd " + std::to_string(pdt) + "->" + std::to_string(dpdt) + " [" + std::to_string(rows)
                       + "," + std::to_string(cols) + "] chunks " + std::to_string(chunks);
    // Partials: the scalar run wrote them at offsetStore's start (doubles need 8-byte alignment).
    long long bad = 0;
    long long orderShows = 0;
    double* pv = (double*)partials.aligned();
    double* ps = (double*)partials.offsetStore.data();
    for (long long c = 0; c < (long long)chunks * cols; c++) {
        long long by = c / cols;
        long long col = c % cols;
        // The documented order over the stored dpre: slice y adds rows r0 + y, r0 + y + 8, ... in
        // order; the slices add in order 0..7.
        double slice[8] = {0, 0, 0, 0, 0, 0, 0, 0};
        long long r0 = by * perChunk;
        long long r1 = r0 + perChunk < rows ? r0 + perChunk : rows;
        for (int y = 0; y < 8; y++) {
            for (long long r = r0 + y; r < r1; r += 8) {
                slice[y] += (double)dpre.valueAt(true, r * cols + col);
            }
        }
        double want = 0.0;
        double reversed = 0.0;
        for (int y = 0; y < 8; y++) {
            want += slice[y];
            reversed += slice[7 - y];
        }
        orderShows += reversed != want;
        unsigned long long a, b, w;
        std::memcpy(&a, &pv[c], 8);
        std::memcpy(&b, &ps[c], 8);
        std::memcpy(&w, &want, 8);
        if (a != w || b != w) {
            if (bad < 3) {
                std::printf("  %s partial %lld: vector %.17g scalar %.17g order %.17g\n", name.c_str(), c, pv[c], ps[c],
                            want);
            }
            bad++;
        }
    }
    std::printf("%s partials mismatches %lld elements %lld ordermatters %lld\n", name.c_str(), bad,
                (long long)chunks * cols, orderShows);
    gMismatches += bad;
    gCases++;
    report(name, {&dpre});
}

int main(int argc, char** argv) {
    unsigned long long seed = argc > 1 ? std::strtoull(argv[1], nullptr, 10) : 1;
    std::mt19937_64 rng(seed);
    convert(rng, SOLDER_F32, SOLDER_BF16, 8 * 300 + 5);
    convert(rng, SOLDER_BF16, SOLDER_F32, 8 * 300 + 3);
    // Same-dtype conversions take the element path from both buffers (solder_convert keeps its
    // vector path for two different types); these check that no path rounds their bits.
    convert(rng, SOLDER_F32, SOLDER_F32, 8 * 90 + 7);
    convert(rng, SOLDER_BF16, SOLDER_BF16, 8 * 90 + 1);
    add(rng, SOLDER_F32, SOLDER_F32, SOLDER_F32, 8 * 400 + 6, 8 * 400 + 6, false);
    add(rng, SOLDER_BF16, SOLDER_F32, SOLDER_BF16, 8 * 200 + 2, 8 * 200 + 2, false);
    add(rng, SOLDER_F32, SOLDER_BF16, SOLDER_F32, 24 * 70, 24, false);
    add(rng, SOLDER_F32, SOLDER_F32, SOLDER_F32, 8 * 150 + 3, 8 * 150 + 3, true);
    mulScale(rng, SOLDER_F32, SOLDER_F32, SOLDER_BF16, 8 * 300 + 4, 8 * 300 + 4);
    mulScale(rng, SOLDER_BF16, SOLDER_BF16, SOLDER_F32, 40 * 33, 40);
    gelu(rng, SOLDER_BF16, SOLDER_BF16, 8 * 250 + 5, 0);
    gelu(rng, SOLDER_F32, SOLDER_F32, 8 * 250 + 1, 0);
    gelu(rng, SOLDER_F32, SOLDER_BF16, 8 * 100, 1);
    biasGeluForward(rng, SOLDER_BF16, SOLDER_BF16, 37, 136);
    biasGeluForward(rng, SOLDER_F32, SOLDER_F32, 19, 264);
    biasGeluForward(rng, SOLDER_BF16, SOLDER_F32, 11, 72);
    biasGeluBackward(rng, SOLDER_BF16, SOLDER_BF16, 203, 136, 3);
    biasGeluBackward(rng, SOLDER_F32, SOLDER_F32, 120, 520, 2);
    biasGeluBackward(rng, SOLDER_BF16, SOLDER_F32, 64, 264, 1);
    std::printf("total mismatches %lld cases %d\n", gMismatches, gCases);
    return 0;
}
