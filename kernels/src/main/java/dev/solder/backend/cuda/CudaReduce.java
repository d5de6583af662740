package dev.solder.backend.cuda;

import static dev.solder.backend.cuda.DeviceTensors.code;
import static dev.solder.backend.cuda.DeviceTensors.ptr;

import dev.solder.DType;
import dev.solder.Tensor;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.List;

/**
 * Deterministic two-stage reductions in double (reduce.cu): sumAll, sumSquares, the MSE
 * numerator, and sumToSuffix (bias gradients). No atomics: the launch shapes depend only on
 * the sizes ({@link LaunchConfig#reducePartial}, {@link LaunchConfig#columnSplit}).
 */
final class CudaReduce {
    /** Summand modes of solder_reduce_partial (reduce.cu). */
    static final int MODE_SUM = 0;
    static final int MODE_SUMSQ = 1;
    static final int MODE_SQDIFF = 2;

    private CudaReduce() {
    }

    /**
     * {@code out[0] = scale·Σ f(a, b)} over {@code n} elements, f per {@code mode}; {@code out} is a
     * one-element buffer of dtype code {@code outCode} (possibly {@link DeviceTensors#F64}).
     */
    static void reduceAll(CudaDevice d, long a, DType at, long b, DType bt, int mode, long n, double scale,
                          long out, int outCode) {
        LaunchConfig stage1 = LaunchConfig.reducePartial(n);
        int partials = stage1.gridX();
        try (CudaDevice.Temps tmp = d.temps()) {
            long part = tmp.alloc((long) partials * Double.BYTES);
            if (n == 0) {
                d.api().memset(part, (byte) 0, (long) partials * Double.BYTES);
            } else {
                // solder_reduce_partial(const void* a, int adt, const void* b, int bdt, int mode,
                //                       long long n, double* partials)
                Launch.of(d, Kernel.REDUCE_PARTIAL, stage1)
                        .ptr(a).i32(code(at)).ptr(b).i32(b == 0 ? 0 : code(bt)).i32(mode).i64(n).ptr(part)
                        .run();
            }
            // solder_reduce_finish(const double* partials, int count, double scale, void* out, int odt)
            Launch.of(d, Kernel.REDUCE_FINISH, LaunchConfig.single())
                    .ptr(part).i32(partials).f64(scale).ptr(out).i32(outCode)
                    .run();
        }
    }

    /** {@code out[] = Σ a} (float64 accumulation) into a one-element tensor. */
    static void sumAll(CudaDevice d, Tensor a, Tensor out) {
        if (out.numel() != 1) {
            throw new IllegalArgumentException("sumAll: output " + out.describe() + " must have one element");
        }
        reduceAll(d, ptr(a), a.dtype(), 0L, DType.FLOAT32, MODE_SUM, a.numel(), 1.0, ptr(out), code(out.dtype()));
    }

    /** {@code Σ x²} in float64, read back to the host (synchronizes). */
    static double sumSquares(CudaDevice d, Tensor x) {
        try (CudaDevice.Temps tmp = d.temps(); Arena arena = Arena.ofConfined()) {
            long result = tmp.alloc(Double.BYTES);
            reduceAll(d, ptr(x), x.dtype(), 0L, DType.FLOAT32, MODE_SUMSQ, x.numel(), 1.0, result, DeviceTensors.F64);
            MemorySegment host = arena.allocate(Double.BYTES, Double.BYTES);
            d.api().copyDeviceToHost(host, 0, result, Double.BYTES);
            return host.get(ValueLayout.JAVA_DOUBLE, 0);
        }
    }

    /**
     * {@code Σ} of {@link #sumSquares} over the list with one wait for the device: each
     * tensor's float64 sum lands in its own slot of one device buffer, which is read back once
     * and added up on the host in list order.
     */
    static double sumSquares(CudaDevice d, List<Tensor> xs) {
        if (xs.isEmpty()) {
            return 0;
        }
        long bytes = (long) xs.size() * Double.BYTES;
        try (CudaDevice.Temps tmp = d.temps(); Arena arena = Arena.ofConfined()) {
            long results = tmp.alloc(bytes);
            for (int i = 0; i < xs.size(); i++) {
                Tensor x = xs.get(i);
                reduceAll(d, ptr(x), x.dtype(), 0L, DType.FLOAT32, MODE_SUMSQ, x.numel(), 1.0,
                        results + (long) i * Double.BYTES, DeviceTensors.F64);
            }
            return sumOnHost(d, arena, results, xs.size());
        }
    }

    /** Reads {@code count} doubles from {@code device} (one wait) and adds them up in order. */
    private static double sumOnHost(CudaDevice d, Arena arena, long device, int count) {
        MemorySegment host = arena.allocate((long) count * Double.BYTES, Double.BYTES);
        d.api().copyDeviceToHost(host, 0, device, (long) count * Double.BYTES);
        double sum = 0;
        for (int i = 0; i < count; i++) {
            sum += host.getAtIndex(ValueLayout.JAVA_DOUBLE, i);
        }
        return sum;
    }

    /** Bytes of one {@code SolderSumSqTensor} row (reduce.cu) and its fields' offsets. */
    static final int SUMSQ_ROW_BYTES = 32;
    static final int SUMSQ_OFF_X = 0;
    static final int SUMSQ_OFF_N = 8;
    static final int SUMSQ_OFF_FIRST = 16;
    static final int SUMSQ_OFF_DT = 24;
    static final int SUMSQ_OFF_BLOCKS = 28;

    /**
     * {@link #sumSquares(CudaDevice, List)} in two launches for the whole list (the fused path):
     * a table row per tensor, each tensor's partials where its own {@code solder_reduce_partial}
     * launch would put them, so every tensor's sum — and the total, added on the host in list
     * order — has the same bits as the launch-per-tensor path.
     */
    static double sumSquaresAll(CudaDevice d, List<Tensor> xs) {
        if (xs.isEmpty()) {
            return 0;
        }
        int count = xs.size();
        long tableBytes = (long) count * SUMSQ_ROW_BYTES;
        try (CudaDevice.Temps tmp = d.temps(); Arena arena = Arena.ofConfined()) {
            MemorySegment table = arena.allocate(tableBytes, 8);
            long partials = 0;
            for (int i = 0; i < count; i++) {
                Tensor x = xs.get(i);
                int blocks = LaunchConfig.reducePartial(x.numel()).gridX();
                long row = (long) i * SUMSQ_ROW_BYTES;
                table.set(ValueLayout.JAVA_LONG, row + SUMSQ_OFF_X, ptr(x));
                table.set(ValueLayout.JAVA_LONG, row + SUMSQ_OFF_N, x.numel());
                table.set(ValueLayout.JAVA_LONG, row + SUMSQ_OFF_FIRST, partials);
                table.set(ValueLayout.JAVA_INT, row + SUMSQ_OFF_DT, code(x.dtype()));
                table.set(ValueLayout.JAVA_INT, row + SUMSQ_OFF_BLOCKS, blocks);
                partials += blocks;
            }
            long dTable = tmp.alloc(tableBytes);
            long dPartials = tmp.alloc(partials * Double.BYTES);
            long dOut = tmp.alloc((long) count * Double.BYTES);
            d.api().copyHostToDevice(dTable, table, 0, tableBytes);
            // solder_sumsq_multi_partial(const SolderSumSqTensor* tensors, int count, long long totalPartials,
            //                            double* partials)
            Launch.of(d, Kernel.SUMSQ_MULTI_PARTIAL, LaunchConfig.chunks(Math.toIntExact(partials)))
                    .ptr(dTable).i32(count).i64(partials).ptr(dPartials)
                    .run();
            // solder_sumsq_multi_finish(const SolderSumSqTensor* tensors, int count, const double* partials,
            //                           double* out)
            Launch.of(d, Kernel.SUMSQ_MULTI_FINISH, LaunchConfig.chunks(count))
                    .ptr(dTable).i32(count).ptr(dPartials).ptr(dOut)
                    .run();
            return sumOnHost(d, arena, dOut, count);
        }
    }

    /** {@code out[j] = Σ_i a[i·cols + j]} with {@code cols = out.numel()}. */
    static void sumToSuffix(CudaDevice d, Tensor a, Tensor out) {
        long cols = out.numel();
        long n = a.numel();
        if (cols == 0) {
            return;
        }
        if (n % cols != 0) {
            throw new IllegalArgumentException("sumToSuffix: " + out.describe() + " is no suffix of " + a.describe());
        }
        long rows = n / cols;
        if (rows == 0) {
            CudaCopy.fillRaw(d, ptr(out), out.dtype(), cols, 0.0);
            return;
        }
        columnSum(d, ptr(a), a.dtype(), rows, cols, ptr(out), out.dtype());
    }

    /** The two stages of a column sum over {@code [rows, cols]}. */
    static void columnSum(CudaDevice d, long a, DType at, long rows, long cols, long out, DType ot) {
        LaunchConfig.ColumnSplit split = LaunchConfig.columnSplit(rows, cols);
        try (CudaDevice.Temps tmp = d.temps()) {
            long part = tmp.alloc((long) split.chunks() * cols * Double.BYTES);
            // solder_column_sum_partial(const void* a, int adt, long long rows, long long cols,
            //                           long long rowsPerChunk, double* partials)
            Launch.of(d, Kernel.COLUMN_SUM_PARTIAL, split.partial())
                    .ptr(a).i32(code(at)).i64(rows).i64(cols).i64(split.rowsPerChunk()).ptr(part)
                    .run();
            finishColumns(d, part, split.chunks(), cols, out, ot);
        }
    }

    /** {@code out[c] = Σ_k partials[k·cols + c]} (shared with the bias-GELU backward). */
    static void finishColumns(CudaDevice d, long partials, int chunks, long cols, long out, DType ot) {
        finishColumns(d, partials, out, 0, 0, chunks, cols, ot);
    }

    /**
     * LayerNorm's {@code dgamma} and {@code dbeta} (either may be null) from their stage-1
     * partials: one launch for both when their dtypes agree, as they do for every model.
     */
    static void finishLayerNormParams(CudaDevice d, long partGamma, Tensor dgamma, long partBeta, Tensor dbeta,
                                      int chunks, long cols) {
        if (dgamma != null && dbeta != null && dgamma.dtype() != dbeta.dtype()) {
            finishColumns(d, partGamma, chunks, cols, ptr(dgamma), dgamma.dtype());
            finishColumns(d, partBeta, chunks, cols, ptr(dbeta), dbeta.dtype());
            return;
        }
        DType ot = dgamma != null ? dgamma.dtype() : dbeta != null ? dbeta.dtype() : DType.FLOAT32;
        finishColumns(d, dgamma != null ? partGamma : 0, dgamma != null ? ptr(dgamma) : 0,
                dbeta != null ? partBeta : 0, dbeta != null ? ptr(dbeta) : 0, chunks, cols, ot);
    }

    /**
     * Two column sums over partials of the same shape in one launch, {@code outA} from
     * {@code partA} and {@code outB} from {@code partB} (LayerNorm's dgamma and dbeta); either pair
     * may be 0 (absent). Both outputs are of dtype {@code ot}.
     */
    static void finishColumns(CudaDevice d, long partA, long outA, long partB, long outB, int chunks, long cols,
                              DType ot) {
        if (partA == 0) {
            partA = partB;
            outA = outB;
            partB = 0;
            outB = 0;
        }
        if (partA == 0) {
            return;
        }
        // solder_column_sum_finish(const double* partials, const double* partials2, int chunks, long long cols,
        //                          void* out, void* out2, int odt)
        Launch.of(d, Kernel.COLUMN_SUM_FINISH, LaunchConfig.columnFinish(cols, partB == 0 ? 1 : 2))
                .ptr(partA).ptr(partB).i32(chunks).i64(cols).ptr(outA).ptr(outB).i32(code(ot))
                .run();
    }
}
