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
     * Doing the C update here keeps it above C2's inlining limit (FreqInlineSize, 325 bytecodes)
     * and saves a round trip through a tile buffer.
     *
     * <p>The depth loop names {@link #SPECIES} itself, never a local copy of it. When a call
     * leaves compiled code inside the loop (an uncommon trap: with dynamic padding the GEMM shapes
     * change every step, and a hoisted range check or loop predicate can fail for a new shape),
     * the loop goes on in an on-stack-replacement compilation, where a local is whatever the
     * interpreter held — not a constant. {@code broadcast} with a non-constant species is not
     * intrinsified: each of its vectors, and every FMA on them, fell back to the Vector API's Java
     * implementation, allocating arrays (24 GB/s of garbage). A fine-tuning run then took 7.5 s a
     * step instead of 0.8 at random, depending on which shapes the JIT had seen (caught with JFR on
     * 2026-11-29: the allocations sat in {@code FloatVector.lanewiseTemplate} under this loop's
     * FMAs, and the OSR compile's inlining log showed the four {@code broadcast}s failing).
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
            updateRow(c00, c01, c, at, beta);
            updateRow(c10, c11, c, at + ldcBytes, beta);
            updateRow(c20, c21, c, at + 2 * ldcBytes, beta);
            updateRow(c30, c31, c, at + 3 * ldcBytes, beta);
        }
    }

    /** {@code C[row, 0:NR] = x + beta·C[row, 0:NR]}, not reading C when {@code beta == 0}. */
    private static void updateRow(FloatVector x0, FloatVector x1, MemorySegment c, long at,
            float beta) {
        if (beta != 0f) {
            FloatVector bv = FloatVector.broadcast(SPECIES, beta);
            x0 = FloatVector.fromMemorySegment(SPECIES, c, at, ORDER).fma(bv, x0);
            x1 = FloatVector.fromMemorySegment(SPECIES, c, at + 4L * L, ORDER).fma(bv, x1);
        }
        x0.intoMemorySegment(c, at, ORDER);
        x1.intoMemorySegment(c, at + 4L * L, ORDER);
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
