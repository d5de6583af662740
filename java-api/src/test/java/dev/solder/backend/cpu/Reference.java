package dev.solder.backend.cpu;

import dev.solder.Philox;

/**
 * Float64 reference forwards for the op tests: plain loops on {@code double[]}, written
 * from the definitions (HF/PyTorch semantics) and independent of the backend's code.
 */
final class Reference {
    private Reference() {
    }

    /** erf by its everywhere-convergent series of positive terms (no cancellation). */
    static double erf(double x) {
        double ax = Math.abs(x);
        if (ax > 6) {
            return Math.signum(x);
        }
        double x2 = ax * ax;
        double term = ax;
        double sum = ax;
        for (int n = 1; n < 500; n++) {
            term *= 2 * x2 / (2 * n + 1);
            sum += term;
            if (term < 1e-17 * sum) {
                break;
            }
        }
        double r = 2 / Math.sqrt(Math.PI) * Math.exp(-x2) * sum;
        return x < 0 ? -r : r;
    }

    /** erfc for {@code y ≥ 0}: 1 − erf below 3, else its continued fraction (no cancellation). */
    static double erfc(double y) {
        if (y < 3) {
            return 1 - erf(y);
        }
        // erfc(y) = e^{−y²}/√π · 1/(y + (1/2)/(y + 1/(y + (3/2)/(y + …)))), evaluated from the tail.
        double f = y;
        for (int n = 200; n >= 1; n--) {
            f = y + (n / 2.0) / f;
        }
        return Math.exp(-y * y) / Math.sqrt(Math.PI) / f;
    }

    /** Standard normal CDF with full relative accuracy in the lower tail. */
    static double phi(double x) {
        double z = x / Math.sqrt(2);
        return z < 0 ? 0.5 * erfc(-z) : 1 - 0.5 * erfc(z);
    }

    static double gelu(double x) {
        return x * phi(x);
    }

    /**
     * HF's {@code gelu_new}, {@code 0.5·x·(1 + tanh(u))}, written as {@code x/(1 + e^{−2u})} — the
     * same function, but without the cancellation of {@code 1 + tanh(u)} for negative x.
     */
    static double geluTanh(double x) {
        double u = Math.sqrt(2 / Math.PI) * (x + 0.044715 * x * x * x);
        return x / (1 + Math.exp(-2 * u));
    }

    static double[] map(double[] x, java.util.function.DoubleUnaryOperator f) {
        double[] y = new double[x.length];
        for (int i = 0; i < x.length; i++) {
            y[i] = f.applyAsDouble(x[i]);
        }
        return y;
    }

    /** {@code out[i] = alpha·a[i] + beta·b[i mod |b|]}. */
    static double[] add(double[] a, double[] b, double alpha, double beta) {
        double[] y = new double[a.length];
        for (int i = 0; i < a.length; i++) {
            y[i] = alpha * a[i] + beta * b[i % b.length];
        }
        return y;
    }

    static double[] mul(double[] a, double[] b) {
        double[] y = new double[a.length];
        for (int i = 0; i < a.length; i++) {
            y[i] = a[i] * b[i % b.length];
        }
        return y;
    }

    static double sum(double[] a) {
        double s = 0;
        for (double v : a) {
            s += v;
        }
        return s;
    }

    /** {@code [m, k]·[k, n]} on row-major arrays, batched with {@code batch} (stride 0 when shared). */
    static double[] matmul(int batch, int m, int k, int n, double[] a, boolean aShared, double[] b, boolean bShared) {
        double[] c = new double[batch * m * n];
        for (int z = 0; z < batch; z++) {
            int ao = aShared ? 0 : z * m * k;
            int bo = bShared ? 0 : z * k * n;
            for (int i = 0; i < m; i++) {
                for (int j = 0; j < n; j++) {
                    double s = 0;
                    for (int p = 0; p < k; p++) {
                        s += a[ao + i * k + p] * b[bo + p * n + j];
                    }
                    c[z * m * n + i * n + j] = s;
                }
            }
        }
        return c;
    }

    /** Swaps the last two dims of a {@code [batch, r, c]} array. */
    static double[] transpose(double[] a, int batch, int r, int c) {
        double[] t = new double[a.length];
        for (int z = 0; z < batch; z++) {
            for (int i = 0; i < r; i++) {
                for (int j = 0; j < c; j++) {
                    t[z * r * c + j * r + i] = a[z * r * c + i * c + j];
                }
            }
        }
        return t;
    }

    /** Softmax of each row of {@code x + mask} (mask row {@code r / rowsPerMask}; mask may be null). */
    static double[] softmax(double[] x, int width, double[] mask) {
        int rows = x.length / width;
        int groups = mask == null ? 1 : mask.length / width;
        int per = rows / groups;
        double[] y = new double[x.length];
        for (int r = 0; r < rows; r++) {
            double max = Double.NEGATIVE_INFINITY;
            double[] v = new double[width];
            for (int j = 0; j < width; j++) {
                v[j] = x[r * width + j] + (mask == null ? 0 : mask[(r / per) * width + j]);
                max = Math.max(max, v[j]);
            }
            double s = 0;
            for (int j = 0; j < width; j++) {
                v[j] = Math.exp(v[j] - max);
                s += v[j];
            }
            for (int j = 0; j < width; j++) {
                y[r * width + j] = v[j] / s;
            }
        }
        return y;
    }

    /** LayerNorm of rows of {@code x + residual} (residual may be null), biased variance. */
    static double[] layerNorm(double[] x, double[] residual, double[] gamma, double[] beta, double eps) {
        int w = gamma.length;
        int rows = x.length / w;
        double[] y = new double[x.length];
        for (int r = 0; r < rows; r++) {
            double[] h = new double[w];
            double mean = 0;
            for (int j = 0; j < w; j++) {
                h[j] = x[r * w + j] + (residual == null ? 0 : residual[r * w + j]);
                mean += h[j];
            }
            mean /= w;
            double var = 0;
            for (int j = 0; j < w; j++) {
                var += (h[j] - mean) * (h[j] - mean);
            }
            var /= w;
            for (int j = 0; j < w; j++) {
                y[r * w + j] = (h[j] - mean) / Math.sqrt(var + eps) * gamma[j] + beta[j];
            }
        }
        return y;
    }

    /** Inverted dropout by the Philox rule; {@code index0} is the flat index of x[0]. */
    static double[] dropout(double[] x, double p, long seed) {
        double[] y = new double[x.length];
        for (int i = 0; i < x.length; i++) {
            y[i] = Philox.keep(seed, i, (float) p) ? x[i] / (1 - p) : 0;
        }
        return y;
    }

    /**
     * HF attention on {@code [B, S, H·D]} inputs: masked keys get {@code −FLT_MAX}, dropout on
     * the probabilities with element index {@code ((b·H + h)·S + i)·S + j}.
     */
    static double[] attention(double[] q, double[] k, double[] v, int[] mask, int batch, int seq, int heads,
                              double dropoutP, long seed) {
        int d = q.length / (batch * seq * heads);
        int w = heads * d;
        double scale = 1 / Math.sqrt(d);
        double[] out = new double[q.length];
        for (int b = 0; b < batch; b++) {
            for (int h = 0; h < heads; h++) {
                for (int i = 0; i < seq; i++) {
                    double[] s = new double[seq];
                    double max = Double.NEGATIVE_INFINITY;
                    for (int j = 0; j < seq; j++) {
                        double dot = 0;
                        for (int c = 0; c < d; c++) {
                            dot += q[(b * seq + i) * w + h * d + c] * k[(b * seq + j) * w + h * d + c];
                        }
                        s[j] = dot * scale + (mask != null && mask[b * seq + j] == 0 ? -Float.MAX_VALUE : 0);
                        max = Math.max(max, s[j]);
                    }
                    double sum = 0;
                    for (int j = 0; j < seq; j++) {
                        s[j] = Math.exp(s[j] - max);
                        sum += s[j];
                    }
                    for (int j = 0; j < seq; j++) {
                        double p = s[j] / sum;
                        if (dropoutP > 0) {
                            long idx = ((long) (b * heads + h) * seq + i) * seq + j;
                            p = Philox.keep(seed, idx, (float) dropoutP) ? p / (1 - dropoutP) : 0;
                        }
                        for (int c = 0; c < d; c++) {
                            out[(b * seq + i) * w + h * d + c] += p * v[(b * seq + j) * w + h * d + c];
                        }
                    }
                }
            }
        }
        return out;
    }

    /** Mean cross-entropy over rows whose label is not {@code ignore}. */
    static double crossEntropy(double[] logits, int[] labels, int classes, int ignore) {
        double total = 0;
        int count = 0;
        for (int r = 0; r < labels.length; r++) {
            if (labels[r] == ignore) {
                continue;
            }
            double max = Double.NEGATIVE_INFINITY;
            for (int j = 0; j < classes; j++) {
                max = Math.max(max, logits[r * classes + j]);
            }
            double s = 0;
            for (int j = 0; j < classes; j++) {
                s += Math.exp(logits[r * classes + j] - max);
            }
            total += max + Math.log(s) - logits[r * classes + labels[r]];
            count++;
        }
        return count == 0 ? 0 : total / count;
    }
}
