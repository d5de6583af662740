package dev.solder.backend.cuda;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

import dev.solder.Autocast;
import dev.solder.Backends;
import dev.solder.CastCache;
import dev.solder.DType;
import dev.solder.Device;
import dev.solder.Generator;
import dev.solder.Ops;
import dev.solder.Scope;
import dev.solder.Tensor;
import dev.solder.backend.cpu.CpuBackend;
import dev.solder.cuda.CudaOutOfMemoryException;
import dev.solder.nn.Params;
import dev.solder.optim.AdamW;
import dev.solder.spi.Backend;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInfo;

/**
 * Every op of the Backend SPI on CUDA against the CPU backend (the reference), with fresh
 * random inputs each run (the seed is in every message; {@code -Dsolder.test.seed=N} replays),
 * shapes that are multiples of no tile size, outputs poisoned with NaN before each run and
 * checked to be fully written, and tolerances float32 1e-5 relative (5e-4 for GEMM-based ops
 * under TF32), bfloat16/float16 1e-2. Each test checks that device memory went back to where
 * it was.
 *
 * <p>Subclasses choose the device: {@link CudaParityGpuTest} a real GPU ({@code @Tag("gpu")}),
 * {@link CudaParityFakeTest} the Java model of the kernels, which exercises all of the Java
 * side (launch arguments, GEMM geometry, temporaries) on machines without a GPU.
 */
abstract class CudaParitySuite {
    static final long BASE_SEED = Long.getLong("solder.test.seed", System.nanoTime());
    static final Device GPU = Device.cuda();
    static final Backend CPU = CpuBackend.INSTANCE;
    static final double F32 = 1e-5;
    static final double HALF = 1e-2;

    Backend cuda;
    long seed;
    Generator g;
    Scope scope;
    long baseline;

    /** float32 tolerance of ops whose work is in cuBLAS (TF32 when enabled). */
    static double gemmTol() {
        return CudaGemm.tf32 ? 5e-4 : F32;
    }

    static double tolFor(DType t) {
        return t == DType.FLOAT32 ? F32 : HALF;
    }

    @BeforeEach
    void open(TestInfo info) {
        cuda = Backends.forKind(Device.Kind.CUDA);
        seed = BASE_SEED ^ info.getDisplayName().hashCode();
        g = new Generator(seed);
        baseline = cuda.liveBytes(GPU);
        scope = Scope.open();
    }

    @AfterEach
    void close() {
        scope.close();
        cuda.synchronize(GPU);
        assertEquals(baseline, cuda.liveBytes(GPU), "device memory leaked by the test (seed " + seed + ")");
    }

    // ------------------------------------------------------------------ helpers

    String at() {
        return " (seed " + seed + ", base seed " + BASE_SEED + ")";
    }

    Tensor randn(int... shape) {
        return Tensor.randn(g, shape);
    }

    /** Uniform in [lo, hi). */
    Tensor uniform(float lo, float hi, int... shape) {
        long n = 1;
        for (int d : shape) {
            n *= d;
        }
        float[] v = new float[Math.toIntExact(n)];
        for (int i = 0; i < v.length; i++) {
            v[i] = lo + (hi - lo) * g.nextFloat();
        }
        return Tensor.of(v, shape);
    }

    /** A CPU float32 tensor rounded through {@code dt} (the reference's input). */
    static Tensor as(Tensor cpu, DType dt) {
        return cpu.to(dt);
    }

    /** The same values on the GPU, in {@code dt}. */
    static Tensor gpu(Tensor cpu, DType dt) {
        return cpu.to(dt).to(GPU);
    }

    static Tensor gpu(Tensor cpu) {
        return cpu.to(GPU);
    }

    /** A GPU output full of NaN (floats) or a sentinel (ints): unwritten elements show. */
    Tensor poisoned(DType dt, int... shape) {
        Tensor t = Tensor.empty(shape, dt, GPU);
        cuda.fill(t, dt.isFloating() ? Double.NaN : -123456789);
        return t;
    }

    static Tensor cpuOut(DType dt, int... shape) {
        return Tensor.empty(shape, dt, Device.cpu());
    }

    /** Normwise relative error at most {@code tol}, every element written, no element far off. */
    void assertClose(String what, Tensor ref, Tensor got, double tol) {
        assertArrayEquals(ref.shape(), got.shape(), what + ": shapes" + at());
        float[] r = ref.toFloatArray();
        float[] o = got.toFloatArray();
        double num = 0;
        double den = 0;
        for (int i = 0; i < r.length; i++) {
            if (Float.isNaN(o[i]) && !Float.isNaN(r[i])) {
                fail(what + ": element " + i + " of " + Arrays.toString(got.shape()) + " is NaN (unwritten poison?), reference "
                        + r[i] + at());
            }
            double d = (double) o[i] - r[i];
            num += d * d;
            den += (double) r[i] * r[i];
        }
        double rms = Math.sqrt(den / Math.max(1, r.length));
        double rel = Math.sqrt(num) / Math.max(Math.sqrt(den), 1e-30);
        if (den == 0) {
            assertEquals(0.0, Math.sqrt(num), 1e-30, what + ": reference is all zeros" + at());
        } else {
            assertTrue(rel <= tol, what + ": relative error " + rel + " > " + tol + at());
        }
        for (int i = 0; i < r.length; i++) {
            double d = Math.abs((double) o[i] - r[i]);
            if (d > 32 * tol * (Math.abs(r[i]) + rms) + 1e-30) {
                fail(what + ": element " + i + " is " + o[i] + ", reference " + r[i] + " (rms " + rms + ")" + at());
            }
        }
    }

    static int[] bits(Tensor t) {
        float[] f = t.toFloatArray();
        int[] b = new int[f.length];
        for (int i = 0; i < f.length; i++) {
            b[i] = Float.floatToRawIntBits(f[i]);
        }
        return b;
    }

    /** The raw bytes of a tensor, read through the backend (no conversion). */
    static byte[] rawBytes(Tensor t) {
        long n = t.numel() * t.dtype().byteSize();
        try (Arena a = Arena.ofConfined()) {
            MemorySegment m = a.allocate(Math.max(1, n), 8);
            t.backend().copyToHost(t, m, 0);
            return m.asSlice(0, n).toArray(ValueLayout.JAVA_BYTE);
        }
    }

    // ------------------------------------------------------------------ data movement

    @Test
    void hostTransfersAreExactInEveryDtype() {
        for (DType dt : DType.values()) {
            Tensor c = dt.isFloating() ? randn(3, 37).to(dt) : Tensor.fromDoubles(
                    new double[] {-5, 0, 7, 1L << 40, -3, 123456789, 2, 1, 9, -1}, dt, Device.cpu(), 2, 5);
            Tensor d = c.to(GPU);
            assertArrayEquals(rawBytes(c), rawBytes(d), "bytes after a round trip in " + dt + at());
            // a heap segment goes through the pinned staging path
            float[] heap = new float[7];
            Tensor f = gpu(randn(7));
            f.backend().copyToHost(f, MemorySegment.ofArray(heap), 0);
            assertArrayEquals(f.toFloatArray(), heap);
            Tensor back = Tensor.empty(new int[] {7}, DType.FLOAT32, GPU);
            back.backend().copyFromHost(MemorySegment.ofArray(heap), 0, back);
            assertArrayEquals(heap, back.toFloatArray());
        }
    }

    @Test
    void castsMatchTheCpuInEveryDtypePair() {
        Tensor src = uniform(-300f, 300f, 5, 41);
        for (DType from : DType.values()) {
            Tensor c = src.to(from);
            Tensor d = c.to(GPU);
            for (DType to : DType.values()) {
                Tensor ref = cpuOut(to, 5, 41);
                CPU.copy(c, ref);
                Tensor out = poisoned(to, 5, 41);
                cuda.copy(d, out);
                assertArrayEquals(rawBytes(ref), rawBytes(out), "cast " + from + " -> " + to + at());
            }
        }
    }

    @Test
    void stridedCopiesConvertAndHonourOffsets() {
        Tensor base = randn(6, 13, 9);
        Tensor gBase = gpu(base);
        // transposed view of the last two dims, narrowed along the first: strides and an offset
        Tensor cView = base.narrow(0, 1, 4).transpose();
        Tensor gView = gBase.narrow(0, 1, 4).transpose();
        for (DType to : new DType[] {DType.FLOAT32, DType.BFLOAT16, DType.FLOAT16, DType.INT32}) {
            Tensor ref = cpuOut(to, cView.shape());
            CPU.copy(cView, ref);
            Tensor out = poisoned(to, gView.shape());
            cuda.copy(gView, out);
            assertArrayEquals(rawBytes(ref), rawBytes(out), "strided copy to " + to + at());
        }
        // into a strided destination: write a transposed block into a bigger tensor
        Tensor dstC = Tensor.zeros(DType.FLOAT32, Device.cpu(), 9, 13);
        Tensor dstG = Tensor.zeros(DType.FLOAT32, GPU, 9, 13);
        Tensor srcC = randn(13, 9);
        CPU.copy(srcC, dstC.transpose());
        cuda.copy(gpu(srcC), dstG.transpose());
        assertArrayEquals(bits(dstC), bits(dstG), "copy into a transposed view" + at());
        // seven dims (more than the kernel's six after merging): split into launches
        Tensor big = randn(2, 3, 2, 3, 2, 3, 2);
        long[] st = {1, 2, 6, 12, 36, 72, 216};
        int[] shp = {2, 3, 2, 3, 2, 3, 2};
        // reversed strides: no two dims merge
        Tensor cRev = big.view(new int[] {2, 3, 2, 3, 2, 3, 2}, reverse(st, shp), 0);
        Tensor gRev = gpu(big).view(new int[] {2, 3, 2, 3, 2, 3, 2}, reverse(st, shp), 0);
        Tensor ref = cpuOut(DType.FLOAT32, shp);
        CPU.copy(cRev, ref);
        Tensor out = poisoned(DType.FLOAT32, shp);
        cuda.copy(gRev, out);
        assertArrayEquals(bits(ref), bits(out), "7-d strided copy" + at());
    }

    /** Column-major-like strides for {@code shape}: stride of dim i = Π shape[j] for j < i. */
    private static long[] reverse(long[] ignored, int[] shape) {
        long[] s = new long[shape.length];
        long acc = 1;
        for (int i = 0; i < shape.length; i++) {
            s[i] = acc;
            acc *= shape[i];
        }
        return s;
    }

    @Test
    void fillWritesEveryDtypeAndViews() {
        for (DType dt : DType.values()) {
            Tensor ref = cpuOut(dt, 3, 29);
            CPU.fill(ref, dt.isFloating() ? -2.75 : 1L << 33);
            Tensor out = poisoned(dt, 3, 29);
            cuda.fill(out, dt.isFloating() ? -2.75 : 1L << 33);
            assertArrayEquals(rawBytes(ref), rawBytes(out), "fill " + dt + at());
            cuda.fill(out, 0.0);
            CPU.fill(ref, 0.0);
            assertArrayEquals(rawBytes(ref), rawBytes(out), "fill 0 " + dt + at());
        }
        // beyond the SPI's contract (contiguous arguments), the CUDA fill also honours views
        Tensor t = Tensor.zeros(DType.FLOAT32, GPU, 5, 7);
        cuda.fill(t.transpose().narrow(0, 2, 3), 4.5);
        float[] want = new float[35];
        for (int r = 0; r < 5; r++) {
            for (int c = 2; c < 5; c++) {
                want[r * 7 + c] = 4.5f;
            }
        }
        assertArrayEquals(want, t.toFloatArray(), "fill of a strided view" + at());
    }

    // ------------------------------------------------------------------ products

    private void checkMatmul(int batchA, int batchB, int batch, int m, int n, int k, boolean tA, boolean tB,
                             DType in, DType outType, float alpha, float beta) {
        int[] aShape = tA ? shape(batchA, k, m) : shape(batchA, m, k);
        int[] bShape = tB ? shape(batchB, n, k) : shape(batchB, k, n);
        int[] oShape = shape(batch, m, n);
        Tensor a = as(randn(aShape), in);
        Tensor b = as(randn(bShape), in);
        Tensor o0 = as(randn(oShape), outType);
        Tensor refCopy = cpuOut(outType, oShape);
        CPU.copy(o0, refCopy);
        CPU.matmul(a, tA, b, tB, refCopy, alpha, beta);
        Tensor out;
        if (beta == 0f) {
            out = poisoned(outType, oShape);
        } else {
            out = gpu(o0, outType);
        }
        cuda.matmul(gpu(a, in), tA, gpu(b, in), tB, out, alpha, beta);
        String what = "matmul " + Arrays.toString(aShape) + (tA ? "ᵀ" : "") + " · " + Arrays.toString(bShape) + (tB ? "ᵀ" : "")
                + " " + in + "->" + outType + " alpha " + alpha + " beta " + beta;
        assertClose(what, refCopy, out, in == DType.FLOAT32 && outType == DType.FLOAT32 ? gemmTol() : HALF);
    }

    private static int[] shape(int batch, int r, int c) {
        return batch == 0 ? new int[] {r, c} : new int[] {batch, r, c};
    }

    @Test
    void matmulAllTransposesFloat32() {
        for (boolean tA : new boolean[] {false, true}) {
            for (boolean tB : new boolean[] {false, true}) {
                checkMatmul(0, 0, 0, 37, 53, 71, tA, tB, DType.FLOAT32, DType.FLOAT32, 1f, 0f);
            }
        }
    }

    @Test
    void matmulBatchedSharedOperandsAndBeta() {
        checkMatmul(3, 3, 3, 19, 23, 29, false, false, DType.FLOAT32, DType.FLOAT32, 1f, 0f);
        checkMatmul(3, 0, 3, 19, 23, 29, false, true, DType.FLOAT32, DType.FLOAT32, 0.5f, 0f);
        checkMatmul(1, 4, 4, 17, 9, 33, true, false, DType.FLOAT32, DType.FLOAT32, 1f, 0f);
        checkMatmul(2, 2, 2, 11, 13, 7, true, true, DType.FLOAT32, DType.FLOAT32, -1.5f, 0.75f);
    }

    @Test
    void matmulHalfPrecisionInputs() {
        checkMatmul(0, 0, 0, 37, 41, 67, false, true, DType.BFLOAT16, DType.BFLOAT16, 1f, 0f);
        checkMatmul(0, 0, 0, 37, 41, 67, false, false, DType.BFLOAT16, DType.FLOAT32, 1f, 0f);
        checkMatmul(2, 2, 2, 21, 18, 35, true, false, DType.FLOAT16, DType.FLOAT16, 1f, 0f);
        checkMatmul(0, 0, 0, 13, 17, 19, false, false, DType.FLOAT32, DType.BFLOAT16, 1f, 0.5f);
    }

    @Test
    void matmulMixedOperandTypes() {
        Tensor a = randn(15, 22);
        Tensor b = as(randn(22, 9), DType.BFLOAT16);
        Tensor ref = cpuOut(DType.FLOAT32, 15, 9);
        CPU.matmul(a, false, b, false, ref, 1f, 0f);
        Tensor out = poisoned(DType.FLOAT32, 15, 9);
        cuda.matmul(gpu(a), false, gpu(b, DType.BFLOAT16), false, out, 1f, 0f);
        assertClose("matmul f32 · bf16", ref, out, gemmTol());
    }

    @Test
    void linearAndItsBackward() {
        Tensor x = randn(29, 47);
        Tensor w = randn(31, 47);
        Tensor bias = randn(31);
        Tensor ref = cpuOut(DType.FLOAT32, 29, 31);
        CPU.linear(x, w, bias, ref);
        Tensor out = poisoned(DType.FLOAT32, 29, 31);
        cuda.linear(gpu(x), gpu(w), gpu(bias), out);
        assertClose("linear", ref, out, gemmTol());
        Tensor dy = randn(29, 31);
        Tensor dx = cpuOut(DType.FLOAT32, 29, 47);
        Tensor dw = cpuOut(DType.FLOAT32, 31, 47);
        Tensor db = cpuOut(DType.FLOAT32, 31);
        CPU.linearBackward(dy, x, w, dx, dw, db);
        Tensor gdx = poisoned(DType.FLOAT32, 29, 47);
        Tensor gdw = poisoned(DType.FLOAT32, 31, 47);
        Tensor gdb = poisoned(DType.FLOAT32, 31);
        cuda.linearBackward(gpu(dy), gpu(x), gpu(w), gdx, gdw, gdb);
        assertClose("linear dx", dx, gdx, gemmTol());
        assertClose("linear dw", dw, gdw, gemmTol());
        assertClose("linear dbias", db, gdb, F32);
    }

    // ------------------------------------------------------------------ elementwise

    @Test
    void addMulScaleWithBroadcast() {
        for (DType dt : new DType[] {DType.FLOAT32, DType.BFLOAT16}) {
            Tensor a = as(randn(7, 11, 13), dt);
            Tensor bSame = as(randn(7, 11, 13), dt);
            Tensor bSuffix = as(randn(11, 13), dt);
            for (Tensor b : new Tensor[] {bSame, bSuffix}) {
                Tensor ref = cpuOut(dt, 7, 11, 13);
                CPU.add(a, b, 0.75f, -1.25f, ref);
                Tensor out = poisoned(dt, 7, 11, 13);
                cuda.add(gpu(a, dt), gpu(b, dt), 0.75f, -1.25f, out);
                assertClose("add " + dt + " b" + Arrays.toString(b.shape()), ref, out, tolFor(dt));
                CPU.mul(a, b, ref);
                cuda.mul(gpu(a, dt), gpu(b, dt), out);
                assertClose("mul " + dt + " b" + Arrays.toString(b.shape()), ref, out, tolFor(dt));
            }
            Tensor ref = cpuOut(dt, 7, 11, 13);
            CPU.scale(a, -3.5f, ref);
            Tensor out = poisoned(dt, 7, 11, 13);
            cuda.scale(gpu(a, dt), -3.5f, out);
            assertClose("scale " + dt, ref, out, tolFor(dt));
        }
        // out aliasing a
        Tensor a = randn(5, 9);
        Tensor b = randn(9);
        Tensor ga = gpu(a);
        CPU.add(a, b, 1f, 1f, a);
        cuda.add(ga, gpu(b), 1f, 1f, ga);
        assertClose("add in place", a, ga, F32);
        // a 0-d broadcast operand, as Ops' backward of sum() uses
        Tensor s = randn(1);
        Tensor s0 = s.view(new int[0], new long[0], 0);
        Tensor gs0 = gpu(s).view(new int[0], new long[0], 0);
        Tensor x = randn(5, 9);
        Tensor ref = cpuOut(DType.FLOAT32, 5, 9);
        CPU.mul(x, s0, ref);
        Tensor out = poisoned(DType.FLOAT32, 5, 9);
        cuda.mul(gpu(x), gs0, out);
        assertClose("mul by a 0-d tensor", ref, out, F32);
    }

    @Test
    void sumsAreExactEnoughAndDeterministic() {
        Tensor a = randn(37, 5, 13);
        Tensor ref = cpuOut(DType.FLOAT32, 5, 13);
        CPU.sumToSuffix(a, ref);
        Tensor out = poisoned(DType.FLOAT32, 5, 13);
        Tensor ga = gpu(a);
        cuda.sumToSuffix(ga, out);
        assertClose("sumToSuffix", ref, out, F32);
        Tensor again = poisoned(DType.FLOAT32, 5, 13);
        cuda.sumToSuffix(ga, again);
        assertArrayEquals(bits(out), bits(again), "sumToSuffix twice: same bits" + at());
        // many rows (several chunks) and one column
        Tensor tall = randn(5000, 3);
        Tensor tref = cpuOut(DType.FLOAT32, 3);
        CPU.sumToSuffix(tall, tref);
        Tensor tout = poisoned(DType.FLOAT32, 3);
        cuda.sumToSuffix(gpu(tall), tout);
        assertClose("sumToSuffix tall", tref, tout, F32);

        Tensor big = randn(100003);
        Tensor sref = cpuOut(DType.FLOAT32);
        CPU.sumAll(big, sref);
        Tensor sout = poisoned(DType.FLOAT32);
        cuda.sumAll(gpu(big), sout);
        assertEquals(sref.item(), sout.item(), 1e-5 * Math.sqrt(100003), "sumAll" + at());
        Tensor bf = as(big, DType.BFLOAT16);
        double want = CPU.sumSquares(bf);
        double got = cuda.sumSquares(gpu(bf, DType.BFLOAT16));
        assertEquals(want, got, 1e-9 * want, "sumSquares in float64" + at());
        assertEquals(got, cuda.sumSquares(gpu(bf, DType.BFLOAT16)), 0.0, "sumSquares deterministic" + at());
    }

    @Test
    void geluBothFormsAndTanh() {
        for (DType dt : new DType[] {DType.FLOAT32, DType.BFLOAT16}) {
            Tensor x = as(uniform(-6f, 6f, 23, 67), dt);
            Tensor dy = randn(23, 67);
            Tensor gx = gpu(x, dt);
            for (boolean tanh : new boolean[] {false, true}) {
                Tensor ref = cpuOut(dt, 23, 67);
                CPU.gelu(x, tanh, ref);
                Tensor out = poisoned(dt, 23, 67);
                cuda.gelu(gx, tanh, out);
                assertClose("gelu tanh=" + tanh + " " + dt, ref, out, tolFor(dt));
                Tensor dref = cpuOut(DType.FLOAT32, 23, 67);
                CPU.geluBackward(x, dy, tanh, dref);
                Tensor dout = poisoned(DType.FLOAT32, 23, 67);
                cuda.geluBackward(gx, gpu(dy), tanh, dout);
                assertClose("geluBackward tanh=" + tanh + " " + dt, dref, dout, F32);
            }
            Tensor ref = cpuOut(dt, 23, 67);
            CPU.tanh(x, ref);
            Tensor out = poisoned(dt, 23, 67);
            cuda.tanh(gx, out);
            assertClose("tanh " + dt, ref, out, tolFor(dt));
            Tensor dref = cpuOut(DType.FLOAT32, 23, 67);
            CPU.tanhBackward(ref, dy, dref);
            Tensor dout = poisoned(DType.FLOAT32, 23, 67);
            cuda.tanhBackward(gpu(ref, dt), gpu(dy), dout);
            assertClose("tanhBackward " + dt, dref, dout, F32);
        }
    }

    // ------------------------------------------------------------------ normalisation

    @Test
    void softmaxWithAndWithoutMask() {
        Tensor x = randn(6, 9, 37).mul(3f);
        Tensor mask = randn(2, 37);
        for (Tensor m : new Tensor[] {null, mask}) {
            Tensor ref = cpuOut(DType.FLOAT32, 6, 9, 37);
            CPU.softmax(x, m, ref);
            Tensor out = poisoned(DType.FLOAT32, 6, 9, 37);
            cuda.softmax(gpu(x), m == null ? null : gpu(m), out);
            assertClose("softmax mask=" + (m != null), ref, out, F32);
            Tensor dy = randn(6, 9, 37);
            Tensor dref = cpuOut(DType.FLOAT32, 6, 9, 37);
            CPU.softmaxBackward(ref, dy, dref);
            Tensor dout = poisoned(DType.FLOAT32, 6, 9, 37);
            cuda.softmaxBackward(gpu(ref), gpu(dy), dout);
            assertClose("softmaxBackward", dref, dout, F32);
        }
        // rows wider than a warp's stride and a bf16 row
        Tensor wide = as(randn(3, 1000), DType.BFLOAT16);
        Tensor ref = cpuOut(DType.BFLOAT16, 3, 1000);
        CPU.softmax(wide, null, ref);
        Tensor out = poisoned(DType.BFLOAT16, 3, 1000);
        cuda.softmax(gpu(wide, DType.BFLOAT16), null, out);
        assertClose("softmax bf16 wide", ref, out, HALF);
    }

    @Test
    void layerNormForwardAndBackward() {
        int[] shp = {3, 29, 77};
        for (DType dt : new DType[] {DType.FLOAT32, DType.BFLOAT16}) {
            for (boolean withResidual : new boolean[] {false, true}) {
                Tensor x = as(randn(shp).mul(2f), dt);
                Tensor res = withResidual ? as(randn(shp), dt) : null;
                Tensor gamma = as(uniform(0.5f, 1.5f, 77), dt);
                Tensor beta = as(randn(77), dt);
                Tensor ref = cpuOut(dt, shp);
                Tensor refH = withResidual ? cpuOut(dt, shp) : null;
                Tensor refMean = cpuOut(DType.FLOAT32, 87);
                Tensor refRstd = cpuOut(DType.FLOAT32, 87);
                CPU.layerNorm(x, res, gamma, beta, 1e-5f, ref, refH, refMean, refRstd);
                Tensor out = poisoned(dt, shp);
                Tensor h = withResidual ? poisoned(dt, shp) : null;
                Tensor mean = poisoned(DType.FLOAT32, 87);
                Tensor rstd = poisoned(DType.FLOAT32, 87);
                Tensor gg = gpu(gamma, dt);
                cuda.layerNorm(gpu(x, dt), res == null ? null : gpu(res, dt), gg, gpu(beta, dt), 1e-5f, out, h, mean, rstd);
                String w = "layerNorm " + dt + " residual=" + withResidual;
                assertClose(w + " out", ref, out, tolFor(dt));
                if (withResidual) {
                    assertClose(w + " h", refH, h, tolFor(dt));
                }
                assertClose(w + " mean", refMean, mean, dt == DType.FLOAT32 ? F32 : 1e-5);
                assertClose(w + " rstd", refRstd, rstd, F32);

                Tensor hIn = withResidual ? refH : x;
                Tensor dy = randn(shp);
                Tensor dh = cpuOut(DType.FLOAT32, shp);
                Tensor dg = cpuOut(DType.FLOAT32, 77);
                Tensor db = cpuOut(DType.FLOAT32, 77);
                CPU.layerNormBackward(dy, hIn, gamma, refMean, refRstd, dh, dg, db);
                Tensor gdh = poisoned(DType.FLOAT32, shp);
                Tensor gdg = poisoned(DType.FLOAT32, 77);
                Tensor gdb = poisoned(DType.FLOAT32, 77);
                Tensor gdy = gpu(dy);
                Tensor gh = gpu(hIn, dt);
                Tensor gm = gpu(refMean);
                Tensor gr = gpu(refRstd);
                cuda.layerNormBackward(gdy, gh, gg, gm, gr, gdh, gdg, gdb);
                assertClose(w + " dh", dh, gdh, F32);
                assertClose(w + " dgamma", dg, gdg, F32);
                assertClose(w + " dbeta", db, gdb, F32);
                Tensor again = poisoned(DType.FLOAT32, 77);
                cuda.layerNormBackward(gdy, gh, gg, gm, gr, poisoned(DType.FLOAT32, shp), again, null);
                assertArrayEquals(bits(gdg), bits(again), w + " dgamma deterministic" + at());
            }
        }
    }

    // ------------------------------------------------------------------ randomness

    @Test
    void dropoutMasksAreTheCpusMasks() {
        for (float p : new float[] {0.1f, 0.5f, 0.9f}) {
            long s = g.nextLong();
            Tensor x = randn(13, 301);
            Tensor ref = cpuOut(DType.FLOAT32, 13, 301);
            CPU.dropout(x, p, s, ref);
            Tensor out = poisoned(DType.FLOAT32, 13, 301);
            cuda.dropout(gpu(x), p, s, out);
            float[] r = ref.toFloatArray();
            float[] o = out.toFloatArray();
            int kept = 0;
            for (int i = 0; i < r.length; i++) {
                assertEquals(r[i] == 0f, o[i] == 0f, "dropout mask element " + i + " p " + p + " dropout seed " + s + at());
                assertEquals(r[i], o[i], 1e-6f * Math.abs(r[i]), "dropout value " + i + at());
                kept += r[i] != 0f ? 1 : 0;
            }
            double rate = 1.0 - (double) kept / r.length;
            assertTrue(Math.abs(rate - p) < 0.05, "drop rate " + rate + " for p " + p + at());
            Tensor dref = cpuOut(DType.FLOAT32, 13, 301);
            CPU.dropoutBackward(x, p, s, dref);
            Tensor dout = poisoned(DType.FLOAT32, 13, 301);
            cuda.dropoutBackward(gpu(x), p, s, dout);
            assertArrayEquals(bits(dref), bits(dout), "dropoutBackward p " + p + at());
        }
    }

    // ------------------------------------------------------------------ lookup

    @Test
    void embeddingGatherAndDeterministicScatter() {
        int vocab = 101;
        int hidden = 45;
        int[] ids = new int[5 * 13];
        for (int i = 0; i < ids.length; i++) {
            ids[i] = i % 7 == 0 ? 3 : g.nextInt(vocab); // many repeats of id 3
        }
        Tensor table = randn(vocab, hidden);
        for (DType idType : new DType[] {DType.INT32, DType.INT64}) {
            Tensor cIds = Tensor.ofInts(ids, 5, 13).to(idType);
            Tensor gIds = cIds.to(GPU);
            Tensor ref = cpuOut(DType.FLOAT32, 5, 13, hidden);
            CPU.embedding(cIds, table, ref);
            Tensor out = poisoned(DType.FLOAT32, 5, 13, hidden);
            cuda.embedding(gIds, gpu(table), out);
            assertClose("embedding ids " + idType, ref, out, 0.0);
            Tensor dy = randn(5, 13, hidden);
            for (int padding : new int[] {-1, 3}) {
                Tensor dref = cpuOut(DType.FLOAT32, vocab, hidden);
                CPU.embeddingBackward(cIds, dy, padding, dref);
                Tensor dout = poisoned(DType.FLOAT32, vocab, hidden);
                Tensor gdy = gpu(dy);
                cuda.embeddingBackward(gIds, gdy, padding, dout);
                assertClose("embeddingBackward padding " + padding, dref, dout, F32);
                Tensor again = poisoned(DType.FLOAT32, vocab, hidden);
                cuda.embeddingBackward(gIds, gdy, padding, again);
                assertArrayEquals(bits(dout), bits(again), "embeddingBackward deterministic" + at());
            }
        }
        Tensor bad = Tensor.ofInts(new int[] {1, 2, vocab, 4}).to(GPU);
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                () -> cuda.embedding(bad, gpu(table), poisoned(DType.FLOAT32, 4, hidden)));
        assertTrue(e.getMessage().contains(String.valueOf(vocab)) && e.getMessage().contains("position 2"), e.getMessage());
        Tensor negative = Tensor.ofLongs(new long[] {-1}).to(GPU);
        assertThrows(IllegalArgumentException.class, () -> cuda.embedding(negative, gpu(table), poisoned(DType.FLOAT32, 1, hidden)));
    }

    // ------------------------------------------------------------------ attention

    private void checkAttention(int b, int s, int heads, int d, DType dt, String maskKind, float dropoutP) {
        int hd = heads * d;
        float scale = (float) (1.0 / Math.sqrt(d));
        long dropSeed = g.nextLong();
        Tensor q = as(randn(b, s, hd), dt);
        Tensor k = as(randn(b, s, hd), dt);
        Tensor v = as(randn(b, s, hd), dt);
        Tensor mask = null;
        if (!maskKind.equals("none")) {
            int[] m = new int[b * s];
            for (int i = 0; i < m.length; i++) {
                m[i] = (i % s) < s - 1 - (i / s) * 3 ? 1 : 0; // each batch entry keeps a different prefix, never empty
            }
            mask = Tensor.ofInts(m, b, s);
            if (maskKind.equals("float")) {
                mask = mask.to(DType.FLOAT32);
            } else if (maskKind.equals("int64")) {
                mask = mask.to(DType.INT64);
            }
        }
        Tensor ref = cpuOut(dt, b, s, hd);
        Tensor refSaved = CPU.attention(q, k, v, mask, heads, scale, dropoutP, dropSeed, ref);
        Tensor gq = gpu(q, dt);
        Tensor gk = gpu(k, dt);
        Tensor gv = gpu(v, dt);
        Tensor gmask = mask == null ? null : mask.to(GPU);
        Tensor out = poisoned(dt, b, s, hd);
        Tensor saved = cuda.attention(gq, gk, gv, gmask, heads, scale, dropoutP, dropSeed, out);
        String w = "attention B" + b + " S" + s + " H" + heads + " D" + d + " " + dt + " mask " + maskKind + " p " + dropoutP;
        double tol = dt == DType.FLOAT32 ? gemmTol() : HALF;
        assertClose(w + " probabilities", refSaved, saved, dt == DType.FLOAT32 ? gemmTol() : HALF);
        assertClose(w + " out", ref, out, tol);

        Tensor dout = randn(b, s, hd);
        Tensor dq = cpuOut(DType.FLOAT32, b, s, hd);
        Tensor dk = cpuOut(DType.FLOAT32, b, s, hd);
        Tensor dv = cpuOut(DType.FLOAT32, b, s, hd);
        CPU.attentionBackward(q, k, v, mask, heads, scale, dropoutP, dropSeed, ref, dout, refSaved, dq, dk, dv);
        Tensor gdq = poisoned(DType.FLOAT32, b, s, hd);
        Tensor gdk = poisoned(DType.FLOAT32, b, s, hd);
        Tensor gdv = poisoned(DType.FLOAT32, b, s, hd);
        // the GPU backward starts from the GPU's own saved probabilities
        cuda.attentionBackward(gq, gk, gv, gmask, heads, scale, dropoutP, dropSeed, out, gpu(dout), saved, gdq, gdk, gdv);
        double btol = dt == DType.FLOAT32 ? gemmTol() : HALF;
        assertClose(w + " dq", dq, gdq, btol);
        assertClose(w + " dk", dk, gdk, btol);
        assertClose(w + " dv", dv, gdv, btol);
    }

    @Test
    void attentionFloat32() {
        // B ≤ H loops over b, batched over heads; B > H the other way round.
        checkAttention(2, 37, 3, 13, DType.FLOAT32, "none", 0f);
        checkAttention(3, 19, 2, 8, DType.FLOAT32, "int32", 0f);
    }

    @Test
    void attentionWithMaskAndDropout() {
        checkAttention(2, 33, 4, 5, DType.FLOAT32, "float", 0.1f);
        checkAttention(2, 21, 2, 16, DType.FLOAT32, "int64", 0.3f);
    }

    @Test
    void attentionBfloat16() {
        checkAttention(2, 29, 2, 24, DType.BFLOAT16, "int32", 0.1f);
        // More batch entries than heads: the products loop over heads, batched over b.
        checkAttention(5, 17, 2, 24, DType.BFLOAT16, "int32", 0.1f);
    }

    // ------------------------------------------------------------------ losses

    @Test
    void crossEntropyWithIgnoredRows() {
        int n = 37;
        int c = 11;
        Tensor logits = randn(n, c).mul(2f);
        int[] labels = new int[n];
        for (int i = 0; i < n; i++) {
            labels[i] = i % 5 == 0 ? -100 : g.nextInt(c);
        }
        for (DType lt : new DType[] {DType.INT32, DType.INT64}) {
            Tensor cl = Tensor.ofInts(labels).to(lt);
            Tensor ref = cpuOut(DType.FLOAT32);
            CPU.crossEntropy(logits, cl, -100, ref);
            Tensor out = poisoned(DType.FLOAT32);
            Tensor gl = gpu(logits);
            Tensor gy = cl.to(GPU);
            cuda.crossEntropy(gl, gy, -100, out);
            assertClose("crossEntropy " + lt, ref, out, F32);
            Tensor dloss = Tensor.full(0.7, DType.FLOAT32, Device.cpu());
            Tensor dref = cpuOut(DType.FLOAT32, n, c);
            CPU.crossEntropyBackward(logits, cl, -100, dloss, dref);
            Tensor dout = poisoned(DType.FLOAT32, n, c);
            cuda.crossEntropyBackward(gl, gy, -100, gpu(dloss), dout);
            assertClose("crossEntropyBackward " + lt, dref, dout, F32);
        }
        Tensor allIgnored = Tensor.ofInts(new int[] {-100, -100, -100}).to(GPU);
        Tensor out = poisoned(DType.FLOAT32);
        cuda.crossEntropy(gpu(randn(3, 4)), allIgnored, -100, out);
        assertEquals(0f, out.item(), "every row ignored: loss 0" + at());
        Tensor dout = poisoned(DType.FLOAT32, 3, 4);
        cuda.crossEntropyBackward(gpu(randn(3, 4)), allIgnored, -100, gpu(Tensor.full(1, DType.FLOAT32, Device.cpu())), dout);
        assertArrayEquals(new float[12], dout.toFloatArray(), "every row ignored: zero gradient" + at());
        Tensor bad = Tensor.ofInts(new int[] {0, 4, 1}).to(GPU);
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                () -> cuda.crossEntropy(gpu(randn(3, 4)), bad, -100, poisoned(DType.FLOAT32)));
        assertTrue(e.getMessage().contains("label 4"), e.getMessage());
    }

    @Test
    void mseForwardAndBackward() {
        Tensor pred = randn(31, 7);
        Tensor target = randn(31, 7);
        Tensor ref = cpuOut(DType.FLOAT32);
        CPU.mse(pred, target, ref);
        Tensor out = poisoned(DType.FLOAT32);
        cuda.mse(gpu(pred), gpu(target), out);
        assertClose("mse", ref, out, F32);
        Tensor dloss = Tensor.full(1.3, DType.FLOAT32, Device.cpu());
        Tensor dref = cpuOut(DType.FLOAT32, 31, 7);
        CPU.mseBackward(pred, target, dloss, dref);
        Tensor dout = poisoned(DType.FLOAT32, 31, 7);
        cuda.mseBackward(gpu(pred), gpu(target), gpu(dloss), dout);
        assertClose("mseBackward", dref, dout, F32);
    }

    // ------------------------------------------------------------------ optimiser

    @Test
    void adamwStepsMatch() {
        int n = 1237;
        Tensor p = randn(n);
        Tensor m = randn(n).mul(0.1f);
        Tensor v = uniform(0f, 0.01f, n);
        Tensor gp = gpu(p);
        Tensor gm = gpu(m);
        Tensor gv = gpu(v);
        for (int step = 1; step <= 4; step++) {
            DType gradType = step == 3 ? DType.BFLOAT16 : DType.FLOAT32;
            Tensor grad = as(randn(n), gradType);
            float bc1 = (float) (1 - Math.pow(0.9, step));
            float bc2 = (float) (1 - Math.pow(0.999, step));
            float wd = step == 2 ? 0f : 0.01f;
            CPU.adamw(p, grad, m, v, 1e-3f, 0.9f, 0.999f, 1e-8f, wd, bc1, bc2);
            cuda.adamw(gp, gpu(grad, gradType), gm, gv, 1e-3f, 0.9f, 0.999f, 1e-8f, wd, bc1, bc2);
            assertClose("adamw param, step " + step, p, gp, F32);
            assertClose("adamw m, step " + step, m, gm, F32);
            assertClose("adamw v, step " + step, v, gv, F32);
        }
    }

    @Test
    void adamwOverAllParametersMatchesTheCpuOnBothPaths() throws Exception {
        // The fused path is one solder_adamw_multi launch; the cuBLAS-only one a scale and an
        // adamw launch per parameter.
        for (KernelPaths.Mode mode : new KernelPaths.Mode[] {KernelPaths.Mode.FUSED, KernelPaths.Mode.CUBLAS}) {
            try (AutoCloseable forced = KernelPaths.force(mode)) {
                adamwAllMatchesTheCpu(mode.toString());
            }
        }
    }

    private void adamwAllMatchesTheCpu(String path) {
        // Sizes: one element, a chunk tail, exactly two chunks (65,536 each) and three chunks
        // with a tail, so the chunk list crosses parameters and ends mid-parameter.
        int[] sizes = {1, 1237, 2 * 65536, 150_001};
        float[] decays = {0f, 0.01f, 0.1f, 0f};
        // Parameters 1 and 3 keep low-precision copies (autocast's CastCache), which the update
        // writes; the device's start as NaN, so an element the kernel skips cannot pass.
        DType[] lowTypes = {null, DType.BFLOAT16, null, DType.FLOAT16};
        Tensor[] cpuLow = new Tensor[sizes.length];
        Tensor[] gpuLow = new Tensor[sizes.length];
        for (int i = 0; i < sizes.length; i++) {
            if (lowTypes[i] != null) {
                cpuLow[i] = Tensor.zeros(lowTypes[i], Device.cpu(), sizes[i]);
                gpuLow[i] = Tensor.full(Double.NaN, lowTypes[i], GPU, sizes[i]);
            }
        }
        List<Tensor> p = new ArrayList<>();
        List<Tensor> m = new ArrayList<>();
        List<Tensor> v = new ArrayList<>();
        List<Tensor> gp = new ArrayList<>();
        List<Tensor> gm = new ArrayList<>();
        List<Tensor> gv = new ArrayList<>();
        for (int n : sizes) {
            p.add(randn(n));
            m.add(randn(n).mul(0.1f));
            v.add(uniform(0f, 0.01f, n));
            gp.add(gpu(p.getLast()));
            gm.add(gpu(m.getLast()));
            gv.add(gpu(v.getLast()));
        }
        for (int step = 1; step <= 3; step++) {
            // Step 2 clips (gradient scale 0.37); step 3 has a bf16 gradient for the last parameter.
            float gradScale = step == 2 ? 0.37f : 1f;
            List<Backend.AdamWParam> cpuParams = new ArrayList<>();
            List<Backend.AdamWParam> gpuParams = new ArrayList<>();
            for (int i = 0; i < sizes.length; i++) {
                DType gradType = step == 3 && i == sizes.length - 1 ? DType.BFLOAT16 : DType.FLOAT32;
                Tensor grad = as(randn(sizes[i]), gradType);
                // Parameters at different step counts, as after a step some of them skipped.
                long t = step + i;
                float bc1 = (float) (1 - Math.pow(0.9, t));
                float bc2 = (float) (1 - Math.pow(0.999, t));
                cpuParams.add(new Backend.AdamWParam(p.get(i), grad, m.get(i), v.get(i), decays[i], bc1, bc2,
                        cpuLow[i]));
                gpuParams.add(new Backend.AdamWParam(gp.get(i), gpu(grad, gradType), gm.get(i), gv.get(i), decays[i],
                        bc1, bc2, gpuLow[i]));
            }
            CPU.adamwAll(cpuParams, 1e-3f, 0.9f, 0.999f, 1e-8f, gradScale);
            cuda.adamwAll(gpuParams, 1e-3f, 0.9f, 0.999f, 1e-8f, gradScale);
            for (int i = 0; i < sizes.length; i++) {
                String what = "adamwAll (" + path + ") parameter " + i + " (" + sizes[i] + " elements), step " + step;
                assertClose(what + " param", p.get(i), gp.get(i), F32);
                assertClose(what + " m", m.get(i), gm.get(i), F32);
                assertClose(what + " v", v.get(i), gv.get(i), F32);
                if (lowTypes[i] != null) {
                    // The copy holds exactly what a cast of the updated parameter gives, on each backend.
                    assertArrayEquals(rawBytes(Ops.cast(gp.get(i), lowTypes[i])), rawBytes(gpuLow[i]),
                            what + ": the device's " + lowTypes[i] + " copy is not the cast of its parameter" + at());
                    assertArrayEquals(rawBytes(Ops.cast(p.get(i), lowTypes[i])), rawBytes(cpuLow[i]),
                            what + ": the CPU's " + lowTypes[i] + " copy is not the cast of its parameter" + at());
                    assertClose(what + " " + lowTypes[i] + " copy", cpuLow[i], gpuLow[i], HALF);
                }
            }
        }
    }

    @Test
    void keptAutocastCopiesFollowTheDeviceWeights() {
        // A device parameter's kept bf16 copy (CastCache): current after an AdamW step (the
        // update wrote it: the bits of a cast of the new weight), stale after any other write.
        Tensor w = Params.copyOf(randn(24, 16), DType.FLOAT32, GPU).requiresGrad(true);
        try (AdamW opt = AdamW.builder(Map.of("w", w)).lr(0.01).build()) {
            for (int step = 0; step < 2; step++) {
                Tensor y;
                try (Autocast ac = Autocast.enable(DType.BFLOAT16)) {
                    y = Ops.linear(gpu(randn(5, 16)), w, null);
                }
                Ops.sum(Ops.cast(y, DType.FLOAT32)).backward();
                opt.step();
                opt.zeroGrad();
                Tensor kept = CastCache.current(w);
                assertTrue(kept != null, "no current copy after AdamW step " + step + at());
                assertArrayEquals(rawBytes(Ops.cast(w, DType.BFLOAT16)), rawBytes(kept),
                        "the kept copy after step " + step + " is not the cast of the updated weight" + at());
            }
            Tensor other = gpu(randn(24, 16));
            List<Runnable> writes = List.of(() -> cuda.copy(other, w), () -> cuda.fill(w, 0.25),
                    () -> Params.copyInto(randn(24, 16), w));
            for (int i = 0; i < writes.size(); i++) {
                try (Autocast ac = Autocast.enable(DType.BFLOAT16)) {
                    Ops.linear(gpu(randn(5, 16)), w, null);   // keeps a copy of the current weight
                }
                assertTrue(CastCache.current(w) != null, "write " + i + ": no copy was kept" + at());
                writes.get(i).run();
                assertTrue(CastCache.current(w) == null, "write " + i + " into the weight left its copy current" + at());
            }
        } finally {
            w.close();
        }
    }

    @Test
    void sumSquaresOverManyTensorsMatchesTheCpu() throws Exception {
        // An empty tensor, one partial, several, the 1024-partial cap (300,000 elements), bf16.
        List<Tensor> xs = List.of(randn(3), Tensor.empty(new int[] {0}, DType.FLOAT32, Device.cpu()), randn(1237),
                randn(40_000), randn(300_000), as(randn(513), DType.BFLOAT16));
        double ref = CPU.sumSquares(xs);
        List<Tensor> onGpu = xs.stream().map(x -> gpu(x, x.dtype())).toList();
        double[] got = new double[2];
        KernelPaths.Mode[] modes = {KernelPaths.Mode.FUSED, KernelPaths.Mode.CUBLAS};
        for (int m = 0; m < modes.length; m++) {
            try (AutoCloseable forced = KernelPaths.force(modes[m])) {
                got[m] = cuda.sumSquares(onGpu);
            }
            assertEquals(ref, got[m], 1e-9 * ref, "Σ x² over six tensors, " + modes[m] + " path");
        }
        // Two launches for the list or two per tensor: each tensor summed in the same order.
        assertEquals(Double.doubleToRawLongBits(got[1]), Double.doubleToRawLongBits(got[0]),
                "the one-launch sum differs from the per-tensor sums: " + got[0] + " vs " + got[1]);
    }

    // ------------------------------------------------------------------ memory

    @Test
    void absurdAllocationFailsCleanly() {
        long before = cuda.liveBytes(GPU);
        long absurd = 1L << 41; // 2 TiB: more than any GPU has
        CudaOutOfMemoryException e = assertThrows(CudaOutOfMemoryException.class, () -> cuda.allocate(GPU, absurd));
        assertTrue(e.getMessage().contains("cuda op allocate"), e.getMessage());
        assertTrue(e.getMessage().contains(String.valueOf(absurd)), e.getMessage());
        assertEquals(absurd, e.requestedBytes());
        assertEquals(before, cuda.liveBytes(GPU), "a failed allocation is not counted");
        // the device still works afterwards
        Tensor t = gpu(randn(4, 5));
        assertEquals(20, t.toFloatArray().length);
    }

    @Test
    void liveBytesCountAllocations() {
        long before = cuda.liveBytes(GPU);
        Tensor t = Tensor.empty(new int[] {1000}, DType.FLOAT32, GPU);
        assertEquals(before + 4000, cuda.liveBytes(GPU));
        t.close();
        assertEquals(before, cuda.liveBytes(GPU));
    }
}
