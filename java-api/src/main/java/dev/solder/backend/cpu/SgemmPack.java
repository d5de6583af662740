package dev.solder.backend.cpu;

import static dev.solder.backend.cpu.GemmKernel.MR;
import static dev.solder.backend.cpu.GemmKernel.NR;

import java.util.Arrays;

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
 */
final class SgemmPack {
    private SgemmPack() {
    }

    /** Packs {@code alpha · op(A)[i0:i0+mc, p0:p0+kc]} into {@code dst}. */
    static void packA(SgemmOperand a, int i0, int mc, int p0, int kc, float alpha, float[] dst) {
        for (int t = 0, row = 0; row < mc; t++, row += MR) {
            int d = t * MR * kc;
            int rows = Math.min(MR, mc - row);
            if (rows < MR) {
                Arrays.fill(dst, d, d + MR * kc, 0f);
            }
            if (a.trans()) {
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
     * Packs micro-panels {@code [panelLo, panelHi)} of {@code op(B)[p0:p0+kc, j0:j0+nc]} into
     * {@code dst}; panel {@code q} covers columns {@code j0 + q·NR} and lands at
     * {@code dstOff + q·NR·kc}.
     */
    static void packB(SgemmOperand b, int p0, int kc, int j0, int nc, int panelLo, int panelHi,
            float[] dst, int dstOff) {
        for (int q = panelLo; q < panelHi; q++) {
            int col = q * NR;
            int cols = Math.min(NR, nc - col);
            int d = dstOff + q * NR * kc;
            if (cols < NR) {
                Arrays.fill(dst, d, d + NR * kc, 0f);
            }
            if (b.trans()) {
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
