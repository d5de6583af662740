package dev.solder.backend.cpu;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.fail;

import dev.solder.DType;
import dev.solder.Device;
import dev.solder.Ops;
import dev.solder.Scope;
import dev.solder.Tensor;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.SplittableRandom;
import java.util.function.Function;

/**
 * Gradient checking against a float64 reference, as DESIGN §5 asks of every op.
 *
 * <p>A check draws fresh random inputs (seeded from {@code System.nanoTime()}, or from
 * {@code -Dsolder.test.seed=N} to replay a failure; the seed is in every message), rounds them to float32 (or bfloat16) so the Solder tensors and the float64
 * reference see the very same numbers, and then:
 * <ol>
 *   <li>compares Solder's forward with the reference forward;</li>
 *   <li>backpropagates a random linear functional {@code L = Σ w_i·y_i} through Solder
 *       ({@code y.backward(w)}) and compares each input's gradient with central differences
 *       of the reference's {@code L} in float64.</li>
 * </ol>
 *
 * <p>Tolerances. The float64 central difference with {@code eps = 1e-6} on O(1) inputs has
 * truncation error ~eps²·|L'''| ≈ 1e-12 and rounding error ~1e-16·|L|/eps ≈ 1e-10·|L|, so
 * it is exact for our purposes; what remains is Solder's float32 arithmetic. A float32
 * result built from k terms of size T is off by about k·6e-8·T, and for these small shapes
 * (k ≤ ~20, entries O(1)) that stays below ~2e-6 of the largest gradient entry. The gradient
 * check therefore accepts {@code |a − n| ≤ 1e-4·|n| + 1e-5·max(1, max|n|)}: two orders of
 * magnitude above float32 noise, yet a wrong term (a missing scale, a transposed index, a
 * dropped mask) is off by O(1) relative and fails at once. The forward check uses
 * {@code 1e-5} relative (plus 1e-6 of the output's scale, for entries that cancel).
 */
final class GradCheck {
    static final double EPS = 1e-6;

    final long seed = Long.getLong("solder.test.seed", System.nanoTime());
    final SplittableRandom rng = new SplittableRandom(seed);

    /** The seed, for messages. */
    String tag() {
        return "seed " + seed;
    }

    /** {@code n} standard normals, rounded to float32 (never exactly zero). */
    double[] randn(int n) {
        double[] v = new double[n];
        for (int i = 0; i < n; i++) {
            double x;
            do {
                x = rng.nextGaussian();
            } while (Math.abs(x) < 1e-3);
            v[i] = (float) x;
        }
        return v;
    }

    /** {@code n} uniforms in {@code [lo, hi)}, rounded to float32. */
    double[] uniform(int n, double lo, double hi) {
        double[] v = new double[n];
        for (int i = 0; i < n; i++) {
            v[i] = (float) (lo + (hi - lo) * rng.nextDouble());
        }
        return v;
    }

    /** A float32 tensor holding {@code v}. */
    static Tensor tensor(double[] v, int... shape) {
        return make(v, DType.FLOAT32, shape);
    }

    /** A tensor of {@code t} holding {@code v}; an empty shape gives a 0-d tensor. */
    static Tensor make(double[] v, DType t, int... shape) {
        if (shape.length == 0) {
            return Ops.reshape(Tensor.fromDoubles(v, t, Device.cpu(), 1));
        }
        return Tensor.fromDoubles(v, t, Device.cpu(), shape);
    }

    /** A new check of op {@code name}. */
    Case op(String name) {
        return new Case(name);
    }

    /** Values rounded to what a tensor of {@code t} holds. */
    static double[] roundTo(DType t, double[] v) {
        double[] r = new double[v.length];
        for (int i = 0; i < v.length; i++) {
            r[i] = CpuFloats.round(t, (float) v[i]);
        }
        return r;
    }

    static double maxAbs(double[] v) {
        double m = 0;
        for (double x : v) {
            m = Math.max(m, Math.abs(x));
        }
        return m;
    }

    /** Asserts {@code |actual − expected| ≤ rtol·|expected| + atol·max(1, max|expected|)}, element by element. */
    static void assertClose(double[] expected, double[] actual, double rtol, double atol, String what) {
        assertEquals(expected.length, actual.length, what + ": length");
        double scale = Math.max(1, maxAbs(expected));
        for (int i = 0; i < expected.length; i++) {
            double err = Math.abs(actual[i] - expected[i]);
            if (!(err <= rtol * Math.abs(expected[i]) + atol * scale)) {
                fail(what + ": element " + i + " is " + actual[i] + ", expected " + expected[i] + " (error " + err
                        + ", rtol " + rtol + ", atol " + atol + "·" + scale + ")\nexpected " + Arrays.toString(expected)
                        + "\nactual   " + Arrays.toString(actual));
            }
        }
    }

    /** One op under test: its inputs, Solder forward and float64 reference. */
    final class Case {
        private final String name;
        private final List<String> names = new ArrayList<>();
        private final List<double[]> values = new ArrayList<>();
        private final List<int[]> shapes = new ArrayList<>();
        private final List<Boolean> differentiable = new ArrayList<>();
        private DType dtype = DType.FLOAT32;
        private double fwdRtol = 1e-5;
        private double fwdAtol = 1e-6;
        private double gradRtol = 1e-4;
        private double gradAtol = 1e-5;
        private NumericAdjust adjust;
        private int sample = Integer.MAX_VALUE;

        private Case(String name) {
            this.name = name;
        }

        /** A random normal input. */
        Case input(String inputName, int... shape) {
            return input(inputName, randn(Math.toIntExact(numel(shape))), shape);
        }

        /** An input with given values (rounded to the input dtype). */
        Case input(String inputName, double[] v, int... shape) {
            names.add(inputName);
            values.add(v.clone());
            shapes.add(shape.clone());
            differentiable.add(true);
            return this;
        }

        /** An input that takes part in the forward but is not differentiated (a mask). */
        Case constant(String inputName, double[] v, int... shape) {
            input(inputName, v, shape);
            differentiable.set(differentiable.size() - 1, false);
            return this;
        }

        /** Stores the inputs as {@code t} (bfloat16: looser tolerances follow). */
        Case dtype(DType t) {
            this.dtype = t;
            return this;
        }

        /** Forward relative tolerance (its absolute part a tenth of it), gradient tolerances. */
        Case tolerances(double fwdRtol, double gradRtol, double gradAtol) {
            return tolerances(fwdRtol, fwdRtol * 0.1, gradRtol, gradAtol);
        }

        /** All four tolerances; absolute parts are scaled by {@code max(1, max|expected|)}. */
        Case tolerances(double fwdRtol, double fwdAtol, double gradRtol, double gradAtol) {
            this.fwdRtol = fwdRtol;
            this.fwdAtol = fwdAtol;
            this.gradRtol = gradRtol;
            this.gradAtol = gradAtol;
            return this;
        }

        /**
         * Differentiates numerically only {@code count} random elements of each input (the
         * rest of the analytic gradient is compared with nothing): keeps larger shapes cheap.
         */
        Case sample(int count) {
            this.sample = count;
            return this;
        }

        /** Edits the numerical gradient of input {@code i} where the op's gradient is defined otherwise. */
        Case adjustNumeric(NumericAdjust a) {
            this.adjust = a;
            return this;
        }

        /**
         * Runs the check. Returns Solder's analytic gradients (null for constants) for any
         * further assertions.
         */
        double[][] run(Function<Tensor[], Tensor> solder, Function<double[][], double[]> reference) {
            int k = values.size();
            double[][] x = new double[k][];
            for (int i = 0; i < k; i++) {
                x[i] = roundTo(dtype, values.get(i));
            }
            String what = name + " (" + tag() + ", inputs " + describeInputs() + ", " + dtype + ")";
            double[][] grads = new double[k][];
            try (Scope s = Scope.open()) {
                Tensor[] t = new Tensor[k];
                for (int i = 0; i < k; i++) {
                    t[i] = make(x[i], dtype, shapes.get(i));
                    if (differentiable.get(i)) {
                        t[i].requiresGrad(true);
                    }
                }
                Tensor y = solder.apply(t);
                double[] expected = reference.apply(copy(x));
                double[] actual = y.toDoubleArray();
                assertClose(expected, actual, fwdRtol, fwdAtol, what + " forward");

                double[] w = randn(expected.length);
                y.backward(make(w, DType.FLOAT32, y.shape()));
                for (int i = 0; i < k; i++) {
                    if (!differentiable.get(i)) {
                        continue;
                    }
                    Tensor g = t[i].grad();
                    assertNotNull(g, what + ": no gradient reached input " + names.get(i));
                    assertEquals(Arrays.toString(shapes.get(i)), Arrays.toString(g.shape()), what + ": gradient shape of " + names.get(i));
                    grads[i] = g.toDoubleArray();
                    if (sample < x[i].length) {
                        checkSampled(reference, x, i, w, grads[i], what + " gradient of " + names.get(i));
                        continue;
                    }
                    double[] num = numericGradient(reference, x, i, w);
                    if (adjust != null) {
                        adjust.apply(i, num);
                    }
                    assertClose(num, grads[i], gradRtol, gradAtol, what + " gradient of " + names.get(i));
                }
            }
            return grads;
        }

        private void checkSampled(Function<double[][], double[]> reference, double[][] x, int i, double[] w,
                                  double[] analytic, String what) {
            double scale = Math.max(1, maxAbs(analytic));
            for (int c = 0; c < sample; c++) {
                int j = rng.nextInt(x[i].length);
                double[][] xs = copy(x);
                double h = EPS * Math.max(1, Math.abs(xs[i][j]));
                xs[i][j] += h;
                double lp = dot(w, reference.apply(copy(xs)));
                xs[i][j] -= 2 * h;
                double lm = dot(w, reference.apply(xs));
                double num = (lp - lm) / (2 * h);
                double err = Math.abs(analytic[j] - num);
                if (!(err <= gradRtol * Math.abs(num) + gradAtol * scale)) {
                    fail(what + ": element " + j + " is " + analytic[j] + ", numerically " + num + " (error " + err + ")");
                }
            }
        }

        private String describeInputs() {
            StringBuilder sb = new StringBuilder();
            for (int i = 0; i < names.size(); i++) {
                sb.append(i == 0 ? "" : ", ").append(names.get(i)).append(Arrays.toString(shapes.get(i)));
            }
            return sb.toString();
        }
    }

    /** Post-processes a numerical gradient of input {@code input} in place. */
    @FunctionalInterface
    interface NumericAdjust {
        void apply(int input, double[] numeric);
    }

    /** {@code ∂(Σ w·ref(x))/∂x_i} by central differences in float64. */
    static double[] numericGradient(Function<double[][], double[]> ref, double[][] x, int i, double[] w) {
        double[] g = new double[x[i].length];
        double[][] xs = copy(x);
        for (int j = 0; j < g.length; j++) {
            double orig = xs[i][j];
            double h = EPS * Math.max(1, Math.abs(orig));
            xs[i][j] = orig + h;
            double lp = dot(w, ref.apply(copy(xs)));
            xs[i][j] = orig - h;
            double lm = dot(w, ref.apply(copy(xs)));
            xs[i][j] = orig;
            g[j] = (lp - lm) / (2 * h);
        }
        return g;
    }

    static double dot(double[] a, double[] b) {
        double s = 0;
        for (int i = 0; i < a.length; i++) {
            s += a[i] * b[i];
        }
        return s;
    }

    private static double[][] copy(double[][] x) {
        double[][] c = new double[x.length][];
        for (int i = 0; i < x.length; i++) {
            c[i] = x[i].clone();
        }
        return c;
    }

    static long numel(int... shape) {
        long n = 1;
        for (int d : shape) {
            n *= d;
        }
        return n;
    }
}
