// adamw.cu — the AdamW step in place (PyTorch semantics, decoupled weight decay): one
// parameter per launch, or every parameter of a model in one launch.
//
// Elementwise over the flat parameter: each thread reads p, g, m, v once and writes p, m, v
// once (28 bytes for a float32 gradient): purely memory-bound, 1-D grid-stride. The
// bias-correction factors 1 − β^t are computed on the host once per step and passed in.
//
// The multi-tensor kernel exists because BERT-base has about 200 parameters: 200 launches of
// a few microseconds each are a visible slice of a step that takes a few milliseconds on a
// Hopper card. It takes a table of the parameters and a list of chunks (parameter index,
// first element), one chunk per block pass, so one launch covers them all — the scheme of
// PyTorch's multi_tensor_apply, with the table built by the Java side each step
// (CudaOptim.adamwAll). Every element gets the same operations in the same order in both
// kernels (solder_adamw_element), so they produce the same bits as each other and as the CPU
// backend's CpuOptim.adamw. The gradient is multiplied by gradScale first: the global-norm
// clipping coefficient, fused here instead of a separate scaling pass over every gradient
// (multiplying by 1.0f changes nothing; otherwise float32(g·c), what the in-place scaling
// would have stored).
//
// The multi-tensor kernel can also write a low-precision copy of each updated parameter
// (bf16 or f16, rounded by solder_store as solder_convert rounds a cast): autocast keeps such
// copies of the weights between steps (CastCache on the Java side), and writing them here costs
// 2 bytes an element instead of a separate conversion pass (read 4, write 2) before every
// forward.

#include "solder_common.cuh"

// p −= lr·wd·p; m = β1·m + (1−β1)·g; v = β2·v + (1−β2)·g²; p −= lr·(m/bc1)/(sqrt(v/bc2) + eps).
// The same operations in the same order as the CPU backend's CpuOptim.adamw. Returns the new p.
__device__ __forceinline__ float solder_adamw_element(float* param, float* m, float* v, long long i, float g,
                                                     float lr, float beta1, float beta2, float eps, float decay,
                                                     float bc1, float bc2) {
    float p = param[i];
    p = p - p * decay;
    float mi = m[i] * beta1 + g * (1.0f - beta1);
    float vi = v[i] * beta2 + g * g * (1.0f - beta2);
    float denom = sqrtf(vi / bc2) + eps;
    p = p - mi / bc1 / denom * lr;
    param[i] = p;
    m[i] = mi;
    v[i] = vi;
    return p;
}

// One parameter. param, m, v float32; grad of dtype gdt.
// Launch: 1-D, 256 threads, grid-stride.
extern "C" __global__ void solder_adamw(float* param, const void* grad, int gdt, float* m, float* v, long long n,
                                        float lr, float beta1, float beta2, float eps, float weightDecay,
                                        float bc1, float bc2) {
    float decay = lr * weightDecay;
    SOLDER_FOR_EACH(i, n) {
        solder_adamw_element(param, m, v, i, solder_load(grad, gdt, i), lr, beta1, beta2, eps, decay, bc1, bc2);
    }
}

// One row of the multi-tensor table: 72 bytes, 8-byte aligned. CudaOptim.adamwAll writes it
// field by field at these offsets (0, 8, 16, 24, 32, 40, 44, 48, 52, 56, 64); the host-model
// test checks them against this declaration. low is null when the parameter has no kept copy.
struct SolderAdamwTensor {
    float* param;
    const void* grad;
    float* m;
    float* v;
    long long n;
    float weightDecay;
    float bc1;
    float bc2;
    int gdt;
    void* low;
    int lowDt;
};

// Every parameter of `tensors` in one launch (and each one's low-precision copy, where it has one).
// Chunk c covers elements
// [chunkStart[c], min(chunkStart[c] + chunkSize, n)) of parameter chunkTensor[c].
// Launch: 1-D, 256 threads, one block per chunk up to the grid size, blocks striding over chunks.
extern "C" __global__ void solder_adamw_multi(const SolderAdamwTensor* tensors, const int* chunkTensor,
                                              const long long* chunkStart, int chunks, long long chunkSize,
                                              float lr, float beta1, float beta2, float eps, float gradScale) {
    for (int c = blockIdx.x; c < chunks; c += gridDim.x) {
        const SolderAdamwTensor t = tensors[chunkTensor[c]];
        long long start = chunkStart[c];
        long long end = start + chunkSize < t.n ? start + chunkSize : t.n;
        float decay = lr * t.weightDecay;
        for (long long i = start + threadIdx.x; i < end; i += blockDim.x) {
            float g = solder_load(t.grad, t.gdt, i) * gradScale;
            float p = solder_adamw_element(t.param, t.m, t.v, i, g, lr, beta1, beta2, eps, decay, t.bc1, t.bc2);
            if (t.low != nullptr) {
                solder_store(t.low, t.lowDt, i, p);
            }
        }
    }
}
