package dev.solder.backend.cpu;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteOrder;

import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.VectorSpecies;

/**
 * The SGEMM micro-kernel: an MR × NR tile of C held in registers while it walks a packed A
 * micro-panel and a packed B micro-panel (layouts in {@link SgemmPack}); {@code NR} is two
 * vectors. The tile is 4 × 16 on AVX2 and 8 × 32 on AVX-512.
 *
 * <p>Why 4 rows with 16 vector registers: each depth step broadcasts one A value per row and C2
 * hoists all of a step's broadcasts ahead of the FMAs. With 4 rows that is 8 accumulators + 2 B
 * vectors + 4 broadcasts = 14 registers, inside AVX2's 16; the 6-row tile of the usual 6 × 16
 * design needs 20, so C2 spilled an accumulator, which puts a store-to-load round trip on every
 * depth step: on one Zen 3 core 6 × 16 ran at 44 GFLOP/s and 5 × 16 at 37, against 97 for
 * 4 × 16 (the FMA peak). Eight accumulators cover the FMA latency of two pipes (2 × 4 cycles).
 *
 * <p>Why 8 rows with AVX-512's 32: 16 accumulators + 2 B vectors + 8 broadcasts = 26 registers
 * fit, and a depth step issues 16 FMAs against 2 vector loads and 8 broadcast loads instead of 8
 * against 6, so the loads no longer hold the FMAs back. Measured alone on one Zen 5 core
 * (2026-11-29, kc = 256, packed panels, the same loop as here): 4 × 32 ran at 187 GFLOP/s, 6 × 32 at
 * 251 and 8 × 32 at 258, the core's FMA peak (257 by {@code HostFmaProbe}); forced to AVX2 on the
 * same core, 4 × 16 ran at 117, 6 × 16 at 62 and 8 × 16 at 79. (An earlier 6 × 32 trial on an
 * AVX-512 Xeon ran at a tenth of 4 × 32; that kernel updated C through a helper, the boxing trap
 * {@link #kernel} describes, which may have been what was measured.) The row count changes which
 * rows share a tile, not the order in which any element of C is summed: both tiles give the same
 * bits.
 */
final class GemmKernel {
    static final VectorSpecies<Float> SPECIES = FloatVector.SPECIES_PREFERRED;
    /** Lanes per vector. */
    static final int L = SPECIES.length();
    /** Rows of a register tile: 8 where there are 32 vector registers (AVX-512), else 4. */
    static final int MR = L >= 16 ? 8 : 4;
    /** Columns of a register tile: two vectors. */
    static final int NR = 2 * L;

    static final ByteOrder ORDER = ByteOrder.nativeOrder();

    private GemmKernel() {
    }

    /**
     * One register tile: {@code acc = Apanel · Bpanel} over {@code kc} depth steps, where
     * {@code a} holds {@code kc × MR} floats from {@code ai} and {@code b} holds {@code kc × NR}
     * from {@code bi}. With {@code tile == null} the tile is full and C is updated in place,
     * {@code C = acc + beta·C} at byte offset {@code at}, rows {@code ldcBytes} apart (C not
     * read when {@code beta == 0}); otherwise {@code acc} goes to {@code tile} (row-major
     * {@code MR × NR}) for {@link #writeBack} to clip.
     *
     * <p>This method only picks the tile's implementation ({@code MR} is a constant, so C2 folds
     * the choice); {@code kernel4} and {@code kernel8} must each stay compiled on its own, never
     * inlined into the driver's loops:
     * inlined, the driver's live values crowd the general-purpose registers, C2 spills loop
     * indices inside the depth loop and the product drops from ~88 to ~63 GFLOP/s on one core.
     * Doing the C update in them keeps them above C2's inlining limit (FreqInlineSize, 325 bytes of
     * bytecode; {@code GemmKernelJitTest} keeps it there) and saves a round trip through a tile
     * buffer: with the product going through a tile array and a second method, the 344 × 3072 ×
     * 768 product ran 6.1 ms instead of 4.6-4.8 on Zen 5 (2026-11-29).
     *
     * <p>No vector crosses a call that C2 might not inline: vectors are boxed at such a call, and
     * boxes flowing around the depth loop are allocated on every step. The C update used to sit in
     * a helper taking the accumulators as arguments. With dynamic padding the GEMM shapes change
     * every step, a branch the profile had never seen (an edge tile, beta ≠ 0 for a second depth
     * block) sends the method back to the interpreter and to a recompilation, and some
     * recompilations left the helper out of line ("already compiled into a big method"). The run
     * then allocated 24 GB/s — caught with JFR on 2026-11-29 in the Vector API's Java fallback under
     * this loop's FMAs — and a fine-tuning run took 7.5 s a step instead of 0.8, at random. For
     * the same reason the loop names {@link #SPECIES} itself, never a local copy: in an
     * on-stack-replacement compilation a local is whatever the interpreter held, not a constant,
     * and {@code broadcast} with a non-constant species is not intrinsified (the inlining log of
     * such a compile showed the loop's four broadcasts failing).
     */
    static void kernel(int kc, float[] a, int ai, float[] b, int bi, MemorySegment c, long at,
            long ldcBytes, float beta, float[] tile) {
        if (MR == 8) {
            kernel8(kc, a, ai, b, bi, c, at, ldcBytes, beta, tile);
        } else {
            kernel4(kc, a, ai, b, bi, c, at, ldcBytes, beta, tile);
        }
    }

    /**
     * {@link #kernel} for {@code MR == 4}. It and {@link #kernel8} are the same loop written out
     * for two tile heights on purpose: the accumulators must be named locals for C2 to keep them
     * in registers (an array of vectors, or a loop over rows, lives in memory), so a tile height
     * is a method of its own.
     */
    private static void kernel4(int kc, float[] a, int ai, float[] b, int bi, MemorySegment c, long at,
            long ldcBytes, float beta, float[] tile) {
        FloatVector c00 = FloatVector.zero(SPECIES), c01 = c00;
        FloatVector c10 = c00, c11 = c00;
        FloatVector c20 = c00, c21 = c00;
        FloatVector c30 = c00, c31 = c00;
        for (int p = 0; p < kc; p++, ai += 4, bi += NR) {
            FloatVector b0 = FloatVector.fromArray(SPECIES, b, bi);
            FloatVector b1 = FloatVector.fromArray(SPECIES, b, bi + L);
            FloatVector x = FloatVector.broadcast(SPECIES, a[ai]);
            c00 = x.fma(b0, c00);
            c01 = x.fma(b1, c01);
            x = FloatVector.broadcast(SPECIES, a[ai + 1]);
            c10 = x.fma(b0, c10);
            c11 = x.fma(b1, c11);
            x = FloatVector.broadcast(SPECIES, a[ai + 2]);
            c20 = x.fma(b0, c20);
            c21 = x.fma(b1, c21);
            x = FloatVector.broadcast(SPECIES, a[ai + 3]);
            c30 = x.fma(b0, c30);
            c31 = x.fma(b1, c31);
        }
        if (tile != null) {
            c00.intoArray(tile, 0);
            c01.intoArray(tile, L);
            c10.intoArray(tile, NR);
            c11.intoArray(tile, NR + L);
            c20.intoArray(tile, 2 * NR);
            c21.intoArray(tile, 2 * NR + L);
            c30.intoArray(tile, 3 * NR);
            c31.intoArray(tile, 3 * NR + L);
        } else {
            // C = acc + beta·C, row by row, written out here rather than in a helper: a helper
            // that C2 left out of line would receive the accumulators boxed (see kernel).
            long h = 4L * L;
            long r0 = at;
            long r1 = r0 + ldcBytes;
            long r2 = r1 + ldcBytes;
            long r3 = r2 + ldcBytes;
            if (beta != 0f) {
                FloatVector bv = FloatVector.broadcast(SPECIES, beta);
                c00 = FloatVector.fromMemorySegment(SPECIES, c, r0, ORDER).fma(bv, c00);
                c01 = FloatVector.fromMemorySegment(SPECIES, c, r0 + h, ORDER).fma(bv, c01);
                c10 = FloatVector.fromMemorySegment(SPECIES, c, r1, ORDER).fma(bv, c10);
                c11 = FloatVector.fromMemorySegment(SPECIES, c, r1 + h, ORDER).fma(bv, c11);
                c20 = FloatVector.fromMemorySegment(SPECIES, c, r2, ORDER).fma(bv, c20);
                c21 = FloatVector.fromMemorySegment(SPECIES, c, r2 + h, ORDER).fma(bv, c21);
                c30 = FloatVector.fromMemorySegment(SPECIES, c, r3, ORDER).fma(bv, c30);
                c31 = FloatVector.fromMemorySegment(SPECIES, c, r3 + h, ORDER).fma(bv, c31);
            }
            c00.intoMemorySegment(c, r0, ORDER);
            c01.intoMemorySegment(c, r0 + h, ORDER);
            c10.intoMemorySegment(c, r1, ORDER);
            c11.intoMemorySegment(c, r1 + h, ORDER);
            c20.intoMemorySegment(c, r2, ORDER);
            c21.intoMemorySegment(c, r2 + h, ORDER);
            c30.intoMemorySegment(c, r3, ORDER);
            c31.intoMemorySegment(c, r3 + h, ORDER);
        }
    }

    /** {@link #kernel} for {@code MR == 8}. */
    private static void kernel8(int kc, float[] a, int ai, float[] b, int bi, MemorySegment c, long at,
            long ldcBytes, float beta, float[] tile) {
        FloatVector c00 = FloatVector.zero(SPECIES), c01 = c00;
        FloatVector c10 = c00, c11 = c00;
        FloatVector c20 = c00, c21 = c00;
        FloatVector c30 = c00, c31 = c00;
        FloatVector c40 = c00, c41 = c00;
        FloatVector c50 = c00, c51 = c00;
        FloatVector c60 = c00, c61 = c00;
        FloatVector c70 = c00, c71 = c00;
        for (int p = 0; p < kc; p++, ai += 8, bi += NR) {
            FloatVector b0 = FloatVector.fromArray(SPECIES, b, bi);
            FloatVector b1 = FloatVector.fromArray(SPECIES, b, bi + L);
            FloatVector x = FloatVector.broadcast(SPECIES, a[ai]);
            c00 = x.fma(b0, c00);
            c01 = x.fma(b1, c01);
            x = FloatVector.broadcast(SPECIES, a[ai + 1]);
            c10 = x.fma(b0, c10);
            c11 = x.fma(b1, c11);
            x = FloatVector.broadcast(SPECIES, a[ai + 2]);
            c20 = x.fma(b0, c20);
            c21 = x.fma(b1, c21);
            x = FloatVector.broadcast(SPECIES, a[ai + 3]);
            c30 = x.fma(b0, c30);
            c31 = x.fma(b1, c31);
            x = FloatVector.broadcast(SPECIES, a[ai + 4]);
            c40 = x.fma(b0, c40);
            c41 = x.fma(b1, c41);
            x = FloatVector.broadcast(SPECIES, a[ai + 5]);
            c50 = x.fma(b0, c50);
            c51 = x.fma(b1, c51);
            x = FloatVector.broadcast(SPECIES, a[ai + 6]);
            c60 = x.fma(b0, c60);
            c61 = x.fma(b1, c61);
            x = FloatVector.broadcast(SPECIES, a[ai + 7]);
            c70 = x.fma(b0, c70);
            c71 = x.fma(b1, c71);
        }
        if (tile != null) {
            c00.intoArray(tile, 0);
            c01.intoArray(tile, L);
            c10.intoArray(tile, NR);
            c11.intoArray(tile, NR + L);
            c20.intoArray(tile, 2 * NR);
            c21.intoArray(tile, 2 * NR + L);
            c30.intoArray(tile, 3 * NR);
            c31.intoArray(tile, 3 * NR + L);
            c40.intoArray(tile, 4 * NR);
            c41.intoArray(tile, 4 * NR + L);
            c50.intoArray(tile, 5 * NR);
            c51.intoArray(tile, 5 * NR + L);
            c60.intoArray(tile, 6 * NR);
            c61.intoArray(tile, 6 * NR + L);
            c70.intoArray(tile, 7 * NR);
            c71.intoArray(tile, 7 * NR + L);
        } else {
            // C = acc + beta·C, row by row, written out here rather than in a helper: a helper
            // that C2 left out of line would receive the accumulators boxed (see kernel).
            long h = 4L * L;
            long r0 = at;
            long r1 = r0 + ldcBytes;
            long r2 = r1 + ldcBytes;
            long r3 = r2 + ldcBytes;
            long r4 = r3 + ldcBytes;
            long r5 = r4 + ldcBytes;
            long r6 = r5 + ldcBytes;
            long r7 = r6 + ldcBytes;
            if (beta != 0f) {
                FloatVector bv = FloatVector.broadcast(SPECIES, beta);
                c00 = FloatVector.fromMemorySegment(SPECIES, c, r0, ORDER).fma(bv, c00);
                c01 = FloatVector.fromMemorySegment(SPECIES, c, r0 + h, ORDER).fma(bv, c01);
                c10 = FloatVector.fromMemorySegment(SPECIES, c, r1, ORDER).fma(bv, c10);
                c11 = FloatVector.fromMemorySegment(SPECIES, c, r1 + h, ORDER).fma(bv, c11);
                c20 = FloatVector.fromMemorySegment(SPECIES, c, r2, ORDER).fma(bv, c20);
                c21 = FloatVector.fromMemorySegment(SPECIES, c, r2 + h, ORDER).fma(bv, c21);
                c30 = FloatVector.fromMemorySegment(SPECIES, c, r3, ORDER).fma(bv, c30);
                c31 = FloatVector.fromMemorySegment(SPECIES, c, r3 + h, ORDER).fma(bv, c31);
                c40 = FloatVector.fromMemorySegment(SPECIES, c, r4, ORDER).fma(bv, c40);
                c41 = FloatVector.fromMemorySegment(SPECIES, c, r4 + h, ORDER).fma(bv, c41);
                c50 = FloatVector.fromMemorySegment(SPECIES, c, r5, ORDER).fma(bv, c50);
                c51 = FloatVector.fromMemorySegment(SPECIES, c, r5 + h, ORDER).fma(bv, c51);
                c60 = FloatVector.fromMemorySegment(SPECIES, c, r6, ORDER).fma(bv, c60);
                c61 = FloatVector.fromMemorySegment(SPECIES, c, r6 + h, ORDER).fma(bv, c61);
                c70 = FloatVector.fromMemorySegment(SPECIES, c, r7, ORDER).fma(bv, c70);
                c71 = FloatVector.fromMemorySegment(SPECIES, c, r7 + h, ORDER).fma(bv, c71);
            }
            c00.intoMemorySegment(c, r0, ORDER);
            c01.intoMemorySegment(c, r0 + h, ORDER);
            c10.intoMemorySegment(c, r1, ORDER);
            c11.intoMemorySegment(c, r1 + h, ORDER);
            c20.intoMemorySegment(c, r2, ORDER);
            c21.intoMemorySegment(c, r2 + h, ORDER);
            c30.intoMemorySegment(c, r3, ORDER);
            c31.intoMemorySegment(c, r3 + h, ORDER);
            c40.intoMemorySegment(c, r4, ORDER);
            c41.intoMemorySegment(c, r4 + h, ORDER);
            c50.intoMemorySegment(c, r5, ORDER);
            c51.intoMemorySegment(c, r5 + h, ORDER);
            c60.intoMemorySegment(c, r6, ORDER);
            c61.intoMemorySegment(c, r6 + h, ORDER);
            c70.intoMemorySegment(c, r7, ORDER);
            c71.intoMemorySegment(c, r7 + h, ORDER);
        }
    }

    /**
     * {@code C[0:rows, 0:cols] = tile + beta·C} for a clipped edge tile, C at element
     * {@code cOff} with row stride {@code ldc}. C is not read when {@code beta == 0}, so
     * garbage (NaN) in it cannot leak into the result.
     */
    static void writeBack(float[] tile, int rows, int cols, MemorySegment c, long cOff, int ldc,
            float beta) {
        for (int r = 0; r < rows; r++) {
            long at = cOff + (long) r * ldc;
            for (int j = 0; j < cols; j++) {
                long byteAt = (at + j) << 2;
                float v = tile[r * NR + j];
                if (beta != 0f) {
                    v = Math.fma(beta, c.get(ValueLayout.JAVA_FLOAT_UNALIGNED, byteAt), v);
                }
                c.set(ValueLayout.JAVA_FLOAT_UNALIGNED, byteAt, v);
            }
        }
    }
}
