package dev.solder.backend.cpu;

import dev.solder.DType;
import dev.solder.Tensor;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import jdk.incubator.vector.DoubleVector;
import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.VectorMask;
import jdk.incubator.vector.VectorOperators;
import jdk.incubator.vector.VectorShape;
import jdk.incubator.vector.VectorSpecies;

/**
 * Element access shared by the CPU op families: bulk loads and stores between a contiguous
 * tensor (float32, bfloat16 or float16) and a {@code float[]} work buffer, integer reads for
 * ids, labels and masks, float64 sums, and the block loop every streaming op uses.
 *
 * <p>Ops compute in float32 (float64 for reductions) whatever the storage type, so each op
 * loads a block into a buffer, works on the buffer with the Vector API, and stores it in
 * the output's dtype. For float32 the load is a bulk copy, so the buffer costs an L1-resident
 * copy, not a second pass over memory.
 */
final class CpuFloats {
    static final VectorSpecies<Float> F = FloatVector.SPECIES_PREFERRED;
    static final VectorSpecies<Double> D = DoubleVector.SPECIES_PREFERRED;
    /** Float species with as many lanes as {@link #D}, for exact float→double widening. */
    static final VectorSpecies<Float> F_HALF = VectorSpecies.of(float.class,
            VectorShape.forBitSize(D.length() * Float.SIZE));

    /** Elements per work buffer: 16 KiB of floats, comfortably inside L1 with a few peers. */
    static final int BLOCK = 4096;
    /** Below this many elements a task is not worth a fork. */
    static final int MIN_TASK = 1 << 15;

    private CpuFloats() {
    }

    /** A body over the element range {@code [lo, hi)} of a long index space. */
    @FunctionalInterface
    interface LongRangeBody {
        void run(long lo, long hi);
    }

    /**
     * Runs {@code body} over {@code [0, n)} in parallel tasks of at least {@link #MIN_TASK}
     * elements; each task's range starts on a multiple of {@link #BLOCK}, and bodies walk it
     * in {@link #BLOCK}-sized pieces (one work buffer per task). Piece boundaries depend only
     * on {@code n}, never on the thread count, so per-piece partial sums are deterministic.
     */
    static void blocks(long n, LongRangeBody body) {
        if (n <= 0) {
            return;
        }
        long nb = (n + BLOCK - 1) / BLOCK;
        CpuParallel.forRange(Math.toIntExact(nb), Math.max(1, MIN_TASK / BLOCK),
                (lo, hi) -> body.run((long) lo * BLOCK, Math.min(n, (long) hi * BLOCK)));
    }

    /** Work-buffer length for a task over {@code [lo, hi)}: a block, or less for small tensors. */
    static int bufferFor(long lo, long hi) {
        return (int) Math.min(BLOCK, hi - lo);
    }

    /** Loads {@code n} elements of {@code t} from flat index {@code i} into {@code dst[off..]}. */
    static void load(Tensor t, long i, float[] dst, int off, int n) {
        load(CpuBackend.seg(t), t.dtype(), t.offset() + i, dst, off, n);
    }

    /** Loads {@code n} elements at absolute element index {@code idx} of a segment. */
    static void load(MemorySegment s, DType t, long idx, float[] dst, int off, int n) {
        switch (t) {
            case FLOAT32 -> MemorySegment.copy(s, ValueLayout.JAVA_FLOAT_UNALIGNED, idx << 2, dst, off, n);
            case BFLOAT16 -> {
                for (int j = 0; j < n; j++) {
                    // bfloat16 is the top half of a float32, so widening is a shift.
                    dst[off + j] = Float.intBitsToFloat(s.getAtIndex(ValueLayout.JAVA_SHORT_UNALIGNED, idx + j) << 16);
                }
            }
            case FLOAT16 -> {
                for (int j = 0; j < n; j++) {
                    dst[off + j] = Float.float16ToFloat(s.getAtIndex(ValueLayout.JAVA_SHORT_UNALIGNED, idx + j));
                }
            }
            case INT32 -> {
                for (int j = 0; j < n; j++) {
                    dst[off + j] = s.getAtIndex(ValueLayout.JAVA_INT_UNALIGNED, idx + j);
                }
            }
            case INT64 -> {
                for (int j = 0; j < n; j++) {
                    dst[off + j] = s.getAtIndex(ValueLayout.JAVA_LONG_UNALIGNED, idx + j);
                }
            }
        }
    }

    /** Stores {@code src[off..off+n)} into {@code t} from flat index {@code i}, rounding to its dtype. */
    static void store(Tensor t, long i, float[] src, int off, int n) {
        store(CpuBackend.seg(t), t.dtype(), t.offset() + i, src, off, n);
    }

    /** Stores {@code n} floats at absolute element index {@code idx}, rounding to {@code t}. */
    static void store(MemorySegment s, DType t, long idx, float[] src, int off, int n) {
        switch (t) {
            case FLOAT32 -> MemorySegment.copy(src, off, s, ValueLayout.JAVA_FLOAT_UNALIGNED, idx << 2, n);
            case BFLOAT16 -> {
                for (int j = 0; j < n; j++) {
                    s.setAtIndex(ValueLayout.JAVA_SHORT_UNALIGNED, idx + j, DType.floatToBf16(src[off + j]));
                }
            }
            case FLOAT16 -> {
                for (int j = 0; j < n; j++) {
                    s.setAtIndex(ValueLayout.JAVA_SHORT_UNALIGNED, idx + j, Float.floatToFloat16(src[off + j]));
                }
            }
            default -> throw new IllegalArgumentException("cpu: cannot store floats into a " + t + " tensor");
        }
    }

    /** One element of a floating tensor, widened to float32. */
    static float get(Tensor t, long i) {
        MemorySegment s = CpuBackend.seg(t);
        long idx = t.offset() + i;
        return switch (t.dtype()) {
            case FLOAT32 -> s.getAtIndex(ValueLayout.JAVA_FLOAT_UNALIGNED, idx);
            case BFLOAT16 -> Float.intBitsToFloat(s.getAtIndex(ValueLayout.JAVA_SHORT_UNALIGNED, idx) << 16);
            case FLOAT16 -> Float.float16ToFloat(s.getAtIndex(ValueLayout.JAVA_SHORT_UNALIGNED, idx));
            case INT32 -> s.getAtIndex(ValueLayout.JAVA_INT_UNALIGNED, idx);
            case INT64 -> s.getAtIndex(ValueLayout.JAVA_LONG_UNALIGNED, idx);
        };
    }

    /** Writes one element of a floating tensor, rounding to its dtype. */
    static void set(Tensor t, long i, float v) {
        MemorySegment s = CpuBackend.seg(t);
        long idx = t.offset() + i;
        switch (t.dtype()) {
            case FLOAT32 -> s.setAtIndex(ValueLayout.JAVA_FLOAT_UNALIGNED, idx, v);
            case BFLOAT16 -> s.setAtIndex(ValueLayout.JAVA_SHORT_UNALIGNED, idx, DType.floatToBf16(v));
            case FLOAT16 -> s.setAtIndex(ValueLayout.JAVA_SHORT_UNALIGNED, idx, Float.floatToFloat16(v));
            default -> throw new IllegalArgumentException("cpu: cannot store a float into a " + t.describe());
        }
    }

    /** Element {@code i} of an integer tensor (ids, labels); floats are truncated. */
    static long getLong(Tensor t, long i) {
        MemorySegment s = CpuBackend.seg(t);
        long idx = t.offset() + i;
        return switch (t.dtype()) {
            case INT32 -> s.getAtIndex(ValueLayout.JAVA_INT_UNALIGNED, idx);
            case INT64 -> s.getAtIndex(ValueLayout.JAVA_LONG_UNALIGNED, idx);
            default -> (long) get(t, i);
        };
    }

    /** {@code v} rounded to what a tensor of type {@code t} would store, back as float32. */
    static float round(DType t, float v) {
        return switch (t) {
            case BFLOAT16 -> DType.bf16ToFloat(DType.floatToBf16(v));
            case FLOAT16 -> Float.float16ToFloat(Float.floatToFloat16(v));
            default -> v;
        };
    }

    /** The largest of {@code v[0..n)} (NaN if any is NaN, −∞ for n = 0), as {@link Math#max}. */
    static float max(float[] v, int n) {
        FloatVector acc = FloatVector.broadcast(F, Float.NEGATIVE_INFINITY);
        int i = 0;
        for (int bound = F.loopBound(n); i < bound; i += F.length()) {
            acc = acc.max(FloatVector.fromArray(F, v, i));
        }
        float m = acc.reduceLanes(VectorOperators.MAX);
        for (; i < n; i++) {
            m = Math.max(m, v[i]);
        }
        return m;
    }

    /**
     * {@code Σ x} (or {@code Σ x²}) of {@code n} floats in a buffer, in float64. The lanes of
     * {@link #D} are independent partial sums combined in lane order, so the result depends
     * only on the data, never on timing.
     */
    static double sum(float[] x, int off, int n, boolean squares) {
        DoubleVector acc = DoubleVector.zero(D);
        int lanes = D.length();
        int i = 0;
        for (; i <= n - lanes; i += lanes) {
            DoubleVector d = (DoubleVector) FloatVector.fromArray(F_HALF, x, off + i)
                    .convertShape(VectorOperators.F2D, D, 0);
            acc = squares ? d.fma(d, acc) : acc.add(d);
        }
        double s = sumLanes(acc);
        for (; i < n; i++) {
            double v = x[off + i];
            s += squares ? v * v : v;
        }
        return s;
    }

    /**
     * The lanes added in lane order. {@code reduceLanes(ADD)} leaves the order to the
     * implementation (interpreter and JIT may differ); a reference must not.
     */
    static double sumLanes(DoubleVector v) {
        double[] lanes = v.toArray();
        double s = 0;
        for (double x : lanes) {
            s += x;
        }
        return s;
    }

    /**
     * {@code Σ x} or {@code Σ x²} over all of a contiguous floating tensor, in float64. Blocks
     * are summed independently and combined in block order: deterministic and, with float64
     * partials over at most {@link #BLOCK} elements, accurate to float64 rounding.
     */
    static double sumAll(Tensor t, boolean squares) {
        long n = t.numel();
        if (n == 0) {
            return 0;
        }
        int nb = Math.toIntExact((n + BLOCK - 1) / BLOCK);
        double[] partial = new double[nb];
        blocks(n, (lo, hi) -> {
            float[] buf = new float[bufferFor(lo, hi)];
            for (long s = lo; s < hi; s += BLOCK) {
                int len = (int) Math.min(BLOCK, hi - s);
                load(t, s, buf, 0, len);
                partial[(int) (s / BLOCK)] = sum(buf, 0, len, squares);
            }
        });
        return pairwise(partial, 0, nb);
    }

    /** Pairwise sum: error grows with log(n), not n, over many partials. */
    static double pairwise(double[] v, int lo, int hi) {
        if (hi - lo <= 8) {
            double s = 0;
            for (int i = lo; i < hi; i++) {
                s += v[i];
            }
            return s;
        }
        int mid = (lo + hi) >>> 1;
        return pairwise(v, lo, mid) + pairwise(v, mid, hi);
    }

    /**
     * Lanes {@code [j, j + D.length())} of a float buffer as float64; {@code m} masks a buffer's
     * tail, null for a full vector (a plain load: masked ones cost more on AVX2).
     */
    static DoubleVector widen(float[] buf, int j, VectorMask<Float> m) {
        FloatVector f = m == null ? FloatVector.fromArray(F_HALF, buf, j) : FloatVector.fromArray(F_HALF, buf, j, m);
        return (DoubleVector) f.convertShape(VectorOperators.F2D, D, 0);
    }

    /** Rounds float64 lanes to float32 into {@code buf[j..]}; {@code m} as in {@link #widen}. */
    static void narrow(DoubleVector r, float[] buf, int j, VectorMask<Float> m) {
        FloatVector f = (FloatVector) r.convertShape(VectorOperators.D2F, F_HALF, 0);
        if (m == null) {
            f.intoArray(buf, j);
        } else {
            f.intoArray(buf, j, m);
        }
    }

    /** The mask {@link #widen} and {@link #narrow} take for lanes from {@code j} of {@code n}: null when all are in. */
    static VectorMask<Float> tail(int j, int n) {
        return j + D.length() <= n ? null : F_HALF.indexInRange(j, n);
    }
}
