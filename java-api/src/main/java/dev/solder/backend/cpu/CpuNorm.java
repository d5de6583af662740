package dev.solder.backend.cpu;

import dev.solder.DType;
import dev.solder.Tensor;
import jdk.incubator.vector.DoubleVector;
import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.VectorMask;
import jdk.incubator.vector.VectorOperators;

/**
 * Row normalisations: softmax over the last dimension (with an optional additive mask
 * shared by groups of rows) and LayerNorm over the last dimension of {@code x + residual},
 * each with its backward.
 *
 * <p>Rows run in parallel, one row at a time through float work buffers; every row
 * statistic (max, exp-sum, mean, variance, the backward's dot products) is formed in
 * float64. LayerNorm's parameter gradients are summed over rows in blocks fixed by the
 * shape and combined in block order, so they are bit-identical from run to run.
 */
final class CpuNorm {
    private static final int DL = CpuFloats.D.length();

    private CpuNorm() {
    }

    // ------------------------------------------------------------------ softmax

    static void softmax(Tensor x, Tensor mask, Tensor out) {
        int last = x.dim(-1);
        if (last == 0 || x.numel() == 0) {
            return;
        }
        int rows = Math.toIntExact(x.numel() / last);
        int rowsPerMask;
        if (mask != null) {
            long g = mask.numel() / last;
            if (mask.dim(-1) != last || g == 0 || rows % g != 0) {
                throw new IllegalArgumentException("softmax: mask " + mask.describe() + " does not fit " + x.describe());
            }
            rowsPerMask = (int) (rows / g);
        } else {
            rowsPerMask = 1;
        }
        CpuParallel.forRange(rows, grain(last), (lo, hi) -> {
            float[] v = new float[last];
            float[] mrow = mask == null ? null : new float[last];
            double[] e = new double[last];
            int loadedMask = -1;
            for (int r = lo; r < hi; r++) {
                CpuFloats.load(x, (long) r * last, v, 0, last);
                if (mask != null) {
                    int mr = r / rowsPerMask;
                    if (mr != loadedMask) {
                        CpuFloats.load(mask, (long) mr * last, mrow, 0, last);
                        loadedMask = mr;
                    }
                    for (int j = 0; j < last; j++) {
                        v[j] += mrow[j];
                    }
                }
                softmaxRow(v, e, last);
                CpuFloats.store(out, (long) r * last, v, 0, last);
            }
        });
    }

    /**
     * Replaces {@code v[0..n)} by its softmax: max subtracted, exponentials and their sum in
     * float64, one rounding at the end ({@code e} is scratch). The inputs are float32 sums
     * as HF forms them ({@code score + mask}), so a row masked throughout holds
     * {@code −FLT_MAX} everywhere (adding ±a few units to −FLT_MAX rounds back to it) and
     * comes out uniform, not NaN, exactly as HF's softmax does.
     */
    static void softmaxRow(float[] v, double[] e, int n) {
        float max = CpuFloats.max(v, n);
        double mx = max;
        if (mx == Double.NEGATIVE_INFINITY) {
            // Every score is −∞ (only an explicit −∞ mask does this): fall back to uniform
            // rather than 0/0.
            java.util.Arrays.fill(v, 0, n, 1f / n);
            return;
        }
        DoubleVector acc = DoubleVector.zero(CpuFloats.D);
        for (int j = 0; j < n; j += DL) {
            VectorMask<Float> mf = CpuFloats.F_HALF.indexInRange(j, n);
            DoubleVector d = ((DoubleVector) FloatVector.fromArray(CpuFloats.F_HALF, v, j, mf)
                    .convertShape(VectorOperators.F2D, CpuFloats.D, 0))
                    .sub(mx).lanewise(VectorOperators.EXP);
            // Lanes past the end hold exp(0 − max); zero them before they reach the sum.
            d = d.blend(0.0, mf.cast(CpuFloats.D).not());
            d.intoArray(e, j, mf.cast(CpuFloats.D));
            acc = acc.add(d);
        }
        double sum = CpuFloats.sumLanes(acc);
        double inv = 1.0 / sum;
        for (int j = 0; j < n; j++) {
            v[j] = (float) (e[j] * inv);
        }
    }

    static void softmaxBackward(Tensor y, Tensor dy, Tensor dx) {
        int last = y.dim(-1);
        if (last == 0 || y.numel() == 0) {
            return;
        }
        int rows = Math.toIntExact(y.numel() / last);
        CpuParallel.forRange(rows, grain(last), (lo, hi) -> {
            float[] yr = new float[last];
            float[] g = new float[last];
            for (int r = lo; r < hi; r++) {
                CpuFloats.load(y, (long) r * last, yr, 0, last);
                CpuFloats.load(dy, (long) r * last, g, 0, last);
                double dot = 0;
                for (int j = 0; j < last; j++) {
                    dot += (double) g[j] * yr[j];
                }
                for (int j = 0; j < last; j++) {
                    g[j] = (float) (yr[j] * (g[j] - dot));
                }
                CpuFloats.store(dx, (long) r * last, g, 0, last);
            }
        });
    }

    // ------------------------------------------------------------------ LayerNorm

    static void layerNorm(Tensor x, Tensor residual, Tensor gamma, Tensor beta, float eps,
                          Tensor out, Tensor hOut, Tensor mean, Tensor rstd) {
        int w = x.dim(-1);
        if (w == 0 || x.numel() == 0) {
            return;
        }
        int rows = Math.toIntExact(x.numel() / w);
        float[] gm = new float[w];
        float[] bt = new float[w];
        CpuFloats.load(gamma, 0, gm, 0, w);
        CpuFloats.load(beta, 0, bt, 0, w);
        DType hType = hOut != null ? hOut.dtype() : x.dtype();
        CpuParallel.forRange(rows, grain(w), (lo, hi) -> {
            float[] h = new float[w];
            float[] r = residual == null ? null : new float[w];
            for (int row = lo; row < hi; row++) {
                long base = (long) row * w;
                CpuFloats.load(x, base, h, 0, w);
                if (r != null) {
                    CpuFloats.load(residual, base, r, 0, w);
                    for (int j = 0; j < w; j++) {
                        // The sum as the stored h holds it, so the backward sees the very
                        // values the statistics were taken from.
                        h[j] = CpuFloats.round(hType, h[j] + r[j]);
                    }
                    if (hOut != null) {
                        CpuFloats.store(hOut, base, h, 0, w);
                    }
                }
                double s = 0;
                for (int j = 0; j < w; j++) {
                    s += h[j];
                }
                double mu = s / w;
                double ss = 0;
                for (int j = 0; j < w; j++) {
                    double d = h[j] - mu;
                    ss += d * d;
                }
                // Two passes: the biased variance without the cancellation of E[h²] − E[h]².
                double rs = 1.0 / Math.sqrt(ss / w + eps);
                for (int j = 0; j < w; j++) {
                    h[j] = (float) ((h[j] - mu) * rs * gm[j] + bt[j]);
                }
                CpuFloats.store(out, base, h, 0, w);
                CpuFloats.set(mean, row, (float) mu);
                CpuFloats.set(rstd, row, (float) rs);
            }
        });
    }

    /**
     * With {@code x̂ = (h − mean)·rstd} and {@code g = dy·gamma}:
     * {@code dh = rstd·(g − mean(g) − x̂·mean(g·x̂))}, {@code dgamma = Σ dy·x̂},
     * {@code dbeta = Σ dy}.
     */
    static void layerNormBackward(Tensor dy, Tensor h, Tensor gamma, Tensor mean, Tensor rstd,
                                  Tensor dh, Tensor dgamma, Tensor dbeta) {
        int w = h.dim(-1);
        if (w == 0) {
            return;
        }
        int rows = Math.toIntExact(h.numel() / w);
        float[] gm = new float[w];
        CpuFloats.load(gamma, 0, gm, 0, w);
        boolean params = dgamma != null || dbeta != null;
        // Row blocks fixed by the shape: each block's parameter-gradient partials are
        // summed in float64, then the blocks are added in order — deterministic.
        int rowBlock = Math.max(16, (rows + 63) / 64);
        int nBlocks = Math.max(1, (rows + rowBlock - 1) / rowBlock);
        double[][] pg = params ? new double[nBlocks][] : null;
        double[][] pb = params ? new double[nBlocks][] : null;
        CpuParallel.forRange(nBlocks, Math.max(1, grain(w) / rowBlock), (lo, hi) -> {
            float[] hr = new float[w];
            float[] g = new float[w];
            float[] out = new float[w];
            for (int blk = lo; blk < hi; blk++) {
                double[] accG = params ? new double[w] : null;
                double[] accB = params ? new double[w] : null;
                int r1 = Math.min(rows, (blk + 1) * rowBlock);
                for (int row = blk * rowBlock; row < r1; row++) {
                    long base = (long) row * w;
                    CpuFloats.load(h, base, hr, 0, w);
                    CpuFloats.load(dy, base, g, 0, w);
                    double mu = CpuFloats.get(mean, row);
                    double rs = CpuFloats.get(rstd, row);
                    double sumG = 0;
                    double sumGx = 0;
                    for (int j = 0; j < w; j++) {
                        double xh = (hr[j] - mu) * rs;
                        double gj = (double) g[j] * gm[j];
                        sumG += gj;
                        sumGx += gj * xh;
                        if (params) {
                            accG[j] += g[j] * xh;
                            accB[j] += g[j];
                        }
                    }
                    double mG = sumG / w;
                    double mGx = sumGx / w;
                    for (int j = 0; j < w; j++) {
                        double xh = (hr[j] - mu) * rs;
                        out[j] = (float) (rs * ((double) g[j] * gm[j] - mG - xh * mGx));
                    }
                    CpuFloats.store(dh, base, out, 0, w);
                }
                if (params) {
                    pg[blk] = accG;
                    pb[blk] = accB;
                }
            }
        });
        if (params) {
            float[] res = new float[w];
            for (int pass = 0; pass < 2; pass++) {
                Tensor target = pass == 0 ? dgamma : dbeta;
                double[][] part = pass == 0 ? pg : pb;
                if (target == null) {
                    continue;
                }
                for (int j = 0; j < w; j++) {
                    double s = 0;
                    for (int blk = 0; blk < nBlocks; blk++) {
                        s += part[blk][j];
                    }
                    res[j] = (float) s;
                }
                CpuFloats.store(target, 0, res, 0, w);
            }
        }
    }

    /** Rows per task so a task carries at least {@link CpuFloats#MIN_TASK} elements. */
    static int grain(int width) {
        return Math.max(1, CpuFloats.MIN_TASK / Math.max(1, width));
    }
}
