package dev.solder.backend.cuda;

import dev.solder.DType;
import java.lang.foreign.MemorySegment;

/**
 * The few things the CUDA backend asks of one GPU: stream-ordered memory, copies, kernel
 * launches and cuBLAS GEMMs, all on the device's one stream.
 *
 * <p>{@link DriverDeviceApi} implements it with the CUDA driver and cuBLAS. The seam exists
 * so that every op's Java side (launch arguments, pointer arithmetic, GEMM leading
 * dimensions, temporaries freed) can also run against a recording fake in tests on machines
 * without a GPU. Callers hold the device's lock and have called {@link #enter()}.
 */
interface DeviceApi {

    /** The device ordinal. */
    int ordinal();

    /** Compute capability as {@code major·10 + minor}, e.g. 90 for an H100. */
    int computeCapability();

    /** A one-line description (name, capability, where the kernels came from). */
    String describe();

    /** The driver's {@code CUstream} handle the device's work runs on (0 where there is none: the fake). */
    default long streamHandle() {
        return 0;
    }

    /** Makes the device's context current on the calling thread (cheap when it already is). */
    void enter();

    /** Allocates {@code bytes} (≥ 1), ordered on the stream. */
    long alloc(long bytes);

    /** Frees an {@link #alloc} result, ordered on the stream: work queued before still sees it. */
    void free(long ptr);

    /** Host to device; returns when {@code src} may be reused (the copy itself may still run). */
    void copyHostToDevice(long dst, MemorySegment src, long srcOffset, long bytes);

    /** Device to host; returns when the bytes are in {@code dst}. */
    void copyDeviceToHost(MemorySegment dst, long dstOffset, long src, long bytes);

    /** Device to device, ordered on the stream. */
    void copyDeviceToDevice(long dst, long src, long bytes);

    /** Sets {@code bytes} bytes to {@code value}, ordered on the stream. */
    void memset(long dst, byte value, long bytes);

    /** Waits for all work queued on the stream. */
    void synchronize();

    /**
     * Launches {@code kernel}. {@code args[i]} holds argument i's bits: a pointer or
     * {@code long long} as is, an {@code int} sign-extended, a {@code float} as
     * {@link Float#floatToRawIntBits}, a {@code double} as {@link Double#doubleToRawLongBits};
     * the kinds were checked against {@link Kernel#kinds()} by {@link Launch}.
     */
    void launch(Kernel kernel, LaunchConfig config, long[] args);

    /** One cuBLAS strided-batched GEMM, column-major. */
    void gemm(Gemm g);

    /**
     * One row-major cuBLASLt product with an epilogue ({@link LtGemm}); the fused path's linear.
     * Returns false, having launched nothing, when cuBLASLt has no algorithm for the problem
     * (CUBLAS_STATUS_NOT_SUPPORTED): the caller then takes the cuBLAS-only path.
     */
    boolean ltGemm(LtGemm g);

    /** The cuBLASLt epilogues the fused path uses. */
    enum LtEpilogue {
        /** {@code D += bias[n]} on every row, before D is rounded to its type. */
        BIAS,
        /** {@code bias[m] = Σ_k op(A)[m, k]} beside the product (a linear layer's bias gradient). */
        BGRADB
    }

    /**
     * Row-major {@code D = op(A)·op(B)} with one {@link LtEpilogue}: {@code op(A)} is {@code m×k},
     * {@code op(B)} {@code k×n}, {@code D} {@code m×n}; {@code lda}, {@code ldb}, {@code ldd} are
     * row strides. A and B share {@code abType}; D and the bias have their own types; {@code tf32}
     * as in {@link Gemm}.
     */
    record LtGemm(boolean transA, boolean transB, int m, int n, int k, long a, long b, DType abType, int lda, int ldb,
                  long d, DType dType, int ldd, LtEpilogue epilogue, long bias, DType biasType, boolean tf32) {
        /**
         * What decides whether cuBLASLt supports the problem: everything but the pointers' values,
         * and their common alignment (up to 16 bytes), which cuBLASLt's heuristic also weighs — so
         * one badly aligned call does not send every later call of its shape down the slower path.
         */
        java.util.List<Object> shapeKey() {
            int alignment = Math.min(4, Long.numberOfTrailingZeros(a | b | d | bias));
            return java.util.List.of(transA, transB, m, n, k, abType, lda, ldb, dType, ldd, epilogue, biasType, tf32,
                    alignment);
        }

        /** cuBLASLt's rules, checked before calling it. */
        void validate() {
            if (m <= 0 || n <= 0 || k <= 0) {
                throw new IllegalArgumentException("ltGemm: bad sizes " + this);
            }
            if (lda < (transA ? m : k) || ldb < (transB ? k : n) || ldd < n) {
                throw new IllegalArgumentException("ltGemm: row stride smaller than the row " + this);
            }
            if (!abType.isFloating() || !(dType == DType.FLOAT32 || dType == abType) || bias == 0
                    || !biasType.isFloating()) {
                throw new IllegalArgumentException("ltGemm: unsupported types or no bias " + this);
            }
        }
    }

    /**
     * {@code C_i = alpha·op(A_i)·op(B_i) + beta·C_i} for {@code i < batch}, column-major as cuBLAS:
     * {@code op(A)} is {@code m×k}, {@code op(B)} {@code k×n}, {@code C} {@code m×n}; {@code lda},
     * {@code ldb}, {@code ldc} are the column strides of the stored matrices, strides between
     * batch entries are in elements (0 shares one matrix). {@code tf32} lets float32 inputs use
     * TF32 tensor cores.
     */
    record Gemm(boolean transA, boolean transB, int m, int n, int k, float alpha,
                long a, DType aType, int lda, long strideA,
                long b, DType bType, int ldb, long strideB,
                float beta, long c, DType cType, int ldc, long strideC, int batch, boolean tf32) {

        /** Rows of A as stored (column-major): m when not transposed, else k. */
        int aRows() {
            return transA ? k : m;
        }

        int aCols() {
            return transA ? m : k;
        }

        int bRows() {
            return transB ? n : k;
        }

        int bCols() {
            return transB ? k : n;
        }

        /** Checks cuBLAS's own rules (leading dimensions, supported types) before calling it. */
        void validate() {
            if (m < 0 || n < 0 || k < 0 || batch < 1) {
                throw new IllegalArgumentException("gemm: bad sizes " + this);
            }
            if (lda < Math.max(1, aRows()) || ldb < Math.max(1, bRows()) || ldc < Math.max(1, m)) {
                throw new IllegalArgumentException("gemm: leading dimension smaller than the rows " + this);
            }
            if (aType != bType) {
                throw new IllegalArgumentException("gemm: cuBLAS needs A and B of one type, got " + aType + " and "
                        + bType);
            }
            if (!aType.isFloating() || !(cType == DType.FLOAT32 || cType == aType)) {
                throw new IllegalArgumentException("gemm: unsupported types A/B " + aType + ", C " + cType);
            }
        }

        @Override
        public String toString() {
            return "gemm[" + (transA ? "T" : "N") + (transB ? "T" : "N") + " m=" + m + " n=" + n + " k=" + k
                    + " alpha=" + alpha + " beta=" + beta + " A " + aType + " lda=" + lda + " strideA=" + strideA
                    + " B " + bType + " ldb=" + ldb + " strideB=" + strideB + " C " + cType + " ldc=" + ldc
                    + " strideC=" + strideC + " batch=" + batch + (tf32 ? " tf32" : "") + "]";
        }
    }
}
