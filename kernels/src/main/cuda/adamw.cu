// adamw.cu — one AdamW step in place (PyTorch semantics, decoupled weight decay).
//
// Elementwise over the flat parameter: each thread reads p, g, m, v once and writes p, m, v
// once (28 bytes for a float32 gradient): purely memory-bound, 1-D grid-stride. The
// bias-correction factors 1 − β^t are computed on the host once per step and passed in.

#include "solder_common.cuh"

// p −= lr·wd·p; m = β1·m + (1−β1)·g; v = β2·v + (1−β2)·g²;
// p −= lr·(m/bc1)/(sqrt(v/bc2) + eps). param, m, v float32; grad of dtype gdt.
// Launch: 1-D, 256 threads, grid-stride.
extern "C" __global__ void solder_adamw(float* param, const void* grad, int gdt, float* m, float* v, long long n,
                                        float lr, float beta1, float beta2, float eps, float weightDecay,
                                        float bc1, float bc2) {
    // The same operations in the same order as the CPU backend's CpuOptim.adamw.
    float decay = lr * weightDecay;
    float ob1 = 1.0f - beta1;
    float ob2 = 1.0f - beta2;
    SOLDER_FOR_EACH(i, n) {
        float g = solder_load(grad, gdt, i);
        float p = param[i];
        p = p - p * decay;
        float mi = m[i] * beta1 + g * ob1;
        float vi = v[i] * beta2 + g * g * ob2;
        float denom = sqrtf(vi / bc2) + eps;
        p = p - mi / bc1 / denom * lr;
        param[i] = p;
        m[i] = mi;
        v[i] = vi;
    }
}
