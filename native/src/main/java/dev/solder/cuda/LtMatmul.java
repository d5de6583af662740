package dev.solder.cuda;

import static java.lang.foreign.ValueLayout.JAVA_FLOAT;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;

/**
 * Row-major {@code D = alpha·op(A)·op(B) + beta·D}, then an epilogue, on cuBLASLt, with the
 * descriptors and the chosen algorithm cached per problem.
 *
 * <p>Shapes are row-major: {@code op(A)} is {@code m×k}, {@code op(B)} {@code k×n}, {@code D}
 * {@code m×n}; leading dimensions are row strides in elements. As with
 * {@link Cublas#gemmRowMajor}, the call cuBLASLt sees is the column-major {@code Dᵀ = op(B)ᵀ·op(A)ᵀ}
 * (operands swapped), so the epilogues read in row-major terms:
 *
 * <ul>
 *   <li>{@code BIAS}, {@code GELU_BIAS}, {@code GELU_AUX_BIAS}: a bias of length {@code n} is added
 *       to every row of {@code D} (one value per output feature, as in a linear layer);</li>
 *   <li>{@code GELU_AUX_BIAS} stores the pre-activation {@code m×n} with row stride {@code auxLd}
 *       (a multiple of 8) in {@code aux}; {@code DGELU}/{@code DGELU_BGRAD} read it back;</li>
 *   <li>{@code BGRADB} reduces cuBLASLt's B operand, which is this class's {@code A}: it writes the
 *       {@code m} sums over {@code k} of {@code op(A)} to {@code bias} (for a weight gradient
 *       {@code dW = dYᵀ·X}, that is the bias gradient); {@code BGRADA} likewise reduces
 *       {@code op(B)}, giving {@code n} sums.</li>
 * </ul>
 *
 * <p>Each distinct {@link Problem} (plus the alignment of the pointers, which limits the usable
 * algorithms) is planned once: layouts, descriptor and the heuristic's first choice are kept
 * until {@link #close()}. An instance is not thread-safe (per-call pointers are written into
 * the cached descriptor); use one per thread or stream. The workspace must outlive the work.
 *
 * <pre>{@code
 * try (LtMatmul mm = new LtMatmul(ltHandle, workspace, 32 << 20)) {
 *     var p = LtMatmul.Problem.of(Operation.N, Operation.T, tokens, out, in,
 *             CudaDataType.R_32F, Cublas.ComputeType.COMPUTE_32F, CublasLt.Epilogue.BIAS);
 *     mm.run(p, x, w, y, bias, 0, stream);          // y = x·Wᵀ + b
 * }
 * }</pre>
 */
public final class LtMatmul implements AutoCloseable {

    /**
     * One row-major problem. {@code lda/ldb/ldd} are row strides; batched problems
     * ({@code batch > 1}) step {@code strideA/B/D} elements between matrices. {@code biasType}
     * may be null (cuBLASLt's default: the type of {@code D}); {@code auxLd} is used only by
     * epilogues with an aux buffer.
     */
    public record Problem(Cublas.Operation transA, Cublas.Operation transB, int m, int n, int k,
                          int lda, int ldb, int ldd,
                          CudaDataType aType, CudaDataType bType, CudaDataType dType,
                          Cublas.ComputeType compute, CublasLt.Epilogue epilogue, CudaDataType biasType, long auxLd,
                          int batch, long strideA, long strideB, long strideD) {
        /** Checks that the shape is positive and nothing required is null. */
        public Problem {
            Objects.requireNonNull(transA);
            Objects.requireNonNull(transB);
            Objects.requireNonNull(aType);
            Objects.requireNonNull(bType);
            Objects.requireNonNull(dType);
            Objects.requireNonNull(compute);
            Objects.requireNonNull(epilogue);
            if (m <= 0 || n <= 0 || k <= 0 || batch <= 0) {
                throw new IllegalArgumentException("m, n, k and batch must be positive: m=" + m + ", n=" + n
                        + ", k=" + k + ", batch=" + batch);
            }
        }

        /**
         * A dense, unbatched problem: {@code lda/ldb} follow from the flags ({@code A} stored
         * {@code m×k} for {@code N}, {@code k×m} for {@code T}), {@code ldd = n}, one type for
         * {@code A}, {@code B} and {@code D}, {@code auxLd = n}.
         */
        public static Problem of(Cublas.Operation transA, Cublas.Operation transB, int m, int n, int k,
                                 CudaDataType type, Cublas.ComputeType compute, CublasLt.Epilogue epilogue) {
            int lda = transA == Cublas.Operation.N ? k : m;
            int ldb = transB == Cublas.Operation.N ? n : k;
            return new Problem(transA, transB, m, n, k, lda, ldb, n, type, type, type, compute, epilogue, null, n,
                    1, 0, 0, 0);
        }

        /** This problem with another bias type (e.g. a float32 bias for a bf16 output). */
        public Problem withBiasType(CudaDataType type) {
            return new Problem(transA, transB, m, n, k, lda, ldb, ldd, aType, bType, dType, compute, epilogue, type,
                    auxLd, batch, strideA, strideB, strideD);
        }

        /** This problem with another aux row stride (a multiple of 8, at least {@code n}). */
        public Problem withAuxLd(long ld) {
            return new Problem(transA, transB, m, n, k, lda, ldb, ldd, aType, bType, dType, compute, epilogue, biasType,
                    ld, batch, strideA, strideB, strideD);
        }

        /** This problem repeated over {@code count} matrices, {@code sA/sB/sD} elements apart. */
        public Problem batched(int count, long sA, long sB, long sD) {
            return new Problem(transA, transB, m, n, k, lda, ldb, ldd, aType, bType, dType, compute, epilogue, biasType,
                    auxLd, count, sA, sB, sD);
        }
    }

    private record Key(Problem problem, int alignA, int alignB, int alignD, int alignBias, int alignAux) {}

    private record Plan(long desc, long aLayout, long bLayout, long dLayout, MemorySegment algo, long workspaceSize) {}

    private final long handle;
    private final long workspace;
    private final long workspaceBytes;
    private final Arena arena = Arena.ofShared();
    private final Map<Key, Plan> plans = new HashMap<>();
    private boolean closed;

    /**
     * @param ltHandle       a {@link CublasLt#create()} handle (not owned: not destroyed by {@link #close()})
     * @param workspace      device memory cuBLASLt may use (not owned), 0 for none
     * @param workspaceBytes its size; NVIDIA recommends 32 MiB on Hopper
     */
    public LtMatmul(long ltHandle, long workspace, long workspaceBytes) {
        this.handle = ltHandle;
        this.workspace = workspace;
        this.workspaceBytes = workspace == 0 ? 0 : workspaceBytes;
    }

    /** How many problems are planned (for tests and diagnostics). */
    public int plannedCount() {
        return plans.size();
    }

    /** {@link #run(Problem, float, long, long, float, long, long, long, long)} with alpha 1, beta 0. */
    public void run(Problem p, long a, long b, long d, long bias, long aux, long stream) {
        run(p, 1f, a, b, 0f, d, bias, aux, stream);
    }

    /**
     * Runs {@code D = alpha·op(A)·op(B) + beta·D} and the problem's epilogue on {@code stream}.
     * {@code bias} and {@code aux} are device pointers, 0 when the epilogue does not use them.
     */
    public void run(Problem p, float alpha, long a, long b, float beta, long d, long bias, long aux, long stream) {
        if (closed) throw new IllegalStateException("LtMatmul is closed");
        if (p.epilogue().usesBias() && bias == 0) {
            throw new IllegalArgumentException("epilogue " + p.epilogue() + " needs a bias pointer");
        }
        if (p.epilogue().usesAux() && aux == 0) {
            throw new IllegalArgumentException("epilogue " + p.epilogue() + " needs an aux pointer");
        }
        Key key = new Key(p, alignment(a), alignment(b), alignment(d), alignment(bias), alignment(aux));
        Plan plan = plans.get(key);
        if (plan == null) {
            plan = plan(key, bias, aux);
            plans.put(key, plan);
        }
        if (p.epilogue().usesBias()) {
            CublasLt.matmulDescSetAttribute(plan.desc, CublasLt.MatmulDescAttribute.BIAS_POINTER, bias);
        }
        if (p.epilogue().usesAux()) {
            CublasLt.matmulDescSetAttribute(plan.desc, CublasLt.MatmulDescAttribute.EPILOGUE_AUX_POINTER, aux);
        }
        MemorySegment s = Scratch.get();
        s.set(JAVA_FLOAT, 0, alpha);
        s.set(JAVA_FLOAT, 16, beta);
        // Swapped operands: cuBLASLt's A is our B and its B our A; C and D are our D.
        CublasLt.matmul(handle, plan.desc, s, b, plan.bLayout, a, plan.aLayout, s.asSlice(16), d, plan.dLayout,
                d, plan.dLayout, plan.algo, workspace, workspaceBytes, stream);
    }

    /** The largest power of two (at most 256) that divides the address; 256 for null. */
    static int alignment(long address) {
        if (address == 0) return 256;
        return (int) Math.min(256, Long.lowestOneBit(address));
    }

    private Plan plan(Key key, long bias, long aux) {
        Problem p = key.problem();
        long desc = 0, aL = 0, bL = 0, dL = 0, pref = 0;
        try {
            desc = CublasLt.matmulDescCreate(p.compute(), p.compute().scaleType);
            // Column-major view: cuBLASLt's op flags are (transB, transA) for operands (B, A).
            CublasLt.matmulDescSetAttribute(desc, CublasLt.MatmulDescAttribute.TRANSA, p.transB().value);
            CublasLt.matmulDescSetAttribute(desc, CublasLt.MatmulDescAttribute.TRANSB, p.transA().value);
            CublasLt.matmulDescSetAttribute(desc, CublasLt.MatmulDescAttribute.EPILOGUE, p.epilogue().value);
            if (p.biasType() != null) {
                CublasLt.matmulDescSetAttribute(desc, CublasLt.MatmulDescAttribute.BIAS_DATA_TYPE, p.biasType().value);
            }
            // The heuristic reads these pointers' alignment, so set them before asking.
            if (p.epilogue().usesBias()) {
                CublasLt.matmulDescSetAttribute(desc, CublasLt.MatmulDescAttribute.BIAS_POINTER, bias);
            }
            if (p.epilogue().usesAux()) {
                CublasLt.matmulDescSetAttribute(desc, CublasLt.MatmulDescAttribute.EPILOGUE_AUX_POINTER, aux);
                CublasLt.matmulDescSetAttribute(desc, CublasLt.MatmulDescAttribute.EPILOGUE_AUX_LD, p.auxLd());
                if (p.batch() > 1) {
                    CublasLt.matmulDescSetAttribute(desc, CublasLt.MatmulDescAttribute.EPILOGUE_AUX_BATCH_STRIDE,
                            p.strideD());
                }
            }
            // Row-major X (r×c, row stride ld) is column-major Xᵀ (c×r, leading dimension ld).
            boolean aN = p.transA() == Cublas.Operation.N, bN = p.transB() == Cublas.Operation.N;
            aL = CublasLt.matrixLayoutCreate(p.aType(), aN ? p.k() : p.m(), aN ? p.m() : p.k(), p.lda());
            bL = CublasLt.matrixLayoutCreate(p.bType(), bN ? p.n() : p.k(), bN ? p.k() : p.n(), p.ldb());
            dL = CublasLt.matrixLayoutCreate(p.dType(), p.n(), p.m(), p.ldd());
            if (p.batch() > 1) {
                batch(aL, p.batch(), p.strideA());
                batch(bL, p.batch(), p.strideB());
                batch(dL, p.batch(), p.strideD());
            }
            pref = CublasLt.preferenceCreate();
            CublasLt.preferenceSetAttribute(pref, CublasLt.PreferenceAttribute.MAX_WORKSPACE_BYTES, workspaceBytes);
            CublasLt.preferenceSetAttribute(pref, CublasLt.PreferenceAttribute.MIN_ALIGNMENT_A_BYTES, key.alignB());
            CublasLt.preferenceSetAttribute(pref, CublasLt.PreferenceAttribute.MIN_ALIGNMENT_B_BYTES, key.alignA());
            CublasLt.preferenceSetAttribute(pref, CublasLt.PreferenceAttribute.MIN_ALIGNMENT_C_BYTES, key.alignD());
            CublasLt.preferenceSetAttribute(pref, CublasLt.PreferenceAttribute.MIN_ALIGNMENT_D_BYTES, key.alignD());
            List<CublasLt.HeuristicResult> found =
                    CublasLt.algoGetHeuristic(handle, desc, bL, aL, dL, dL, pref, 1, arena);
            if (found.isEmpty()) {
                int notSupported = 15; // CUBLAS_STATUS_NOT_SUPPORTED
                throw new CudaException("LtMatmul.run", "cublasLtMatmulAlgoGetHeuristic", notSupported,
                        "CUBLAS_STATUS_NOT_SUPPORTED", "no algorithm for this problem", describe(key));
            }
            CublasLt.HeuristicResult best = found.getFirst();
            return new Plan(desc, aL, bL, dL, best.algo(), best.workspaceSize());
        } catch (RuntimeException e) {
            destroyQuietly(desc, aL, bL, dL);
            throw e;
        } finally {
            if (pref != 0) CublasLt.preferenceDestroy(pref);
        }
    }

    private static void batch(long layout, int count, long stride) {
        CublasLt.matrixLayoutSetAttribute(layout, CublasLt.MatrixLayoutAttribute.BATCH_COUNT, count);
        CublasLt.matrixLayoutSetAttribute(layout, CublasLt.MatrixLayoutAttribute.STRIDED_BATCH_OFFSET, stride);
    }

    private static String describe(Key key) {
        Problem p = key.problem();
        return CudaException.details("transA", p.transA(), "transB", p.transB(), "m", p.m(), "n", p.n(), "k", p.k(),
                "lda", p.lda(), "ldb", p.ldb(), "ldd", p.ldd(), "aType", p.aType(), "bType", p.bType(),
                "dType", p.dType(), "compute", p.compute(), "epilogue", p.epilogue(), "batch", p.batch(),
                "alignA", key.alignA(), "alignB", key.alignB(), "alignD", key.alignD());
    }

    private static void destroyQuietly(long desc, long... layouts) {
        try {
            if (desc != 0) CublasLt.matmulDescDestroy(desc);
            for (long l : layouts) if (l != 0) CublasLt.matrixLayoutDestroy(l);
        } catch (RuntimeException ignored) {
            // already failing; the first error is the one to report
        }
    }

    /** Destroys every cached descriptor and layout. The handle and workspace stay the caller's. */
    @Override
    public void close() {
        if (closed) return;
        closed = true;
        RuntimeException first = null;
        for (Plan p : plans.values()) {
            try {
                CublasLt.matmulDescDestroy(p.desc);
                CublasLt.matrixLayoutDestroy(p.aLayout);
                CublasLt.matrixLayoutDestroy(p.bLayout);
                CublasLt.matrixLayoutDestroy(p.dLayout);
            } catch (RuntimeException e) {
                if (first == null) first = e;
            }
        }
        plans.clear();
        arena.close();
        if (first != null) throw first;
    }
}
