package dev.solder.backend.cpu;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteOrder;

import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.VectorSpecies;

/**
 * The SGEMM micro-kernel: a 4 × NR tile of C held in registers while it walks a packed A
 * micro-panel and a packed B micro-panel (layouts in {@link SgemmPack}); {@code NR} is two
 * vectors, so the tile is 4 × 16 on AVX2 and 4 × 32 on AVX-512.
 *
 * <p>Why 4 rows: each depth step broadcasts one A value per row and C2 hoists all of a step's
 * broadcasts ahead of the FMAs. With 4 rows that is 8 accumulators + 2 B vectors + 4
 * broadcasts = 14 registers, inside AVX2's 16; the 6-row tile of the usual 6 × 16 design needs
 * 20, so C2 spilled an accumulator, which puts a store-to-load round trip on every depth step:
 * on one Zen 3 core 6 × 16 ran at 44 GFLOP/s and 5 × 16 at 37, against 97 for 4 × 16 (the FMA
 * peak). On an AVX-512 Xeon a 6 × 32 version of this kernel ran at a tenth of the 4 × 32 one
 * (20 against 196 GFLOP/s on two cores), so 4 rows are used everywhere. Eight accumulators
 * cover the FMA latency of two pipes (2 × 4 cycles); each depth step issues 8 FMAs against 2
 * vector loads and 4 broadcast loads.
 */
final class GemmKernel {
    static final VectorSpecies<Float> SPECIES = FloatVector.SPECIES_PREFERRED;
    /** Lanes per vector. */
    static final int L = SPECIES.length();
    /** Rows of a register tile. */
    static final int MR = 4;
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
     * <p>This method must stay compiled on its own, never inlined into the driver's loops:
     * inlined, the driver's live values crowd the general-purpose registers, C2 spills loop
     * indices inside the depth loop and the product drops from ~88 to ~63 GFLOP/s on one core.
     * Doing the C update here keeps it above C2's inlining limit (FreqInlineSize, 325 bytes of
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
        FloatVector c00 = FloatVector.zero(SPECIES), c01 = c00;
        FloatVector c10 = c00, c11 = c00;
        FloatVector c20 = c00, c21 = c00;
        FloatVector c30 = c00, c31 = c00;
        for (int p = 0; p < kc; p++, ai += MR, bi += NR) {
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
            // that C2 left out of line would receive the accumulators boxed (see the class doc).
            long h = 4L * L;
            long r1 = at + ldcBytes;
            long r2 = r1 + ldcBytes;
            long r3 = r2 + ldcBytes;
            if (beta != 0f) {
                FloatVector bv = FloatVector.broadcast(SPECIES, beta);
                c00 = FloatVector.fromMemorySegment(SPECIES, c, at, ORDER).fma(bv, c00);
                c01 = FloatVector.fromMemorySegment(SPECIES, c, at + h, ORDER).fma(bv, c01);
                c10 = FloatVector.fromMemorySegment(SPECIES, c, r1, ORDER).fma(bv, c10);
                c11 = FloatVector.fromMemorySegment(SPECIES, c, r1 + h, ORDER).fma(bv, c11);
                c20 = FloatVector.fromMemorySegment(SPECIES, c, r2, ORDER).fma(bv, c20);
                c21 = FloatVector.fromMemorySegment(SPECIES, c, r2 + h, ORDER).fma(bv, c21);
                c30 = FloatVector.fromMemorySegment(SPECIES, c, r3, ORDER).fma(bv, c30);
                c31 = FloatVector.fromMemorySegment(SPECIES, c, r3 + h, ORDER).fma(bv, c31);
            }
            c00.intoMemorySegment(c, at, ORDER);
            c01.intoMemorySegment(c, at + h, ORDER);
            c10.intoMemorySegment(c, r1, ORDER);
            c11.intoMemorySegment(c, r1 + h, ORDER);
            c20.intoMemorySegment(c, r2, ORDER);
            c21.intoMemorySegment(c, r2 + h, ORDER);
            c30.intoMemorySegment(c, r3, ORDER);
            c31.intoMemorySegment(c, r3 + h, ORDER);
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
