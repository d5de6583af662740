package dev.solder.cuda;

import static java.lang.foreign.ValueLayout.ADDRESS;
import static java.lang.foreign.ValueLayout.JAVA_DOUBLE;
import static java.lang.foreign.ValueLayout.JAVA_FLOAT;
import static java.lang.foreign.ValueLayout.JAVA_INT;
import static java.lang.foreign.ValueLayout.JAVA_LONG;
import static java.lang.foreign.ValueLayout.JAVA_SHORT;

import java.lang.foreign.FunctionDescriptor;
import java.lang.foreign.Linker;
import java.lang.foreign.MemoryLayout;
import java.lang.foreign.MemorySegment;
import java.lang.invoke.MethodHandle;
import java.util.Map;
import java.util.Optional;

/**
 * cuBLAS ({@code libcublas.so.13}, {@code .so.12}): handles and the mixed-precision GEMMs.
 *
 * <p>cuBLAS is column-major. Solder's tensors are row-major, and a row-major matrix is the
 * column-major view of its transpose, so the row-major product {@code C = op(A)·op(B)} is computed
 * as the column-major product {@code Cᵀ = op(B)ᵀ·op(A)ᵀ}: swap the operands (and {@code m} with
 * {@code n}), keep the transpose flags and leading dimensions. {@link #gemmRowMajor} and
 * {@link #gemmStridedBatchedRowMajor} do exactly that; {@link #gemmEx} and
 * {@link #gemmStridedBatchedEx} are the plain column-major calls.
 *
 * <p>Handles and device pointers are {@code long}s. {@code alpha} and {@code beta} are passed by
 * host pointer (the default pointer mode), converted to the compute type's scale type.
 */
public final class Cublas {
    private Cublas() {}

    /** {@code CUBLAS_STATUS_SUCCESS}. */
    public static final int STATUS_SUCCESS = 0;
    /** {@code CUBLAS_GEMM_DEFAULT}: let cuBLAS choose the algorithm. */
    public static final int GEMM_DEFAULT = -1;
    /** {@code CUBLAS_MATH_DISALLOW_REDUCED_PRECISION_REDUCTION}, to OR into a math mode. */
    public static final int MATH_DISALLOW_REDUCED_PRECISION_REDUCTION = 16;

    /** {@code cublasOperation_t}. */
    public enum Operation {
        /** No transpose. */
        N(0),
        /** Transpose. */
        T(1),
        /** Conjugate transpose (same as T for real types). */
        C(2);

        /** The value in {@code cublas_api.h}. */
        public final int value;

        Operation(int value) { this.value = value; }
    }

    /** {@code cublasMath_t}. */
    public enum MathMode {
        /** Full float32 for float32 GEMMs; tensor cores for half/bf16 inputs. */
        DEFAULT(0),
        /** Deprecated alias of DEFAULT with tensor ops allowed. */
        TENSOR_OP(1),
        /** Strict IEEE, no tensor cores. */
        PEDANTIC(2),
        /** float32 GEMMs may use TF32 tensor cores (about 10 bits of mantissa). */
        TF32_TENSOR_OP(3);

        /** The value in {@code cublas_api.h}. */
        public final int value;

        MathMode(int value) { this.value = value; }
    }

    /** {@code cublasComputeType_t}, with the data type of its {@code alpha}/{@code beta}. */
    public enum ComputeType {
        COMPUTE_16F(64, CudaDataType.R_16F),
        COMPUTE_16F_PEDANTIC(65, CudaDataType.R_16F),
        /** float32 accumulation: the one to use with float32, bf16 and fp16 inputs. */
        COMPUTE_32F(68, CudaDataType.R_32F),
        COMPUTE_32F_PEDANTIC(69, CudaDataType.R_32F),
        COMPUTE_32F_FAST_16F(74, CudaDataType.R_32F),
        COMPUTE_32F_FAST_16BF(75, CudaDataType.R_32F),
        /** float32 inputs rounded to TF32 on tensor cores, float32 accumulation. */
        COMPUTE_32F_FAST_TF32(77, CudaDataType.R_32F),
        COMPUTE_64F(70, CudaDataType.R_64F),
        COMPUTE_64F_PEDANTIC(71, CudaDataType.R_64F),
        COMPUTE_32I(72, CudaDataType.R_32I);

        /** The value in {@code cublas_api.h}. */
        public final int value;
        /** The type of {@code alpha} and {@code beta} for this compute type. */
        public final CudaDataType scaleType;

        ComputeType(int value, CudaDataType scaleType) {
            this.value = value;
            this.scaleType = scaleType;
        }
    }

    private static final class H {
        static final NativeLibrary LIB = NativeLibrary.of(LibraryLocator.Library.CUBLAS);
        private static final Linker.Option[] NONE = {};
        private static final Linker.Option[] CRITICAL = {Linker.Option.critical(false)};

        static MethodHandle h(String name, Linker.Option[] o, MemoryLayout... args) {
            return LIB.downcall(name, FunctionDescriptor.of(JAVA_INT, args), o);
        }

        static final MethodHandle cublasGetStatusName =
                LIB.downcall("cublasGetStatusName", FunctionDescriptor.of(ADDRESS, JAVA_INT), CRITICAL);
        static final MethodHandle cublasGetStatusString =
                LIB.downcall("cublasGetStatusString", FunctionDescriptor.of(ADDRESS, JAVA_INT), CRITICAL);
        static final MethodHandle cublasGetProperty = h("cublasGetProperty", CRITICAL, JAVA_INT, ADDRESS);
        static final MethodHandle cublasCreate = h("cublasCreate_v2", NONE, ADDRESS);
        static final MethodHandle cublasDestroy = h("cublasDestroy_v2", NONE, ADDRESS);
        static final MethodHandle cublasGetVersion = h("cublasGetVersion_v2", NONE, ADDRESS, ADDRESS);
        static final MethodHandle cublasSetStream = h("cublasSetStream_v2", NONE, ADDRESS, ADDRESS);
        static final MethodHandle cublasSetWorkspace =
                h("cublasSetWorkspace_v2", NONE, ADDRESS, ADDRESS, JAVA_LONG);
        static final MethodHandle cublasSetMathMode = h("cublasSetMathMode", NONE, ADDRESS, JAVA_INT);
        static final MethodHandle cublasGetMathMode = h("cublasGetMathMode", NONE, ADDRESS, ADDRESS);
        // handle, transa, transb, m, n, k, alpha, A, Atype, lda, B, Btype, ldb, beta, C, Ctype, ldc,
        // computeType, algo. The device pointers A, B, C are `void*` in C and JAVA_LONG here: Solder's
        // device pointers are longs, and on LP64 (x86-64 SysV, AArch64) a pointer and a 64-bit integer
        // are passed identically, in a general register or an 8-byte stack slot.
        static final MethodHandle cublasGemmEx = h("cublasGemmEx", NONE,
                ADDRESS, JAVA_INT, JAVA_INT, JAVA_INT, JAVA_INT, JAVA_INT,
                ADDRESS, JAVA_LONG, JAVA_INT, JAVA_INT,
                JAVA_LONG, JAVA_INT, JAVA_INT,
                ADDRESS, JAVA_LONG, JAVA_INT, JAVA_INT,
                JAVA_INT, JAVA_INT);
        // ... with long long strideA/B/C after each leading dimension and int batchCount before computeType
        static final MethodHandle cublasGemmStridedBatchedEx = h("cublasGemmStridedBatchedEx", NONE,
                ADDRESS, JAVA_INT, JAVA_INT, JAVA_INT, JAVA_INT, JAVA_INT,
                ADDRESS, JAVA_LONG, JAVA_INT, JAVA_INT, JAVA_LONG,
                JAVA_LONG, JAVA_INT, JAVA_INT, JAVA_LONG,
                ADDRESS, JAVA_LONG, JAVA_INT, JAVA_INT, JAVA_LONG,
                JAVA_INT, JAVA_INT, JAVA_INT);
    }

    // ---------------------------------------------------------------- errors

    /** Names and texts of {@code cublasStatus_t}s, from {@code cublasGetStatusName}/{@code String}. */
    public static final CudaException.StatusDescriber STATUS = new CudaException.StatusDescriber() {
        @Override
        public String name(int status) {
            String n = cString(H.cublasGetStatusName, status);
            return n != null ? n : NAMES.get(status);
        }

        @Override
        public String text(int status) {
            return cString(H.cublasGetStatusString, status);
        }
    };

    /** All {@code cublasStatus_t} values (cublas_api.h), for when the library cannot name them. */
    static final Map<Integer, String> NAMES = Map.of(
            0, "CUBLAS_STATUS_SUCCESS", 1, "CUBLAS_STATUS_NOT_INITIALIZED", 3, "CUBLAS_STATUS_ALLOC_FAILED",
            7, "CUBLAS_STATUS_INVALID_VALUE", 8, "CUBLAS_STATUS_ARCH_MISMATCH", 11, "CUBLAS_STATUS_MAPPING_ERROR",
            13, "CUBLAS_STATUS_EXECUTION_FAILED", 14, "CUBLAS_STATUS_INTERNAL_ERROR",
            15, "CUBLAS_STATUS_NOT_SUPPORTED", 16, "CUBLAS_STATUS_LICENSE_ERROR");

    static String cString(MethodHandle fn, int status) {
        try {
            MemorySegment p = (MemorySegment) fn.invokeExact(status);
            return p.equals(MemorySegment.NULL) ? null : p.reinterpret(4096).getString(0);
        } catch (Throwable t) {
            return null;
        }
    }

    private static CudaException fail(int rc, String wrapper, String function, Object... details) {
        return CudaException.of("Cublas." + wrapper, function, rc, STATUS, CudaException.details(details));
    }

    private static MemorySegment ptr(long address) {
        return address == 0 ? MemorySegment.NULL : MemorySegment.ofAddress(address);
    }

    // ---------------------------------------------------------------- handles

    /**
     * {@code cublasCreate_v2}: a handle bound to the current context's device (make the context
     * current first, {@link CudaDriver#ensureCurrent}).
     */
    public static long create() {
        MemorySegment s = Scratch.get();
        int rc;
        try {
            rc = (int) H.cublasCreate.invokeExact(s);
        } catch (Throwable t) {
            throw NativeLibrary.rethrow(t);
        }
        if (rc != STATUS_SUCCESS) throw fail(rc, "create", "cublasCreate_v2");
        return s.get(JAVA_LONG, 0);
    }

    /** {@code cublasDestroy_v2}. */
    public static void destroy(long handle) {
        int rc;
        try {
            rc = (int) H.cublasDestroy.invokeExact(ptr(handle));
        } catch (Throwable t) {
            throw NativeLibrary.rethrow(t);
        }
        if (rc != STATUS_SUCCESS) throw fail(rc, "destroy", "cublasDestroy_v2", "handle", handle);
    }

    /** {@code cublasSetStream_v2}: later calls on {@code handle} run on {@code stream}. */
    public static void setStream(long handle, long stream) {
        int rc;
        try {
            rc = (int) H.cublasSetStream.invokeExact(ptr(handle), ptr(stream));
        } catch (Throwable t) {
            throw NativeLibrary.rethrow(t);
        }
        if (rc != STATUS_SUCCESS) throw fail(rc, "setStream", "cublasSetStream_v2", "handle", handle, "stream", stream);
    }

    /**
     * {@code cublasSetWorkspace_v2}: a device buffer cuBLAS may use instead of allocating its own
     * (NVIDIA recommends 32 MiB on Hopper, 4 MiB before). It must outlive the work that uses it.
     */
    public static void setWorkspace(long handle, long workspace, long bytes) {
        int rc;
        try {
            rc = (int) H.cublasSetWorkspace.invokeExact(ptr(handle), ptr(workspace), bytes);
        } catch (Throwable t) {
            throw NativeLibrary.rethrow(t);
        }
        if (rc != STATUS_SUCCESS) {
            throw fail(rc, "setWorkspace", "cublasSetWorkspace_v2", "handle", handle, "workspace", workspace,
                    "bytes", bytes);
        }
    }

    /** {@code cublasSetMathMode}. */
    public static void setMathMode(long handle, MathMode mode) {
        setMathMode(handle, mode.value);
    }

    /** {@code cublasSetMathMode} with a raw value, e.g. {@code DEFAULT | MATH_DISALLOW_REDUCED_PRECISION_REDUCTION}. */
    public static void setMathMode(long handle, int mode) {
        int rc;
        try {
            rc = (int) H.cublasSetMathMode.invokeExact(ptr(handle), mode);
        } catch (Throwable t) {
            throw NativeLibrary.rethrow(t);
        }
        if (rc != STATUS_SUCCESS) throw fail(rc, "setMathMode", "cublasSetMathMode", "handle", handle, "mode", mode);
    }

    /** {@code cublasGetMathMode}: the raw {@code cublasMath_t} value. */
    public static int getMathMode(long handle) {
        MemorySegment s = Scratch.get();
        int rc;
        try {
            rc = (int) H.cublasGetMathMode.invokeExact(ptr(handle), s);
        } catch (Throwable t) {
            throw NativeLibrary.rethrow(t);
        }
        if (rc != STATUS_SUCCESS) throw fail(rc, "getMathMode", "cublasGetMathMode", "handle", handle);
        return s.get(JAVA_INT, 0);
    }

    /** {@code cublasGetVersion_v2}: e.g. {@code 130100} for 13.1.0. */
    public static int version(long handle) {
        MemorySegment s = Scratch.get();
        int rc;
        try {
            rc = (int) H.cublasGetVersion.invokeExact(ptr(handle), s);
        } catch (Throwable t) {
            throw NativeLibrary.rethrow(t);
        }
        if (rc != STATUS_SUCCESS) throw fail(rc, "version", "cublasGetVersion_v2", "handle", handle);
        return s.get(JAVA_INT, 0);
    }

    /**
     * {@code cublasGetProperty}: 0 major, 1 minor, 2 patch ({@code libraryPropertyType}). Needs no
     * handle and no GPU.
     */
    public static int property(int type) {
        MemorySegment s = Scratch.get();
        int rc;
        try {
            rc = (int) H.cublasGetProperty.invokeExact(type, s);
        } catch (Throwable t) {
            throw NativeLibrary.rethrow(t);
        }
        if (rc != STATUS_SUCCESS) throw fail(rc, "property", "cublasGetProperty", "type", type);
        return s.get(JAVA_INT, 0);
    }

    /** The library's version as {@code major.minor.patch}, without a handle or a GPU. */
    public static String versionString() {
        return property(0) + "." + property(1) + "." + property(2);
    }

    // ---------------------------------------------------------------- GEMM

    /**
     * Writes {@code alpha} at offset 0 and {@code beta} at offset 16 of this thread's scratch, in
     * the scale type of {@code compute}; cuBLAS reads them (host pointer mode) before returning.
     */
    static MemorySegment scalars(ComputeType compute, double alpha, double beta) {
        MemorySegment s = Scratch.get();
        switch (compute.scaleType) {
            case R_64F -> {
                s.set(JAVA_DOUBLE, 0, alpha);
                s.set(JAVA_DOUBLE, 16, beta);
            }
            case R_16F -> {
                s.set(JAVA_SHORT, 0, Float.floatToFloat16((float) alpha));
                s.set(JAVA_SHORT, 16, Float.floatToFloat16((float) beta));
            }
            case R_32I -> {
                s.set(JAVA_INT, 0, (int) alpha);
                s.set(JAVA_INT, 16, (int) beta);
            }
            default -> {
                s.set(JAVA_FLOAT, 0, (float) alpha);
                s.set(JAVA_FLOAT, 16, (float) beta);
            }
        }
        return s;
    }

    /**
     * {@code cublasGemmEx}, column-major: {@code C = alpha·op(A)·op(B) + beta·C} with {@code op(A)}
     * {@code m×k}, {@code op(B)} {@code k×n}, {@code C} {@code m×n}.
     */
    public static void gemmEx(long handle, Operation transA, Operation transB, int m, int n, int k,
                              double alpha, long a, CudaDataType aType, int lda,
                              long b, CudaDataType bType, int ldb,
                              double beta, long c, CudaDataType cType, int ldc, ComputeType compute) {
        int rc = gemm(handle, transA, transB, m, n, k, alpha, a, aType, lda, b, bType, ldb, beta, c, cType, ldc,
                compute);
        if (rc != STATUS_SUCCESS) {
            throw fail(rc, "gemmEx", "cublasGemmEx", "transA", transA, "transB", transB, "m", m, "n", n, "k", k,
                    "A", a, "aType", aType, "lda", lda, "B", b, "bType", bType, "ldb", ldb,
                    "C", c, "cType", cType, "ldc", ldc, "compute", compute, "alpha", alpha, "beta", beta);
        }
    }

    private static int gemm(long handle, Operation transA, Operation transB, int m, int n, int k,
                            double alpha, long a, CudaDataType aType, int lda,
                            long b, CudaDataType bType, int ldb,
                            double beta, long c, CudaDataType cType, int ldc, ComputeType compute) {
        MemorySegment s = scalars(compute, alpha, beta);
        try {
            return (int) H.cublasGemmEx.invokeExact(ptr(handle), transA.value, transB.value, m, n, k,
                    s, a, aType.value, lda,
                    b, bType.value, ldb,
                    s.asSlice(16), c, cType.value, ldc,
                    compute.value, GEMM_DEFAULT);
        } catch (Throwable t) {
            throw NativeLibrary.rethrow(t);
        }
    }

    /**
     * {@code cublasGemmStridedBatchedEx}, column-major: {@code batch} independent GEMMs whose
     * matrices sit {@code strideA/B/C} elements apart.
     */
    public static void gemmStridedBatchedEx(long handle, Operation transA, Operation transB, int m, int n, int k,
                                            double alpha, long a, CudaDataType aType, int lda, long strideA,
                                            long b, CudaDataType bType, int ldb, long strideB,
                                            double beta, long c, CudaDataType cType, int ldc, long strideC,
                                            int batch, ComputeType compute) {
        int rc = gemmBatched(handle, transA, transB, m, n, k, alpha, a, aType, lda, strideA, b, bType, ldb, strideB,
                beta, c, cType, ldc, strideC, batch, compute);
        if (rc != STATUS_SUCCESS) {
            throw fail(rc, "gemmStridedBatchedEx", "cublasGemmStridedBatchedEx", "transA", transA, "transB", transB,
                    "m", m, "n", n, "k", k, "A", a, "aType", aType, "lda", lda, "strideA", strideA,
                    "B", b, "bType", bType, "ldb", ldb, "strideB", strideB, "C", c, "cType", cType, "ldc", ldc,
                    "strideC", strideC, "batch", batch, "compute", compute);
        }
    }

    private static int gemmBatched(long handle, Operation transA, Operation transB, int m, int n, int k,
                                   double alpha, long a, CudaDataType aType, int lda, long strideA,
                                   long b, CudaDataType bType, int ldb, long strideB,
                                   double beta, long c, CudaDataType cType, int ldc, long strideC,
                                   int batch, ComputeType compute) {
        MemorySegment s = scalars(compute, alpha, beta);
        try {
            return (int) H.cublasGemmStridedBatchedEx.invokeExact(ptr(handle), transA.value, transB.value, m, n, k,
                    s, a, aType.value, lda, strideA,
                    b, bType.value, ldb, strideB,
                    s.asSlice(16), c, cType.value, ldc, strideC,
                    batch, compute.value, GEMM_DEFAULT);
        } catch (Throwable t) {
            throw NativeLibrary.rethrow(t);
        }
    }

    /**
     * Row-major {@code C = alpha·op(A)·op(B) + beta·C}: {@code op(A)} is {@code m×k}, {@code op(B)}
     * {@code k×n}, {@code C} {@code m×n}; {@code lda}, {@code ldb}, {@code ldc} are row strides in
     * elements (for a dense {@code A} stored {@code m×k}, {@code lda = k}; stored {@code k×m} and
     * used transposed, {@code lda = m}). Runs {@code Cᵀ = op(B)ᵀ·op(A)ᵀ} in cuBLAS's column-major
     * terms: operands and {@code m}/{@code n} swapped, flags and leading dimensions unchanged.
     *
     * <p>A linear layer {@code y = x·Wᵀ} with {@code x} {@code [N, in]}, {@code W} {@code [out, in]}:
     * <pre>{@code
     * gemmRowMajor(h, Operation.N, Operation.T, N, out, in, 1, x, in, R_32F, w, in, R_32F, 0, y, out, R_32F,
     *         ComputeType.COMPUTE_32F);
     * }</pre>
     * float32 inputs with {@code COMPUTE_32F_FAST_TF32} use TF32 tensor cores; bf16/fp16 inputs
     * take {@code COMPUTE_32F} (float32 accumulation).
     */
    public static void gemmRowMajor(long handle, Operation transA, Operation transB, int m, int n, int k,
                                    double alpha, long a, int lda, CudaDataType aType,
                                    long b, int ldb, CudaDataType bType,
                                    double beta, long c, int ldc, CudaDataType cType, ComputeType compute) {
        int rc = gemm(handle, transB, transA, n, m, k, alpha, b, bType, ldb, a, aType, lda, beta, c, cType, ldc,
                compute);
        if (rc != STATUS_SUCCESS) {
            throw fail(rc, "gemmRowMajor", "cublasGemmEx (operands swapped for row-major)", "transA", transA,
                    "transB", transB, "m", m, "n", n, "k", k, "A", a, "lda", lda, "aType", aType,
                    "B", b, "ldb", ldb, "bType", bType, "C", c, "ldc", ldc, "cType", cType, "compute", compute,
                    "alpha", alpha, "beta", beta);
        }
    }

    /**
     * Row-major strided batched GEMM: for each {@code i < batch},
     * {@code C_i = alpha·op(A_i)·op(B_i) + beta·C_i} with {@code A_i = A + i·strideA} elements (and
     * so on), shapes and leading dimensions as in {@link #gemmRowMajor}. Attention's
     * {@code Q·Kᵀ} over all (batch, head) pairs is one call.
     */
    public static void gemmStridedBatchedRowMajor(long handle, Operation transA, Operation transB,
                                                  int m, int n, int k, double alpha,
                                                  long a, int lda, long strideA, CudaDataType aType,
                                                  long b, int ldb, long strideB, CudaDataType bType,
                                                  double beta, long c, int ldc, long strideC, CudaDataType cType,
                                                  int batch, ComputeType compute) {
        int rc = gemmBatched(handle, transB, transA, n, m, k, alpha, b, bType, ldb, strideB, a, aType, lda, strideA,
                beta, c, cType, ldc, strideC, batch, compute);
        if (rc != STATUS_SUCCESS) {
            throw fail(rc, "gemmStridedBatchedRowMajor", "cublasGemmStridedBatchedEx (operands swapped for row-major)",
                    "transA", transA, "transB", transB, "m", m, "n", n, "k", k, "A", a, "lda", lda,
                    "strideA", strideA, "aType", aType, "B", b, "ldb", ldb, "strideB", strideB, "bType", bType,
                    "C", c, "ldc", ldc, "strideC", strideC, "cType", cType, "batch", batch, "compute", compute);
        }
    }

    // ---------------------------------------------------------------- library facts

    /** Where cuBLAS was loaded from; empty when it was not found. Loads it if needed. */
    public static Optional<String> libraryLocation() {
        return H.LIB.location();
    }

    /** Why cuBLAS is not loaded; empty when it is. Loads it if needed. */
    public static Optional<CudaLibraryNotFoundException> libraryFailure() {
        return H.LIB.failure();
    }
}
