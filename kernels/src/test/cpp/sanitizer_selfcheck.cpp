// sanitizer_selfcheck.cpp — one small kernel with each kind of error HostSanitizer's builds must
// report, so that a clean sanitized run of the real host models means the sanitizers were looking
// (HostSanitizerSelfCheckTest builds it plain, under ThreadSanitizer and under AddressSanitizer).
//
//   sanitizer_selfcheck MODE    MODE one of
//     barrier          64 threads write a shared array, __syncthreads, read a neighbour's slot: clean
//     race             the same with no barrier: a race (ThreadSanitizer)
//     shared-overflow  the last thread reads one past the shared array (AddressSanitizer)
//     global-overflow  the last thread writes one past the output buffer (AddressSanitizer)
// Prints "sum S" (the values read) and exits 0 unless a sanitizer stops it.

#include <cstdio>
#include <cstring>
#include <vector>

#include "host_threads.h"

__global__ void selfcheck_kernel(const float* in, float* out, int mode) {
    __shared__ float tile[64];
    int t = threadIdx.x;
    tile[t] = in[t];
    if (mode != 1) {
        __syncthreads();
    }
    int from = mode == 2 ? t + 1 : (t + 1) % 64;   // mode 2: thread 63 reads tile[64]
    int to = mode == 3 ? t + 1 : t;                 // mode 3: thread 63 writes out[64]
    out[to] = tile[from];
}

int main(int argc, char** argv) {
    const char* modes[] = {"barrier", "race", "shared-overflow", "global-overflow"};
    int mode = -1;
    for (int m = 0; m < 4; m++) {
        if (argc == 2 && std::strcmp(argv[1], modes[m]) == 0) {
            mode = m;
        }
    }
    if (mode < 0) {
        std::fprintf(stderr, "usage: sanitizer_selfcheck barrier|race|shared-overflow|global-overflow\n");
        return 2;
    }
    std::vector<float> in(64), out(64);
    for (int i = 0; i < 64; i++) {
        in[i] = 0.5f * i + 1.0f;
    }
    // two blocks: the second one's writes meet the first one's reads of the same shared array
    launch(2, 1, 64, [&] { selfcheck_kernel(in.data(), out.data(), mode); });
    double sum = 0;
    for (float v : out) {
        sum += v;
    }
    std::printf("sum %.1f\n", sum);
    return 0;
}
