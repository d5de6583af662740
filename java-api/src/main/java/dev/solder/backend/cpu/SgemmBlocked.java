package dev.solder.backend.cpu;

import static dev.solder.backend.cpu.GemmKernel.MR;
import static dev.solder.backend.cpu.GemmKernel.NR;

import java.lang.foreign.MemorySegment;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.function.IntConsumer;

/**
 * The blocked SGEMM driver around {@link GemmKernel}:
 *
 * <pre>
 * pack A once, shared by all threads (in parallel; rows in chunks if A exceeds its budget)
 * for each column block jc (all of B's depth × NC columns fits the packed-B budget)
 *   pack B[:, jc] once, shared by all threads (in parallel)
 *   in parallel over C blocks (about MC rows × NU columns):
 *     for each depth block pc (KC deep)
 *       for each B micro-panel jr (NR wide)     one B micro-panel stays in L1
 *         for each A micro-panel ir (MR tall)   the A block [ic, pc] stays in L2
 *           micro-kernel, C[ir, jr] = tile + beta·C (beta = 1 after the first pc)
 * </pre>
 *
 * Unlike the textbook order (depth blocks outside the parallel loop), a C block gets all its
 * depth passes back to back, so the C it re-reads is still in L2, and the threads meet a few
 * times per column block rather than twice per depth block. Row blocks are cut on MR-tile
 * boundaries so they are equal to within a tile.
 *
 * <p>A is packed once for all C blocks of its rows. When each C block packed its own A block,
 * A was packed once per column of C blocks — four times for a 344-token batch's {@code [344,
 * 768]} projections, which are cut into 3 row × 4 column blocks so that two threads get equal
 * shares — and on the 2-core Zen 5, once the micro-kernel ran at the FMA peak, A's packing took
 * 7 % of a CPU fine-tuning step's samples (JFR, 2026-11-29; B's, packed once already, 9 %).
 *
 * <p>The block sizes were tuned on a 2-core Zen 3 (32 KiB L1d, 512 KiB L2 per core);
 * {@code -Dsolder.sgemm.kc|mc|nu|nc|bmax} override them for tuning elsewhere.
 */
final class SgemmBlocked {
    /** Depth of a block: a B micro-panel (KC × NR floats, 16 KiB on AVX2) stays in L1. */
    static final int KC = Integer.getInteger("solder.sgemm.kc", 256);
    /** Rows of a C block: its A block (MC × KC floats, 128 KiB) stays in L2. */
    static final int MC = Integer.getInteger("solder.sgemm.mc", 128);
    /** Columns of a C block: MC × NU floats of C (384 KiB) is re-read from L2 by each depth pass. */
    static final int NU = Integer.getInteger("solder.sgemm.nu", 768);
    /** Most columns packed at once; the packed-B budget below may allow fewer. */
    static final int NC = Integer.getInteger("solder.sgemm.nc", 4096);
    /** Packed-B budget in floats (16 MiB), kept per calling thread for reuse. */
    static final int B_MAX = Integer.getInteger("solder.sgemm.bmax", 4 << 20);
    /** Packed-A budget in floats (16 MiB), kept per calling thread for reuse; more rows are done in chunks. */
    static final int A_MAX = Integer.getInteger("solder.sgemm.amax", 4 << 20);

    /** Per-thread packing buffers, grown on demand and kept for the next call. */
    private static final class Scratch {
        float[] a = new float[0];
        float[] b = new float[0];
        final float[] tile = new float[MR * NR];

        float[] a(int size) {
            if (a.length < size) {
                a = new float[size];
            }
            return a;
        }

        float[] b(int size) {
            if (b.length < size) {
                b = new float[size];
            }
            return b;
        }
    }

    private static final ThreadLocal<Scratch> SCRATCH = ThreadLocal.withInitial(Scratch::new);

    private SgemmBlocked() {
    }

    /**
     * {@code C = alpha·op(A)·op(B) + beta·C} for validated, non-empty sizes ({@code k > 0}).
     * {@code parallel} lets it use {@link CpuParallel}; batched callers that already run one
     * matrix per thread pass false.
     */
    static void run(boolean parallel, int m, int n, int k, float alpha, SgemmOperand a,
            SgemmOperand b, float beta, MemorySegment c, long cOff, int ldc) {
        int kMax = Math.max(KC, B_MAX / NR);
        if (k > kMax) {
            // So deep that even one micro-panel of B would overrun the budget: split the depth.
            for (int p0 = 0; p0 < k; p0 += kMax) {
                run(parallel, m, n, Math.min(kMax, k - p0), alpha, a.at(0, p0), b.at(p0, 0),
                        p0 == 0 ? beta : 1f, c, cOff, ldc);
            }
            return;
        }
        int threads = parallel ? CpuParallel.threads() : 1;
        // Equal-sized blocks: a 300-deep product is 150 + 150, not 256 + 44.
        int kBlocks = ceilDiv(k, KC);
        int kcMax = ceilDiv(k, kBlocks);
        int colsMax = Math.min(NC, Math.max(NR, B_MAX / k / NR * NR));
        int nBlocks = ceilDiv(n, colsMax);
        int ncMax = roundUp(ceilDiv(n, nBlocks), NR);
        int tiles = ceilDiv(m, MR);
        int mBlocks = Math.min(tiles, ceilDiv(m, MC));
        int mcMax = ceilDiv(tiles, mBlocks) * MR;
        boolean vectorC = SgemmOperand.vectorAccessible(c);

        Scratch scratch = SCRATCH.get();
        float[] bPack = scratch.b(k * ncMax);
        // Packed A: block (ib, kb) of the chunk at ((ib − ib0)·kBlocks + kb)·mcMax·kcMax.
        int aBlock = mcMax * kcMax;
        int chunkBlocks = Math.max(1, Math.min(mBlocks, A_MAX / (kBlocks * aBlock)));
        float[] aPack = scratch.a(chunkBlocks * kBlocks * aBlock);
        var rows = new Rows(a, alpha, m, k, tiles, mBlocks, kBlocks, mcMax, kcMax, aPack);
        boolean aOnce = chunkBlocks == mBlocks;
        for (int j0 = 0; j0 < n; j0 += ncMax) {
            int nc = Math.min(ncMax, n - j0);
            int panels = ceilDiv(nc, NR);
            var cols = new Cols(b, k, kcMax, j0, nc, panels, bPack);
            int bUnits = kBlocks * panels;
            if (aOnce && j0 == 0) {
                // A's and the first B's packing in one round: one meeting of the threads fewer, and
                // A's few units (9 for a [344, 768] input) are balanced by B's many.
                int aUnits = mBlocks * kBlocks;
                share(threads, aUnits + bUnits, u -> {
                    if (u < aUnits) {
                        rows.packA(0, u);
                    } else {
                        cols.packB(u - aUnits);
                    }
                });
            } else {
                share(threads, bUnits, cols::packB);
            }
            for (int ib0 = 0; ib0 < mBlocks; ib0 += chunkBlocks) {
                int chunk = Math.min(chunkBlocks, mBlocks - ib0);
                int first = ib0;
                if (!aOnce) {
                    share(threads, chunk * kBlocks, u -> rows.packA(first, u));
                }
                int uBlocks = columnBlocks(threads, chunk, ceilDiv(nc, NU), panels);
                var block = new Block(rows, cols, beta, c, cOff, ldc, vectorC, first, uBlocks);
                share(threads, chunk * uBlocks, block::compute);
            }
        }
    }

    /**
     * How many column blocks to cut a column block's {@code panels} micro-panels into, given
     * {@code uBlocks} of about NU columns and {@code mBlocks} row blocks. Short and wide products
     * get finer columns, so that there are at least four units a thread; and the number of units
     * is rounded up to a multiple of the thread count where the panels allow it, because units
     * are about equal in size and the threads finish together only when they get as many each:
     * 9 units on 2 threads take 5 units' time, 10 % more than 4.5 (a 344-token batch's
     * {@code [344, 768]} projections cut into 3 row blocks × 3 column blocks did exactly that).
     */
    static int columnBlocks(int threads, int mBlocks, int uBlocks, int panels) {
        if (threads <= 1) {
            return uBlocks;
        }
        int u = Math.max(uBlocks, ceilDiv(4 * threads, mBlocks));
        while ((long) mBlocks * u % threads != 0 && u < panels) {
            u++;
        }
        return Math.min(panels, u);
    }

    /**
     * Runs {@code body} for every unit in {@code [0, units)} on up to {@code threads} threads,
     * each taking the next unit as it finishes one. Handing out units one at a time keeps the
     * threads within a unit of each other, which fixed chunks of several units do not.
     */
    private static void share(int threads, int units, IntConsumer body) {
        int workers = Math.min(threads, units);
        if (workers <= 1) {
            for (int u = 0; u < units; u++) {
                body.accept(u);
            }
            return;
        }
        var next = new AtomicInteger();
        CpuParallel.forRange(workers, 1, (lo, hi) -> {
            for (int u = next.getAndIncrement(); u < units; u = next.getAndIncrement()) {
                body.accept(u);
            }
        });
    }

    /** A's side of a product: its packing, shared by every C block of the same rows. */
    private record Rows(SgemmOperand a, float alpha, int m, int k, int tiles, int mBlocks, int kBlocks,
            int mcMax, int kcMax, float[] aPack) {

        /** First row of row block {@code ib}. */
        int rowStart(int ib) {
            return (int) ((long) tiles * ib / mBlocks) * MR;
        }

        /** Rows in row block {@code ib}. */
        int rowCount(int ib) {
            return Math.min(m, rowStart(ib + 1)) - rowStart(ib);
        }

        /** Where block (ib, kb) of the chunk starting at row block {@code ib0} lives in {@link #aPack}. */
        int at(int ib0, int ib, int kb) {
            return ((ib - ib0) * kBlocks + kb) * mcMax * kcMax;
        }

        /** Packs unit {@code u} of the chunk starting at row block {@code ib0}: row block {@code ib0 + u / kBlocks}, depth block {@code u % kBlocks}. */
        void packA(int ib0, int u) {
            int ib = ib0 + u / kBlocks;
            int kb = u % kBlocks;
            int p0 = kb * kcMax;
            SgemmPack.packA(a, rowStart(ib), rowCount(ib), p0, Math.min(kcMax, k - p0), alpha, aPack,
                    at(ib0, ib, kb));
        }
    }

    /** B's side of one column block: its packing, shared by every C block of the same columns. */
    private record Cols(SgemmOperand b, int k, int kcMax, int j0, int nc, int panels, float[] bPack) {

        /**
         * Packs unit {@code u} of B: micro-panel {@code u % panels} of depth block
         * {@code u / panels}. Depth block {@code p0} starts at {@code p0·panels·NR}.
         */
        void packB(int u) {
            int p0 = (u / panels) * kcMax;
            int q = u % panels;
            SgemmPack.packB(b, p0, Math.min(kcMax, k - p0), j0, nc, q, q + 1, bPack,
                    p0 * panels * NR);
        }
    }

    /** The C blocks of one chunk of row blocks (from {@code ib0}) and one column block: what the parallel units share. */
    private record Block(Rows rows, Cols cols, float beta, MemorySegment c, long cOff, int ldc,
            boolean vectorC, int ib0, int uBlocks) {

        /** Computes C block {@code u}: row block {@code ib0 + u / uBlocks}, column block {@code u % uBlocks}. */
        void compute(int u) {
            float[] tile = SCRATCH.get().tile;
            int ib = ib0 + u / uBlocks;
            int jb = u % uBlocks;
            int i0 = rows.rowStart(ib);
            int mc = rows.rowCount(ib);
            int panels = cols.panels();
            int qLo = (int) ((long) panels * jb / uBlocks);
            int qHi = (int) ((long) panels * (jb + 1) / uBlocks);
            int k = rows.k();
            int kcMax = rows.kcMax();
            for (int p0 = 0, kb = 0; p0 < k; p0 += kcMax, kb++) {
                int kc = Math.min(kcMax, k - p0);
                panels(rows.aPack(), rows.at(ib0, ib, kb), i0, mc, p0, kc, qLo, qHi, p0 == 0 ? beta : 1f, tile);
            }
        }

        /** Rows {@code [i0, i0+mc)} × micro-panels {@code [qLo, qHi)} for one depth block. */
        private void panels(float[] aPack, int aOff, int i0, int mc, int p0, int kc, int qLo, int qHi,
                float betaHere, float[] tile) {
            int panels = cols.panels();
            int nc = cols.nc();
            int j0 = cols.j0();
            float[] bPack = cols.bPack();
            int bBase = p0 * panels * NR;
            for (int q = qLo; q < qHi; q++) {
                int col = q * NR;
                int cn = Math.min(NR, nc - col);
                int bi = bBase + q * NR * kc;
                for (int row = 0, ai = aOff; row < mc; row += MR, ai += MR * kc) {
                    int rn = Math.min(MR, mc - row);
                    long cAt = cOff + (long) (i0 + row) * ldc + j0 + col;
                    if (rn == MR && cn == NR && vectorC) {
                        GemmKernel.kernel(kc, aPack, ai, bPack, bi, c, cAt << 2, 4L * ldc,
                                betaHere, null);
                    } else {
                        GemmKernel.kernel(kc, aPack, ai, bPack, bi, c, 0, 0, 0f, tile);
                        GemmKernel.writeBack(tile, rn, cn, c, cAt, ldc, betaHere);
                    }
                }
            }
        }
    }

    private static int ceilDiv(int x, int y) {
        return Math.ceilDiv(x, y);
    }

    private static int roundUp(int x, int y) {
        return Math.ceilDiv(x, y) * y;
    }
}
