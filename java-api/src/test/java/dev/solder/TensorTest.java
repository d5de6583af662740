package dev.solder;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import org.junit.jupiter.api.Test;

class TensorTest {
    private final long seed = Long.getLong("solder.test.seed", System.nanoTime());
    private final Generator g = new Generator(seed);

    private String msg(String what) {
        return what + " (seed " + seed + ")";
    }

    @Test
    void creationRoundTripsThroughJavaArrays() {
        try (var s = Scope.open()) {
            float[] v = new float[12];
            for (int i = 0; i < v.length; i++) {
                v[i] = g.nextFloat() - 0.5f;
            }
            Tensor t = Tensor.of(v, 3, 4);
            assertArrayEquals(new int[] {3, 4}, t.shape());
            assertEquals(DType.FLOAT32, t.dtype());
            assertEquals(Device.cpu(), t.device());
            assertArrayEquals(v, t.toFloatArray(), msg("float round trip"));

            int[] iv = {g.nextInt(1000), -g.nextInt(1000), 7};
            assertArrayEquals(iv, Tensor.ofInts(iv).toIntArray());
            long[] lv = {1L << 40, -g.nextInt(1000), 3};
            assertArrayEquals(lv, Tensor.ofLongs(lv).toLongArray());

            assertArrayEquals(new long[] {3, 4, 5, 6}, Tensor.arange(3, 7).toLongArray());
            assertArrayEquals(new float[] {2.5f, 2.5f}, Tensor.full(2.5, DType.FLOAT32, Device.cpu(), 2).toFloatArray());
            assertArrayEquals(new float[] {1, 1, 1}, Tensor.ones(3).toFloatArray());
            assertArrayEquals(new float[] {0, 0}, Tensor.zeros(2).toFloatArray());
        }
    }

    @Test
    void randomTensorsAreReproducibleFromTheSeed() {
        try (var s = Scope.open()) {
            float[] a = Tensor.randn(new Generator(seed), 5, 7).toFloatArray();
            float[] b = Tensor.randn(new Generator(seed), 5, 7).toFloatArray();
            float[] c = Tensor.randn(new Generator(seed + 1), 5, 7).toFloatArray();
            assertArrayEquals(a, b, msg("same seed"));
            assertFalse(java.util.Arrays.equals(a, c), msg("different seed"));
            double mean = 0;
            float[] big = Tensor.rand(new Generator(seed), 10_000).toFloatArray();
            for (float x : big) {
                assertTrue(x >= 0 && x < 1, msg("uniform range"));
                mean += x;
            }
            assertEquals(0.5, mean / big.length, 0.02, msg("uniform mean"));
        }
    }

    @Test
    void segmentsInAndOut() {
        try (var s = Scope.open(); Arena arena = Arena.ofConfined()) {
            MemorySegment seg = arena.allocate(6 * 4);
            for (int i = 0; i < 6; i++) {
                seg.setAtIndex(ValueLayout.JAVA_FLOAT, i, i * 1.5f);
            }
            Tensor t = Tensor.fromSegment(seg, DType.FLOAT32, Device.cpu(), 2, 3);
            MemorySegment out = arena.allocate(6 * 4);
            t.transpose().copyTo(out);
            // transpose of [[0,1.5,3],[4.5,6,7.5]] is [[0,4.5],[1.5,6],[3,7.5]]
            float[] expect = {0, 4.5f, 1.5f, 6, 3, 7.5f};
            for (int i = 0; i < 6; i++) {
                assertEquals(expect[i], out.getAtIndex(ValueLayout.JAVA_FLOAT, i));
            }
            assertThrows(IllegalArgumentException.class, () -> Tensor.fromSegment(arena.allocate(8), DType.FLOAT32, Device.cpu(), 3));
        }
    }

    @Test
    void viewsShareStorageAndCopyOnlyWhenNeeded() {
        try (var s = Scope.open()) {
            float[] v = new float[24];
            for (int i = 0; i < v.length; i++) {
                v[i] = i;
            }
            Tensor t = Tensor.of(v, 2, 3, 4);
            Tensor r = t.reshape(6, -1);
            assertArrayEquals(new int[] {6, 4}, r.shape());
            assertTrue(r.isContiguous());
            assertTrue(r.storage() == t.storage(), "reshape of a contiguous tensor is a view");

            Tensor tr = t.transpose();
            assertArrayEquals(new int[] {2, 4, 3}, tr.shape());
            assertFalse(tr.isContiguous());
            assertTrue(tr.storage() == t.storage());
            float[] tv = tr.toFloatArray();
            assertEquals(4f, tv[1], "tr[0,0,1] = t[0,1,0]");
            assertEquals(13f, tv[12 + 3], "tr[1,1,0] = t[1,0,1]");

            Tensor n = t.narrow(2, 1, 2);
            assertArrayEquals(new int[] {2, 3, 2}, n.shape());
            assertArrayEquals(new float[] {1, 2, 5, 6, 9, 10, 13, 14, 17, 18, 21, 22}, n.toFloatArray());
            Tensor n0 = t.narrow(0, 1, 1);
            assertTrue(n0.isContiguous());
            assertEquals(12f, n0.toFloatArray()[0]);

            Tensor c = tr.contiguous();
            assertTrue(c.isContiguous());
            assertArrayEquals(tv, c.toFloatArray());
            assertThrows(IllegalArgumentException.class, () -> t.reshape(5, 5));
            assertThrows(IllegalArgumentException.class, () -> t.narrow(1, 2, 2));
        }
    }

    @Test
    void castsRoundAsPyTorch() {
        try (var s = Scope.open()) {
            // 1 + 2^-8 is halfway between two bfloat16 values; ties go to even (1.0).
            float[] v = {1f + 0x1p-8f, 1f + 3 * 0x1p-8f, -2.75f, 65504f, 1e-3f};
            Tensor bf = Tensor.of(v).to(DType.BFLOAT16);
            assertEquals(DType.BFLOAT16, bf.dtype());
            float[] back = bf.toFloatArray();
            assertEquals(1f, back[0]);
            assertEquals(1f + 4 * 0x1p-8f, back[1]);
            assertEquals(-2.75f, back[2]);
            Tensor h = Tensor.of(v).to(DType.FLOAT16);
            assertEquals(65504f, h.toFloatArray()[3]);
            assertEquals(1e-3f, h.toFloatArray()[4], 1e-6f);
            assertArrayEquals(new int[] {1, -2}, Tensor.of(new float[] {1.7f, -2.2f}).to(DType.INT32).toIntArray());
            assertArrayEquals(new float[] {3f, 4f}, Tensor.ofLongs(new long[] {3, 4}).to(DType.FLOAT32).toFloatArray());
        }
    }

    @Test
    void toStringShowsShapeDtypeDeviceAndValues() {
        try (var s = Scope.open()) {
            String str = Tensor.of(new float[] {1, 2, 3, 4}, 2, 2).toString();
            assertTrue(str.startsWith("Tensor[2, 2] float32 cpu"), str);
            assertTrue(str.contains("[[1.000, 2.000], [3.000, 4.000]]"), str);
            String big = Tensor.zeros(100, 100).toString();
            assertTrue(big.contains("..."), big);
            Tensor w = Tensor.ones(2).requiresGrad(true);
            assertTrue(w.toString().contains("requires_grad"), w.toString());
        }
    }

    @Test
    void closedTensorsFailClearly() {
        Tensor t = Tensor.ones(2, 3);
        t.close();
        var e = assertThrows(IllegalStateException.class, () -> t.add(t));
        assertTrue(e.getMessage().contains("add") && e.getMessage().contains("closed") && e.getMessage().contains("[2, 3]"), e.getMessage());
        Tensor u;
        try (var s = Scope.open()) {
            u = Tensor.ones(4);
        }
        var e2 = assertThrows(IllegalStateException.class, u::toFloatArray);
        assertTrue(e2.getMessage().contains("closed"), e2.getMessage());
    }

    @Test
    void badShapesAndDevicesAreRejected() {
        try (var s = Scope.open()) {
            assertThrows(IllegalArgumentException.class, () -> Tensor.of(new float[5], 2, 3));
            assertThrows(IllegalArgumentException.class, () -> Tensor.zeros(-1, 2));
            var e = assertThrows(IllegalArgumentException.class, () -> Ops.matmul(Tensor.ones(2, 3), Tensor.ones(4, 2)));
            assertTrue(e.getMessage().contains("matmul") && e.getMessage().contains("[2, 3]") && e.getMessage().contains("[4, 2]"), e.getMessage());
            var e2 = assertThrows(IllegalArgumentException.class, () -> Tensor.ones(2, 3).add(Tensor.ones(2, 2)));
            assertTrue(e2.getMessage().contains("add"), e2.getMessage());
            var e3 = assertThrows(IllegalArgumentException.class, () -> Ops.tanh(Tensor.ofInts(new int[] {1})));
            assertTrue(e3.getMessage().contains("floating"), e3.getMessage());
            assertThrows(IllegalArgumentException.class, () -> Device.parse("tpu"));
            assertEquals(Device.cuda(1), Device.parse("cuda:1"));
            assertEquals(DType.BFLOAT16, DType.parse("bf16"));
        }
    }
}
