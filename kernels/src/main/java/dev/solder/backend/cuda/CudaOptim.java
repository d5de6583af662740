package dev.solder.backend.cuda;

import static dev.solder.backend.cuda.DeviceTensors.code;
import static dev.solder.backend.cuda.DeviceTensors.ptr;

import dev.solder.Tensor;
import dev.solder.spi.Backend;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.List;

/** The AdamW step (adamw.cu), one parameter or all of them per launch, and the global-norm helpers. */
final class CudaOptim {
    /** Bytes of one {@code SolderAdamwTensor} row (adamw.cu), and its field offsets. */
    static final int ROW_BYTES = 72;
    static final int OFF_PARAM = 0;
    static final int OFF_GRAD = 8;
    static final int OFF_M = 16;
    static final int OFF_V = 24;
    static final int OFF_N = 32;
    static final int OFF_WEIGHT_DECAY = 40;
    static final int OFF_BC1 = 44;
    static final int OFF_BC2 = 48;
    static final int OFF_GDT = 52;
    static final int OFF_LOW = 56;
    static final int OFF_LOW_DT = 64;
    /**
     * Elements of one chunk of the multi-tensor launch: 256 threads × 256 elements, big enough
     * that a block's pass amortises reading its table row, small enough that BERT-base's
     * 110M parameters make about 1,800 chunks — many more than an H100 has SMs.
     */
    static final long CHUNK = 1L << 16;

    private CudaOptim() {
    }

    static void adamw(CudaDevice d, Tensor param, Tensor grad, Tensor m, Tensor v, float lr, float beta1, float beta2,
                      float eps, float weightDecay, float bc1, float bc2) {
        checkParam("adamw", param, grad, m, v);
        long n = param.numel();
        // solder_adamw(float* param, const void* grad, int gdt, float* m, float* v, long long n, float lr,
        //              float beta1, float beta2, float eps, float weightDecay, float bc1, float bc2)
        Launch.of(d, Kernel.ADAMW, LaunchConfig.linear(n))
                .ptr(ptr(param)).ptr(ptr(grad)).i32(code(grad.dtype())).ptr(ptr(m)).ptr(ptr(v)).i64(n)
                .f32(lr).f32(beta1).f32(beta2).f32(eps).f32(weightDecay).f32(bc1).f32(bc2)
                .run();
    }

    /**
     * Every parameter of the list in one launch of {@code solder_adamw_multi}, each
     * {@link Backend.AdamWParam#lowCopy()} written by the same launch: a table row per
     * parameter and a chunk list, built here and copied to the device (about 20 KiB for
     * BERT-base), then freed stream-ordered after the launch.
     */
    static void adamwAll(CudaDevice d, List<Backend.AdamWParam> params, float lr, float beta1, float beta2, float eps,
                         float gradScale) {
        int chunks = 0;
        for (Backend.AdamWParam p : params) {
            checkParam("adamw", p.param(), p.grad(), p.m(), p.v());
            chunks = Math.addExact(chunks, Math.toIntExact(Math.ceilDiv(p.param().numel(), CHUNK)));
        }
        if (chunks == 0) {
            return;
        }
        long tableBytes = (long) params.size() * ROW_BYTES;
        long tensorOfChunkBytes = (long) chunks * Integer.BYTES;
        long startOfChunkBytes = (long) chunks * Long.BYTES;
        try (CudaDevice.Temps tmp = d.temps(); Arena arena = Arena.ofConfined()) {
            MemorySegment table = arena.allocate(tableBytes, 8);
            MemorySegment tensorOfChunk = arena.allocate(tensorOfChunkBytes, 4);
            MemorySegment startOfChunk = arena.allocate(startOfChunkBytes, 8);
            int c = 0;
            for (int i = 0; i < params.size(); i++) {
                Backend.AdamWParam p = params.get(i);
                long row = (long) i * ROW_BYTES;
                long n = p.param().numel();
                table.set(ValueLayout.JAVA_LONG, row + OFF_PARAM, ptr(p.param()));
                table.set(ValueLayout.JAVA_LONG, row + OFF_GRAD, ptr(p.grad()));
                table.set(ValueLayout.JAVA_LONG, row + OFF_M, ptr(p.m()));
                table.set(ValueLayout.JAVA_LONG, row + OFF_V, ptr(p.v()));
                table.set(ValueLayout.JAVA_LONG, row + OFF_N, n);
                table.set(ValueLayout.JAVA_FLOAT, row + OFF_WEIGHT_DECAY, p.weightDecay());
                table.set(ValueLayout.JAVA_FLOAT, row + OFF_BC1, p.biasCorrection1());
                table.set(ValueLayout.JAVA_FLOAT, row + OFF_BC2, p.biasCorrection2());
                table.set(ValueLayout.JAVA_INT, row + OFF_GDT, code(p.grad().dtype()));
                table.set(ValueLayout.JAVA_LONG, row + OFF_LOW, DeviceTensors.ptrOrNull(p.lowCopy()));
                table.set(ValueLayout.JAVA_INT, row + OFF_LOW_DT, DeviceTensors.codeOrF32(p.lowCopy()));
                for (long start = 0; start < n; start += CHUNK) {
                    tensorOfChunk.setAtIndex(ValueLayout.JAVA_INT, c, i);
                    startOfChunk.setAtIndex(ValueLayout.JAVA_LONG, c, start);
                    c++;
                }
            }
            long dTable = tmp.alloc(tableBytes);
            long dTensorOfChunk = tmp.alloc(tensorOfChunkBytes);
            long dStartOfChunk = tmp.alloc(startOfChunkBytes);
            d.api().copyHostToDevice(dTable, table, 0, tableBytes);
            d.api().copyHostToDevice(dTensorOfChunk, tensorOfChunk, 0, tensorOfChunkBytes);
            d.api().copyHostToDevice(dStartOfChunk, startOfChunk, 0, startOfChunkBytes);
            // solder_adamw_multi(const SolderAdamwTensor* tensors, const int* chunkTensor,
            //                    const long long* chunkStart, int chunks, long long chunkSize, float lr,
            //                    float beta1, float beta2, float eps, float gradScale)
            Launch.of(d, Kernel.ADAMW_MULTI, LaunchConfig.chunks(chunks))
                    .ptr(dTable).ptr(dTensorOfChunk).ptr(dStartOfChunk).i32(chunks).i64(CHUNK)
                    .f32(lr).f32(beta1).f32(beta2).f32(eps).f32(gradScale)
                    .run();
        }
    }

    private static void checkParam(String op, Tensor param, Tensor grad, Tensor m, Tensor v) {
        DeviceTensors.requireFloat32(op, "param", param);
        DeviceTensors.requireFloat32(op, "m", m);
        DeviceTensors.requireFloat32(op, "v", v);
        long n = param.numel();
        if (grad.numel() != n || m.numel() != n || v.numel() != n) {
            throw new IllegalArgumentException(op + ": param " + param.describe() + ", grad " + grad.describe() + ", m "
                    + m.describe() + ", v " + v.describe() + " differ in size");
        }
    }

    static double sumSquares(CudaDevice d, Tensor x) {
        return CudaReduce.sumSquares(d, x);
    }

    static double sumSquares(CudaDevice d, List<Tensor> xs) {
        return KernelPaths.useFused(KernelPaths.FusedOp.SUM_SQUARES_ALL, null)
                ? CudaReduce.sumSquaresAll(d, xs) : CudaReduce.sumSquares(d, xs);
    }
}
