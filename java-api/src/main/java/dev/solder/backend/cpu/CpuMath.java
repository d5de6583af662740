package dev.solder.backend.cpu;

import jdk.incubator.vector.DoubleVector;
import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.VectorMask;
import jdk.incubator.vector.VectorOperators;

/**
 * Float64 special functions on {@link CpuFloats#D} vectors: exact GELU through the normal CDF
 * {@code Φ}, tanh, and the logistic function (for the tanh GELU).
 *
 * <p>{@code Φ(x) = ½·erfc(−x/√2)} uses W. J. Cody's rational Chebyshev approximations to erf
 * and erfc (Math. Comp. 23, 1969, pp. 631–638; coefficients as in his netlib SPECFUN
 * {@code CALERF}), near-minimax to about 18 digits on three intervals of {@code |z|}:
 * {@code erf(z) = z·R(z²)} up to 0.46875, {@code erfc(z) = e^{−z²}·R(z)} up to 4, and
 * {@code erfc(z) = e^{−z²}/z·(1/√π − R(1/z²)/z²)} beyond. Working with erfc on the negative
 * side keeps full relative accuracy where {@code 1 + erf(z)} would cancel (GELU of −5 is
 * −1.4e−6; {@code 0.5·x·(1 + erf)} in float32 would get it only to ~1e−7 absolute).
 * Every element, including a buffer's tail, goes through the same vector code, so equal
 * inputs give bit-equal outputs wherever they sit.
 */
final class CpuMath {
    private static final double INV_SQRT2 = 0.70710678118654752440;
    private static final double INV_SQRT_2PI = 0.39894228040143267794;
    private static final double INV_SQRT_PI = 0.56418958354775628695;

    // erf(z) = z·(A4 z⁶ + A0 z⁴ + …)/(…) for |z| <= 0.46875 (Cody's A and B).
    private static final double[] A = {3.16112374387056560e00, 1.13864154151050156e02,
        3.77485237685302021e02, 3.20937758913846947e03, 1.85777706184603153e-1};
    private static final double[] B = {2.36012909523441209e01, 2.44024637934444173e02,
        1.28261652607737228e03, 2.84423683343917062e03};
    // erfc(z) = e^{−z²}·P(z)/Q(z) for 0.46875 < z <= 4 (Cody's C and D).
    private static final double[] C = {5.64188496988670089e-1, 8.88314979438837594e00,
        6.61191906371416295e01, 2.98635138197400131e02, 8.81952221241769090e02,
        1.71204761263407058e03, 2.05107837782607147e03, 1.23033935479799725e03,
        2.15311535474403846e-8};
    private static final double[] DD = {1.57449261107098347e01, 1.17693950891312499e02,
        5.37181101862009858e02, 1.62138957456669019e03, 3.29079923573345963e03,
        4.36261909014324716e03, 3.43936767414372164e03, 1.23033935480374942e03};
    // erfc(z) = e^{−z²}/z·(1/√π − P(1/z²)/(z²·Q(1/z²))) for z > 4 (Cody's P and Q).
    private static final double[] P = {3.05326634961232344e-1, 3.60344899949804439e-1,
        1.25781726111229246e-1, 1.60837851487422766e-2, 6.58749161529837803e-4,
        1.63153871373020978e-2};
    private static final double[] Q = {2.56852019228982242e00, 1.87295284992346047e00,
        5.27905102951428412e-1, 6.05183413124413191e-2, 2.33520497626869185e-3};

    private CpuMath() {
    }

    /**
     * Exact GELU over a work buffer, in place: {@code x[i] = x[i]·Φ(x[i])}, or with {@code dy}
     * non-null its derivative times {@code dy}, {@code x[i] = dy[i]·(Φ(x) + x·φ(x))}; float32 in
     * and out, float64 inside, lanes {@code [0, n)}.
     *
     * <p>The loop lives here, with {@code Φ} written out in its body, on purpose: as a method of
     * its own taking and returning vectors, {@code Φ} is too large for C2 to inline, so every
     * call boxed its vector arguments and result on the heap, which made the whole GELU about
     * three times slower than its arithmetic. For the same reason the three rational forms are
     * written out rather than shared through a helper taking vectors: C2 compiled such a helper's
     * loops on their own and refused to inline it ("inlining prohibited by policy"), and the
     * boxing came back. The same goes for {@code CpuFloats.widen}/{@code narrow}, written out
     * here instead of called: this loop is so large that C2 stopped inlining them
     * ("NodeCountInliningCutoff", in two of three compilations during a fine-tuning run on
     * 2026-11-29), and the boxes at those calls made the GELU allocate some 4 GB/s (JFR). The
     * Vector API's own methods are force-inlined past that cutoff; plain helpers are not. And the
     * loop names {@code CpuFloats.D} itself, never a local copy of the species, which an
     * on-stack-replacement compilation would not see as a constant ({@code GemmKernel.kernel}'s doc).
     */
    static void gelu(float[] x, float[] dy, int n) {
        for (int j = 0; j < n; j += CpuFloats.D.length()) {
            VectorMask<Float> m = CpuFloats.tail(j, n);
            DoubleVector v = (DoubleVector) (m == null ? FloatVector.fromArray(CpuFloats.F_HALF, x, j)
                    : FloatVector.fromArray(CpuFloats.F_HALF, x, j, m)).convertShape(VectorOperators.F2D, CpuFloats.D, 0);
            DoubleVector z = v.mul(INV_SQRT2);
            DoubleVector y = z.abs();
            DoubleVector ysq = y.mul(y);
            DoubleVector e = ysq.neg().lanewise(VectorOperators.EXP);   // e^{−z²} = e^{−x²/2}

            // Middle interval, which holds most activations: erfc(y) = e·P(y)/Q(y). Horner with
            // fused multiply-adds: half the dependent steps of Cody's (p + c)·y form, and exact-er.
            DoubleVector num = DoubleVector.broadcast(CpuFloats.D, C[8]);
            DoubleVector den = y.add(DD[0]);
            num = num.fma(y, DoubleVector.broadcast(CpuFloats.D, C[0]));
            for (int i = 1; i < 8; i++) {
                num = num.fma(y, DoubleVector.broadcast(CpuFloats.D, C[i]));
                den = den.fma(y, DoubleVector.broadcast(CpuFloats.D, DD[i]));
            }
            DoubleVector erfc = e.mul(num.div(den));

            VectorMask<Double> far = y.compare(VectorOperators.GT, 4.0);
            if (far.anyTrue()) {
                DoubleVector inv = DoubleVector.broadcast(CpuFloats.D, 1.0).div(ysq);
                DoubleVector pn = DoubleVector.broadcast(CpuFloats.D, P[5]);
                DoubleVector qd = inv.add(Q[0]);
                for (int i = 0; i < 5; i++) {
                    pn = pn.fma(inv, DoubleVector.broadcast(CpuFloats.D, P[i]));
                }
                for (int i = 1; i < 5; i++) {
                    qd = qd.fma(inv, DoubleVector.broadcast(CpuFloats.D, Q[i]));
                }
                DoubleVector r = inv.mul(pn).div(qd);
                DoubleVector tail = e.mul(DoubleVector.broadcast(CpuFloats.D, INV_SQRT_PI).sub(r).div(y));
                // Past y ≈ 27 e underflows to 0 and so does the tail, which is the right limit.
                erfc = erfc.blend(tail, far);
            }
            // Φ = ½·erfc(|z|) for z < 0, 1 − ½·erfc(|z|) otherwise.
            DoubleVector half = erfc.mul(0.5);
            DoubleVector cdf = half.blend(DoubleVector.broadcast(CpuFloats.D, 1.0).sub(half),
                    z.compare(VectorOperators.GE, 0.0));

            VectorMask<Double> near = y.compare(VectorOperators.LE, 0.46875);
            if (near.anyTrue()) {
                DoubleVector an = DoubleVector.broadcast(CpuFloats.D, A[4]);
                DoubleVector bd = ysq.add(B[0]);
                for (int i = 0; i < 4; i++) {
                    an = an.fma(ysq, DoubleVector.broadcast(CpuFloats.D, A[i]));
                }
                for (int i = 1; i < 4; i++) {
                    bd = bd.fma(ysq, DoubleVector.broadcast(CpuFloats.D, B[i]));
                }
                DoubleVector erf = z.mul(an).div(bd);
                cdf = cdf.blend(erf.mul(0.5).add(0.5), near);
            }
            DoubleVector out;
            if (dy == null) {
                out = v.mul(cdf);
            } else {
                DoubleVector g = (DoubleVector) (m == null ? FloatVector.fromArray(CpuFloats.F_HALF, dy, j)
                        : FloatVector.fromArray(CpuFloats.F_HALF, dy, j, m)).convertShape(VectorOperators.F2D, CpuFloats.D, 0);
                out = g.mul(cdf.add(v.mul(e).mul(INV_SQRT_2PI)));   // d/dx x·Φ(x) = Φ + x·φ
            }
            FloatVector f = (FloatVector) out.convertShape(VectorOperators.D2F, CpuFloats.F_HALF, 0);
            if (m == null) {
                f.intoArray(x, j);
            } else {
                f.intoArray(x, j, m);
            }
        }
    }

    /** {@code tanh(x)} as {@code −t/(t + 2)} with {@code t = expm1(−2|x|)}: no cancellation near 0 or ±∞. */
    static DoubleVector tanh(DoubleVector x) {
        DoubleVector t = x.abs().mul(-2.0).lanewise(VectorOperators.EXPM1);
        DoubleVector r = t.neg().div(t.add(2.0));
        return r.blend(r.neg(), x.compare(VectorOperators.LT, 0.0));
    }

    /** The logistic function {@code 1/(1 + e^{−t})}; saturates to 0 and 1 without NaN. */
    static DoubleVector sigmoid(DoubleVector t) {
        DoubleVector one = DoubleVector.broadcast(CpuFloats.D, 1.0);
        return one.div(one.add(t.neg().lanewise(VectorOperators.EXP)));
    }
}
