package dev.solder.cuda;

import static java.lang.foreign.ValueLayout.ADDRESS;
import static java.lang.foreign.ValueLayout.JAVA_FLOAT;
import static java.lang.foreign.ValueLayout.JAVA_INT;
import static java.lang.foreign.ValueLayout.JAVA_LONG;

import java.lang.foreign.Arena;
import java.lang.foreign.FunctionDescriptor;
import java.lang.foreign.Linker;
import java.lang.foreign.MemoryLayout;
import java.lang.foreign.MemorySegment;
import java.lang.invoke.MethodHandle;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;

/**
 * cuBLASLt ({@code libcublasLt.so.13}, {@code .so.12}): matmuls with fused epilogues (bias,
 * GELU with its saved input, their gradients, bias gradients).
 *
 * <p>These are the raw, column-major calls; {@link LtMatmul} builds the descriptors for a
 * row-major product and caches the algorithm choice per shape. Handles and descriptors are
 * {@code long}s; descriptors must be destroyed by their {@code ...Destroy} call.
 */
public final class CublasLt {
    private CublasLt() {}

    /** Bytes of one {@code cublasLtMatmulAlgo_t} ({@code uint64_t data[8]}). */
    public static final long ALGO_BYTES = 64;
    /**
     * Bytes of one {@code cublasLtMatmulHeuristicResult_t}: {@code algo} (64), {@code size_t
     * workspaceSize} at 64, {@code cublasStatus_t state} at 72, {@code float wavesCount} at 76,
     * {@code int reserved[4]} at 80.
     */
    public static final long HEURISTIC_RESULT_BYTES = 96;

    /** {@code cublasLtEpilogue_t} (cublasLt.h). */
    public enum Epilogue {
        DEFAULT(1),
        RELU(2),
        RELU_AUX(2 | 128),
        BIAS(4),
        RELU_BIAS(2 | 4),
        RELU_AUX_BIAS(2 | 128 | 4),
        DRELU(8 | 128),
        DRELU_BGRAD(8 | 128 | 16),
        GELU(32),
        GELU_AUX(32 | 128),
        GELU_BIAS(32 | 4),
        /** GELU(x + bias), saving x + bias in the aux buffer for the backward pass. */
        GELU_AUX_BIAS(32 | 128 | 4),
        /** Multiplies the product by GELU'(aux). */
        DGELU(64 | 128),
        DGELU_BGRAD(64 | 128 | 16),
        /** Bias gradient from the (column-major) A operand: sums over k, length = rows of D. */
        BGRADA(256),
        /** Bias gradient from the (column-major) B operand: sums over k, length = columns of D. */
        BGRADB(512);

        /** The value in {@code cublasLt.h}. */
        public final int value;

        Epilogue(int value) { this.value = value; }

        /** True when the epilogue reads or writes the aux buffer (bit 128). */
        public boolean usesAux() { return (value & 128) != 0; }

        /** True when the epilogue reads a bias or writes a bias gradient. */
        public boolean usesBias() { return (value & 4) != 0 || (value & 16) != 0 || value == 256 || value == 512; }
    }

    /** How wide an attribute's value is. */
    public enum Width {
        INT32(4), INT64(8), POINTER(8);

        final long bytes;

        Width(long bytes) { this.bytes = bytes; }
    }

    /** {@code cublasLtMatmulDescAttributes_t} (cublasLt.h) with their value widths. */
    public enum MatmulDescAttribute {
        COMPUTE_TYPE(0, Width.INT32),
        SCALE_TYPE(1, Width.INT32),
        POINTER_MODE(2, Width.INT32),
        TRANSA(3, Width.INT32),
        TRANSB(4, Width.INT32),
        TRANSC(5, Width.INT32),
        FILL_MODE(6, Width.INT32),
        /** {@code uint32_t}. */
        EPILOGUE(7, Width.INT32),
        BIAS_POINTER(8, Width.POINTER),
        BIAS_BATCH_STRIDE(10, Width.INT64),
        EPILOGUE_AUX_POINTER(11, Width.POINTER),
        EPILOGUE_AUX_LD(12, Width.INT64),
        EPILOGUE_AUX_BATCH_STRIDE(13, Width.INT64),
        SM_COUNT_TARGET(15, Width.INT32),
        EPILOGUE_AUX_DATA_TYPE(22, Width.INT32),
        BIAS_DATA_TYPE(26, Width.INT32);

        /** The value in {@code cublasLt.h}. */
        public final int value;
        /** The width of the attribute's value. */
        public final Width width;

        MatmulDescAttribute(int value, Width width) {
            this.value = value;
            this.width = width;
        }
    }

    /** {@code cublasLtMatrixLayoutAttribute_t} (cublasLt.h) with their value widths. */
    public enum MatrixLayoutAttribute {
        /** {@code uint32_t}. */
        TYPE(0, Width.INT32),
        /** {@code int32_t}, a {@link Order}. */
        ORDER(1, Width.INT32),
        ROWS(2, Width.INT64),
        COLS(3, Width.INT64),
        LD(4, Width.INT64),
        BATCH_COUNT(5, Width.INT32),
        /** Elements between consecutive matrices of a batch, {@code int64_t}. */
        STRIDED_BATCH_OFFSET(6, Width.INT64);

        /** The value in {@code cublasLt.h}. */
        public final int value;
        /** The width of the attribute's value. */
        public final Width width;

        MatrixLayoutAttribute(int value, Width width) {
            this.value = value;
            this.width = width;
        }
    }

    /** {@code cublasLtMatmulPreferenceAttributes_t} (cublasLt.h) with their value widths. */
    public enum PreferenceAttribute {
        SEARCH_MODE(0, Width.INT32),
        /** {@code uint64_t}: the most workspace an algorithm may use. */
        MAX_WORKSPACE_BYTES(1, Width.INT64),
        MIN_ALIGNMENT_A_BYTES(5, Width.INT32),
        MIN_ALIGNMENT_B_BYTES(6, Width.INT32),
        MIN_ALIGNMENT_C_BYTES(7, Width.INT32),
        MIN_ALIGNMENT_D_BYTES(8, Width.INT32);

        /** The value in {@code cublasLt.h}. */
        public final int value;
        /** The width of the attribute's value. */
        public final Width width;

        PreferenceAttribute(int value, Width width) {
            this.value = value;
            this.width = width;
        }
    }

    /** {@code cublasLtOrder_t}. */
    public enum Order {
        COL(0), ROW(1);

        /** The value in {@code cublasLt.h}. */
        public final int value;

        Order(int value) { this.value = value; }
    }

    /** One result of {@link #algoGetHeuristic}; {@code algo} is the 64-byte algorithm to pass to {@link #matmul}. */
    public record HeuristicResult(MemorySegment algo, long workspaceSize, int state, float wavesCount) {}

    private static final class H {
        static final NativeLibrary LIB = NativeLibrary.of(LibraryLocator.Library.CUBLAS_LT);
        private static final Linker.Option[] NONE = {};
        // Attribute setters only copy a few bytes into a host-side descriptor: no blocking, no callbacks.
        private static final Linker.Option[] CRITICAL = {Linker.Option.critical(false)};

        static MethodHandle h(String name, Linker.Option[] o, MemoryLayout... args) {
            return LIB.downcall(name, FunctionDescriptor.of(JAVA_INT, args), o);
        }

        static final MethodHandle cublasLtGetStatusName =
                LIB.downcall("cublasLtGetStatusName", FunctionDescriptor.of(ADDRESS, JAVA_INT), CRITICAL);
        static final MethodHandle cublasLtGetStatusString =
                LIB.downcall("cublasLtGetStatusString", FunctionDescriptor.of(ADDRESS, JAVA_INT), CRITICAL);
        static final MethodHandle cublasLtGetVersion =
                LIB.downcall("cublasLtGetVersion", FunctionDescriptor.of(JAVA_LONG), CRITICAL);
        static final MethodHandle cublasLtCreate = h("cublasLtCreate", NONE, ADDRESS);
        static final MethodHandle cublasLtDestroy = h("cublasLtDestroy", NONE, ADDRESS);
        static final MethodHandle cublasLtMatmulDescCreate =
                h("cublasLtMatmulDescCreate", NONE, ADDRESS, JAVA_INT, JAVA_INT);
        static final MethodHandle cublasLtMatmulDescDestroy = h("cublasLtMatmulDescDestroy", NONE, ADDRESS);
        static final MethodHandle cublasLtMatmulDescSetAttribute =
                h("cublasLtMatmulDescSetAttribute", CRITICAL, ADDRESS, JAVA_INT, ADDRESS, JAVA_LONG);
        // (cublasLtMatrixLayout_t*, cudaDataType, uint64_t rows, uint64_t cols, int64_t ld)
        static final MethodHandle cublasLtMatrixLayoutCreate =
                h("cublasLtMatrixLayoutCreate", NONE, ADDRESS, JAVA_INT, JAVA_LONG, JAVA_LONG, JAVA_LONG);
        static final MethodHandle cublasLtMatrixLayoutDestroy = h("cublasLtMatrixLayoutDestroy", NONE, ADDRESS);
        static final MethodHandle cublasLtMatrixLayoutSetAttribute =
                h("cublasLtMatrixLayoutSetAttribute", CRITICAL, ADDRESS, JAVA_INT, ADDRESS, JAVA_LONG);
        static final MethodHandle cublasLtMatmulPreferenceCreate = h("cublasLtMatmulPreferenceCreate", NONE, ADDRESS);
        static final MethodHandle cublasLtMatmulPreferenceDestroy =
                h("cublasLtMatmulPreferenceDestroy", NONE, ADDRESS);
        static final MethodHandle cublasLtMatmulPreferenceSetAttribute =
                h("cublasLtMatmulPreferenceSetAttribute", CRITICAL, ADDRESS, JAVA_INT, ADDRESS, JAVA_LONG);
        // (handle, desc, Adesc, Bdesc, Cdesc, Ddesc, preference, int requested, results[], int* returned)
        static final MethodHandle cublasLtMatmulAlgoGetHeuristic = h("cublasLtMatmulAlgoGetHeuristic", NONE,
                ADDRESS, ADDRESS, ADDRESS, ADDRESS, ADDRESS, ADDRESS, ADDRESS, JAVA_INT, ADDRESS, ADDRESS);
        // (handle, desc, alpha*, A, Adesc, B, Bdesc, beta*, C, Cdesc, D, Ddesc, algo*, workspace, size_t, stream);
        // device pointers A, B, C, D and workspace as JAVA_LONG: same passing as a pointer on LP64.
        static final MethodHandle cublasLtMatmul = h("cublasLtMatmul", NONE,
                ADDRESS, ADDRESS, ADDRESS, JAVA_LONG, ADDRESS, JAVA_LONG, ADDRESS, ADDRESS,
                JAVA_LONG, ADDRESS, JAVA_LONG, ADDRESS, ADDRESS, JAVA_LONG, JAVA_LONG, ADDRESS);
    }

    // ---------------------------------------------------------------- errors

    /** Names and texts of {@code cublasStatus_t}s as cuBLASLt reports them. */
    public static final CudaException.StatusDescriber STATUS = new CudaException.StatusDescriber() {
        @Override
        public String name(int status) {
            String n = Cublas.cString(H.cublasLtGetStatusName, status);
            return n != null ? n : Cublas.NAMES.get(status);
        }

        @Override
        public String text(int status) {
            return Cublas.cString(H.cublasLtGetStatusString, status);
        }
    };

    static CudaException fail(int rc, String wrapper, String function, Object... details) {
        return CudaException.of("CublasLt." + wrapper, function, rc, STATUS, CudaException.details(details));
    }

    private static MemorySegment ptr(long address) {
        return address == 0 ? MemorySegment.NULL : MemorySegment.ofAddress(address);
    }

    // ---------------------------------------------------------------- handle, version

    /** {@code cublasLtGetVersion}: e.g. {@code 130100} for 13.1.0. Needs no handle or GPU. */
    public static long version() {
        try {
            return (long) H.cublasLtGetVersion.invokeExact();
        } catch (Throwable t) {
            throw NativeLibrary.rethrow(t);
        }
    }

    /** {@link #version()} as {@code major.minor.patch}. */
    public static String versionString() {
        long v = version();
        return v / 10000 + "." + (v / 100) % 100 + "." + v % 100;
    }

    /** {@code cublasLtCreate}. */
    public static long create() {
        MemorySegment s = Scratch.get();
        int rc;
        try {
            rc = (int) H.cublasLtCreate.invokeExact(s);
        } catch (Throwable t) {
            throw NativeLibrary.rethrow(t);
        }
        if (rc != Cublas.STATUS_SUCCESS) throw fail(rc, "create", "cublasLtCreate");
        return s.get(JAVA_LONG, 0);
    }

    /** {@code cublasLtDestroy}. */
    public static void destroy(long handle) {
        int rc;
        try {
            rc = (int) H.cublasLtDestroy.invokeExact(ptr(handle));
        } catch (Throwable t) {
            throw NativeLibrary.rethrow(t);
        }
        if (rc != Cublas.STATUS_SUCCESS) throw fail(rc, "destroy", "cublasLtDestroy", "handle", handle);
    }

    // ---------------------------------------------------------------- descriptors

    /** {@code cublasLtMatmulDescCreate}. */
    public static long matmulDescCreate(Cublas.ComputeType compute, CudaDataType scaleType) {
        MemorySegment s = Scratch.get();
        int rc;
        try {
            rc = (int) H.cublasLtMatmulDescCreate.invokeExact(s, compute.value, scaleType.value);
        } catch (Throwable t) {
            throw NativeLibrary.rethrow(t);
        }
        if (rc != Cublas.STATUS_SUCCESS) {
            throw fail(rc, "matmulDescCreate", "cublasLtMatmulDescCreate", "compute", compute, "scaleType", scaleType);
        }
        return s.get(JAVA_LONG, 0);
    }

    /** {@code cublasLtMatmulDescDestroy}. */
    public static void matmulDescDestroy(long desc) {
        int rc;
        try {
            rc = (int) H.cublasLtMatmulDescDestroy.invokeExact(ptr(desc));
        } catch (Throwable t) {
            throw NativeLibrary.rethrow(t);
        }
        if (rc != Cublas.STATUS_SUCCESS) throw fail(rc, "matmulDescDestroy", "cublasLtMatmulDescDestroy", "desc", desc);
    }

    private static MemorySegment value(Width width, long value) {
        MemorySegment s = Scratch.get();
        if (width == Width.INT32) s.set(JAVA_INT, 0, (int) value);
        else s.set(JAVA_LONG, 0, value);
        return s;
    }

    /**
     * {@code cublasLtMatmulDescSetAttribute}; the value is written with the attribute's width
     * (enums and types as {@code int}, pointers as the address).
     */
    public static void matmulDescSetAttribute(long desc, MatmulDescAttribute attribute, long value) {
        MemorySegment v = value(attribute.width, value);
        int rc;
        try {
            rc = (int) H.cublasLtMatmulDescSetAttribute.invokeExact(ptr(desc), attribute.value, v,
                    attribute.width.bytes);
        } catch (Throwable t) {
            throw NativeLibrary.rethrow(t);
        }
        if (rc != Cublas.STATUS_SUCCESS) {
            throw fail(rc, "matmulDescSetAttribute", "cublasLtMatmulDescSetAttribute", "desc", desc,
                    "attribute", attribute, "value", value);
        }
    }

    /** {@code cublasLtMatrixLayoutCreate}: a column-major {@code rows×cols} matrix with leading dimension {@code ld}. */
    public static long matrixLayoutCreate(CudaDataType type, long rows, long cols, long ld) {
        MemorySegment s = Scratch.get();
        int rc;
        try {
            rc = (int) H.cublasLtMatrixLayoutCreate.invokeExact(s, type.value, rows, cols, ld);
        } catch (Throwable t) {
            throw NativeLibrary.rethrow(t);
        }
        if (rc != Cublas.STATUS_SUCCESS) {
            throw fail(rc, "matrixLayoutCreate", "cublasLtMatrixLayoutCreate", "type", type, "rows", rows,
                    "cols", cols, "ld", ld);
        }
        return s.get(JAVA_LONG, 0);
    }

    /** {@code cublasLtMatrixLayoutDestroy}. */
    public static void matrixLayoutDestroy(long layout) {
        int rc;
        try {
            rc = (int) H.cublasLtMatrixLayoutDestroy.invokeExact(ptr(layout));
        } catch (Throwable t) {
            throw NativeLibrary.rethrow(t);
        }
        if (rc != Cublas.STATUS_SUCCESS) {
            throw fail(rc, "matrixLayoutDestroy", "cublasLtMatrixLayoutDestroy", "layout", layout);
        }
    }

    /** {@code cublasLtMatrixLayoutSetAttribute}, e.g. {@link MatrixLayoutAttribute#BATCH_COUNT}. */
    public static void matrixLayoutSetAttribute(long layout, MatrixLayoutAttribute attribute, long value) {
        MemorySegment v = value(attribute.width, value);
        int rc;
        try {
            rc = (int) H.cublasLtMatrixLayoutSetAttribute.invokeExact(ptr(layout), attribute.value, v,
                    attribute.width.bytes);
        } catch (Throwable t) {
            throw NativeLibrary.rethrow(t);
        }
        if (rc != Cublas.STATUS_SUCCESS) {
            throw fail(rc, "matrixLayoutSetAttribute", "cublasLtMatrixLayoutSetAttribute", "layout", layout,
                    "attribute", attribute, "value", value);
        }
    }

    /** {@code cublasLtMatmulPreferenceCreate}. */
    public static long preferenceCreate() {
        MemorySegment s = Scratch.get();
        int rc;
        try {
            rc = (int) H.cublasLtMatmulPreferenceCreate.invokeExact(s);
        } catch (Throwable t) {
            throw NativeLibrary.rethrow(t);
        }
        if (rc != Cublas.STATUS_SUCCESS) throw fail(rc, "preferenceCreate", "cublasLtMatmulPreferenceCreate");
        return s.get(JAVA_LONG, 0);
    }

    /** {@code cublasLtMatmulPreferenceDestroy}. */
    public static void preferenceDestroy(long pref) {
        int rc;
        try {
            rc = (int) H.cublasLtMatmulPreferenceDestroy.invokeExact(ptr(pref));
        } catch (Throwable t) {
            throw NativeLibrary.rethrow(t);
        }
        if (rc != Cublas.STATUS_SUCCESS) {
            throw fail(rc, "preferenceDestroy", "cublasLtMatmulPreferenceDestroy", "preference", pref);
        }
    }

    /** {@code cublasLtMatmulPreferenceSetAttribute}, e.g. {@link PreferenceAttribute#MAX_WORKSPACE_BYTES}. */
    public static void preferenceSetAttribute(long pref, PreferenceAttribute attribute, long value) {
        MemorySegment v = value(attribute.width, value);
        int rc;
        try {
            rc = (int) H.cublasLtMatmulPreferenceSetAttribute.invokeExact(ptr(pref), attribute.value, v,
                    attribute.width.bytes);
        } catch (Throwable t) {
            throw NativeLibrary.rethrow(t);
        }
        if (rc != Cublas.STATUS_SUCCESS) {
            throw fail(rc, "preferenceSetAttribute", "cublasLtMatmulPreferenceSetAttribute", "preference", pref,
                    "attribute", attribute, "value", value);
        }
    }

    // ---------------------------------------------------------------- heuristic and matmul

    /**
     * {@code cublasLtMatmulAlgoGetHeuristic}: up to {@code requested} algorithms, best first, held
     * in memory of {@code arena}. An empty list means no algorithm fits the problem.
     */
    public static List<HeuristicResult> algoGetHeuristic(long handle, long desc, long aLayout, long bLayout,
                                                         long cLayout, long dLayout, long preference,
                                                         int requested, Arena arena) {
        MemorySegment results = arena.allocate(HEURISTIC_RESULT_BYTES * requested, 16);
        MemorySegment count = Scratch.get();
        count.set(JAVA_INT, 0, 0);
        int rc;
        try {
            rc = (int) H.cublasLtMatmulAlgoGetHeuristic.invokeExact(ptr(handle), ptr(desc), ptr(aLayout),
                    ptr(bLayout), ptr(cLayout), ptr(dLayout), ptr(preference), requested, results, count);
        } catch (Throwable t) {
            throw NativeLibrary.rethrow(t);
        }
        if (rc != Cublas.STATUS_SUCCESS) {
            throw fail(rc, "algoGetHeuristic", "cublasLtMatmulAlgoGetHeuristic", "desc", desc,
                    "requested", requested);
        }
        int n = count.get(JAVA_INT, 0);
        List<HeuristicResult> out = new ArrayList<>(n);
        for (int i = 0; i < n; i++) {
            MemorySegment r = results.asSlice(i * HEURISTIC_RESULT_BYTES, HEURISTIC_RESULT_BYTES);
            out.add(new HeuristicResult(r.asSlice(0, ALGO_BYTES), r.get(JAVA_LONG, 64), r.get(JAVA_INT, 72),
                    r.get(JAVA_FLOAT, 76)));
        }
        return out;
    }

    /**
     * {@code cublasLtMatmul}: {@code D = alpha·op(A)·op(B) + beta·C}, then the descriptor's
     * epilogue. {@code alpha} and {@code beta} point to host scalars of the descriptor's scale
     * type; {@code algo} is a {@link HeuristicResult#algo()} (or {@link MemorySegment#NULL} to let
     * cuBLASLt choose).
     */
    public static void matmul(long handle, long desc, MemorySegment alpha, long a, long aLayout, long b,
                              long bLayout, MemorySegment beta, long c, long cLayout, long d, long dLayout,
                              MemorySegment algo, long workspace, long workspaceBytes, long stream) {
        int rc;
        try {
            rc = (int) H.cublasLtMatmul.invokeExact(ptr(handle), ptr(desc), alpha, a, ptr(aLayout), b, ptr(bLayout),
                    beta, c, ptr(cLayout), d, ptr(dLayout), algo, workspace, workspaceBytes, ptr(stream));
        } catch (Throwable t) {
            throw NativeLibrary.rethrow(t);
        }
        if (rc != Cublas.STATUS_SUCCESS) {
            throw fail(rc, "matmul", "cublasLtMatmul", "desc", desc, "A", a, "B", b, "C", c, "D", d,
                    "workspace", workspace, "workspaceBytes", workspaceBytes, "stream", stream);
        }
    }

    // ---------------------------------------------------------------- library facts

    /** Where cuBLASLt was loaded from; empty when it was not found. Loads it if needed. */
    public static Optional<String> libraryLocation() {
        return H.LIB.location();
    }

    /** Why cuBLASLt is not loaded; empty when it is. Loads it if needed. */
    public static Optional<CudaLibraryNotFoundException> libraryFailure() {
        return H.LIB.failure();
    }
}
