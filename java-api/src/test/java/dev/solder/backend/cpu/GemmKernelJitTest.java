package dev.solder.backend.cpu;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.io.InputStream;
import java.lang.classfile.ClassFile;
import java.lang.classfile.ClassModel;
import java.lang.classfile.MethodModel;
import java.lang.classfile.attribute.CodeAttribute;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.lang.management.ManagementFactory;
import java.util.SplittableRandom;
import org.junit.jupiter.api.Test;

/**
 * What the SGEMM micro-kernel needs from the JIT, checked on the running JVM.
 *
 * <p>{@link GemmKernel#kernel} must compile to code that allocates nothing: a vector the JIT
 * cannot keep in registers is boxed on every depth step, which made fine-tuning about 9× slower at
 * random ({@link GemmKernel#kernel}'s doc). Here every path of the kernel (tile, C with beta 0, C with
 * beta 1) is called until C2 has compiled it, and then a run of calls must allocate nothing and
 * give the right product. With the kernel of 2026-11-29 that updated C through a helper taking
 * the accumulators, these calls kept allocating (20 KB a call of 256 depth steps) and the test
 * failed after a minute.
 */
class GemmKernelJitTest {

    /** C2's FreqInlineSize: hot methods with more bytecode than this are not inlined. */
    private static final int FREQ_INLINE_SIZE = 325;

    @Test
    void kernelsStayAboveTheInliningLimit() throws IOException {
        ClassModel cm;
        try (InputStream in = GemmKernel.class.getResourceAsStream("GemmKernel.class")) {
            cm = ClassFile.of().parse(in.readAllBytes());
        }
        for (String name : new String[] {"kernel4", "kernel8"}) {
            int size = -1;
            for (MethodModel m : cm.methods()) {
                if (m.methodName().equalsString(name)) {
                    size = m.findAttribute(java.lang.classfile.Attributes.code())
                            .map(CodeAttribute::codeLength).orElse(-1);
                }
            }
            assertTrue(size > FREQ_INLINE_SIZE, "GemmKernel." + name + " has " + size + " bytes of bytecode; above "
                    + FREQ_INLINE_SIZE + " C2 does not inline it into the driver's loops, where it ran ~30 % slower");
        }
    }

    @Test
    void compiledKernelAllocatesNothingOnEveryPath() {
        long seed = Long.getLong("solder.test.seed", System.nanoTime());
        SplittableRandom rnd = new SplittableRandom(seed);
        int kc = 256;   // the driver's depth block
        int mr = GemmKernel.MR;
        int nr = GemmKernel.NR;
        float[] a = new float[kc * mr];
        float[] b = new float[kc * nr];
        for (int i = 0; i < a.length; i++) {
            a[i] = (float) (rnd.nextDouble() - 0.5);
        }
        for (int i = 0; i < b.length; i++) {
            b[i] = (float) (rnd.nextDouble() - 0.5);
        }
        double[] want = new double[mr * nr];
        for (int p = 0; p < kc; p++) {
            for (int r = 0; r < mr; r++) {
                for (int j = 0; j < nr; j++) {
                    want[r * nr + j] += (double) a[p * mr + r] * b[p * nr + j];
                }
            }
        }
        float[] tile = new float[mr * nr];
        var mx = (com.sun.management.ThreadMXBean) ManagementFactory.getThreadMXBean();
        try (Arena arena = Arena.ofConfined()) {
            long ld = 4L * nr + 64;   // a row stride other than the tile's width
            MemorySegment c = arena.allocate(ld * mr, 64);
            long deadline = System.nanoTime() + 60_000_000_000L;
            int quiet = 0;
            long lastBytes = -1;
            int calls = 0;
            // Until C2 has compiled every path: twelve calls in a row (four rounds of the three
            // paths) without a byte allocated, or a minute. Before that the calls run in C1's code,
            // which falls back to the Vector API's Java implementation and allocates (C2's compile
            // comes after some thousands of calls).
            while (quiet < 12 && System.nanoTime() < deadline) {
                int path = calls++ % 3;
                long before = mx.getCurrentThreadAllocatedBytes();
                if (path == 0) {
                    GemmKernel.kernel(kc, a, 0, b, 0, null, 0, 0, 0f, tile);
                } else {
                    GemmKernel.kernel(kc, a, 0, b, 0, c, 0, ld, path == 1 ? 0f : 1f, null);
                }
                lastBytes = mx.getCurrentThreadAllocatedBytes() - before;
                quiet = lastBytes == 0 ? quiet + 1 : 0;
            }
            assertEquals(12, quiet, "GemmKernel.kernel still allocates after " + calls + " calls (" + lastBytes
                    + " bytes in the last, kc = " + kc + "): its vectors are boxed in compiled code (seed " + seed + ")");
            // The product, through both ways out: the tile, and C (beta 1 doubles what beta 0 wrote).
            GemmKernel.kernel(kc, a, 0, b, 0, null, 0, 0, 0f, tile);
            GemmKernel.kernel(kc, a, 0, b, 0, c, 0, ld, 0f, null);
            GemmKernel.kernel(kc, a, 0, b, 0, c, 0, ld, 1f, null);
            for (int r = 0; r < mr; r++) {
                for (int j = 0; j < nr; j++) {
                    double w = want[r * nr + j];
                    float t = tile[r * nr + j];
                    float cc = c.get(ValueLayout.JAVA_FLOAT, r * ld + 4L * j);
                    assertEquals(w, t, 1e-3, "tile[" + r + "," + j + "] (seed " + seed + ")");
                    assertEquals(2 * t, cc, Math.ulp(2 * t) * 2, "C[" + r + "," + j + "] (seed " + seed + ")");
                }
            }
        }
    }

    /**
     * The packing of both operands in both layouts ({@link SgemmPack}: two of the four copy a
     * vector at a time), alternating in one loop as the GEMMs of a training step do: once
     * compiled, it must allocate nothing, and it must lay out what element-by-element reading gives.
     */
    @Test
    void compiledPacksAllocateNothing() {
        long seed = Long.getLong("solder.test.seed", System.nanoTime());
        SplittableRandom rnd = new SplittableRandom(seed);
        int mr = GemmKernel.MR;
        int nr = GemmKernel.NR;
        int kc = 200;
        int ld = 2 * nr + 3 + 9;   // stored [m, k] rows (kc floats) and [k, m] rows (2·nr + 3) both fit
        int lines = Math.max(kc, 2 * nr + 3);
        int rows = 2 * nr + 3;     // two full B panels and a clipped one; whole A tiles and a clipped one
        int ldk = kc + 9;
        var mx = (com.sun.management.ThreadMXBean) ManagementFactory.getThreadMXBean();
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment seg = arena.allocate(4L * lines * Math.max(ld, ldk), 64);
            for (long i = 0; i < seg.byteSize() / 4; i++) {
                seg.setAtIndex(ValueLayout.JAVA_FLOAT, i, (float) (rnd.nextDouble() - 0.5));
            }
            // op(X) is [rows, kc] for A and [kc, rows] for B; "row-major" = stored [rows, kc].
            SgemmOperand[] as = {new SgemmOperand(seg, 0, ldk, false, false), new SgemmOperand(seg, 0, ld, true, false)};
            SgemmOperand[] bs = {new SgemmOperand(seg, 0, ldk, true, false), new SgemmOperand(seg, 0, ld, false, false)};
            int panels = Math.ceilDiv(rows, nr);
            float[] aPack = new float[Math.ceilDiv(rows, mr) * mr * kc];
            float[] bPack = new float[panels * nr * kc];
            long deadline = System.nanoTime() + 60_000_000_000L;
            int quiet = 0;
            long lastBytes = -1;
            int calls = 0;
            while (quiet < 16 && System.nanoTime() < deadline) {
                int path = calls++ % 4;
                long before = mx.getCurrentThreadAllocatedBytes();
                if (path < 2) {
                    SgemmPack.packA(as[path], 0, rows, 0, kc, 0.5f, aPack, 0);
                } else {
                    SgemmPack.packB(bs[path - 2], 0, kc, 0, rows, 0, panels, bPack, 0);
                }
                lastBytes = mx.getCurrentThreadAllocatedBytes() - before;
                quiet = lastBytes == 0 ? quiet + 1 : 0;
            }
            assertEquals(16, quiet, "packing still allocates after " + calls + " calls (" + lastBytes
                    + " bytes in the last): vectors boxed in compiled code (seed " + seed + ")");
            for (int layout = 0; layout < 2; layout++) {
                SgemmPack.packA(as[layout], 0, rows, 0, kc, 0.5f, aPack, 0);
                SgemmPack.packB(bs[layout], 0, kc, 0, rows, 0, panels, bPack, 0);
                for (int r = 0; r < rows; r++) {
                    for (int p = 0; p < kc; p++) {
                        float av = as[layout].get(r, p);
                        float bv = bs[layout].get(p, r);
                        String at = "[" + r + "," + p + "], layout " + layout + " (seed " + seed + ")";
                        assertEquals(0.5f * av, aPack[(r / mr) * mr * kc + p * mr + r % mr], "A" + at);
                        assertEquals(bv, bPack[(r / nr) * nr * kc + p * nr + r % nr], "B" + at);
                    }
                }
            }
        }
    }
}
