// attention.cu — the row-wise pieces of unfused attention (the cuBLAS-only path).
//
// The path, for q, k, v, out laid out [B, S, H·D] (row stride H·D, head h at column h·D):
//   scores[b, h] = scale·Q_bh·K_bhᵀ        cuBLAS strided batch over the H heads, per b
//   P            = softmax(scores + mask)  solder_attention_softmax_forward, in place
//   Pd           = dropout(P)              solder_dropout (dropout.cu) on the flat index
//                                          ((b·H + h)·S + i)·S + j, as the Backend javadoc says
//   out[b, h]    = Pd_bh·V_bh              cuBLAS, written straight into [B, S, H·D]
// P (pre-dropout, float32 [B, H, S, S]) is what the forward saves for the backward, which
// regenerates the dropout mask from the seed:
//   dV = Pdᵀ·dO,  dPd = dO·Vᵀ             cuBLAS
//   dS = P ⊙ (dP − Σ_j dP ⊙ P), dP = dropout'(dPd)   solder_attention_softmax_backward
//   dQ = scale·dS·K,  dK = scale·dSᵀ·Q     cuBLAS
//
// Both kernels are one warp per score row (S ≤ a few thousand: a warp covers a row in S/32
// strided steps), 8 rows per 256-thread block, grid-stride over row groups.

#include "solder_common.cuh"

// P[r, :] = softmax(scores[r, :] + m) in place, for the [B·H·S, S] score rows; row r belongs
// to batch b = r / rowsPerBatch (rowsPerBatch = H·S) and key j gets m = −FLT_MAX when
// keyMask[b, j] == 0 (int or float mask, HF's convention), else 0. keyMask may be null.
// Launch: block 256 (8 rows), grid-stride over row groups.
extern "C" __global__ void solder_attention_softmax_forward(float* scores, const void* keyMask, int mdt,
                                                            long long rowsPerBatch, long long rows, int S) {
    int lane = threadIdx.x & 31;
    long long warpsPerBlock = blockDim.x >> 5;
    for (long long r = (long long)blockIdx.x * warpsPerBlock + (threadIdx.x >> 5); r < rows;
         r += (long long)gridDim.x * warpsPerBlock) {
        float* row = scores + r * S;
        long long maskBase = (r / rowsPerBatch) * S;
        float m = -__int_as_float(0x7f800000);
        for (int j = lane; j < S; j += 32) {
            float v = row[j];
            if (keyMask != 0 && solder_is_zero(keyMask, mdt, maskBase + j)) {
                v += -SOLDER_FLT_MAX;
            }
            m = fmaxf(m, v);
        }
        m = solder_warp_max(m);
        float s = 0.0f;
        for (int j = lane; j < S; j += 32) {
            float v = row[j];
            if (keyMask != 0 && solder_is_zero(keyMask, mdt, maskBase + j)) {
                v += -SOLDER_FLT_MAX;
            }
            s += expf(v - m);
        }
        s = solder_warp_sum(s);
        for (int j = lane; j < S; j += 32) {
            float v = row[j];
            if (keyMask != 0 && solder_is_zero(keyMask, mdt, maskBase + j)) {
                v += -SOLDER_FLT_MAX;
            }
            row[j] = expf(v - m) / s;
        }
    }
}

// Backward through dropout and softmax, in place on grad: on entry grad = dL/dPd, on exit
// grad = dL/d(scores) (before the 1/√D scale, which the dQ/dK products apply). With
// dropoutP > 0, g_j = keep(seed, r·S + j) ? grad_j/(1 − p) : 0, else g_j = grad_j; then
// grad_j = P_j·(g_j − Σ_k g_k·P_k).
// Launch: block 256 (8 rows), grid-stride over row groups.
extern "C" __global__ void solder_attention_softmax_backward(const float* P, float* grad, long long rows, int S,
                                                             float dropoutP, long long seed) {
    int lane = threadIdx.x & 31;
    long long warpsPerBlock = blockDim.x >> 5;
    float keepScale = 1.0f / (1.0f - dropoutP);
    unsigned long long sd = (unsigned long long)seed;
    for (long long r = (long long)blockIdx.x * warpsPerBlock + (threadIdx.x >> 5); r < rows;
         r += (long long)gridDim.x * warpsPerBlock) {
        const float* prow = P + r * S;
        float* grow = grad + r * S;
        unsigned long long base = (unsigned long long)(r * S);
        float dot = 0.0f;
        for (int j = lane; j < S; j += 32) {
            float g = grow[j];
            if (dropoutP > 0.0f) {
                g = solder_dropout_keep(sd, base + j, dropoutP) ? g * keepScale : 0.0f;
            }
            dot += g * prow[j];
        }
        dot = solder_warp_sum(dot);
        for (int j = lane; j < S; j += 32) {
            float g = grow[j];
            if (dropoutP > 0.0f) {
                g = solder_dropout_keep(sd, base + j, dropoutP) ? g * keepScale : 0.0f;
            }
            grow[j] = prow[j] * (g - dot);
        }
    }
}
