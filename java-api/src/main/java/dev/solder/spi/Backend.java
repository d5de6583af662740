package dev.solder.spi;

import dev.solder.DType;
import dev.solder.Device;
import dev.solder.Tensor;
import java.lang.foreign.MemorySegment;
import java.util.List;

/**
 * One implementation of the op catalogue for one kind of device — the single place
 * each op lives per backend (PyTorch ATen's model: one catalogue, one kernel per backend).
 *
 * <p>Backends are found with {@link java.util.ServiceLoader}; the CPU backend ships with
 * {@code solder-api}, the CUDA backend with {@code solder-kernels}. {@code dev.solder.Ops}
 * validates shapes, dtypes and devices, allocates outputs and records autograd; a
 * backend only computes. Contracts every method may rely on, unless it says otherwise:
 * <ul>
 *   <li>every tensor argument is contiguous, open, on this backend's device;</li>
 *   <li>floating inputs may be float32, bfloat16 or float16 — compute in float32 and
 *       write the output in the output tensor's dtype; integer inputs (ids, labels,
 *       masks) are int32 or int64;</li>
 *   <li>outputs are preallocated with the right shape and hold garbage: write every
 *       element; outputs never alias inputs unless a method says so;</li>
 *   <li>"rows" means the tensor viewed as {@code [numel / lastDim, lastDim]}.</li>
 * </ul>
 */
public interface Backend {

    /** Short name, e.g. {@code cpu} or {@code cuda}. */
    String name();

    /** The device family this backend serves. */
    Device.Kind kind();

    /**
     * Lines describing this backend for {@code solder info}: the devices it sees, the
     * native libraries it uses with their paths and versions, or why it cannot run.
     */
    default java.util.List<String> describe() {
        return java.util.List.of(name());
    }

    /** Throws an exception saying why {@code device} cannot be used, or returns normally. */
    void checkDevice(Device device);

    /** Allocates {@code bytes} on {@code device}; the content is undefined. */
    Storage allocate(Device device, long bytes);

    /** Bytes currently allocated on {@code device} and not yet freed. */
    long liveBytes(Device device);

    /**
     * The most bytes {@link #liveBytes} reached on {@code device} since the last
     * {@link #resetPeakLiveBytes} (or since the device was first used): what PyTorch reports as
     * {@code torch.cuda.max_memory_allocated()}.
     */
    long peakLiveBytes(Device device);

    /** Starts a new {@link #peakLiveBytes} from the bytes live now. */
    void resetPeakLiveBytes(Device device);

    /** Waits for all queued work on {@code device}. */
    void synchronize(Device device);

    // ---------------------------------------------------------------- data movement

    /*
     * The five calls that may write into memory a tensor already held before the call —
     * copyFromHost, copy, fill, adamw, adamwAll — call Storage.markWritten() on what they write
     * into, first. Every other op writes only into outputs its caller has just allocated.
     */

    /** Copies {@code dst.numel()·dtype.byteSize()} bytes from host memory into {@code dst}. */
    void copyFromHost(MemorySegment src, long srcByteOffset, Tensor dst);

    /** Copies all of {@code src} (its bytes, in its dtype) to host memory. */
    void copyToHost(Tensor src, MemorySegment dst, long dstByteOffset);

    /**
     * {@code dst = src} element by element, converting dtype. Here both {@code src} and
     * {@code dst} may be strided views (any non-negative strides, {@link Tensor#strides()},
     * {@link Tensor#offset()}); shapes are equal; {@code dst}'s elements do not overlap.
     */
    void copy(Tensor src, Tensor dst);

    /** Sets every element of {@code dst} to {@code value}. */
    void fill(Tensor dst, double value);

    // ---------------------------------------------------------------- products

    /**
     * Batched {@code out = alpha·op(a)·op(b) + beta·out}. {@code a} is 2-D {@code [r, c]} or
     * 3-D {@code [batch, r, c]}; with {@code transA} the matrix used is its transpose.
     * Same for {@code b}. A 2-D operand, or a 3-D one with batch 1, is shared by every
     * batch entry. {@code out} is {@code [batch, m, n]} (or 2-D when batch is 1), and with
     * {@code beta == 0} its old content is never read.
     */
    void matmul(Tensor a, boolean transA, Tensor b, boolean transB, Tensor out, float alpha, float beta);

    /**
     * {@code out[n, o] = Σ_i x[n, i]·w[o, i] + bias[o]} — HF's linear with weight
     * {@code [out, in]}; {@code x} is {@code [rows, in]}; {@code bias} may be null.
     */
    default void linear(Tensor x, Tensor w, Tensor bias, Tensor out) {
        matmul(x, false, w, true, out, 1f, 0f);
        if (bias != null) {
            add(out, bias, 1f, 1f, out);
        }
    }

    /**
     * Gradients of {@link #linear}: {@code dx = dy·w}, {@code dw = dyᵀ·x},
     * {@code dbias = Σ_rows dy}. Any of the outputs may be null (not needed).
     */
    default void linearBackward(Tensor dy, Tensor x, Tensor w, Tensor dx, Tensor dw, Tensor dbias) {
        linearBackward(dy, x, w, dx, false, dw, dbias);
    }

    /**
     * {@link #linearBackward(Tensor, Tensor, Tensor, Tensor, Tensor, Tensor)}, with
     * {@code accumulateDx}: {@code dx += dy·w}, dx holding the gradient of x summed so far
     * (autograd's {@link dev.solder.Autograd.AccumulatingBackwardFn}). This default rounds the
     * product, then the sum — the bits of a separate {@link #add}, so that the CPU backend's
     * results do not depend on where the engine summed. A GPU backend may accumulate in the
     * GEMM (beta 1: one rounding, one pass over dx fewer, no extra launch).
     */
    default void linearBackward(Tensor dy, Tensor x, Tensor w, Tensor dx, boolean accumulateDx, Tensor dw,
                                Tensor dbias) {
        if (dx != null) {
            productInto(dy, w, dx, accumulateDx);
        }
        if (dw != null) {
            matmul(dy, true, x, false, dw, 1f, 0f);
        }
        if (dbias != null) {
            sumToSuffix(dy, dbias);
        }
    }

    /**
     * The up-projection with its activation: {@code preOut = x·wᵀ + bias} (stored in preOut's
     * dtype and kept for the backward) and {@code out = gelu(preOut)}, exact erf form. Shapes as
     * {@link #linear}; {@code bias} may be null. The default composes {@link #linear} and
     * {@link #gelu}; a backend may fuse the bias add and the GELU into the GEMM's epilogue, but
     * must store the same values the composition stores.
     */
    default void linearGelu(Tensor x, Tensor w, Tensor bias, Tensor preOut, Tensor out) {
        linear(x, w, bias, preOut);
        gelu(preOut, false, out);
    }

    /**
     * Gradients of {@link #linearGelu} from the saved pre-activation: {@code dpre = dy·gelu'(pre)}
     * (written into {@code dpre}, a preallocated {@code [rows, out]} scratch: float32, or x's
     * bfloat16/float16 type when {@link dev.solder.Autocast} lowered the op), then
     * {@code dx = dpre·w}, {@code dw = dpreᵀ·x}, {@code dbias = Σ_rows dpre}. {@code dx},
     * {@code dw}, {@code dbias} may be null (not needed).
     */
    default void linearGeluBackward(Tensor dy, Tensor x, Tensor w, Tensor pre, Tensor dpre,
                                    Tensor dx, Tensor dw, Tensor dbias) {
        linearGeluBackward(dy, x, w, pre, dpre, dx, false, dw, dbias);
    }

    /**
     * {@link #linearGeluBackward(Tensor, Tensor, Tensor, Tensor, Tensor, Tensor, Tensor, Tensor)},
     * with {@code accumulateDx}: {@code dx += dpre·w}, as
     * {@link #linearBackward(Tensor, Tensor, Tensor, Tensor, boolean, Tensor, Tensor)}.
     */
    default void linearGeluBackward(Tensor dy, Tensor x, Tensor w, Tensor pre, Tensor dpre,
                                    Tensor dx, boolean accumulateDx, Tensor dw, Tensor dbias) {
        geluBackward(pre, dy, false, dpre);
        linearBackward(dpre, x, w, dx, accumulateDx, dw, dbias);
    }

    /**
     * {@code dx = dy·w}, or with {@code accumulate} {@code dx += dy·w} through a scratch product
     * and an {@link #add} (two roundings, as an unfused sum has).
     */
    private void productInto(Tensor dy, Tensor w, Tensor dx, boolean accumulate) {
        if (!accumulate) {
            matmul(dy, false, w, false, dx, 1f, 0f);
            return;
        }
        try (Tensor p = Tensor.empty(dx.shape(), dx.dtype(), dx.device())) {
            matmul(dy, false, w, false, p, 1f, 0f);
            add(dx, p, 1f, 1f, dx);
        }
    }

    // ---------------------------------------------------------------- elementwise

    /**
     * {@code out = alpha·a + beta·b}, where {@code b} either has {@code a}'s shape or is
     * repeated along the leading elements ({@code b.numel()} divides {@code a.numel()} and
     * {@code b}'s shape is a suffix of {@code a}'s). {@code out} may alias {@code a}.
     */
    void add(Tensor a, Tensor b, float alpha, float beta, Tensor out);

    /** {@code out = a·b} with {@code b} broadcast as in {@link #add}. {@code out} may alias {@code a}. */
    void mul(Tensor a, Tensor b, Tensor out);

    /** {@code out = s·a}. {@code out} may alias {@code a}. */
    void scale(Tensor a, float s, Tensor out);

    /** {@code out[j] = Σ_i a[i·out.numel() + j]} — reduces the leading elements onto a suffix. */
    void sumToSuffix(Tensor a, Tensor out);

    /** {@code out[] = Σ a} into a one-element float32 tensor (float64 accumulation). */
    void sumAll(Tensor a, Tensor out);

    /** GELU, exact {@code x·Φ(x)} (erf) or, with {@code tanhApprox}, HF's {@code gelu_new}. */
    void gelu(Tensor x, boolean tanhApprox, Tensor out);

    /** {@code dx = dy·gelu'(x)}. */
    void geluBackward(Tensor x, Tensor dy, boolean tanhApprox, Tensor dx);

    /** {@code out = tanh(x)}. */
    void tanh(Tensor x, Tensor out);

    /** {@code dx = dy·(1 − y²)} from the forward output {@code y}. */
    void tanhBackward(Tensor y, Tensor dy, Tensor dx);

    // ---------------------------------------------------------------- normalisation

    /**
     * Softmax over the last dimension of {@code x + mask}. {@code mask} may be null; else it
     * is a float tensor {@code [g, lastDim]} added to row {@code r} as its row
     * {@code r / (rows / g)} (so {@code [B, S]} masks {@code [B, H·S, S]} scores per batch).
     */
    void softmax(Tensor x, Tensor mask, Tensor out);

    /** {@code dx = y·(dy − Σ_j dy·y)} per row. */
    void softmaxBackward(Tensor y, Tensor dy, Tensor dx);

    /**
     * LayerNorm over the last dimension of {@code h = x + residual} (residual may be null):
     * {@code out = (h − mean)·rstd·gamma + beta}. Writes {@code hOut} (= h, needed by the
     * backward; null when residual is null, then h is x), and per-row float32 {@code mean}
     * and {@code rstd = 1/sqrt(var + eps)} (biased variance, as PyTorch).
     */
    void layerNorm(Tensor x, Tensor residual, Tensor gamma, Tensor beta, float eps,
                   Tensor out, Tensor hOut, Tensor mean, Tensor rstd);

    /**
     * Gradients of {@link #layerNorm}: {@code dh} (which is also the residual's gradient),
     * {@code dgamma}, {@code dbeta} (overwritten, not accumulated; either may be null).
     */
    void layerNormBackward(Tensor dy, Tensor h, Tensor gamma, Tensor mean, Tensor rstd,
                           Tensor dh, Tensor dgamma, Tensor dbeta);

    /**
     * {@link #layerNorm} of {@code h = dropout(x) + residual}: x dropped by the {@link #dropout}
     * rule ({@code p}, {@code seed}) and rounded to x's dtype, as {@link #dropout} stores it, then
     * added to {@code residual}; h, out and the statistics as {@link #layerNorm} with a residual
     * (h in residual's dtype). {@code x} may be bfloat16/float16 next to a float32 residual (an
     * autocast layer: the dropped values are widened exactly). The default composes
     * {@link #dropout}, a widening {@link #copy} when the dtypes differ, and {@link #layerNorm}:
     * the bits of {@code Ops.layerNorm(Ops.dropout(x), residual)}. A backend may do it in one pass.
     */
    default void dropoutLayerNorm(Tensor x, float p, long seed, Tensor residual, Tensor gamma, Tensor beta, float eps,
                                  Tensor out, Tensor hOut, Tensor mean, Tensor rstd) {
        dropoutLayerNorm(x, p, seed, residual, gamma, beta, eps, out, hOut, mean, rstd, null);
    }

    /**
     * {@link #dropoutLayerNorm(Tensor, float, long, Tensor, Tensor, Tensor, float, Tensor, Tensor, Tensor, Tensor)
     * dropoutLayerNorm}, and, when {@code outLow} is not null, out converted into it as
     * {@link #copy} converts (autocast's copy of the output for the products that read it next).
     * This default converts afterwards; a backend may write the copy in the same pass.
     */
    default void dropoutLayerNorm(Tensor x, float p, long seed, Tensor residual, Tensor gamma, Tensor beta, float eps,
                                  Tensor out, Tensor hOut, Tensor mean, Tensor rstd, Tensor outLow) {
        dropoutLayerNormComposed(x, p, seed, residual, gamma, beta, eps, out, hOut, mean, rstd);
        if (outLow != null) {
            copy(out, outLow);
        }
    }

    private void dropoutLayerNormComposed(Tensor x, float p, long seed, Tensor residual, Tensor gamma, Tensor beta,
                                          float eps, Tensor out, Tensor hOut, Tensor mean, Tensor rstd) {
        try (Tensor d = Tensor.empty(x.shape(), x.dtype(), x.device())) {
            dropout(x, p, seed, d);
            if (x.dtype() == residual.dtype()) {
                layerNorm(d, residual, gamma, beta, eps, out, hOut, mean, rstd);
            } else {
                try (Tensor wide = Tensor.empty(x.shape(), residual.dtype(), x.device())) {
                    copy(d, wide);
                    layerNorm(wide, residual, gamma, beta, eps, out, hOut, mean, rstd);
                }
            }
        }
    }

    /**
     * Gradients of {@link #dropoutLayerNorm}: {@code dres} (float32, = dh; may be null),
     * {@code dx = dropout'(dh)} (float32; may be null), {@code dgamma}, {@code dbeta} as
     * {@link #layerNormBackward}. The default composes {@link #layerNormBackward} and
     * {@link #dropoutBackward}.
     */
    default void dropoutLayerNormBackward(Tensor dy, Tensor h, Tensor gamma, Tensor mean, Tensor rstd, float p,
                                          long seed, Tensor dx, Tensor dres, Tensor dgamma, Tensor dbeta) {
        Tensor dh = dres != null ? dres : Tensor.empty(h.shape(), DType.FLOAT32, h.device());
        try {
            layerNormBackward(dy, h, gamma, mean, rstd, dh, dgamma, dbeta);
            if (dx != null) {
                dropoutBackward(dh, p, seed, dx);
            }
        } finally {
            if (dh != dres) {
                dh.close();
            }
        }
    }

    // ---------------------------------------------------------------- randomness

    /**
     * Inverted dropout: element {@code i} is kept when {@link dev.solder.Philox#keep
     * Philox.keep(seed, i, p)} and then scaled by {@code 1/(1 − p)}, else zero.
     */
    void dropout(Tensor x, float p, long seed, Tensor out);

    /** {@code dx = dy} masked and scaled by the same rule as {@link #dropout}. */
    void dropoutBackward(Tensor dy, float p, long seed, Tensor dx);

    // ---------------------------------------------------------------- lookup

    /** {@code out[n, :] = table[ids[n], :]}; ids are checked to lie in {@code [0, rows)}. */
    void embedding(Tensor ids, Tensor table, Tensor out);

    /**
     * {@code dtable} (overwritten) = scatter-add of {@code dy} rows into rows {@code ids};
     * the row {@code paddingIdx} (if ≥ 0) gets no gradient.
     */
    void embeddingBackward(Tensor ids, Tensor dy, int paddingIdx, Tensor dtable);

    /**
     * BERT's embeddings up to their dropout: for token {@code n} of {@code ids [B, S]} (and
     * {@code typeIds [B, S]}), with {@code s = n mod S} its position,
     * {@code h = (word[ids[n]] + type[typeIds[n]]) + position[positionIds[s]]}, each sum rounded to
     * {@code word}'s dtype, then {@code out = } {@link #layerNorm}{@code (h)}. {@code positionIds}
     * is {@code [S]}, the same for every sequence (HF's {@code position_ids}). Writes {@code out}
     * and {@code hOut} ({@code [B, S, H]}, h for the backward) and the per-token float32
     * {@code mean} and {@code rstd}. Ids outside a table throw, naming the table.
     *
     * <p>The default composes {@link #embedding}, {@link #add} and {@link #layerNorm} exactly as
     * {@code Ops.embedding}, {@code Ops.add} and {@code Ops.layerNorm} would (the same bits); a
     * backend may do it in one pass.
     */
    default void embeddingsLayerNorm(Tensor ids, Tensor typeIds, Tensor positionIds, Tensor word, Tensor type,
                                     Tensor position, Tensor gamma, Tensor beta, float eps, Tensor out, Tensor hOut,
                                     Tensor mean, Tensor rstd) {
        int[] rowShape = hOut.shape();
        int[] posShape = {positionIds.dim(0), word.dim(1)};
        try (Tensor w = Tensor.empty(rowShape, word.dtype(), word.device());
             Tensor t = Tensor.empty(rowShape, type.dtype(), word.device());
             Tensor p = Tensor.empty(posShape, position.dtype(), word.device());
             Tensor wt = Tensor.empty(rowShape, word.dtype(), word.device())) {
            embedding(ids, word, w);
            embedding(typeIds, type, t);
            embedding(positionIds, position, p);
            add(w, t, 1f, 1f, wt);
            add(wt, p, 1f, 1f, hOut);
            layerNorm(hOut, null, gamma, beta, eps, out, null, mean, rstd);
        }
    }

    /**
     * Gradients of {@link #embeddingsLayerNorm} from {@code dy [B, S, H]}: the tables'
     * {@code dword} (no gradient for row {@code wordPaddingIdx} if ≥ 0), {@code dtype},
     * {@code dposition} (float32, overwritten; each may be null) and {@code dgamma}, {@code dbeta}
     * (as {@link #layerNormBackward}). The default composes {@link #layerNormBackward},
     * {@link #sumToSuffix} (the position rows, summed over the batch) and
     * {@link #embeddingBackward}, the bits autograd gets from the unfused ops.
     */
    default void embeddingsLayerNormBackward(Tensor dy, Tensor h, Tensor gamma, Tensor mean, Tensor rstd, Tensor ids,
                                             Tensor typeIds, Tensor positionIds, int wordPaddingIdx, Tensor dword,
                                             Tensor dtype, Tensor dposition, Tensor dgamma, Tensor dbeta) {
        try (Tensor dh = Tensor.empty(h.shape(), DType.FLOAT32, h.device())) {
            layerNormBackward(dy, h, gamma, mean, rstd, dh, dgamma, dbeta);
            if (dword != null) {
                embeddingBackward(ids, dh, wordPaddingIdx, dword);
            }
            if (dtype != null) {
                embeddingBackward(typeIds, dh, -1, dtype);
            }
            if (dposition != null) {
                try (Tensor ps = Tensor.empty(new int[] {positionIds.dim(0), h.dim(-1)}, DType.FLOAT32,
                        h.device())) {
                    sumToSuffix(dh, ps);
                    embeddingBackward(positionIds, ps, -1, dposition);
                }
            }
        }
    }

    // ---------------------------------------------------------------- attention

    /**
     * Multi-head scaled dot-product attention as one op. {@code q, k, v, out} are
     * {@code [B, S, heads·D]}; {@code keyMask} is null or {@code [B, S]} (int or float,
     * non-zero = attend), a masked key gets {@code -Float.MAX_VALUE} added to its score as
     * HF does. {@code P = softmax(q·kᵀ·scale + mask)}; with {@code dropoutP > 0}, element
     * {@code ((b·heads + h)·S + i)·S + j} of P is dropped by the {@link #dropout} rule.
     *
     * @return whatever this backend saves for the backward (CPU: probabilities; a fused
     *     kernel: log-sum-exp); allocated by the backend, owned by the caller
     */
    Tensor attention(Tensor q, Tensor k, Tensor v, Tensor keyMask, int heads, float scale,
                     float dropoutP, long seed, Tensor out);

    /** Gradients of {@link #attention}; {@code saved} is what it returned. */
    void attentionBackward(Tensor q, Tensor k, Tensor v, Tensor keyMask, int heads, float scale,
                           float dropoutP, long seed, Tensor out, Tensor dout, Tensor saved,
                           Tensor dq, Tensor dk, Tensor dv);

    // ---------------------------------------------------------------- losses

    /**
     * Mean cross-entropy of {@code logits [N, C]} against {@code labels [N]}; rows whose
     * label is {@code ignoreIndex} are left out of sum and count (all ignored: loss 0, as
     * an empty mean would be NaN in PyTorch — Solder prefers 0 so training can go on).
     * Labels outside {@code [0, C)} other than ignoreIndex throw.
     */
    void crossEntropy(Tensor logits, Tensor labels, int ignoreIndex, Tensor loss);

    /** {@code dlogits = dloss·(softmax − onehot)/count} (zero rows for ignored labels). */
    void crossEntropyBackward(Tensor logits, Tensor labels, int ignoreIndex, Tensor dloss, Tensor dlogits);

    /**
     * {@link #crossEntropy} for training: writes {@code loss} and may also return, computed in
     * the same pass over the logits, the gradient for {@code dloss = 1} — a new float32
     * {@code [N, C]} tensor holding {@code (softmax − onehot)/count} (zero rows for ignored
     * labels), owned by the caller, the values {@link #crossEntropyBackward} writes with a
     * dloss of 1. The caller then gets the gradient for any dloss by one multiplication instead
     * of a second pass over the logits. Returns null when this backend has no such pass (the
     * default: it only runs {@link #crossEntropy}); the caller then runs
     * {@link #crossEntropyBackward} later.
     */
    default Tensor crossEntropyWithGrad(Tensor logits, Tensor labels, int ignoreIndex, Tensor loss) {
        crossEntropy(logits, labels, ignoreIndex, loss);
        return null;
    }

    /** Mean squared error into a one-element tensor. */
    void mse(Tensor pred, Tensor target, Tensor loss);

    /** {@code dpred = dloss·2(pred − target)/N}. */
    void mseBackward(Tensor pred, Tensor target, Tensor dloss, Tensor dpred);

    // ---------------------------------------------------------------- optimiser

    /**
     * One AdamW update in place (PyTorch semantics): {@code p −= lr·wd·p};
     * {@code m = b1·m + (1−b1)·g}; {@code v = b2·v + (1−b2)·g²};
     * {@code p −= lr·(m/bc1)/(sqrt(v/bc2) + eps)} with {@code bc1 = 1 − b1^t},
     * {@code bc2 = 1 − b2^t}. {@code param, m, v} float32; {@code grad} any float type.
     */
    void adamw(Tensor param, Tensor grad, Tensor m, Tensor v, float lr, float beta1, float beta2,
               float eps, float weightDecay, float biasCorrection1, float biasCorrection2);

    /** {@code Σ x²} in float64 (for global-norm clipping). */
    double sumSquares(Tensor x);

    /**
     * {@code Σ} over every tensor of {@code Σ x²}, float64 — the sum of {@link #sumSquares(Tensor)}
     * over the list, in list order. A device backend overrides it to wait for the device once
     * instead of once per tensor.
     */
    default double sumSquares(List<Tensor> xs) {
        double sum = 0;
        for (Tensor x : xs) {
            sum += sumSquares(x);
        }
        return sum;
    }

    /**
     * One parameter of {@link #adamwAll}: its tensors, weight decay and bias corrections, and
     * optionally {@code lowCopy}, a contiguous bfloat16 or float16 tensor of the parameter's size
     * that the update also writes: the updated parameter rounded to its type, the bits a cast of
     * the updated parameter would give ({@link dev.solder.CastCache} keeps these copies for
     * autocast). Null for none.
     */
    record AdamWParam(Tensor param, Tensor grad, Tensor m, Tensor v, float weightDecay, float biasCorrection1,
                      float biasCorrection2, Tensor lowCopy) {
        public AdamWParam {
            if (lowCopy != null && (lowCopy.numel() != param.numel() || !lowCopy.isContiguous()
                    || (lowCopy.dtype() != DType.BFLOAT16 && lowCopy.dtype() != DType.FLOAT16)
                    || !lowCopy.device().equals(param.device()))) {
                throw new IllegalArgumentException("adamw: the low-precision copy " + lowCopy.describe() + " of "
                        + param.describe() + " must be a contiguous bfloat16 or float16 tensor of its size and device");
            }
        }

        /** {@link Storage#markWritten()} on what an update writes: the parameter and its copy. */
        public void markWritten() {
            param.storage().markWritten();
            if (lowCopy != null) {
                lowCopy.storage().markWritten();
            }
        }

        /** Without a low-precision copy. */
        public AdamWParam(Tensor param, Tensor grad, Tensor m, Tensor v, float weightDecay, float biasCorrection1,
                          float biasCorrection2) {
            this(param, grad, m, v, weightDecay, biasCorrection1, biasCorrection2, null);
        }
    }

    /**
     * {@link #adamw} for every parameter of the list, each gradient multiplied by
     * {@code gradScale} first (float32 {@code g·gradScale}: global-norm clipping's coefficient,
     * 1 for none). The same bits as scaling the gradients in place and calling {@link #adamw}
     * per parameter, but the gradients are left unchanged; then each {@link AdamWParam#lowCopy()}
     * is {@link #copy}'d from its updated parameter. A device backend overrides it to update
     * them all, copies included, in one launch, the CPU backend to skip the separate scaling pass.
     */
    default void adamwAll(List<AdamWParam> params, float lr, float beta1, float beta2, float eps, float gradScale) {
        for (AdamWParam p : params) {
            Tensor g = p.grad();
            Tensor scaled = null;
            if (gradScale != 1f) {
                scaled = Tensor.emptyUnscoped(g.shape(), g.dtype(), g.device());
                scale(g, gradScale, scaled);
                g = scaled;
            }
            try {
                adamw(p.param(), g, p.m(), p.v(), lr, beta1, beta2, eps, p.weightDecay(), p.biasCorrection1(),
                        p.biasCorrection2());
                if (p.lowCopy() != null) {
                    copy(p.param(), p.lowCopy());
                }
            } finally {
                if (scaled != null) {
                    scaled.close();
                }
            }
        }
    }
}
