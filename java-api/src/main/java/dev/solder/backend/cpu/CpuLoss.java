package dev.solder.backend.cpu;

import dev.solder.Tensor;
import jdk.incubator.vector.DoubleVector;
import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.VectorMask;
import jdk.incubator.vector.VectorOperators;

/**
 * Losses into one-element tensors and their gradients: mean cross-entropy over integer
 * labels with PyTorch's {@code ignore_index}, and mean squared error.
 *
 * <p>Cross-entropy works per row with the log-sum-exp trick in float64
 * ({@code lse = max + log Σ exp(x − max)}, loss {@code lse − x[label]}); per-row losses
 * are kept and summed in row order, so the loss is the same bits on every run however the
 * rows were spread over threads.
 */
final class CpuLoss {
    private static final int DL = CpuFloats.D.length();

    private CpuLoss() {
    }

    static void crossEntropy(Tensor logits, Tensor labels, int ignoreIndex, Tensor loss) {
        int n = logits.dim(0);
        int c = logits.dim(1);
        int[] y = checkedLabels("crossEntropy", logits, labels, ignoreIndex);
        double[] rowLoss = new double[n];
        CpuParallel.forRange(n, CpuNorm.grain(c), (lo, hi) -> {
            float[] v = new float[c];
            for (int r = lo; r < hi; r++) {
                if (y[r] == ignoreIndex) {
                    continue;
                }
                CpuFloats.load(logits, (long) r * c, v, 0, c);
                rowLoss[r] = logSumExp(v, c) - v[y[r]];
            }
        });
        int count = 0;
        double sum = 0;
        for (int r = 0; r < n; r++) {
            if (y[r] != ignoreIndex) {
                count++;
                sum += rowLoss[r];
            }
        }
        // Every row ignored: 0, not PyTorch's NaN, so a batch of only padding cannot poison training.
        CpuFloats.set(loss, 0, count == 0 ? 0f : (float) (sum / count));
    }

    static void crossEntropyBackward(Tensor logits, Tensor labels, int ignoreIndex, Tensor dloss, Tensor dlogits) {
        int n = logits.dim(0);
        int c = logits.dim(1);
        int[] y = checkedLabels("crossEntropyBackward", logits, labels, ignoreIndex);
        int count = 0;
        for (int r = 0; r < n; r++) {
            if (y[r] != ignoreIndex) {
                count++;
            }
        }
        double scale = count == 0 ? 0 : CpuFloats.get(dloss, 0) / (double) count;
        CpuParallel.forRange(n, CpuNorm.grain(c), (lo, hi) -> {
            float[] v = new float[c];
            for (int r = lo; r < hi; r++) {
                if (y[r] == ignoreIndex) {
                    java.util.Arrays.fill(v, 0f);
                } else {
                    CpuFloats.load(logits, (long) r * c, v, 0, c);
                    double lse = logSumExp(v, c);
                    double atLabel = v[y[r]];
                    scaledSoftmax(v, c, lse, scale);
                    v[y[r]] = (float) (scale * (Math.exp(atLabel - lse) - 1));
                }
                CpuFloats.store(dlogits, (long) r * c, v, 0, c);
            }
        });
    }

    /** {@code log Σ exp(v)} in float64 with the maximum taken out first. */
    static double logSumExp(float[] v, int n) {
        float max = CpuFloats.max(v, n);
        if (max == Float.NEGATIVE_INFINITY || max == Float.POSITIVE_INFINITY) {
            return max;
        }
        double mx = max;
        DoubleVector acc = DoubleVector.zero(CpuFloats.D);
        for (int j = 0; j < n; j += DL) {
            VectorMask<Float> mf = CpuFloats.F_HALF.indexInRange(j, n);
            DoubleVector d = ((DoubleVector) FloatVector.fromArray(CpuFloats.F_HALF, v, j, mf)
                    .convertShape(VectorOperators.F2D, CpuFloats.D, 0))
                    .sub(mx).lanewise(VectorOperators.EXP);
            acc = acc.add(d.blend(0.0, mf.cast(CpuFloats.D).not()));
        }
        return mx + Math.log(CpuFloats.sumLanes(acc));
    }

    /** {@code v[j] = scale·exp(v[j] − lse)} in float64 vectors. */
    private static void scaledSoftmax(float[] v, int n, double lse, double scale) {
        for (int j = 0; j < n; j += DL) {
            VectorMask<Float> mf = CpuFloats.F_HALF.indexInRange(j, n);
            DoubleVector d = ((DoubleVector) FloatVector.fromArray(CpuFloats.F_HALF, v, j, mf)
                    .convertShape(VectorOperators.F2D, CpuFloats.D, 0))
                    .sub(lse).lanewise(VectorOperators.EXP).mul(scale);
            ((FloatVector) d.convertShape(VectorOperators.D2F, CpuFloats.F_HALF, 0)).intoArray(v, j, mf);
        }
    }

    /** The labels as ints; any outside {@code [0, C)} other than {@code ignoreIndex} throws. */
    private static int[] checkedLabels(String op, Tensor logits, Tensor labels, int ignoreIndex) {
        int n = logits.dim(0);
        int c = logits.dim(1);
        if (labels.numel() != n) {
            throw new IllegalArgumentException(op + ": labels " + labels.describe() + " do not match logits " + logits.describe());
        }
        int[] y = new int[n];
        for (int r = 0; r < n; r++) {
            long l = CpuFloats.getLong(labels, r);
            if (l != ignoreIndex && (l < 0 || l >= c)) {
                throw new IllegalArgumentException(op + ": label " + l + " of row " + r + " is outside [0, " + c
                        + ") for C = " + c + " classes (logits " + logits.describe() + ", ignore index " + ignoreIndex + ")");
            }
            y[r] = (int) l;
        }
        return y;
    }

    // ------------------------------------------------------------------ MSE

    static void mse(Tensor pred, Tensor target, Tensor loss) {
        long n = pred.numel();
        if (n == 0) {
            CpuFloats.set(loss, 0, 0f);
            return;
        }
        int nb = Math.toIntExact((n + CpuFloats.BLOCK - 1) / CpuFloats.BLOCK);
        double[] partial = new double[nb];
        CpuFloats.blocks(n, (lo, hi) -> {
            float[] p = new float[CpuFloats.bufferFor(lo, hi)];
            float[] t = new float[CpuFloats.bufferFor(lo, hi)];
            for (long i = lo; i < hi; i += CpuFloats.BLOCK) {
                int len = (int) Math.min(CpuFloats.BLOCK, hi - i);
                CpuFloats.load(pred, i, p, 0, len);
                CpuFloats.load(target, i, t, 0, len);
                double s = 0;
                for (int j = 0; j < len; j++) {
                    double d = (double) p[j] - t[j];
                    s += d * d;
                }
                partial[(int) (i / CpuFloats.BLOCK)] = s;
            }
        });
        CpuFloats.set(loss, 0, (float) (CpuFloats.pairwise(partial, 0, nb) / n));
    }

    static void mseBackward(Tensor pred, Tensor target, Tensor dloss, Tensor dpred) {
        long n = pred.numel();
        if (n == 0) {
            return;
        }
        double scale = 2.0 * CpuFloats.get(dloss, 0) / n;
        CpuFloats.blocks(n, (lo, hi) -> {
            float[] p = new float[CpuFloats.bufferFor(lo, hi)];
            float[] t = new float[CpuFloats.bufferFor(lo, hi)];
            for (long i = lo; i < hi; i += CpuFloats.BLOCK) {
                int len = (int) Math.min(CpuFloats.BLOCK, hi - i);
                CpuFloats.load(pred, i, p, 0, len);
                CpuFloats.load(target, i, t, 0, len);
                for (int j = 0; j < len; j++) {
                    p[j] = (float) (scale * ((double) p[j] - t[j]));
                }
                CpuFloats.store(dpred, i, p, 0, len);
            }
        });
    }
}
