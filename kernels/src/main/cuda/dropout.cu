// dropout.cu — inverted dropout from a counter-based generator (Philox4x32-10).
//
// Element i is kept when Philox.keep(seed, i, p) (solder_common.cuh: the same function as
// dev.solder.Philox on the CPU), then scaled by 1/(1 − p); else it is zero. The mask is a
// pure function of (seed, i): nothing is stored between forward and backward, the backward
// regenerates it, and the CPU and GPU draw identical masks for one seed. Forward and
// backward are the same computation (dx = dy masked and scaled), so one kernel serves both.
//
// The attention path applies this to its probabilities [B, H, S, S] with i the flat index
// ((b·H + h)·S + q)·S + k, the index the Backend javadoc prescribes.

#include "solder_common.cuh"

// out[i] = keep(seed, i, p) ? x[i]·(1/(1 − p)) : 0 for i in [0, n). out may alias x.
// Launch: 1-D, 256 threads, grid-stride.
extern "C" __global__ void solder_dropout(const void* x, int xdt, void* out, int odt, long long n, float p,
                                          long long seed) {
    float scale = 1.0f / (1.0f - p);
    unsigned long long s = (unsigned long long)seed;
    SOLDER_FOR_EACH(i, n) {
        float v = solder_dropout_keep(s, (unsigned long long)i, p) ? solder_load(x, xdt, i) * scale : 0.0f;
        solder_store(out, odt, i, v);
    }
}
