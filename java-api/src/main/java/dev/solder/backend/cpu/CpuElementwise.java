package dev.solder.backend.cpu;

import dev.solder.DType;
import dev.solder.Tensor;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteOrder;
import jdk.incubator.vector.DoubleVector;
import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.VectorMask;

/**
 * Elementwise ops and whole-tensor sums: {@code add}/{@code mul} with suffix broadcasting,
 * {@code scale}, {@code sumToSuffix}, {@code sumAll}, GELU (erf and tanh forms) and its
 * derivative, {@code tanh}, and Philox dropout.
 *
 * <p>float32 operands stream straight through {@code FloatVector}s on the tensors' memory;
 * other storage types go through {@link CpuFloats} work buffers. Transcendentals (GELU,
 * tanh) are evaluated in float64 vectors and rounded once, so the float32 results are the
 * correctly rounded values in all but rare ties — the reference the GPU kernels are
 * measured against. Sums accumulate in float64 in an order fixed by the shape alone.
 */
final class CpuElementwise {
    private static final ByteOrder LE = ByteOrder.LITTLE_ENDIAN;
    private static final ValueLayout.OfFloat F32 = ValueLayout.JAVA_FLOAT_UNALIGNED;
    private static final int FL = CpuFloats.F.length();
    private static final int DL = CpuFloats.D.length();

    private CpuElementwise() {
    }

    // ------------------------------------------------------------------ add / mul / scale

    static void add(Tensor a, Tensor b, float alpha, float beta, Tensor out) {
        binary(a, b, out, false, alpha, beta);
    }

    static void mul(Tensor a, Tensor b, Tensor out) {
        binary(a, b, out, true, 1f, 1f);
    }

    static void scale(Tensor a, float s, Tensor out) {
        long n = a.numel();
        if (allFloat32(a, out)) {
            MemorySegment sa = CpuBackend.seg(a);
            MemorySegment so = CpuBackend.seg(out);
            long ao = a.offset() << 2;
            long oo = out.offset() << 2;
            CpuFloats.blocks(n, (lo, hi) -> {
                for (long i = lo; i < hi; i += CpuFloats.BLOCK) {
                    scaleF32(sa, ao + (i << 2), so, oo + (i << 2), (int) Math.min(CpuFloats.BLOCK, hi - i), s);
                }
            });
            return;
        }
        CpuFloats.blocks(n, (lo, hi) -> {
            float[] buf = new float[CpuFloats.bufferFor(lo, hi)];
            for (long i = lo; i < hi; i += CpuFloats.BLOCK) {
                int len = (int) Math.min(CpuFloats.BLOCK, hi - i);
                CpuFloats.load(a, i, buf, 0, len);
                for (int j = 0; j < len; j++) {
                    buf[j] *= s;
                }
                CpuFloats.store(out, i, buf, 0, len);
            }
        });
    }

    /**
     * {@code out = a∘b} where {@code b} repeats every {@code b.numel()} elements of {@code a}
     * ({@code mul}: product; else {@code alpha·a + beta·b}).
     */
    private static void binary(Tensor a, Tensor b, Tensor out, boolean product, float alpha, float beta) {
        long n = a.numel();
        long bn = b.numel();
        if (n == 0) {
            return;
        }
        if (bn == 0 || n % bn != 0 || out.numel() != n) {
            throw new IllegalArgumentException((product ? "mul" : "add") + ": " + b.describe()
                    + " does not broadcast onto " + a.describe() + " into " + out.describe());
        }
        if (allFloat32(a, b, out)) {
            MemorySegment sa = CpuBackend.seg(a);
            MemorySegment sb = CpuBackend.seg(b);
            MemorySegment so = CpuBackend.seg(out);
            long ao = a.offset() << 2;
            long bo = b.offset() << 2;
            long oo = out.offset() << 2;
            if (bn == 1) {
                // A scalar operand: one broadcast register instead of runs of length one.
                float bv = CpuFloats.get(b, 0);
                CpuFloats.blocks(n, (lo, hi) -> {
                    for (long i = lo; i < hi; i += CpuFloats.BLOCK) {
                        int len = (int) Math.min(CpuFloats.BLOCK, hi - i);
                        if (product) {
                            scaleF32(sa, ao + (i << 2), so, oo + (i << 2), len, bv);
                        } else {
                            affineF32(sa, ao + (i << 2), so, oo + (i << 2), len, alpha, beta * bv);
                        }
                    }
                });
                return;
            }
            CpuFloats.blocks(n, (lo, hi) -> {
                for (long i = lo; i < hi; ) {
                    long j = i % bn;
                    int len = (int) Math.min(CpuFloats.BLOCK, Math.min(hi - i, bn - j));
                    binaryF32(sa, ao + (i << 2), sb, bo + (j << 2), so, oo + (i << 2), len, product, alpha, beta);
                    i += len;
                }
            });
            return;
        }
        CpuFloats.blocks(n, (lo, hi) -> {
            float[] x = new float[CpuFloats.bufferFor(lo, hi)];
            float[] y = new float[CpuFloats.bufferFor(lo, hi)];
            for (long i = lo; i < hi; i += CpuFloats.BLOCK) {
                int len = (int) Math.min(CpuFloats.BLOCK, hi - i);
                CpuFloats.load(a, i, x, 0, len);
                for (int p = 0; p < len; ) {
                    long j = (i + p) % bn;
                    int run = (int) Math.min(len - p, bn - j);
                    CpuFloats.load(b, j, y, p, run);
                    p += run;
                }
                for (int p = 0; p < len; p++) {
                    x[p] = product ? x[p] * y[p] : combine(alpha, x[p], beta, y[p]);
                }
                CpuFloats.store(out, i, x, 0, len);
            }
        });
    }

    /**
     * {@code alpha·a + beta·b} as two float32 products and a sum (no fma), the same
     * rounding in the vector loop, the scalar tail and the buffered path — and exact
     * {@code a + b} / {@code a − b} for the common unit coefficients.
     */
    private static float combine(float alpha, float a, float beta, float b) {
        return alpha * a + beta * b;
    }

    private static void binaryF32(MemorySegment sa, long ao, MemorySegment sb, long bo, MemorySegment so, long oo,
                                  int len, boolean product, float alpha, float beta) {
        int i = 0;
        int bound = CpuFloats.F.loopBound(len);
        for (; i < bound; i += FL) {
            long d = (long) i << 2;
            FloatVector x = FloatVector.fromMemorySegment(CpuFloats.F, sa, ao + d, LE);
            FloatVector y = FloatVector.fromMemorySegment(CpuFloats.F, sb, bo + d, LE);
            FloatVector r = product ? x.mul(y) : x.mul(alpha).add(y.mul(beta));
            r.intoMemorySegment(so, oo + d, LE);
        }
        for (; i < len; i++) {
            long d = (long) i << 2;
            float x = sa.get(F32, ao + d);
            float y = sb.get(F32, bo + d);
            so.set(F32, oo + d, product ? x * y : combine(alpha, x, beta, y));
        }
    }

    /** {@code out = alpha·a + c} with a constant {@code c} (add of a one-element operand). */
    private static void affineF32(MemorySegment sa, long ao, MemorySegment so, long oo, int len, float alpha, float c) {
        int i = 0;
        int bound = CpuFloats.F.loopBound(len);
        for (; i < bound; i += FL) {
            long d = (long) i << 2;
            FloatVector.fromMemorySegment(CpuFloats.F, sa, ao + d, LE).mul(alpha).add(c).intoMemorySegment(so, oo + d, LE);
        }
        for (; i < len; i++) {
            long d = (long) i << 2;
            so.set(F32, oo + d,
                    alpha * sa.get(F32, ao + d) + c);
        }
    }

    private static void scaleF32(MemorySegment sa, long ao, MemorySegment so, long oo, int len, float s) {
        int i = 0;
        int bound = CpuFloats.F.loopBound(len);
        for (; i < bound; i += FL) {
            long d = (long) i << 2;
            FloatVector.fromMemorySegment(CpuFloats.F, sa, ao + d, LE).mul(s).intoMemorySegment(so, oo + d, LE);
        }
        for (; i < len; i++) {
            long d = (long) i << 2;
            so.set(F32, oo + d,
                    s * sa.get(F32, ao + d));
        }
    }

    // ------------------------------------------------------------------ reductions

    /**
     * {@code out[j] = Σ_i a[i·m + j]}. Wide suffixes (bias gradients) split the columns over
     * the threads, each column summed over all rows in row order; narrow ones split the rows
     * into blocks fixed by the shape, combined in block order. Either way float64, and the
     * same bits on every run.
     */
    static void sumToSuffix(Tensor a, Tensor out) {
        long n = a.numel();
        int m = Math.toIntExact(out.numel());
        if (m == 0) {
            return;
        }
        if (n % m != 0) {
            throw new IllegalArgumentException("sumToSuffix: " + out.describe() + " is not a suffix of " + a.describe());
        }
        long rows = n / m;
        if (m >= 256 || rows < 64) {
            int colBlock = 512;
            int nColBlocks = (m + colBlock - 1) / colBlock;
            CpuParallel.forRange(nColBlocks, Math.max(1, (int) (CpuFloats.MIN_TASK / Math.max(1, rows * colBlock))), (lo, hi) -> {
                float[] buf = new float[colBlock];
                double[] acc = new double[colBlock];
                for (int cb = lo; cb < hi; cb++) {
                    int c0 = cb * colBlock;
                    int w = Math.min(colBlock, m - c0);
                    java.util.Arrays.fill(acc, 0);
                    for (long r = 0; r < rows; r++) {
                        CpuFloats.load(a, r * m + c0, buf, 0, w);
                        for (int j = 0; j < w; j++) {
                            acc[j] += buf[j];
                        }
                    }
                    for (int j = 0; j < w; j++) {
                        buf[j] = (float) acc[j];
                    }
                    CpuFloats.store(out, c0, buf, 0, w);
                }
            });
            return;
        }
        // Few columns, many rows: row blocks of a shape-determined size, partials in order.
        int rowBlock = (int) Math.max(64, (rows + 63) / 64);
        int nBlocks = (int) ((rows + rowBlock - 1) / rowBlock);
        double[][] partial = new double[nBlocks][m];
        CpuParallel.forRange(nBlocks, 1, (lo, hi) -> {
            float[] buf = new float[m];
            for (int blk = lo; blk < hi; blk++) {
                double[] acc = partial[blk];
                long r1 = Math.min(rows, (long) (blk + 1) * rowBlock);
                for (long r = (long) blk * rowBlock; r < r1; r++) {
                    CpuFloats.load(a, r * m, buf, 0, m);
                    for (int j = 0; j < m; j++) {
                        acc[j] += buf[j];
                    }
                }
            }
        });
        float[] res = new float[m];
        for (int j = 0; j < m; j++) {
            double s = 0;
            for (int blk = 0; blk < nBlocks; blk++) {
                s += partial[blk][j];
            }
            res[j] = (float) s;
        }
        CpuFloats.store(out, 0, res, 0, m);
    }

    static void sumAll(Tensor a, Tensor out) {
        CpuFloats.set(out, 0, (float) CpuFloats.sumAll(a, false));
    }

    // ------------------------------------------------------------------ GELU, tanh

    static void gelu(Tensor x, boolean tanhApprox, Tensor out) {
        unary(x, null, out, tanhApprox ? Fn.GELU_TANH : Fn.GELU);
    }

    static void geluBackward(Tensor x, Tensor dy, boolean tanhApprox, Tensor dx) {
        unary(x, dy, dx, tanhApprox ? Fn.GELU_TANH_GRAD : Fn.GELU_GRAD);
    }

    static void tanh(Tensor x, Tensor out) {
        unary(x, null, out, Fn.TANH);
    }

    static void tanhBackward(Tensor y, Tensor dy, Tensor dx) {
        unary(y, dy, dx, Fn.TANH_GRAD);
    }

    /** The float64-vector functions {@link #unary} knows; a switch keeps each loop monomorphic. */
    private enum Fn { GELU, GELU_GRAD, GELU_TANH, GELU_TANH_GRAD, TANH, TANH_GRAD }

    /** √(2/π) and the cubic coefficient of HF's {@code gelu_new}. */
    private static final double K0 = 0.7978845608028654;
    private static final double K1 = 0.044715;

    /** {@code out = f(x)} or, for gradients, {@code out = dy·f'(x)}, through work buffers. */
    private static void unary(Tensor x, Tensor dy, Tensor out, Fn fn) {
        long n = x.numel();
        CpuFloats.blocks(n, (lo, hi) -> {
            int cap = (int) Math.min(CpuFloats.BLOCK, hi - lo);
            float[] xb = new float[cap];
            float[] gb = dy == null ? null : new float[cap];
            for (long i = lo; i < hi; i += CpuFloats.BLOCK) {
                int len = (int) Math.min(CpuFloats.BLOCK, hi - i);
                CpuFloats.load(x, i, xb, 0, len);
                if (gb != null) {
                    CpuFloats.load(dy, i, gb, 0, len);
                }
                // One loop per function: each stays monomorphic, so C2 keeps the vectors in registers.
                switch (fn) {
                    case GELU -> CpuMath.gelu(xb, null, len);
                    case GELU_GRAD -> CpuMath.gelu(xb, gb, len);
                    case GELU_TANH -> geluTanh(xb, len);
                    case GELU_TANH_GRAD -> geluTanhGrad(xb, gb, len);
                    case TANH -> tanh(xb, len);
                    case TANH_GRAD -> tanhGrad(xb, gb, len);
                }
                CpuFloats.store(out, i, xb, 0, len);
            }
        });
    }

    /** {@code 0.5·x·(1 + tanh(u)) = x·σ(2u)}: no cancellation for negative x. */
    private static void geluTanh(float[] x, int n) {
        for (int j = 0; j < n; j += DL) {
            VectorMask<Float> m = CpuFloats.tail(j, n);
            DoubleVector v = CpuFloats.widen(x, j, m);
            CpuFloats.narrow(v.mul(CpuMath.sigmoid(v.mul(v).mul(K1).add(1.0).mul(v).mul(2 * K0))), x, j, m);
        }
    }

    /** {@code d/dx x·σ(2u) = σ + x·σ(1 − σ)·2u'}, {@code u' = √(2/π)(1 + 3·0.044715x²)}. */
    private static void geluTanhGrad(float[] x, float[] g, int n) {
        for (int j = 0; j < n; j += DL) {
            VectorMask<Float> m = CpuFloats.tail(j, n);
            DoubleVector v = CpuFloats.widen(x, j, m);
            DoubleVector x2 = v.mul(v);
            DoubleVector s = CpuMath.sigmoid(x2.mul(K1).add(1.0).mul(v).mul(2 * K0));
            DoubleVector du = x2.mul(3 * K1).add(1.0).mul(2 * K0);
            DoubleVector oneMinus = DoubleVector.broadcast(CpuFloats.D, 1.0).sub(s);
            CpuFloats.narrow(CpuFloats.widen(g, j, m).mul(s.add(v.mul(s).mul(oneMinus).mul(du))), x, j, m);
        }
    }

    private static void tanh(float[] x, int n) {
        for (int j = 0; j < n; j += DL) {
            VectorMask<Float> m = CpuFloats.tail(j, n);
            CpuFloats.narrow(CpuMath.tanh(CpuFloats.widen(x, j, m)), x, j, m);
        }
    }

    /** {@code dy·(1 − y²)} from the forward output y. */
    private static void tanhGrad(float[] y, float[] g, int n) {
        for (int j = 0; j < n; j += DL) {
            VectorMask<Float> m = CpuFloats.tail(j, n);
            DoubleVector v = CpuFloats.widen(y, j, m);
            CpuFloats.narrow(CpuFloats.widen(g, j, m).mul(DoubleVector.broadcast(CpuFloats.D, 1.0).sub(v.mul(v))), y, j, m);
        }
    }

    // ------------------------------------------------------------------ dropout

    /**
     * {@code out[i] = x[i]·(1/(1 − p))} where {@link dev.solder.Philox#keep} keeps element
     * {@code i}, else 0. The backward applies the very same function to {@code dy}.
     */
    static void dropout(Tensor x, float p, long seed, Tensor out) {
        long n = x.numel();
        float scale = 1f / (1f - p);
        int threshold = CpuPhilox.threshold(p);
        CpuFloats.blocks(n, (lo, hi) -> {
            float[] buf = new float[(int) Math.min(CpuFloats.BLOCK, hi - lo)];
            for (long i = lo; i < hi; i += CpuFloats.BLOCK) {
                int len = (int) Math.min(CpuFloats.BLOCK, hi - i);
                CpuFloats.load(x, i, buf, 0, len);
                CpuPhilox.apply(seed, i, threshold, scale, buf, 0, len);
                CpuFloats.store(out, i, buf, 0, len);
            }
        });
    }

    private static boolean allFloat32(Tensor... ts) {
        for (Tensor t : ts) {
            if (t.dtype() != DType.FLOAT32) {
                return false;
            }
        }
        return true;
    }
}
