// loss.cu — cross-entropy with an ignore index, and mean squared error.
//
// Cross-entropy forward runs one warp per row (log-sum-exp with a max shift) and writes a
// per-row loss; a one-block kernel then sums rows and counts labels in double, in a fixed
// order (deterministic), and divides. The backward needs the count of non-ignored rows:
// solder_count_labels computes it on the device, so no host round trip sits between the
// forward and backward launches. Labels outside [0, C) other than the ignore index are
// reported through an error buffer the Java side checks after the launch.
//
// The fused path (-Dsolder.kernels=fused, KernelPaths.FusedOp.CROSS_ENTROPY) computes the
// forward and the unit-dloss backward in one kernel, further down.
//
// MSE's forward is a reduction (reduce.cu, mode SQDIFF, scaled by 1/n); its backward is
// elementwise and lives here.

#include "solder_common.cuh"

// The row statistics every cross-entropy kernel needs, computed one way so the forward, the
// backward and the fused kernel agree to the bit: m = max_j logits[base + j] and
// s = Σ_j exp(logits[base + j] − m), each lane striding over j, then warp-reduced.
// Every lane of the warp must call it (shuffles).
__device__ __forceinline__ void solder_ce_row_stats(const void* logits, int ldt, long long base, int classes,
                                                    int lane, float* m, float* s) {
    float mx = -__int_as_float(0x7f800000);
    for (int j = lane; j < classes; j += 32) {
        mx = fmaxf(mx, solder_load(logits, ldt, base + j));
    }
    mx = solder_warp_max(mx);
    float sum = 0.0f;
    for (int j = lane; j < classes; j += 32) {
        sum += expf(solder_load(logits, ldt, base + j) - mx);
    }
    *m = mx;
    *s = solder_warp_sum(sum);
}

// rowLoss[r] = logsumexp(logits[r, :]) − logits[r, label_r], or 0 for an ignored row. A label
// outside [0, classes) (and not ignoreIndex) gives 0 and sets err[0] = 1, errInfo = {r, label}.
// Launch: block 256 (8 warps = 8 rows), grid-stride over row groups.
extern "C" __global__ void solder_cross_entropy_forward(const void* logits, int ldt, const void* labels, int ydt,
                                                        long long ignoreIndex, long long rows, int classes,
                                                        float* rowLoss, int* err, long long* errInfo) {
    int lane = threadIdx.x & 31;
    long long warpsPerBlock = blockDim.x >> 5;
    for (long long r = (long long)blockIdx.x * warpsPerBlock + (threadIdx.x >> 5); r < rows;
         r += (long long)gridDim.x * warpsPerBlock) {
        long long label = solder_load_index(labels, ydt, r);
        if (label == ignoreIndex) {
            if (lane == 0) {
                rowLoss[r] = 0.0f;
            }
            continue;
        }
        if (label < 0 || label >= classes) {
            if (lane == 0) {
                rowLoss[r] = 0.0f;
                if (atomicCAS(err, 0, 1) == 0) {
                    errInfo[0] = r;
                    errInfo[1] = label;
                }
            }
            continue;
        }
        long long base = r * classes;
        float m;
        float s;
        solder_ce_row_stats(logits, ldt, base, classes, lane, &m, &s);
        if (lane == 0) {
            rowLoss[r] = (m + logf(s)) - solder_load(logits, ldt, base + label);
        }
    }
}

// loss[0] = Σ rowLoss / count with count = #rows whose label is not ignoreIndex (0 when
// every row is ignored), summed in double in a fixed order. loss has dtype lossdt.
// Launch: 1 block of 256 threads.
extern "C" __global__ void solder_cross_entropy_reduce(const float* rowLoss, const void* labels, int ydt,
                                                       long long ignoreIndex, long long rows, void* loss,
                                                       int lossdt) {
    __shared__ double warpTotals[32];
    double sum = 0.0;
    double count = 0.0;
    for (long long r = threadIdx.x; r < rows; r += blockDim.x) {
        if (solder_load_index(labels, ydt, r) != ignoreIndex) {
            sum += (double)rowLoss[r];
            count += 1.0;
        }
    }
    double totalSum = solder_block_sum_d(sum, warpTotals);
    double totalCount = solder_block_sum_d(count, warpTotals);
    if (threadIdx.x == 0) {
        solder_store(loss, lossdt, 0, totalCount > 0.0 ? (float)(totalSum / totalCount) : 0.0f);
    }
}

// count[0] = #r in [0, rows) with labels[r] != ignoreIndex, as a float.
// Launch: 1 block of 256 threads.
extern "C" __global__ void solder_count_labels(const void* labels, int ydt, long long ignoreIndex, long long rows,
                                               float* count) {
    __shared__ double warpTotals[32];
    double c = 0.0;
    for (long long r = threadIdx.x; r < rows; r += blockDim.x) {
        if (solder_load_index(labels, ydt, r) != ignoreIndex) {
            c += 1.0;
        }
    }
    double total = solder_block_sum_d(c, warpTotals);
    if (threadIdx.x == 0) {
        count[0] = (float)total;
    }
}

// dlogits[r, :] = dloss·(softmax(logits[r, :]) − onehot(label_r))/count; zero rows for ignored
// (or invalid) labels, and everywhere when count is 0. dloss is a one-element tensor of
// dtype dldt; count comes from solder_count_labels.
// Launch: block 256 (8 rows), grid-stride over row groups.
extern "C" __global__ void solder_cross_entropy_backward(const void* logits, int ldt, const void* labels, int ydt,
                                                         long long ignoreIndex, const void* dloss, int dldt,
                                                         const float* count, void* dlogits, int ddt,
                                                         long long rows, int classes) {
    int lane = threadIdx.x & 31;
    long long warpsPerBlock = blockDim.x >> 5;
    float cnt = count[0];
    float g = solder_load(dloss, dldt, 0);
    for (long long r = (long long)blockIdx.x * warpsPerBlock + (threadIdx.x >> 5); r < rows;
         r += (long long)gridDim.x * warpsPerBlock) {
        long long base = r * classes;
        long long label = solder_load_index(labels, ydt, r);
        if (label == ignoreIndex || label < 0 || label >= classes || cnt == 0.0f) {
            for (int j = lane; j < classes; j += 32) {
                solder_store(dlogits, ddt, base + j, 0.0f);
            }
            continue;
        }
        float m;
        float s;
        solder_ce_row_stats(logits, ldt, base, classes, lane, &m, &s);
        for (int j = lane; j < classes; j += 32) {
            float p = expf(solder_load(logits, ldt, base + j) - m) / s;
            float d = p - (j == label ? 1.0f : 0.0f);
            solder_store(dlogits, ddt, base + j, g * d / cnt);
        }
    }
}

// ====================================================================== fused path
// solder_cross_entropy_fused_forward: the loss rows AND the gradient for dloss = 1 from one
// visit of each row, for training, where a backward always follows. The unfused path reads
// the logits twice in the forward (max, Σexp) and three times again in the backward; here the
// row is read three times in all (max, Σexp, then p − onehot), and the autograd backward only
// multiplies the saved gradient by dloss (one elementwise pass over a float32 [N, C]).
// Per row it does what solder_cross_entropy_forward and solder_cross_entropy_backward do, the
// same operations in the same order, so rowLoss has the same bits as the forward's and
// dlogits the same bits as the backward's with dloss = 1 (1·d/cnt = d/cnt): FusedParitySuite
// and the host model (fused_host_model.cpp) check both. count comes from solder_count_labels,
// launched first; a bad label is reported exactly as by the forward.
// Launch: block 256 (8 rows), grid-stride over row groups — LaunchConfig.rows.
extern "C" __global__ void solder_cross_entropy_fused_forward(const void* logits, int ldt, const void* labels,
                                                              int ydt, long long ignoreIndex, long long rows,
                                                              int classes, const float* count, float* rowLoss,
                                                              float* dlogits, int* err, long long* errInfo) {
    int lane = threadIdx.x & 31;
    long long warpsPerBlock = blockDim.x >> 5;
    float cnt = count[0];
    for (long long r = (long long)blockIdx.x * warpsPerBlock + (threadIdx.x >> 5); r < rows;
         r += (long long)gridDim.x * warpsPerBlock) {
        long long base = r * classes;
        long long label = solder_load_index(labels, ydt, r);
        bool bad = label != ignoreIndex && (label < 0 || label >= classes);
        if (label == ignoreIndex || bad) {
            if (lane == 0) {
                rowLoss[r] = 0.0f;
                if (bad && atomicCAS(err, 0, 1) == 0) {
                    errInfo[0] = r;
                    errInfo[1] = label;
                }
            }
            for (int j = lane; j < classes; j += 32) {
                dlogits[base + j] = 0.0f;
            }
            continue;
        }
        float m;
        float s;
        solder_ce_row_stats(logits, ldt, base, classes, lane, &m, &s);
        if (lane == 0) {
            rowLoss[r] = (m + logf(s)) - solder_load(logits, ldt, base + label);
        }
        for (int j = lane; j < classes; j += 32) {
            float p = expf(solder_load(logits, ldt, base + j) - m) / s;
            float d = p - (j == label ? 1.0f : 0.0f);
            dlogits[base + j] = d / cnt;
        }
    }
}

// dpred[i] = dloss·2·(pred[i] − target[i])/n.
// Launch: 1-D, 256 threads, grid-stride.
extern "C" __global__ void solder_mse_backward(const void* pred, int pdt, const void* target, int tdt,
                                               const void* dloss, int dldt, void* dpred, int ddt, long long n) {
    float g = solder_load(dloss, dldt, 0);
    float invN = (float)(1.0 / (double)n);
    SOLDER_FOR_EACH(i, n) {
        float d = solder_load(pred, pdt, i) - solder_load(target, tdt, i);
        solder_store(dpred, ddt, i, g * 2.0f * d * invN);
    }
}
