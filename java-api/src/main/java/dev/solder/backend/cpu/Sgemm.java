package dev.solder.backend.cpu;

import dev.solder.DType;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.Objects;

/**
 * Single-precision matrix multiply for the CPU backend: {@code C = alpha·op(A)·op(B) + beta·C}.
 *
 * <p>Row-major throughout; offsets, strides and leading dimensions count elements. A and B
 * may be float32 or bfloat16 (widened to float32 while packing), C is float32. Large
 * products run the packed, register-tiled, multithreaded kernel of {@link SgemmBlocked};
 * tiny ones a plain loop, where packing would cost more than it saves.
 *
 * <pre>{@code
 * // y[tokens, out] = x[tokens, in] · W[out, in]ᵀ  (a linear layer)
 * Sgemm.gemm(false, true, tokens, out, in, 1f, x, 0, in, DType.FLOAT32,
 *         w, 0, in, DType.FLOAT32, 0f, y, 0, out);
 * }</pre>
 */
public final class Sgemm {
    /** Below this many multiply-adds packing costs more than it saves. */
    private static final long SMALL = 32 * 1024;
    /** Below this many multiply-adds handing work to other threads costs more than it saves. */
    private static final long PARALLEL = 1L << 20;
    /** Above this many multiply-adds one matrix alone keeps every thread busy. */
    private static final long BIG = 1L << 22;
    /** A thread that never runs, to ask whether a segment is confined to its owner. */
    private static final Thread NOBODY = Thread.ofVirtual().unstarted(() -> { });

    private Sgemm() {
    }

    /**
     * {@code C = alpha·op(A)·op(B) + beta·C} with {@code op(X) = X} or {@code Xᵀ}.
     *
     * <p>{@code op(A)} is {@code [m, k]}: stored {@code [m, k]} with row stride {@code lda}, or
     * when {@code transA} stored {@code [k, m]} with row stride {@code lda}. Likewise
     * {@code op(B)} is {@code [k, n]}, stored {@code [n, k]} when {@code transB}. C is
     * {@code [m, n]} with row stride {@code ldc}. {@code beta == 0} overwrites C without
     * reading it (NaN already in C does not leak); {@code k == 0} or {@code alpha == 0} gives
     * {@code C = beta·C} without reading A or B.
     *
     * @param aType {@link DType#FLOAT32} or {@link DType#BFLOAT16}; same for {@code bType}
     * @throws IllegalArgumentException on negative sizes, leading dimensions smaller than a
     *     stored row, or a segment too small for the extent it must hold
     */
    public static void gemm(boolean transA, boolean transB, int m, int n, int k, float alpha,
            MemorySegment a, long aOff, int lda, DType aType,
            MemorySegment b, long bOff, int ldb, DType bType,
            float beta, MemorySegment c, long cOff, int ldc) {
        gemmBatched(1, transA, transB, m, n, k, alpha, a, aOff, 0, lda, aType,
                b, bOff, 0, ldb, bType, beta, c, cOff, 0, ldc);
    }

    /**
     * {@link #gemm} over {@code batch} independent matrices: matrix {@code i} of A starts at
     * {@code aOff + i·strideA}, likewise B and C. {@code strideA} or {@code strideB} may be 0 to
     * reuse one matrix for the whole batch; C matrices must not overlap.
     *
     * <p>Many small matrices (attention's {@code [B·H, S, D] × [B·H, D, S]}) run one matrix per
     * thread; a few large ones run one after another, each split across the threads.
     *
     * @throws IllegalArgumentException as {@link #gemm}, and for negative strides, or a
     *     {@code strideC} that would make C matrices overlap
     */
    public static void gemmBatched(int batch, boolean transA, boolean transB, int m, int n, int k,
            float alpha,
            MemorySegment a, long aOff, long strideA, int lda, DType aType,
            MemorySegment b, long bOff, long strideB, int ldb, DType bType,
            float beta, MemorySegment c, long cOff, long strideC, int ldc) {
        if (batch < 0 || m < 0 || n < 0 || k < 0) {
            throw new IllegalArgumentException("sgemm: sizes must be >= 0, got batch=" + batch
                    + ", m=" + m + ", n=" + n + ", k=" + k);
        }
        String dims = " (m=" + m + ", n=" + n + ", k=" + k + ", batch=" + batch + ")";
        boolean readsAB = k > 0 && alpha != 0f && m > 0 && n > 0 && batch > 0;
        SgemmOperand opA = operand("A", a, aOff, strideA, lda, aType, transA, m, k, batch,
                readsAB, dims);
        SgemmOperand opB = operand("B", b, bOff, strideB, ldb, bType, transB, k, n, batch,
                readsAB, dims);
        checkC(c, cOff, strideC, ldc, m, n, batch, dims);
        if (batch == 0 || m == 0 || n == 0) {
            return;
        }
        if (!readsAB) {
            for (int i = 0; i < batch; i++) {
                scale(m, n, beta, c, cOff + i * strideC, ldc);
            }
            return;
        }
        long work = (long) m * n * k;
        int threads = shareable(a) && shareable(b) && shareable(c) ? CpuParallel.threads() : 1;
        boolean perMatrix = batch >= threads && threads > 1
                && (work < BIG || batch % threads == 0 || batch >= 4 * threads);
        if (perMatrix) {
            // Enough matrices to go round: one thread each, no synchronisation inside a matrix.
            int grain = (int) Math.max(1, PARALLEL / work);
            CpuParallel.forRange(batch, grain, (lo, hi) -> {
                for (int i = lo; i < hi; i++) {
                    one(false, m, n, k, alpha, opA.shifted(i * strideA), opB.shifted(i * strideB),
                            beta, c, cOff + i * strideC, ldc);
                }
            });
        } else {
            for (int i = 0; i < batch; i++) {
                one(threads > 1 && work >= PARALLEL, m, n, k, alpha, opA.shifted(i * strideA),
                        opB.shifted(i * strideB), beta, c, cOff + i * strideC, ldc);
            }
        }
    }

    /**
     * Whether pool threads may touch the segment: a segment from a confined arena may only be
     * used by its owner, so then everything runs on the calling thread. Asking on behalf of a
     * thread that never runs answers "any thread may".
     */
    private static boolean shareable(MemorySegment s) {
        return s.isAccessibleBy(NOBODY);
    }

    /** One product with {@code m, n, k > 0} and {@code alpha != 0}. */
    private static void one(boolean parallel, int m, int n, int k, float alpha, SgemmOperand a,
            SgemmOperand b, float beta, MemorySegment c, long cOff, int ldc) {
        if ((long) m * n * k < SMALL) {
            simple(m, n, k, alpha, a, b, beta, c, cOff, ldc);
        } else {
            SgemmBlocked.run(parallel, m, n, k, alpha, a, b, beta, c, cOff, ldc);
        }
    }

    /** The unpacked path for tiny products: a dot product per element of C. */
    private static void simple(int m, int n, int k, float alpha, SgemmOperand a, SgemmOperand b,
            float beta, MemorySegment c, long cOff, int ldc) {
        for (int i = 0; i < m; i++) {
            for (int j = 0; j < n; j++) {
                float acc = 0f;
                for (int p = 0; p < k; p++) {
                    acc = Math.fma(a.get(i, p), b.get(p, j), acc);
                }
                long at = (cOff + (long) i * ldc + j) << 2;
                float v = alpha * acc;
                if (beta != 0f) {
                    v = Math.fma(beta, c.get(ValueLayout.JAVA_FLOAT_UNALIGNED, at), v);
                }
                c.set(ValueLayout.JAVA_FLOAT_UNALIGNED, at, v);
            }
        }
    }

    /** {@code C = beta·C}; {@code beta == 0} writes zeros without reading. */
    private static void scale(int m, int n, float beta, MemorySegment c, long cOff, int ldc) {
        if (beta == 1f) {
            return;
        }
        for (int i = 0; i < m; i++) {
            long row = (cOff + (long) i * ldc) << 2;
            if (beta == 0f) {
                c.asSlice(row, 4L * n).fill((byte) 0);
                continue;
            }
            for (int j = 0; j < n; j++) {
                long at = row + 4L * j;
                c.set(ValueLayout.JAVA_FLOAT_UNALIGNED, at,
                        beta * c.get(ValueLayout.JAVA_FLOAT_UNALIGNED, at));
            }
        }
    }

    /** Validates one input, {@code op(X)} of {@code rows × cols}, and wraps it. */
    private static SgemmOperand operand(String name, MemorySegment seg, long off, long stride,
            int ld, DType type, boolean trans, int rows, int cols, int batch, boolean reads,
            String dims) {
        Objects.requireNonNull(seg, () -> "sgemm: " + name + " segment is null");
        Objects.requireNonNull(type, () -> "sgemm: " + name + " dtype is null");
        if (type != DType.FLOAT32 && type != DType.BFLOAT16) {
            throw new IllegalArgumentException("sgemm: " + name + " must be float32 or bfloat16, got "
                    + type + dims);
        }
        int storedRows = trans ? cols : rows;
        int storedCols = trans ? rows : cols;
        String layout = name + (trans ? " (transposed)" : "") + " stored [" + storedRows + ", "
                + storedCols + "]";
        if (ld < Math.max(1, storedCols)) {
            throw new IllegalArgumentException("sgemm: ld" + name.toLowerCase() + "=" + ld
                    + " too small for " + layout + ": expected >= " + Math.max(1, storedCols) + dims);
        }
        if (off < 0 || stride < 0) {
            throw new IllegalArgumentException("sgemm: " + name + " offset and stride must be >= 0, got offset="
                    + off + ", stride=" + stride + dims);
        }
        if (reads && batch > 0) {
            checkExtent(name, seg, off, stride, batch, storedRows, storedCols, ld, type.byteSize(),
                    layout, dims);
        }
        return new SgemmOperand(seg, off, ld, trans, type == DType.BFLOAT16);
    }

    private static void checkC(MemorySegment c, long off, long stride, int ldc, int m, int n,
            int batch, String dims) {
        Objects.requireNonNull(c, "sgemm: C segment is null");
        if (ldc < Math.max(1, n)) {
            throw new IllegalArgumentException("sgemm: ldc=" + ldc + " too small for C [" + m + ", "
                    + n + "]: expected >= " + Math.max(1, n) + dims);
        }
        if (off < 0) {
            throw new IllegalArgumentException("sgemm: C offset must be >= 0, got " + off + dims);
        }
        if (batch == 0 || m == 0 || n == 0) {
            return;
        }
        long extent = (long) (m - 1) * ldc + n;
        if (batch > 1 && stride < extent) {
            throw new IllegalArgumentException("sgemm: strideC=" + stride + " makes the C matrices ["
                    + m + ", " + n + "] (ldc=" + ldc + ") overlap: expected >= " + extent + dims);
        }
        checkExtent("C", c, off, stride, batch, m, n, ldc, 4, "C [" + m + ", " + n + "]", dims);
    }

    /** Throws unless the segment holds every element of every matrix of the batch. */
    private static void checkExtent(String name, MemorySegment seg, long off, long stride,
            int batch, int storedRows, int storedCols, int ld, int elemBytes, String layout,
            String dims) {
        if (storedRows == 0 || storedCols == 0) {
            return;
        }
        long needed;
        try {
            long last = Math.addExact(off, Math.multiplyExact(batch - 1L, stride));
            long elems = Math.addExact(last, (long) (storedRows - 1) * ld + storedCols);
            needed = Math.multiplyExact(elems, elemBytes);
        } catch (ArithmeticException e) {
            throw new IllegalArgumentException("sgemm: " + name + " extent overflows a long for "
                    + layout + ", offset=" + off + ", stride=" + stride + dims, e);
        }
        if (seg.byteSize() < needed) {
            throw new IllegalArgumentException("sgemm: " + name + " segment too small for " + layout
                    + " (ld=" + ld + ", offset=" + off + ", stride=" + stride + "): expected >= "
                    + needed + " bytes, has " + seg.byteSize() + dims);
        }
    }
}
