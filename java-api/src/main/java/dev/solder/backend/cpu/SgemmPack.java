package dev.solder.backend.cpu;

import static dev.solder.backend.cpu.GemmKernel.MR;
import static dev.solder.backend.cpu.GemmKernel.NR;
import static dev.solder.backend.cpu.GemmKernel.ORDER;

import java.lang.foreign.MemorySegment;
import java.util.Arrays;

import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.VectorSpecies;

/**
 * Copies blocks of {@code op(A)} and {@code op(B)} into the contiguous layout the
 * micro-kernel streams through. Packing is where transposes, bfloat16 widening, alpha and
 * edge padding are dealt with, so the kernel sees one layout only:
 *
 * <ul>
 *   <li>A block, rows {@code [i0, i0+mc)} × depth {@code [p0, p0+kc)}: micro-panels of
 *       {@link GemmKernel#MR} rows, each stored depth-major ({@code kc × MR}), rows past
 *       {@code mc} zero.
 *   <li>B block, depth {@code [p0, p0+kc)} × columns {@code [j0, j0+nc)}: micro-panels of
 *       {@link GemmKernel#NR} columns, each stored depth-major ({@code kc × NR}), columns past
 *       {@code nc} zero.
 * </ul>
 *
 * Zero padding lets every tile run the full-size kernel; only the write-back is clipped.
 *
 * <p>Where a depth step's MR (A stored {@code [k, m]}) or NR (B stored {@code [k, n]})
 * floats are neighbours in memory, a full tile is copied a vector at a time: one MR-lane
 * vector for A, two for B. Element by element these two cases cost 2.4 and 1.0 ns a float
 * on the 2-core Zen 3 (an inner loop of 4 or 16 with a bfloat16 test and a bounds check per
 * element); a vector at a time, 0.45 and 0.25 ns, timed alone. A whole training step showed
 * no difference (bench/README.md): the win is the packing's, not yet the step's. The other
 * two cases are transposes and stay scalar.
 */
final class SgemmPack {
    /** MR floats: one depth step of an A micro-panel. */
    private static final VectorSpecies<Float> A_STEP = MR == 8 ? FloatVector.SPECIES_256 : FloatVector.SPECIES_128;
    private static final VectorSpecies<Float> B_HALF = GemmKernel.SPECIES;

    static {
        // A species makes its "dummy vector" (which tells C2 the vector class) on first use. In a
        // method C2 compiled before its vector branch ever ran, the inlining log showed the class
        // unresolved there (makeDummyVector not inlined). Making both now resolves it; alone it
        // did not stop that branch from boxing, which stepsOfA's own method did.
        A_STEP.zero();
        B_HALF.zero();
    }

    private SgemmPack() {
    }

    /** Packs {@code alpha · op(A)[i0:i0+mc, p0:p0+kc]} into {@code dst} from {@code dstOff}. */
    static void packA(SgemmOperand a, int i0, int mc, int p0, int kc, float alpha, float[] dst, int dstOff) {
        boolean vector = a.trans() && a.vectorLoads() && MR == A_STEP.length();
        for (int t = 0, row = 0; row < mc; t++, row += MR) {
            int d = dstOff + t * MR * kc;
            int rows = Math.min(MR, mc - row);
            if (rows < MR) {
                Arrays.fill(dst, d, d + MR * kc, 0f);
            }
            if (vector && rows == MR) {
                stepsOfA(a.seg(), (a.off() + (long) p0 * a.ld() + i0 + row) << 2, (long) a.ld() << 2, kc, alpha, dst, d);
            } else if (a.trans()) {
                // Stored [k, m]: a depth step reads MR neighbouring floats.
                for (int p = 0; p < kc; p++) {
                    long base = a.off() + (long) (p0 + p) * a.ld() + i0 + row;
                    int o = d + p * MR;
                    for (int r = 0; r < rows; r++) {
                        dst[o + r] = alpha * a.load(base + r);
                    }
                }
            } else {
                // Stored [m, k]: each row is read contiguously and spread MR apart.
                for (int r = 0; r < rows; r++) {
                    long base = a.off() + (long) (i0 + row + r) * a.ld() + p0;
                    for (int p = 0, o = d + r; p < kc; p++, o += MR) {
                        dst[o] = alpha * a.load(base + p);
                    }
                }
            }
        }
    }

    /**
     * {@code kc} depth steps of an A tile stored {@code [k, m]}: MR neighbouring floats a step,
     * {@code step} bytes apart from byte {@code at}, times alpha, into {@code dst} from {@code d}.
     * A method of its own, with no vector crossing its boundary: inside {@link #packA}, where
     * this branch is the rarely taken one, C2 compiled the loads and the multiply to the Vector
     * API's Java fallback — an object per step, seen in JFR in the middle of a CPU fine-tuning
     * run (2026-11-29) — the boxing trap {@link GemmKernel#kernel} describes.
     */
    private static void stepsOfA(MemorySegment seg, long at, long step, int kc, float alpha, float[] dst, int d) {
        for (int p = 0, o = d; p < kc; p++, o += MR, at += step) {
            FloatVector.fromMemorySegment(A_STEP, seg, at, ORDER).mul(alpha).intoArray(dst, o);
        }
    }

    /**
     * Packs micro-panels {@code [panelLo, panelHi)} of {@code op(B)[p0:p0+kc, j0:j0+nc]} into
     * {@code dst}; panel {@code q} covers columns {@code j0 + q·NR} and lands at
     * {@code dstOff + q·NR·kc}.
     */
    static void packB(SgemmOperand b, int p0, int kc, int j0, int nc, int panelLo, int panelHi,
            float[] dst, int dstOff) {
        boolean vector = !b.trans() && b.vectorLoads();
        int half = B_HALF.length();
        for (int q = panelLo; q < panelHi; q++) {
            int col = q * NR;
            int cols = Math.min(NR, nc - col);
            int d = dstOff + q * NR * kc;
            if (cols < NR) {
                Arrays.fill(dst, d, d + NR * kc, 0f);
            }
            if (vector && cols == NR) {
                long at = (b.off() + (long) p0 * b.ld() + j0 + col) << 2;
                long step = (long) b.ld() << 2;
                for (int p = 0, o = d; p < kc; p++, o += NR, at += step) {
                    FloatVector.fromMemorySegment(B_HALF, b.seg(), at, ORDER).intoArray(dst, o);
                    FloatVector.fromMemorySegment(B_HALF, b.seg(), at + 4L * half, ORDER).intoArray(dst, o + half);
                }
            } else if (b.trans()) {
                // Stored [n, k]: each column of op(B) is a contiguous row in memory.
                for (int j = 0; j < cols; j++) {
                    long base = b.off() + (long) (j0 + col + j) * b.ld() + p0;
                    for (int p = 0, o = d + j; p < kc; p++, o += NR) {
                        dst[o] = b.load(base + p);
                    }
                }
            } else {
                for (int p = 0; p < kc; p++) {
                    long base = b.off() + (long) (p0 + p) * b.ld() + j0 + col;
                    int o = d + p * NR;
                    for (int j = 0; j < cols; j++) {
                        dst[o + j] = b.load(base + j);
                    }
                }
            }
        }
    }
}
