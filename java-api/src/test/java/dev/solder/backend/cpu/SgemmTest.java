package dev.solder.backend.cpu;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

import dev.solder.DType;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;

import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/**
 * {@link Sgemm} against a float64 triple loop, on fresh random inputs each run. Every
 * assertion message carries the seed; rerun one case with that seed to reproduce it.
 *
 * <p>Inputs sit in exactly-sized native segments with NaN in the padding between rows, so
 * an out-of-range read throws and a read of padding poisons the result. C's padding holds a
 * sentinel that must survive.
 */
class SgemmTest {
    private static final long SEED = Long.getLong("solder.test.seed", System.nanoTime());
    private static final float SENTINEL = 12345.5f;

    private final Random rnd = new Random(SEED);
    private Arena arena;
    /** Whether {@link #allocate} puts matrices on the heap, in {@code byte[]}s, instead of native memory. */
    private boolean heapBytes;

    @BeforeEach
    void open() {
        arena = Arena.ofShared();
    }

    @AfterEach
    void close() {
        arena.close();
    }

    /** Shapes around every tile and block edge: MR, NR (two vectors), KC, MC, and the small-problem cut. */
    private static List<int[]> shapes() {
        int mr = GemmKernel.MR;
        int nr = GemmKernel.NR;
        int kc = SgemmBlocked.KC;
        int mc = SgemmBlocked.MC;
        List<int[]> s = new ArrayList<>();
        s.add(new int[] {1, 1, 1});
        s.add(new int[] {7, 13, 5});
        s.add(new int[] {33, 65, 17});
        s.add(new int[] {130, 97, 301});
        s.add(new int[] {mr, nr, 64});
        s.add(new int[] {mr + 1, nr + 1, kc + 1});
        s.add(new int[] {2 * mr - 1, 2 * nr - 1, kc - 1});
        s.add(new int[] {mc + mr + 1, 3 * nr + 2, 2 * kc + 3});
        s.add(new int[] {2 * mc + 3, nr - 1, 40});
        s.add(new int[] {3, 200, 150});
        return s;
    }

    @Test
    void allTransposesAllShapes() {
        for (int[] s : shapes()) {
            for (int t = 0; t < 4; t++) {
                boolean ta = (t & 1) != 0;
                boolean tb = (t & 2) != 0;
                check(1, ta, tb, s[0], s[1], s[2], 1f, 0f, DType.FLOAT32, DType.FLOAT32, false, false);
                check(1, ta, tb, s[0], s[1], s[2], -0.75f, 1.25f, DType.FLOAT32, DType.FLOAT32, false,
                        false);
            }
        }
    }

    @Test
    void unitsShareOutEvenlyOverTheThreads() {
        // A 344-row batch on 2 threads: 3 row blocks; 3 column blocks would leave one thread a
        // fifth unit while the other waits.
        assertEquals(4, SgemmBlocked.columnBlocks(2, 3, 1, 48));
        assertEquals(2, SgemmBlocked.columnBlocks(2, 4, 1, 48));     // 8 units already
        assertEquals(1, SgemmBlocked.columnBlocks(1, 3, 1, 48));     // one thread: as given
        assertEquals(3, SgemmBlocked.columnBlocks(2, 3, 1, 3));      // no more panels to cut
        for (int threads = 2; threads <= 8; threads++) {
            for (int mBlocks = 1; mBlocks <= 40; mBlocks++) {
                for (int u0 = 1; u0 <= 6; u0++) {
                    int u = SgemmBlocked.columnBlocks(threads, mBlocks, u0, 1000);
                    String what = threads + " threads, " + mBlocks + " row blocks, " + u0 + " column blocks";
                    assertTrue(u >= u0 && (long) mBlocks * u >= 4L * threads, what + " -> " + u);
                    assertEquals(0, (long) mBlocks * u % threads, what + " -> " + u);
                    assertTrue(u < u0 + threads || u <= Math.ceilDiv(4 * threads, mBlocks) + threads, what + " -> " + u);
                }
            }
        }
    }

    @Test
    void columnBlockEdges() {
        // Wider than one C block (NU) and than one packed column block (NC).
        int nu = SgemmBlocked.NU + GemmKernel.NR + 3;
        check(1, false, true, 20, nu, 40, 1f, 0f, DType.FLOAT32, DType.FLOAT32, false, false);
        int nc = SgemmBlocked.NC + GemmKernel.NR + 3;
        check(1, false, true, 9, nc, 37, 0.5f, 0f, DType.FLOAT32, DType.FLOAT32, false, false);
        check(1, true, false, 9, nc, 37, 1f, 2f, DType.FLOAT32, DType.FLOAT32, false, false);
        // Deep enough that all of B's depth times NC columns overruns the packed-B budget.
        int k = 1100;
        int n = SgemmBlocked.B_MAX / k + 40;
        check(1, false, false, 5, n, k, 1f, 0f, DType.FLOAT32, DType.FLOAT32, false, false);
    }

    @Test
    void moreRowsThanThePackedABudget() {
        // A (rows × depth) larger than the packed-A budget: packed and used in chunks of row blocks.
        int k = 2100;
        int m = SgemmBlocked.A_MAX / k + 3 * SgemmBlocked.MC + 5;
        check(1, false, false, m, 5, k, 1f, 0.5f, DType.FLOAT32, DType.FLOAT32, false, false);
        check(1, true, true, m, 3, k, -1.5f, 0f, DType.FLOAT32, DType.FLOAT32, false, false);
    }

    @Test
    void veryDeep() {
        // Deeper than one micro-panel of B may be within the budget: the depth is split.
        int k = Math.max(SgemmBlocked.KC, SgemmBlocked.B_MAX / GemmKernel.NR) + 1000;
        check(1, false, false, 3, 2, k, 1f, 0.5f, DType.FLOAT32, DType.FLOAT32, false, false);
        check(1, true, true, 2, 3, k, 1f, 0f, DType.BFLOAT16, DType.FLOAT32, false, false);
    }

    @Test
    void bfloat16Inputs() {
        int[][] shapes = {{7, 13, 5}, {130, 97, 301}, {GemmKernel.MR + 3, GemmKernel.NR * 2 + 1, 70}};
        for (int[] s : shapes) {
            for (int t = 0; t < 4; t++) {
                boolean ta = (t & 1) != 0;
                boolean tb = (t & 2) != 0;
                check(1, ta, tb, s[0], s[1], s[2], 1f, 0f, DType.BFLOAT16, DType.FLOAT32, false, false);
                check(1, ta, tb, s[0], s[1], s[2], 1f, 0.5f, DType.FLOAT32, DType.BFLOAT16, false, false);
                check(1, ta, tb, s[0], s[1], s[2], 2f, 0f, DType.BFLOAT16, DType.BFLOAT16, false, false);
            }
        }
    }

    @Test
    void batched() {
        // Small matrices, many of them (attention scores): one thread per matrix.
        check(12, false, true, 17, 17, 9, 0.125f, 0f, DType.FLOAT32, DType.FLOAT32, false, false);
        check(7, true, false, 5, 40, 33, 1f, 1f, DType.FLOAT32, DType.BFLOAT16, false, false);
        // Large matrices, a few: each split across the threads.
        check(3, false, false, 130, 97, 301, 1f, 0f, DType.FLOAT32, DType.FLOAT32, false, false);
        check(2, true, true, 140, 60, 200, -1f, 0.5f, DType.FLOAT32, DType.FLOAT32, false, false);
    }

    @Test
    void batchedBroadcast() {
        check(5, false, true, 33, 65, 17, 1f, 0f, DType.FLOAT32, DType.FLOAT32, true, false);
        check(5, true, false, 33, 65, 17, 1f, 0.5f, DType.FLOAT32, DType.FLOAT32, false, true);
        check(4, false, false, 130, 40, 90, 1f, 0f, DType.BFLOAT16, DType.FLOAT32, false, true);
        check(3, false, false, 9, 70, 300, 1f, 0f, DType.FLOAT32, DType.FLOAT32, true, true);
    }

    @Test
    void confinedSegmentsRunOnTheCallingThread() {
        try (Arena confined = Arena.ofConfined()) {
            int m = 150;
            int n = 70;
            int k = 200;
            MemorySegment a = confined.allocate(4L * m * k, 64);
            MemorySegment b = confined.allocate(4L * k * n, 64);
            MemorySegment c = confined.allocate(4L * m * n, 64);
            for (long i = 0; i < (long) m * k; i++) {
                a.setAtIndex(ValueLayout.JAVA_FLOAT_UNALIGNED, i, 1f);
            }
            for (long i = 0; i < (long) k * n; i++) {
                b.setAtIndex(ValueLayout.JAVA_FLOAT_UNALIGNED, i, 0.5f);
            }
            Sgemm.gemm(false, false, m, n, k, 1f, a, 0, k, DType.FLOAT32, b, 0, n, DType.FLOAT32, 0f,
                    c, 0, n);
            for (long i = 0; i < (long) m * n; i++) {
                assertEquals(100f, c.getAtIndex(ValueLayout.JAVA_FLOAT_UNALIGNED, i), "seed=" + SEED);
            }
        }
    }

    @Test
    void heapSegments() {
        // Segments over float[] cannot take vector loads and stores: C goes the scalar way.
        int m = 70;
        int n = 50;
        int k = 300;
        float[] a = new float[m * k];
        float[] b = new float[k * n];
        float[] c = new float[m * n];
        for (int i = 0; i < a.length; i++) {
            a[i] = rnd.nextFloat() * 2 - 1;
        }
        for (int i = 0; i < b.length; i++) {
            b[i] = rnd.nextFloat() * 2 - 1;
        }
        java.util.Arrays.fill(c, Float.NaN);
        Sgemm.gemm(false, false, m, n, k, 1f, MemorySegment.ofArray(a), 0, k, DType.FLOAT32,
                MemorySegment.ofArray(b), 0, n, DType.FLOAT32, 0f, MemorySegment.ofArray(c), 0, n);
        for (int i = 0; i < m; i++) {
            for (int j = 0; j < n; j++) {
                double want = 0;
                double mag = 0;
                for (int p = 0; p < k; p++) {
                    want += (double) a[i * k + p] * b[p * n + j];
                    mag += Math.abs((double) a[i * k + p] * b[p * n + j]);
                }
                assertEquals(want, c[i * n + j], 1e-5 * Math.sqrt(k) * mag,
                        "seed=" + SEED + " heap C[" + i + ", " + j + "]");
            }
        }
    }

    @Test
    void byteArraySegmentsTakeTheVectorPaths() {
        // Segments over byte[] take vector packing and vector C like native ones; exactly
        // sized, so a vector read past a matrix's end throws.
        heapBytes = true;
        int nr = GemmKernel.NR;
        for (int[] s : List.of(new int[] {33, 65, 17}, new int[] {130, 97, 301}, new int[] {9, 3 * nr, 40})) {
            for (int t = 0; t < 4; t++) {
                check(1, (t & 1) != 0, (t & 2) != 0, s[0], s[1], s[2], 0.5f, 1f, DType.FLOAT32,
                        DType.FLOAT32, false, false);
            }
        }
        check(3, true, false, 21, 2 * nr + 1, 50, 1f, 0f, DType.BFLOAT16, DType.FLOAT32, false, true);
    }

    @Test
    void zeroDepthScalesC() {
        for (float beta : new float[] {0f, 1f, -2f}) {
            check(1, false, false, 5, 9, 0, 1f, beta, DType.FLOAT32, DType.FLOAT32, false, false);
            check(3, true, true, 40, 33, 0, 1f, beta, DType.FLOAT32, DType.FLOAT32, false, false);
        }
    }

    @Test
    void zeroAlphaDoesNotReadInputs() {
        MemorySegment a = filled(6 * 4, Float.NaN);
        MemorySegment b = filled(4 * 5, Float.NaN);
        MemorySegment c = filled(6 * 5, 3f);
        Sgemm.gemm(false, false, 6, 5, 4, 0f, a, 0, 4, DType.FLOAT32, b, 0, 5, DType.FLOAT32, 2f, c,
                0, 5);
        for (int i = 0; i < 30; i++) {
            assertEquals(6f, c.getAtIndex(ValueLayout.JAVA_FLOAT_UNALIGNED, i), "seed=" + SEED + " element " + i);
        }
    }

    @Test
    void emptyShapesAreNoOps() {
        MemorySegment c = filled(4, SENTINEL);
        MemorySegment none = arena.allocate(0);
        Sgemm.gemm(false, false, 0, 4, 3, 1f, none, 0, 3, DType.FLOAT32, none, 0, 4, DType.FLOAT32,
                0f, none, 0, 4);
        Sgemm.gemmBatched(0, false, false, 2, 2, 2, 1f, none, 0, 4, 2, DType.FLOAT32, none, 0, 4, 2,
                DType.FLOAT32, 0f, c, 0, 4, 2);
        for (int i = 0; i < 4; i++) {
            assertEquals(SENTINEL, c.getAtIndex(ValueLayout.JAVA_FLOAT_UNALIGNED, i), "seed=" + SEED);
        }
    }

    @Test
    void rejectsBadArguments() {
        MemorySegment a = filled(100, 1f);
        MemorySegment b = filled(100, 1f);
        MemorySegment c = filled(30, 0f);
        expect("m=-1", () -> Sgemm.gemm(false, false, -1, 5, 4, 1f, a, 0, 4, DType.FLOAT32, b, 0, 5,
                DType.FLOAT32, 0f, c, 0, 5));
        expect("lda=3", () -> Sgemm.gemm(false, false, 6, 5, 4, 1f, a, 0, 3, DType.FLOAT32, b, 0, 5,
                DType.FLOAT32, 0f, c, 0, 5));
        expect("ldb=4", () -> Sgemm.gemm(false, false, 6, 5, 4, 1f, a, 0, 4, DType.FLOAT32, b, 0, 4,
                DType.FLOAT32, 0f, c, 0, 5));
        expect("ldc=4", () -> Sgemm.gemm(false, false, 6, 5, 4, 1f, a, 0, 4, DType.FLOAT32, b, 0, 5,
                DType.FLOAT32, 0f, c, 0, 4));
        expect("A segment too small", () -> Sgemm.gemm(false, false, 6, 5, 4, 1f, a, 77, 4,
                DType.FLOAT32, b, 0, 5, DType.FLOAT32, 0f, c, 0, 5));
        expect("B segment too small", () -> Sgemm.gemm(false, true, 6, 5, 4, 1f, a, 0, 4,
                DType.FLOAT32, b, 90, 4, DType.FLOAT32, 0f, c, 0, 5));
        expect("C segment too small", () -> Sgemm.gemm(false, false, 6, 5, 4, 1f, a, 0, 4,
                DType.FLOAT32, b, 0, 5, DType.FLOAT32, 0f, c, 0, 6));
        expect("float32 or bfloat16", () -> Sgemm.gemm(false, false, 6, 5, 4, 1f, a, 0, 4,
                DType.FLOAT16, b, 0, 5, DType.FLOAT32, 0f, c, 0, 5));
        expect("overlap", () -> Sgemm.gemmBatched(2, false, false, 3, 5, 4, 1f, a, 0, 12, 4,
                DType.FLOAT32, b, 0, 0, 5, DType.FLOAT32, 0f, c, 0, 10, 5));
        expect("stride", () -> Sgemm.gemmBatched(2, false, false, 3, 5, 4, 1f, a, 0, -12, 4,
                DType.FLOAT32, b, 0, 0, 5, DType.FLOAT32, 0f, c, 0, 15, 5));
    }

    private static void expect(String fragment, Runnable call) {
        var e = assertThrows(IllegalArgumentException.class, call::run, "seed=" + SEED);
        assertTrue(e.getMessage().startsWith("sgemm") && e.getMessage().contains(fragment),
                "message '" + e.getMessage() + "' should name sgemm and contain '" + fragment + "'");
    }

    /**
     * Runs one (batched) product on random inputs with padded leading dimensions and offsets,
     * and compares every element with the float64 reference. {@code beta == 0} poisons C with
     * NaN first. {@code broadcastA/B} use stride 0 for that input.
     */
    private void check(int batch, boolean ta, boolean tb, int m, int n, int k, float alpha,
            float beta, DType aType, DType bType, boolean broadcastA, boolean broadcastB) {
        String what = "seed=" + SEED + " batch=" + batch + " transA=" + ta + " transB=" + tb + " m=" + m
                + " n=" + n + " k=" + k + " alpha=" + alpha + " beta=" + beta + " A " + aType + " B "
                + bType + (broadcastA ? " A broadcast" : "") + (broadcastB ? " B broadcast" : "");
        Stored a = store(broadcastA ? 1 : batch, m, k, ta, aType);
        Stored b = store(broadcastB ? 1 : batch, k, n, tb, bType);
        int ldc = n + rnd.nextInt(4);
        long cOff = rnd.nextInt(5);
        long cExtent = m == 0 ? 0 : (long) (m - 1) * ldc + n;
        long strideC = cExtent + rnd.nextInt(3);
        MemorySegment c = filled(cOff + (batch - 1) * strideC + cExtent, SENTINEL);
        float[][] c0 = new float[batch][m * n];
        for (int q = 0; q < batch; q++) {
            for (int i = 0; i < m; i++) {
                for (int j = 0; j < n; j++) {
                    float v = beta == 0f ? Float.NaN : rnd.nextFloat() * 2 - 1;
                    c0[q][i * n + j] = v;
                    c.setAtIndex(ValueLayout.JAVA_FLOAT_UNALIGNED, cOff + q * strideC + (long) i * ldc + j, v);
                }
            }
        }

        Sgemm.gemmBatched(batch, ta, tb, m, n, k, alpha,
                a.seg, a.off, broadcastA ? 0 : a.stride, a.ld, aType,
                b.seg, b.off, broadcastB ? 0 : b.stride, b.ld, bType,
                beta, c, cOff, strideC, ldc);

        double tol = 1e-5 * Math.sqrt(k + 1.0);
        for (int q = 0; q < batch; q++) {
            float[] av = a.values[broadcastA ? 0 : q];
            float[] bv = b.values[broadcastB ? 0 : q];
            for (int i = 0; i < m; i++) {
                for (int j = 0; j < n; j++) {
                    double sum = 0;
                    double mag = 0;
                    for (int p = 0; p < k; p++) {
                        double prod = (double) av[i * k + p] * bv[p * n + j];
                        sum += prod;
                        mag += Math.abs(prod);
                    }
                    double cOld = beta == 0f ? 0 : c0[q][i * n + j];
                    double want = alpha * sum + beta * cOld;
                    double scale = Math.abs(alpha) * mag + Math.abs(beta * cOld);
                    float got = c.getAtIndex(ValueLayout.JAVA_FLOAT_UNALIGNED,
                            cOff + q * strideC + (long) i * ldc + j);
                    if (!(Math.abs(got - want) <= tol * scale + 1e-30)) {
                        fail(what + ": C[" + q + "][" + i + ", " + j + "] = " + got + ", expected "
                                + want + " (tolerance " + tol * scale + ")");
                    }
                }
            }
        }
        // Nothing outside the C matrices may be written.
        for (long e = 0; e < c.byteSize() / 4; e++) {
            long rel = e - cOff;
            long q = rel < 0 ? -1 : rel / strideC;
            long inMatrix = rel - q * strideC;
            boolean inside = rel >= 0 && q < batch && inMatrix < cExtent && inMatrix % ldc < n;
            if (!inside) {
                assertEquals(SENTINEL, c.getAtIndex(ValueLayout.JAVA_FLOAT_UNALIGNED, e),
                        what + ": C padding element " + e + " was written");
            }
        }
    }

    /** A batch of logical {@code rows × cols} matrices, stored (transposed if asked) in one segment. */
    private record Stored(MemorySegment seg, long off, long stride, int ld, float[][] values) {
    }

    private Stored store(int batch, int rows, int cols, boolean trans, DType type) {
        int sr = trans ? cols : rows;
        int sc = trans ? rows : cols;
        int ld = Math.max(1, sc) + rnd.nextInt(4);
        long off = rnd.nextInt(5);
        long extent = sr == 0 || sc == 0 ? 0 : (long) (sr - 1) * ld + sc;
        long stride = extent + rnd.nextInt(3);
        long elems = off + (batch - 1) * stride + extent;
        boolean bf16 = type == DType.BFLOAT16;
        MemorySegment seg = allocate(elems * type.byteSize());
        // NaN everywhere first: padding that is read poisons the result.
        for (long e = 0; e < elems; e++) {
            put(seg, e, Float.NaN, bf16);
        }
        float[][] values = new float[batch][rows * cols];
        for (int q = 0; q < batch; q++) {
            for (int r = 0; r < rows; r++) {
                for (int col = 0; col < cols; col++) {
                    float v = rnd.nextFloat() * 2 - 1;
                    if (bf16) {
                        v = DType.bf16ToFloat(DType.floatToBf16(v));
                    }
                    values[q][r * cols + col] = v;
                    long e = off + q * stride + (trans ? (long) col * ld + r : (long) r * ld + col);
                    put(seg, e, v, bf16);
                }
            }
        }
        return new Stored(seg, off, stride, ld, values);
    }

    /** An exactly sized segment of {@code bytes}: native, or over a {@code byte[]} (vector-readable heap memory). */
    private MemorySegment allocate(long bytes) {
        if (heapBytes) {
            return MemorySegment.ofArray(new byte[Math.toIntExact(bytes)]);
        }
        return arena.allocate(Math.max(1, bytes), 64).asSlice(0, bytes);
    }

    private static void put(MemorySegment seg, long e, float v, boolean bf16) {
        if (bf16) {
            seg.setAtIndex(ValueLayout.JAVA_SHORT_UNALIGNED, e, DType.floatToBf16(v));
        } else {
            seg.setAtIndex(ValueLayout.JAVA_FLOAT_UNALIGNED, e, v);
        }
    }

    private MemorySegment filled(long elems, float v) {
        MemorySegment s = allocate(elems * 4);
        for (long e = 0; e < elems; e++) {
            s.setAtIndex(ValueLayout.JAVA_FLOAT_UNALIGNED, e, v);
        }
        return s;
    }
}
