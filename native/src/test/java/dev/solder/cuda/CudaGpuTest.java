package dev.solder.cuda;

import static dev.solder.cuda.CudaDataType.R_16BF;
import static dev.solder.cuda.CudaDataType.R_16F;
import static dev.solder.cuda.CudaDataType.R_32F;
import static java.lang.foreign.ValueLayout.JAVA_BYTE;
import static java.lang.foreign.ValueLayout.JAVA_FLOAT;
import static java.lang.foreign.ValueLayout.JAVA_INT;
import static java.lang.foreign.ValueLayout.JAVA_SHORT;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

import dev.solder.cuda.Cublas.ComputeType;
import dev.solder.cuda.Cublas.Operation;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;

/**
 * The bindings against a real GPU: skipped, with the reason, where CUDA is not available.
 * Inputs are random (seeded; the seed is in every failure message), outputs are poisoned with
 * NaN before each run so an element left unwritten fails the comparison.
 */
@Tag("gpu")
class CudaGpuTest {
    private static long stream;
    private static long cublas;
    private static final long SEED = Long.getLong("solder.test.seed", System.nanoTime());
    private static final List<Long> allocations = new ArrayList<>();

    @BeforeAll
    static void setUp() {
        if (!Cuda.isAvailable()) return; // each test is then skipped, with the reason, in current()
        CudaDriver.ensureCurrent(0);
        stream = CudaDriver.streamCreate(CudaDriver.STREAM_NON_BLOCKING);
        System.out.println(Cuda.report());
        System.out.println("cuEventElapsedTime_v2 exported: " + CudaDriver.hasSymbol("cuEventElapsedTime_v2")
                + "; seed " + SEED);
    }

    @AfterAll
    static void tearDown() {
        if (!Cuda.isAvailable()) return;
        CudaDriver.ensureCurrent(0);
        for (long p : allocations) CudaDriver.memFreeAsync(p, stream);
        allocations.clear();
        if (cublas != 0) Cublas.destroy(cublas);
        CudaDriver.streamSynchronize(stream);
        CudaDriver.streamDestroy(stream);
    }

    @BeforeEach
    void current() {
        // Per test rather than in @BeforeAll, so that reports list every test as skipped, with the reason.
        Assumptions.assumeTrue(Cuda.isAvailable(), Cuda.unavailableReason());
        CudaDriver.ensureCurrent(0); // cheap when already current; JUnit may use another thread
    }

    private static long cublas() {
        if (cublas == 0) {
            cublas = Cublas.create();
            Cublas.setStream(cublas, stream);
        }
        return cublas;
    }

    private static long alloc(long bytes) {
        long p = CudaDriver.memAllocAsync(bytes, stream);
        allocations.add(p);
        return p;
    }

    private static long upload(float[] host) {
        long d = alloc(4L * host.length);
        try (Arena a = Arena.ofConfined()) {
            MemorySegment s = a.allocate(4L * host.length);
            MemorySegment.copy(host, 0, s, JAVA_FLOAT, 0, host.length);
            CudaDriver.memcpyHtoDAsync(d, s, s.byteSize(), stream);
            CudaDriver.streamSynchronize(stream);
        }
        return d;
    }

    private static long upload16(short[] host) {
        long d = alloc(2L * host.length);
        try (Arena a = Arena.ofConfined()) {
            MemorySegment s = a.allocate(2L * host.length);
            MemorySegment.copy(host, 0, s, JAVA_SHORT, 0, host.length);
            CudaDriver.memcpyHtoDAsync(d, s, s.byteSize(), stream);
            CudaDriver.streamSynchronize(stream);
        }
        return d;
    }

    private static float[] download(long d, int n) {
        try (Arena a = Arena.ofConfined()) {
            MemorySegment s = a.allocate(4L * n);
            CudaDriver.memcpyDtoHAsync(s, d, s.byteSize(), stream);
            CudaDriver.streamSynchronize(stream);
            return s.toArray(JAVA_FLOAT);
        }
    }

    private static long poisoned(int n) {
        long d = alloc(4L * n);
        CudaDriver.memsetD32Async(d, Float.floatToRawIntBits(Float.NaN), n, stream);
        return d;
    }

    private static float[] random(Random r, int n) {
        float[] x = new float[n];
        for (int i = 0; i < n; i++) x[i] = (float) r.nextGaussian();
        return x;
    }

    /** Round to nearest even, as the GPU converts. */
    private static short bf16(float f) {
        int bits = Float.floatToRawIntBits(f);
        return (short) ((bits + 0x7FFF + ((bits >>> 16) & 1)) >>> 16);
    }

    /** Row-major element (i, j) of op(X) where X is stored with row stride ld. */
    private static double at(float[] x, Operation op, int ld, int i, int j) {
        return op == Operation.N ? x[i * ld + j] : x[j * ld + i];
    }

    /**
     * Checks row-major C (m×n, stride ldc) = op(A)·op(B) element by element, with an error bound
     * proportional to Σ|a||b| (the scale of rounding errors in a dot product).
     */
    private static void checkGemm(String what, float[] c, int ldc, float[] a, Operation ta, int lda, float[] b,
                                  Operation tb, int ldb, int m, int n, int k, double[] bias, double tol) {
        for (int i = 0; i < m; i++) {
            for (int j = 0; j < n; j++) {
                double ref = bias == null ? 0 : bias[j], scale = bias == null ? 0 : Math.abs(bias[j]);
                for (int p = 0; p < k; p++) {
                    double prod = at(a, ta, lda, i, p) * at(b, tb, ldb, p, j);
                    ref += prod;
                    scale += Math.abs(prod);
                }
                double got = c[i * ldc + j];
                if (!(Math.abs(got - ref) <= tol * scale + 1e-6)) {
                    fail(what + ": C[" + i + "," + j + "] = " + got + ", expected " + ref + " (tolerance " + tol
                            + " × " + scale + "), seed " + SEED);
                }
            }
        }
    }

    // ---------------------------------------------------------------- driver

    @Test
    void deviceInfo() {
        Cuda.DeviceInfo info = Cuda.deviceInfo(0);
        System.out.println(info);
        assertFalse(info.name().isBlank());
        assertTrue(info.computeCapabilityMajor() >= 5, info.toString());
        assertTrue(info.multiprocessors() > 0);
        assertTrue(info.totalMemory() > info.freeMemory() && info.freeMemory() > 0, info.toString());
        assertTrue(info.maxSharedMemoryPerBlockOptin() >= 48 * 1024);
        assertTrue(Cuda.driverVersion() >= Cuda.MIN_DRIVER_VERSION);
        assertEquals(CudaDriver.primaryContext(0), CudaDriver.ctxGetCurrent());
        assertEquals(CudaDriver.device(0), CudaDriver.ctxGetDevice());
        assertEquals(1, CudaDriver.deviceAttribute(0, CudaDriver.DeviceAttribute.MEMORY_POOLS_SUPPORTED));
        for (Cuda.LibraryInfo l : Cuda.libraries()) assertTrue(l.usable(), l.toString());
    }

    @Test
    void allocMemsetCopyRoundTrip() {
        int n = 1_000_003; // odd on purpose
        Random r = new Random(SEED);
        byte[] pattern = new byte[n];
        r.nextBytes(pattern);
        try (Arena a = Arena.ofConfined()) {
            MemorySegment host = a.allocate(n);
            MemorySegment.copy(pattern, 0, host, JAVA_BYTE, 0, n);
            long d1 = alloc(n), d2 = alloc(n);
            CudaDriver.memsetD8Async(d2, (byte) 0x5A, n, stream);
            CudaDriver.memcpyHtoDAsync(d1, host, n, stream);
            CudaDriver.memcpyDtoDAsync(d2, d1, n - 1, stream); // leave the last byte as set
            MemorySegment back = a.allocate(n);
            CudaDriver.memcpyDtoHAsync(back, d2, n, stream);
            CudaDriver.streamSynchronize(stream);
            byte[] got = back.toArray(JAVA_BYTE);
            for (int i = 0; i < n - 1; i++) {
                if (got[i] != pattern[i]) fail("byte " + i + " differs, seed " + SEED);
            }
            assertEquals((byte) 0x5A, got[n - 1]);

            int words = 4099;
            long d3 = alloc(4L * words);
            CudaDriver.memsetD32Async(d3, 0xDEADBEEF, words, stream);
            MemorySegment w = a.allocate(4L * words);
            CudaDriver.memcpyDtoHAsync(w, d3, w.byteSize(), stream);
            CudaDriver.streamSynchronize(stream);
            for (int v : w.toArray(JAVA_INT)) assertEquals(0xDEADBEEF, v);

            assertThrows(IllegalArgumentException.class,
                    () -> CudaDriver.memcpyHtoDAsync(d1, MemorySegment.ofArray(new byte[4]), 4, stream));
            assertThrows(IndexOutOfBoundsException.class, () -> CudaDriver.memcpyDtoHAsync(w, d1, n, stream));
        }
        assertTrue(CudaDriver.streamQuery(stream));
    }

    @Test
    void pinnedHostMemoryRoundTrip() {
        int n = 1 << 20;
        MemorySegment pinned = CudaDriver.memHostAlloc(n, CudaDriver.MEMHOSTALLOC_PORTABLE);
        try {
            assertEquals(n, pinned.byteSize());
            for (int i = 0; i < n / 4; i++) pinned.setAtIndex(JAVA_INT, i, i * 31);
            long d = CudaDriver.memAlloc(n);
            try {
                CudaDriver.memcpyHtoDAsync(d, pinned, n, stream);
                CudaDriver.memsetD32Async(d, 7, 1, stream);
                CudaDriver.memcpyDtoHAsync(pinned, d, n, stream);
                CudaDriver.streamSynchronize(stream);
            } finally {
                CudaDriver.memFree(d);
            }
            assertEquals(7, pinned.getAtIndex(JAVA_INT, 0));
            for (int i = 1; i < n / 4; i++) assertEquals(i * 31, pinned.getAtIndex(JAVA_INT, i));
        } finally {
            CudaDriver.memFreeHost(pinned);
        }
    }

    @Test
    void eventTiming() {
        long start = CudaDriver.eventCreate(CudaDriver.EVENT_DEFAULT);
        long end = CudaDriver.eventCreate(CudaDriver.EVENT_BLOCKING_SYNC);
        try {
            long bytes = 256L << 20;
            long d = alloc(bytes);
            CudaDriver.eventRecord(start, stream);
            for (int i = 0; i < 4; i++) CudaDriver.memsetD32Async(d, i, bytes / 4, stream);
            CudaDriver.eventRecord(end, stream);
            CudaDriver.eventSynchronize(end);
            float ms = CudaDriver.eventElapsedTime(start, end);
            System.out.printf("4 memsets of 256 MiB: %.3f ms%n", ms);
            assertTrue(ms > 0 && ms < 10_000, "elapsed " + ms);
            long other = CudaDriver.streamCreate(CudaDriver.STREAM_DEFAULT);
            CudaDriver.streamWaitEvent(other, end);
            CudaDriver.streamSynchronize(other);
            CudaDriver.streamDestroy(other);
        } finally {
            CudaDriver.eventDestroy(start);
            CudaDriver.eventDestroy(end);
        }
    }

    private static final String SAXPY = """
            extern "C" __global__ void saxpy(int n, float a, const float* __restrict__ x, float* __restrict__ y,
                                             double bias, long long stride) {
                int i = blockIdx.x * blockDim.x + threadIdx.x;
                if (i < n) y[i * stride] = a * x[i * stride] + y[i * stride] + (float) bias;
            }
            """;

    @Test
    void nvrtcCompiledKernelLaunch() {
        System.out.println("NVRTC " + Nvrtc.version() + ", archs " + java.util.Arrays.toString(Nvrtc.supportedArchs()));
        Cuda.DeviceInfo info = Cuda.deviceInfo(0);
        Nvrtc.Compiled c = Nvrtc.compile("saxpy.cu", SAXPY,
                Nvrtc.archOption(info.computeCapabilityMajor(), info.computeCapabilityMinor()), "-std=c++17");
        assertTrue(c.cubin() != null && c.cubin().length > 0, "a real -arch gives a cubin");
        System.out.println("saxpy: cubin " + c.cubin().length + " bytes, ptx " + (c.ptx() == null ? "none"
                : c.ptx().length + " bytes") + ", log '" + c.log().strip() + "'");

        int n = 10_007;
        Random r = new Random(SEED);
        float[] x = random(r, n), y = random(r, n);
        long dx = upload(x), dy = upload(y);
        for (byte[] image : c.ptx() == null ? List.of(c.cubin()) : List.of(c.cubin(), c.ptx())) {
            long module = CudaDriver.moduleLoadData(image);
            try {
                long fn = CudaDriver.moduleGetFunction(module, "saxpy");
                assertTrue(CudaDriver.funcGetAttribute(fn, CudaDriver.FunctionAttribute.NUM_REGS) > 0);
                CudaDriver.funcSetAttribute(fn, CudaDriver.FunctionAttribute.MAX_DYNAMIC_SHARED_SIZE_BYTES, 64 * 1024);
                assertEquals(64 * 1024,
                        CudaDriver.funcGetAttribute(fn, CudaDriver.FunctionAttribute.MAX_DYNAMIC_SHARED_SIZE_BYTES));
                long dyCopy = alloc(4L * n);
                CudaDriver.memcpyDtoDAsync(dyCopy, dy, 4L * n, stream);
                CudaDriver.launchKernel(fn, (n + 255) / 256, 1, 1, 256, 1, 1, 0, stream,
                        KernelArgs.begin().i32(n).f32(2.5f).ptr(dx).ptr(dyCopy).f64(0.25).i64(1));
                float[] got = download(dyCopy, n);
                for (int i = 0; i < n; i++) {
                    float want = 2.5f * x[i] + y[i] + 0.25f;
                    assertEquals(want, got[i], 1e-5f * (1 + Math.abs(want)), "y[" + i + "], seed " + SEED);
                }
                CudaException e = assertThrows(CudaException.class,
                        () -> CudaDriver.moduleGetFunction(module, "no_such_kernel"));
                assertEquals("CUDA_ERROR_NOT_FOUND", e.statusName());
                assertTrue(e.getMessage().contains("cuModuleGetFunction") && e.getMessage().contains("no_such_kernel"),
                        e.getMessage());
            } finally {
                CudaDriver.moduleUnload(module);
            }
        }
    }

    @Test
    void nvrtcCompileErrorCarriesTheLog() {
        NvrtcCompilationException e = assertThrows(NvrtcCompilationException.class,
                () -> Nvrtc.compile("broken.cu", "extern \"C\" __global__ void k() { undefined_thing = 1; }"));
        System.out.println(e.getMessage());
        assertEquals(Nvrtc.ERROR_COMPILATION, e.status());
        assertTrue(e.log().contains("undefined_thing"), e.log());
        assertTrue(e.getMessage().contains("broken.cu"));
    }

    // ---------------------------------------------------------------- cuBLAS

    @Test
    void gemmFloat32OddShapesAllTransposes() {
        int m = 37, n = 53, k = 29;
        Random r = new Random(SEED);
        for (Operation ta : Operation.values()) {
            if (ta == Operation.C) continue;
            for (Operation tb : List.of(Operation.N, Operation.T)) {
                int lda = ta == Operation.N ? k : m, ldb = tb == Operation.N ? n : k;
                float[] a = random(r, m * k), b = random(r, k * n);
                long da = upload(a), db = upload(b), dc = poisoned(m * n);
                Cublas.setMathMode(cublas(), Cublas.MathMode.DEFAULT);
                Cublas.gemmRowMajor(cublas(), ta, tb, m, n, k, 1, da, lda, R_32F, db, ldb, R_32F, 0, dc, n, R_32F,
                        ComputeType.COMPUTE_32F);
                checkGemm("fp32 " + ta + tb, download(dc, m * n), n, a, ta, lda, b, tb, ldb, m, n, k, null, 1e-5);

                // beta = 1 accumulates onto C: 2·A·B
                Cublas.gemmRowMajor(cublas(), ta, tb, m, n, k, 1, da, lda, R_32F, db, ldb, R_32F, 1, dc, n, R_32F,
                        ComputeType.COMPUTE_32F);
                float[] twice = download(dc, m * n);
                for (int i = 0; i < twice.length; i++) twice[i] /= 2;
                checkGemm("fp32 beta=1 " + ta + tb, twice, n, a, ta, lda, b, tb, ldb, m, n, k, null, 1e-5);

                dc = poisoned(m * n);
                Cublas.setMathMode(cublas(), Cublas.MathMode.TF32_TENSOR_OP);
                Cublas.gemmRowMajor(cublas(), ta, tb, m, n, k, 1, da, lda, R_32F, db, ldb, R_32F, 0, dc, n, R_32F,
                        ComputeType.COMPUTE_32F_FAST_TF32);
                Cublas.setMathMode(cublas(), Cublas.MathMode.DEFAULT);
                checkGemm("tf32 " + ta + tb, download(dc, m * n), n, a, ta, lda, b, tb, ldb, m, n, k, null, 3e-3);
            }
        }
        assertEquals(Cublas.MathMode.DEFAULT.value, Cublas.getMathMode(cublas()));
    }

    @Test
    void gemmBf16AndFp16InputsFloat32Accumulation() {
        int m = 37, n = 53, k = 29;
        Random r = new Random(SEED + 1);
        float[] a = random(r, m * k), b = random(r, n * k); // y = a·bᵀ, b stored [n, k] like a weight
        short[] a16 = new short[a.length], b16 = new short[b.length], ah = new short[a.length], bh = new short[b.length];
        for (int i = 0; i < a.length; i++) {
            a16[i] = bf16(a[i]);
            ah[i] = Float.floatToFloat16(a[i]);
        }
        for (int i = 0; i < b.length; i++) {
            b16[i] = bf16(b[i]);
            bh[i] = Float.floatToFloat16(b[i]);
        }
        long dc = poisoned(m * n);
        Cublas.gemmRowMajor(cublas(), Operation.N, Operation.T, m, n, k, 1, upload16(a16), k, R_16BF,
                upload16(b16), k, R_16BF, 0, dc, n, R_32F, ComputeType.COMPUTE_32F);
        checkGemm("bf16", download(dc, m * n), n, a, Operation.N, k, b, Operation.T, k, m, n, k, null, 1e-2);

        long dh = poisoned(m * n);
        Cublas.gemmRowMajor(cublas(), Operation.N, Operation.T, m, n, k, 1, upload16(ah), k, R_16F,
                upload16(bh), k, R_16F, 0, dh, n, R_32F, ComputeType.COMPUTE_32F);
        checkGemm("fp16", download(dh, m * n), n, a, Operation.N, k, b, Operation.T, k, m, n, k, null, 2e-3);

        // bf16 output too (C type bf16)
        long d16 = alloc(2L * m * n);
        Cublas.gemmRowMajor(cublas(), Operation.N, Operation.T, m, n, k, 1, upload16(a16), k, R_16BF,
                upload16(b16), k, R_16BF, 0, d16, n, R_16BF, ComputeType.COMPUTE_32F);
        float[] out = new float[m * n];
        try (Arena ar = Arena.ofConfined()) {
            MemorySegment s = ar.allocate(2L * m * n);
            CudaDriver.memcpyDtoHAsync(s, d16, s.byteSize(), stream);
            CudaDriver.streamSynchronize(stream);
            for (int i = 0; i < out.length; i++) out[i] = Float.intBitsToFloat((s.getAtIndex(JAVA_SHORT, i) & 0xFFFF) << 16);
        }
        checkGemm("bf16 out", out, n, a, Operation.N, k, b, Operation.T, k, m, n, k, null, 1e-2);
    }

    @Test
    void gemmStridedBatchedLikeAttentionScores() {
        int batch = 3, m = 5, n = 7, k = 4; // scores[b] = Q[b]·K[b]ᵀ
        Random r = new Random(SEED + 2);
        float[] q = random(r, batch * m * k), kk = random(r, batch * n * k);
        long dq = upload(q), dk = upload(kk), ds = poisoned(batch * m * n);
        Cublas.gemmStridedBatchedRowMajor(cublas(), Operation.N, Operation.T, m, n, k, 1,
                dq, k, (long) m * k, R_32F, dk, k, (long) n * k, R_32F, 0, ds, n, (long) m * n, R_32F,
                batch, ComputeType.COMPUTE_32F);
        float[] s = download(ds, batch * m * n);
        for (int bi = 0; bi < batch; bi++) {
            checkGemm("batch " + bi, java.util.Arrays.copyOfRange(s, bi * m * n, (bi + 1) * m * n), n,
                    java.util.Arrays.copyOfRange(q, bi * m * k, (bi + 1) * m * k), Operation.N, k,
                    java.util.Arrays.copyOfRange(kk, bi * n * k, (bi + 1) * n * k), Operation.T, k, m, n, k, null, 1e-5);
        }
    }

    @Test
    void cublasErrorsNameTheCallAndStatus() {
        CudaException e = assertThrows(CudaException.class, () -> Cublas.gemmEx(cublas(), Operation.N, Operation.N,
                8, 8, 8, 1, 256, R_32F, 4 /* lda < m */, 512, R_32F, 8, 0, 1024, R_32F, 8, ComputeType.COMPUTE_32F));
        System.out.println(e.getMessage());
        assertEquals("CUBLAS_STATUS_INVALID_VALUE", e.statusName());
        assertTrue(e.getMessage().startsWith("Cublas.gemmEx: cublasGemmEx returned CUBLAS_STATUS_INVALID_VALUE (7)"),
                e.getMessage());
        assertTrue(e.getMessage().contains("lda=4"));
        assertFalse(Cublas.versionString().isBlank());
        assertTrue(Cublas.version(cublas()) >= 12000);
    }

    // ---------------------------------------------------------------- cuBLASLt

    @Test
    void cublasLtBiasEpilogueAndPlanCache() {
        int m = 37, n = 53, k = 29; // y = x·Wᵀ + b: x [m, k], W [n, k], b [n]
        Random r = new Random(SEED + 3);
        float[] x = random(r, m * k), w = random(r, n * k), b = random(r, n);
        double[] bias = new double[n];
        for (int j = 0; j < n; j++) bias[j] = b[j];
        long lt = CublasLt.create();
        long workspace = alloc(32L << 20);
        try (LtMatmul mm = new LtMatmul(lt, workspace, 32L << 20)) {
            LtMatmul.Problem p = LtMatmul.Problem.of(Operation.N, Operation.T, m, n, k, R_32F, ComputeType.COMPUTE_32F,
                    CublasLt.Epilogue.BIAS);
            long dx = upload(x), dw = upload(w), db = upload(b);
            for (int rep = 0; rep < 2; rep++) {
                long dy = poisoned(m * n);
                mm.run(p, dx, dw, dy, db, 0, stream);
                checkGemm("lt bias #" + rep, download(dy, m * n), n, x, Operation.N, k, w, Operation.T, k, m, n, k,
                        bias, 1e-5);
            }
            assertTrue(mm.plannedCount() >= 1 && mm.plannedCount() <= 2, "the second run reuses the plan");
            int planned = mm.plannedCount();
            mm.run(p, dx, dw, poisoned(m * n), db, 0, stream);
            assertTrue(mm.plannedCount() <= planned + 1);
            assertThrows(IllegalArgumentException.class, () -> mm.run(p, dx, dw, poisoned(m * n), 0, 0, stream));
        } finally {
            CublasLt.destroy(lt);
        }
        System.out.println("cuBLASLt " + CublasLt.versionString());
    }

    @Test
    void cublasLtBf16BiasEpilogue() {
        int m = 64, n = 48, k = 40; // y = x·Wᵀ + b in bf16 with float32 accumulation
        Random r = new Random(SEED + 6);
        float[] x = random(r, m * k), w = random(r, n * k), b = random(r, n);
        short[] x16 = new short[x.length], w16 = new short[w.length], b16 = new short[n];
        for (int i = 0; i < x.length; i++) x16[i] = bf16(x[i]);
        for (int i = 0; i < w.length; i++) w16[i] = bf16(w[i]);
        for (int i = 0; i < n; i++) b16[i] = bf16(b[i]);
        double[] bias = new double[n];
        for (int j = 0; j < n; j++) bias[j] = b[j];
        long lt = CublasLt.create();
        long workspace = alloc(32L << 20);
        try (LtMatmul mm = new LtMatmul(lt, workspace, 32L << 20)) {
            LtMatmul.Problem p = LtMatmul.Problem.of(Operation.N, Operation.T, m, n, k, R_16BF,
                    ComputeType.COMPUTE_32F, CublasLt.Epilogue.BIAS);
            long dy = alloc(2L * m * n);
            CudaDriver.memsetD8Async(dy, (byte) 0xFF, 2L * m * n, stream); // bf16 NaN everywhere
            mm.run(p, upload16(x16), upload16(w16), dy, upload16(b16), 0, stream);
            float[] y = new float[m * n];
            try (Arena ar = Arena.ofConfined()) {
                MemorySegment s = ar.allocate(2L * m * n);
                CudaDriver.memcpyDtoHAsync(s, dy, s.byteSize(), stream);
                CudaDriver.streamSynchronize(stream);
                for (int i = 0; i < y.length; i++) {
                    y[i] = Float.intBitsToFloat((s.getAtIndex(JAVA_SHORT, i) & 0xFFFF) << 16);
                }
            }
            checkGemm("lt bf16 bias", y, n, x, Operation.N, k, w, Operation.T, k, m, n, k, bias, 1e-2);
        } finally {
            CublasLt.destroy(lt);
        }
    }

    @Test
    void cublasLtBgradbIsTheBiasGradientOfAWeightGradient() {
        // dW = dYᵀ·X with dY [rows, out], X [rows, in]: op(A) = dYᵀ (m = out, k = rows), B = X (n = in).
        int rows = 40, out = 24, in = 16;
        Random r = new Random(SEED + 4);
        float[] dy = random(r, rows * out), xs = random(r, rows * in);
        long lt = CublasLt.create();
        long workspace = alloc(32L << 20);
        try (LtMatmul mm = new LtMatmul(lt, workspace, 32L << 20)) {
            LtMatmul.Problem p = LtMatmul.Problem.of(Operation.T, Operation.N, out, in, rows, R_32F,
                    ComputeType.COMPUTE_32F, CublasLt.Epilogue.BGRADB);
            long dW = poisoned(out * in), dB = poisoned(out);
            try {
                mm.run(p, upload(dy), upload(xs), dW, dB, 0, stream);
            } catch (CudaException e) {
                if (e.status() != 15) {   // anything but CUBLAS_STATUS_NOT_SUPPORTED is a failure, not a skip
                    throw e;
                }
                Assumptions.abort("BGRADB with float32 is not supported by this cuBLASLt: " + e.getMessage());
            }
            checkGemm("dW", download(dW, out * in), in, dy, Operation.T, out, xs, Operation.N, in, out, in, rows, null,
                    1e-5);
            float[] db = download(dB, out);
            for (int o = 0; o < out; o++) {
                double want = 0;
                for (int i = 0; i < rows; i++) want += dy[i * out + o];
                assertEquals(want, db[o], 1e-4 * rows, "db[" + o + "], seed " + SEED);
            }
        } finally {
            CublasLt.destroy(lt);
        }
    }

    @Test
    void cublasLtGeluAuxBiasSavesThePreActivation() {
        int m = 16, n = 32, k = 24;
        Random r = new Random(SEED + 5);
        float[] x = random(r, m * k), w = random(r, n * k), b = random(r, n);
        long lt = CublasLt.create();
        long workspace = alloc(32L << 20);
        try (LtMatmul mm = new LtMatmul(lt, workspace, 32L << 20)) {
            LtMatmul.Problem p = LtMatmul.Problem.of(Operation.N, Operation.T, m, n, k, R_32F, ComputeType.COMPUTE_32F,
                    CublasLt.Epilogue.GELU_AUX_BIAS);
            long dy = poisoned(m * n), aux = poisoned(m * n);
            mm.run(p, upload(x), upload(w), dy, upload(b), aux, stream);
            float[] pre = download(aux, m * n), y = download(dy, m * n);
            double[] bias = new double[n];
            for (int j = 0; j < n; j++) bias[j] = b[j];
            checkGemm("aux = x·Wᵀ + b", pre, n, x, Operation.N, k, w, Operation.T, k, m, n, k, bias, 1e-5);
            double maxErf = 0, maxTanh = 0;
            for (int i = 0; i < m * n; i++) {
                double v = pre[i];
                double erf = 0.5 * v * (1 + erf(v / Math.sqrt(2)));
                double tanh = 0.5 * v * (1 + Math.tanh(Math.sqrt(2 / Math.PI) * (v + 0.044715 * v * v * v)));
                maxErf = Math.max(maxErf, Math.abs(y[i] - erf));
                maxTanh = Math.max(maxTanh, Math.abs(y[i] - tanh));
            }
            System.out.printf("cuBLASLt GELU epilogue: max |y - gelu_erf| = %.3g, max |y - gelu_tanh| = %.3g%n",
                    maxErf, maxTanh);
            assertTrue(Math.min(maxErf, maxTanh) < 1e-4, "GELU matches neither form: erf " + maxErf + ", tanh " + maxTanh);
        } finally {
            CublasLt.destroy(lt);
        }
    }

    /** erf to about 1e-12 (Abramowitz-Stegun would be too coarse to tell the GELU forms apart). */
    private static double erf(double x) {
        double t = Math.abs(x), sum = 0, term = t;
        if (t > 6) return Math.signum(x);
        for (int i = 0; i < 200; i++) { // Maclaurin series, fine for |x| <= 6 in double
            double add = term / (2 * i + 1);
            sum += add;
            term *= -t * t / (i + 1);
            if (Math.abs(add) < 1e-17) break;
        }
        return Math.signum(x) * 2 / Math.sqrt(Math.PI) * sum;
    }

    // ---------------------------------------------------------------- out of memory

    @Test
    void absurdAllocationIsAnOutOfMemoryExceptionAndLeaksNothing() {
        CudaDriver.streamSynchronize(stream);
        CudaDriver.MemInfo before = CudaDriver.memGetInfo();
        long petabyte = 1L << 50;
        CudaOutOfMemoryException e = assertThrows(CudaOutOfMemoryException.class,
                () -> CudaDriver.memAllocAsync(petabyte, stream));
        System.out.println(e.getMessage());
        assertEquals(petabyte, e.requestedBytes());
        assertEquals(before.total(), e.totalBytes());
        assertTrue(e.freeBytes() > 0);
        assertTrue(e.getMessage().contains("requested 1125899906842624 bytes (1.0 PiB)"), e.getMessage());
        assertTrue(e.getMessage().contains("CUDA_ERROR_OUT_OF_MEMORY"), e.getMessage());
        CudaOutOfMemoryException sync = assertThrows(CudaOutOfMemoryException.class,
                () -> CudaDriver.memAlloc(petabyte));
        assertNotEquals(null, sync.getMessage());
        // the context is still usable, and nothing was leaked
        long p = CudaDriver.memAllocAsync(1024, stream);
        CudaDriver.memFreeAsync(p, stream);
        CudaDriver.streamSynchronize(stream);
        CudaDriver.MemInfo after = CudaDriver.memGetInfo();
        assertEquals(before.total(), after.total());
        // Nothing lost. (Free memory may grow a little: the pool can return memory it held in reserve.)
        assertTrue(after.free() >= before.free(), "free memory shrank: before " + before + ", after " + after);
    }

    @Test
    void memPoolAttributes() {
        long pool = CudaDriver.defaultMemPool(0);
        long threshold = CudaDriver.memPoolGetAttribute(pool, CudaDriver.MemPoolAttribute.RELEASE_THRESHOLD);
        CudaDriver.setMemPoolReleaseThreshold(0, 64L << 20);
        assertEquals(64L << 20, CudaDriver.memPoolGetAttribute(pool, CudaDriver.MemPoolAttribute.RELEASE_THRESHOLD));
        CudaDriver.memPoolSetAttribute(pool, CudaDriver.MemPoolAttribute.RELEASE_THRESHOLD, threshold);
        assertTrue(CudaDriver.memPoolGetAttribute(pool, CudaDriver.MemPoolAttribute.USED_MEM_CURRENT) >= 0);
        CudaDriver.memPoolTrimTo(pool, 0);
    }
}
