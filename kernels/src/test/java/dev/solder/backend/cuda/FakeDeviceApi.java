package dev.solder.backend.cuda;

import dev.solder.DType;
import dev.solder.Philox;
import dev.solder.cuda.CudaOutOfMemoryException;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.Map;
import java.util.TreeMap;

/**
 * A GPU made of Java, for tests on machines without one: device memory is bounds-checked
 * native memory at fake addresses, GEMMs are a plain triple loop over cuBLAS's column-major
 * arguments, and every kernel of src/main/cuda is transcribed here line by line (same float32
 * arithmetic, same indexing, same use of the launch grid where a kernel depends on it).
 *
 * <p>It cannot find bugs inside the .cu files (the GPU tests do), but it runs every line of
 * the Java side: launch arguments (kinds, order, counts via {@link Launch}), pointer
 * arithmetic (any access outside an allocation fails with the kernel's name), GEMM leading
 * dimensions and strides, temporaries freed, and the parity suite itself.
 */
final class FakeDeviceApi implements DeviceApi {
    /** Fake device memory size; bigger requests fail with CudaOutOfMemoryException like cuMemAllocAsync. */
    static final long CAPACITY = 1L << 31;
    private static final long BASE = 0x7000_0000_0000L;

    private record Block(long addr, long size, MemorySegment seg, Arena arena) {
    }

    private final TreeMap<Long, Block> blocks = new TreeMap<>();
    private final long capacity;
    private boolean broken;
    private long next = BASE;
    private long used;
    int launches;
    private final java.util.Map<Kernel, Integer> launchesByKernel = new java.util.concurrent.ConcurrentHashMap<>();
    int gemms;
    int ltGemms;

    FakeDeviceApi() {
        this(CAPACITY);
    }

    /** A device of {@code capacity} bytes (tests of out-of-memory handling). */
    FakeDeviceApi(long capacity) {
        this.capacity = capacity;
    }

    @Override
    public int ordinal() {
        return 0;
    }

    @Override
    public int computeCapability() {
        return 90;
    }

    @Override
    public String describe() {
        return "fake cuda:0 (Java model of the kernels)";
    }

    @Override
    public void enter() {
    }

    @Override
    public synchronized long alloc(long bytes) {
        if (bytes <= 0) {
            throw new AssertionError("alloc of " + bytes + " bytes");
        }
        if (used + bytes > capacity) {
            throw new CudaOutOfMemoryException("CudaDriver.memAllocAsync", "cuMemAllocAsync", 2, "CUDA_ERROR_OUT_OF_MEMORY",
                    "out of memory", "bytes=" + bytes + ", stream=0x0", bytes, capacity - used, capacity);
        }
        Arena arena = Arena.ofShared();
        MemorySegment seg = arena.allocate(bytes, 256);
        long addr = next;
        next += (bytes + 511) & ~255L; // a gap after each block: off-by-one accesses land nowhere
        blocks.put(addr, new Block(addr, bytes, seg, arena));
        used += bytes;
        return addr;
    }

    /**
     * From now on every free fails as it does on a card after a kernel faulted (the context is
     * broken and every driver call returns the fault); the memory stays allocated here.
     */
    synchronized void breakContext() {
        broken = true;
    }

    @Override
    public synchronized void free(long ptr) {
        if (broken) {
            throw new dev.solder.cuda.CudaException("CudaDriver.memFreeAsync", "cuMemFreeAsync", 700,
                    "CUDA_ERROR_ILLEGAL_ADDRESS", "an illegal memory access was encountered", "ptr=0x" + Long.toHexString(ptr));
        }
        Block b = blocks.remove(ptr);
        if (b == null) {
            throw new AssertionError("free of 0x" + Long.toHexString(ptr) + ", which is no live allocation");
        }
        used -= b.size();
        b.arena().close();
    }

    /** Live allocations (for leak checks). */
    synchronized int liveBlocks() {
        return blocks.size();
    }

    /** The memory from {@code ptr} to the end of its allocation. */
    synchronized MemorySegment at(long ptr, String who) {
        Map.Entry<Long, Block> e = blocks.floorEntry(ptr);
        if (e == null || ptr >= e.getKey() + e.getValue().size()) {
            throw new AssertionError(who + ": address 0x" + Long.toHexString(ptr) + " is in no live allocation");
        }
        return e.getValue().seg().asSlice(ptr - e.getKey());
    }

    MemorySegment at(long ptr, long bytes, String who) {
        MemorySegment m = at(ptr, who);
        if (bytes > m.byteSize()) {
            throw new AssertionError(who + ": " + bytes + " bytes at 0x" + Long.toHexString(ptr) + " run "
                    + (bytes - m.byteSize()) + " bytes past the end of their allocation");
        }
        return m.asSlice(0, bytes);
    }

    @Override
    public void copyHostToDevice(long dst, MemorySegment src, long srcOffset, long bytes) {
        if (bytes > 0) {
            MemorySegment.copy(src, srcOffset, at(dst, bytes, "copyHostToDevice"), 0, bytes);
        }
    }

    @Override
    public void copyDeviceToHost(MemorySegment dst, long dstOffset, long src, long bytes) {
        if (bytes > 0) {
            MemorySegment.copy(at(src, bytes, "copyDeviceToHost"), 0, dst, dstOffset, bytes);
        }
    }

    @Override
    public void copyDeviceToDevice(long dst, long src, long bytes) {
        if (bytes > 0) {
            MemorySegment.copy(at(src, bytes, "copyDeviceToDevice src"), 0, at(dst, bytes, "copyDeviceToDevice dst"), 0, bytes);
        }
    }

    @Override
    public void memset(long dst, byte value, long bytes) {
        if (bytes > 0) {
            at(dst, bytes, "memset").fill(value);
        }
    }

    @Override
    public void synchronize() {
    }

    // ------------------------------------------------------------------ typed access

    /** A kernel's view of one pointer argument: typed, bounds-checked element access. */
    final class Mem {
        final MemorySegment seg;
        final String who;

        Mem(long ptr, String who) {
            this.seg = at(ptr, who);
            this.who = who;
        }

        private AssertionError oob(long i, int dt) {
            return new AssertionError(who + ": element " + i + " (dtype code " + dt + ") is past the end of its allocation ("
                    + seg.byteSize() + " bytes)");
        }

        float load(int dt, long i) {
            try {
                return switch (dt) {
                    case 1 -> DType.bf16ToFloat(seg.getAtIndex(ValueLayout.JAVA_SHORT_UNALIGNED, i));
                    case 2 -> Float.float16ToFloat(seg.getAtIndex(ValueLayout.JAVA_SHORT_UNALIGNED, i));
                    case 3 -> (float) seg.getAtIndex(ValueLayout.JAVA_INT_UNALIGNED, i);
                    case 4 -> (float) (double) seg.getAtIndex(ValueLayout.JAVA_LONG_UNALIGNED, i);
                    case 5 -> (float) seg.getAtIndex(ValueLayout.JAVA_DOUBLE_UNALIGNED, i);
                    default -> seg.getAtIndex(ValueLayout.JAVA_FLOAT_UNALIGNED, i);
                };
            } catch (IndexOutOfBoundsException e) {
                throw oob(i, dt);
            }
        }

        void store(int dt, long i, float v) {
            try {
                switch (dt) {
                    case 1 -> seg.setAtIndex(ValueLayout.JAVA_SHORT_UNALIGNED, i, DType.floatToBf16(v));
                    case 2 -> seg.setAtIndex(ValueLayout.JAVA_SHORT_UNALIGNED, i, Float.floatToFloat16(v));
                    case 3 -> seg.setAtIndex(ValueLayout.JAVA_INT_UNALIGNED, i, (int) v);
                    case 4 -> seg.setAtIndex(ValueLayout.JAVA_LONG_UNALIGNED, i, (long) v);
                    case 5 -> seg.setAtIndex(ValueLayout.JAVA_DOUBLE_UNALIGNED, i, v);
                    default -> seg.setAtIndex(ValueLayout.JAVA_FLOAT_UNALIGNED, i, v);
                }
            } catch (IndexOutOfBoundsException e) {
                throw oob(i, dt);
            }
        }

        long loadIndex(int dt, long i) {
            try {
                return switch (dt) {
                    case 3 -> seg.getAtIndex(ValueLayout.JAVA_INT_UNALIGNED, i);
                    case 4 -> seg.getAtIndex(ValueLayout.JAVA_LONG_UNALIGNED, i);
                    default -> (long) load(dt, i);
                };
            } catch (IndexOutOfBoundsException e) {
                throw oob(i, dt);
            }
        }

        boolean isZero(int dt, long i) {
            return switch (dt) {
                case 3, 4 -> loadIndex(dt, i) == 0;
                default -> load(dt, i) == 0f;
            };
        }

        double loadDouble(long i) {
            try {
                return seg.getAtIndex(ValueLayout.JAVA_DOUBLE_UNALIGNED, i);
            } catch (IndexOutOfBoundsException e) {
                throw oob(i, 5);
            }
        }

        void storeDouble(long i, double v) {
            try {
                seg.setAtIndex(ValueLayout.JAVA_DOUBLE_UNALIGNED, i, v);
            } catch (IndexOutOfBoundsException e) {
                throw oob(i, 5);
            }
        }

        void storeInt(long i, int v) {
            seg.setAtIndex(ValueLayout.JAVA_INT_UNALIGNED, i, v);
        }

        int loadInt(long i) {
            return seg.getAtIndex(ValueLayout.JAVA_INT_UNALIGNED, i);
        }

        void storeLong(long i, long v) {
            seg.setAtIndex(ValueLayout.JAVA_LONG_UNALIGNED, i, v);
        }
    }

    /** Arguments of one launch, read by position with the kinds Launch already checked. */
    private final class Args {
        final Kernel k;
        final long[] a;

        Args(Kernel k, long[] a) {
            this.k = k;
            this.a = a;
        }

        Mem mem(int i) {
            return a[i] == 0 ? null : new Mem(a[i], k.cName() + " argument '" + k.paramName(i) + "'");
        }

        int i32(int i) {
            return (int) a[i];
        }

        long i64(int i) {
            return a[i];
        }

        float f32(int i) {
            return Float.intBitsToFloat((int) a[i]);
        }

        double f64(int i) {
            return Double.longBitsToDouble(a[i]);
        }
    }

    // ------------------------------------------------------------------ launches

    /** How many times {@code kernel} was launched on this device so far. */
    int launchesOf(Kernel kernel) {
        return launchesByKernel.getOrDefault(kernel, 0);
    }

    @Override
    public void launch(Kernel kernel, LaunchConfig c, long[] args) {
        launches++;
        launchesByKernel.merge(kernel, 1, Integer::sum);
        if (args.length != kernel.arity()) {
            throw new AssertionError(kernel.cName() + ": " + args.length + " arguments");
        }
        for (int i = 0; i < args.length; i++) {
            if (kernel.kind(i) == Kernel.ArgKind.PTR && args[i] != 0) {
                at(args[i], kernel.cName() + " argument '" + kernel.paramName(i) + "'");
            }
        }
        Args a = new Args(kernel, args);
        switch (kernel) {
            case FILL -> fill(a);
            case CONVERT -> convert(a);
            case COPY_STRIDED -> copyStrided(a);
            case ADD -> add(a);
            case MUL -> mul(a);
            case SCALE -> scale(a);
            case GELU_FORWARD -> geluForward(a);
            case GELU_BACKWARD -> geluBackward(a);
            case TANH_FORWARD -> tanhForward(a);
            case TANH_BACKWARD -> tanhBackward(a);
            case REDUCE_PARTIAL -> reducePartial(a, c);
            case REDUCE_FINISH -> reduceFinish(a);
            case SUMSQ_MULTI_PARTIAL -> sumSquaresMultiPartial(a, c);
            case SUMSQ_MULTI_FINISH -> sumSquaresMultiFinish(a, c);
            case COLUMN_SUM_PARTIAL -> columnSumPartial(a, c);
            case COLUMN_SUM_FINISH -> columnSumFinish(a, c);
            case SOFTMAX_FORWARD -> softmaxForward(a);
            case SOFTMAX_BACKWARD -> softmaxBackward(a);
            case LAYERNORM_FORWARD -> layerNormForward(a);
            case LAYERNORM_BACKWARD_INPUT -> layerNormBackwardInput(a);
            case LAYERNORM_BACKWARD_PARAMS_PARTIAL -> layerNormParamsPartial(a, c);
            case DROPOUT -> dropout(a);
            case EMBEDDING_FORWARD -> embeddingForward(a);
            case EMBEDDING_BACKWARD -> embeddingBackward(a, c);
            case ATTENTION_SOFTMAX_FORWARD -> attentionSoftmaxForward(a);
            case ATTENTION_SOFTMAX_BACKWARD -> attentionSoftmaxBackward(a);
            case CROSS_ENTROPY_FORWARD -> crossEntropyForward(a);
            case CROSS_ENTROPY_REDUCE -> crossEntropyReduce(a);
            case COUNT_LABELS -> countLabels(a);
            case CROSS_ENTROPY_BACKWARD -> crossEntropyBackward(a);
            case CROSS_ENTROPY_FUSED_FORWARD -> crossEntropyFusedForward(a);
            case MSE_BACKWARD -> mseBackward(a);
            case ADAMW -> adamw(a);
            case ADAMW_MULTI -> adamwMulti(a, c);
            case LAYERNORM_FUSED_FORWARD -> layerNormFusedForward(a);
            case EMBEDDINGS_LAYERNORM_FUSED_FORWARD -> embeddingsLayerNormFusedForward(a);
            case DROPOUT_LAYERNORM_FUSED_FORWARD -> dropoutLayerNormFusedForward(a);
            case EMBEDDINGS_BACKWARD_FUSED -> embeddingsBackwardFused(a, c);
            case LAYERNORM_FUSED_BACKWARD -> layerNormFusedBackward(a, c);
            case DROPOUT_LAYERNORM_FUSED_BACKWARD -> dropoutLayerNormFusedBackward(a, c);
            case BIAS_GELU_FORWARD -> biasGeluForward(a);
            case BIAS_GELU_BACKWARD -> biasGeluBackward(a, c);
            case FLASH_ATTENTION_FORWARD_D32 -> flashForward(a, c, 32, false);
            case FLASH_ATTENTION_FORWARD_D64 -> flashForward(a, c, 64, false);
            case FLASH_ATTENTION_FORWARD_D128 -> flashForward(a, c, 128, false);
            case FLASH_ATTENTION_BACKWARD_DOT -> flashBackwardDot(a);
            case FLASH_ATTENTION_BACKWARD_DKDV_D32 -> flashBackward(a, c, 32, false, false);
            case FLASH_ATTENTION_BACKWARD_DKDV_D64 -> flashBackward(a, c, 64, false, false);
            case FLASH_ATTENTION_BACKWARD_DKDV_D128 -> flashBackward(a, c, 128, false, false);
            case FLASH_ATTENTION_BACKWARD_DQ_D32 -> flashBackward(a, c, 32, true, false);
            case FLASH_ATTENTION_BACKWARD_DQ_D64 -> flashBackward(a, c, 64, true, false);
            case FLASH_ATTENTION_BACKWARD_DQ_D128 -> flashBackward(a, c, 128, true, false);
            case FLASH_ATTENTION_F32_FORWARD_D32 -> flashForward(a, c, 32, true);
            case FLASH_ATTENTION_F32_FORWARD_D64 -> flashForward(a, c, 64, true);
            case FLASH_ATTENTION_F32_FORWARD_D128 -> flashForward(a, c, 128, true);
            case FLASH_ATTENTION_F32_BACKWARD_DKDV_D32 -> flashBackward(a, c, 32, false, true);
            case FLASH_ATTENTION_F32_BACKWARD_DKDV_D64 -> flashBackward(a, c, 64, false, true);
            case FLASH_ATTENTION_F32_BACKWARD_DKDV_D128 -> flashBackward(a, c, 128, false, true);
            case FLASH_ATTENTION_F32_BACKWARD_DQ_D32 -> flashBackward(a, c, 32, true, true);
            case FLASH_ATTENTION_F32_BACKWARD_DQ_D64 -> flashBackward(a, c, 64, true, true);
            case FLASH_ATTENTION_F32_BACKWARD_DQ_D128 -> flashBackward(a, c, 128, true, true);
        }
    }

    // elementwise.cu

    private void fill(Args a) {
        Mem out = a.mem(0);
        int dt = a.i32(1);
        long n = a.i64(2);
        double v = a.f64(3);
        for (long i = 0; i < n; i++) {
            switch (dt) {
                case 3 -> out.storeInt(i, (int) v);
                case 4 -> out.storeLong(i, (long) v);
                default -> out.store(dt, i, (float) v);
            }
        }
    }

    private static boolean isInt(int dt) {
        return dt == 3 || dt == 4;
    }

    private static void copyElement(Mem src, int sdt, long si, Mem dst, int ddt, long di) {
        if (sdt == ddt) {
            int size = sdt == 1 || sdt == 2 ? 2 : sdt == 4 ? 8 : 4;
            MemorySegment.copy(src.seg, si * size, dst.seg, di * size, size);
            return;
        }
        if (isInt(sdt) && isInt(ddt)) {
            long v = src.loadIndex(sdt, si);
            if (ddt == 3) {
                dst.storeInt(di, (int) v);
            } else {
                dst.storeLong(di, v);
            }
            return;
        }
        if (!isInt(sdt) && !isInt(ddt)) {
            dst.store(ddt, di, src.load(sdt, si));
            return;
        }
        double v = sdt == 3 || sdt == 4 ? (double) src.loadIndex(sdt, si) : (double) src.load(sdt, si);
        switch (ddt) {
            case 3 -> dst.storeInt(di, (int) v);
            case 4 -> dst.storeLong(di, (long) v);
            default -> dst.store(ddt, di, (float) v);
        }
    }

    private void convert(Args a) {
        Mem src = a.mem(0);
        Mem dst = a.mem(2);
        long n = a.i64(4);
        for (long i = 0; i < n; i++) {
            copyElement(src, a.i32(1), i, dst, a.i32(3), i);
        }
    }

    private void copyStrided(Args a) {
        Mem src = a.mem(0);
        Mem dst = a.mem(2);
        long n = a.i64(4);
        long[] s = new long[6];
        long[] ss = new long[6];
        long[] ds = new long[6];
        for (int d = 0; d < 6; d++) {
            s[d] = a.i64(5 + d);
            ss[d] = a.i64(11 + d);
            ds[d] = a.i64(17 + d);
        }
        for (long i = 0; i < n; i++) {
            long rem = i;
            long si = 0;
            long di = 0;
            for (int d = 5; d >= 1; d--) {
                long idx = rem % s[d];
                rem /= s[d];
                si += idx * ss[d];
                di += idx * ds[d];
            }
            si += rem * ss[0];
            di += rem * ds[0];
            copyElement(src, a.i32(1), si, dst, a.i32(3), di);
        }
    }

    private void add(Args a) {
        Mem x = a.mem(0);
        Mem y = a.mem(2);
        Mem out = a.mem(6);
        long n = a.i64(8);
        long nb = a.i64(9);
        for (long i = 0; i < n; i++) {
            long j = nb == n ? i : i % nb;
            out.store(a.i32(7), i, a.f32(4) * x.load(a.i32(1), i) + a.f32(5) * y.load(a.i32(3), j));
        }
    }

    private void mul(Args a) {
        Mem x = a.mem(0);
        Mem y = a.mem(2);
        Mem out = a.mem(4);
        long n = a.i64(6);
        long nb = a.i64(7);
        for (long i = 0; i < n; i++) {
            long j = nb == n ? i : i % nb;
            out.store(a.i32(5), i, x.load(a.i32(1), i) * y.load(a.i32(3), j));
        }
    }

    private void scale(Args a) {
        Mem x = a.mem(0);
        Mem out = a.mem(3);
        long n = a.i64(5);
        for (long i = 0; i < n; i++) {
            out.store(a.i32(4), i, a.f32(2) * x.load(a.i32(1), i));
        }
    }

    static float erf(float x) {
        // float32 erf to ~1 ulp via the double-precision series/continued fraction
        double z = Math.abs((double) x);
        double t = 1.0 / (1.0 + 0.5 * z);
        double r = t * Math.exp(-z * z - 1.26551223 + t * (1.00002368 + t * (0.37409196 + t * (0.09678418
                + t * (-0.18628806 + t * (0.27886807 + t * (-1.13520398 + t * (1.48851587
                + t * (-0.82215223 + t * 0.17087277)))))))));
        return (float) (x >= 0 ? 1 - r : r - 1);
    }

    private void geluForward(Args a) {
        Mem x = a.mem(0);
        Mem out = a.mem(2);
        long n = a.i64(4);
        boolean tanh = a.i32(5) != 0;
        for (long i = 0; i < n; i++) {
            float v = x.load(a.i32(1), i);
            float y;
            if (tanh) {
                float u = 0.7978845608028654f * (v + 0.044715f * v * v * v);
                y = 0.5f * v * (1f + (float) Math.tanh(u));
            } else {
                y = 0.5f * v * (1f + erf(v * 0.70710678118654752f));
            }
            out.store(a.i32(3), i, y);
        }
    }

    private void geluBackward(Args a) {
        Mem x = a.mem(0);
        Mem dy = a.mem(2);
        Mem dx = a.mem(4);
        long n = a.i64(6);
        boolean tanh = a.i32(7) != 0;
        for (long i = 0; i < n; i++) {
            float v = x.load(a.i32(1), i);
            float g;
            if (tanh) {
                float u = 0.7978845608028654f * (v + 0.044715f * v * v * v);
                float t = (float) Math.tanh(u);
                float du = 0.7978845608028654f * (1f + 3f * 0.044715f * v * v);
                g = 0.5f * (1f + t) + 0.5f * v * (1f - t * t) * du;
            } else {
                float cdf = 0.5f * (1f + erf(v * 0.70710678118654752f));
                float pdf = 0.3989422804014327f * (float) Math.exp(-0.5f * v * v);
                g = cdf + v * pdf;
            }
            dx.store(a.i32(5), i, dy.load(a.i32(3), i) * g);
        }
    }

    private void tanhForward(Args a) {
        Mem x = a.mem(0);
        Mem out = a.mem(2);
        long n = a.i64(4);
        for (long i = 0; i < n; i++) {
            out.store(a.i32(3), i, (float) Math.tanh(x.load(a.i32(1), i)));
        }
    }

    private void tanhBackward(Args a) {
        Mem y = a.mem(0);
        Mem dy = a.mem(2);
        Mem dx = a.mem(4);
        long n = a.i64(6);
        for (long i = 0; i < n; i++) {
            float t = y.load(a.i32(1), i);
            dx.store(a.i32(5), i, dy.load(a.i32(3), i) * (1f - t * t));
        }
    }

    // reduce.cu

    private void reducePartial(Args a, LaunchConfig c) {
        Mem x = a.mem(0);
        Mem y = a.mem(2);
        int mode = a.i32(4);
        long n = a.i64(5);
        Mem part = a.mem(6);
        long threads = (long) c.gridX() * c.blockX();
        double[] perBlock = new double[c.gridX()];
        for (long i = 0; i < n; i++) {
            double v = x.load(a.i32(1), i);
            if (mode == 2) {
                v -= y.load(a.i32(3), i);
            }
            perBlock[(int) ((i % threads) / c.blockX())] += mode == 0 ? v : v * v;
        }
        for (int b = 0; b < perBlock.length; b++) {
            part.storeDouble(b, perBlock[b]);
        }
    }

    private void reduceFinish(Args a) {
        Mem part = a.mem(0);
        int count = a.i32(1);
        double s = 0;
        for (int i = 0; i < count; i++) {
            s += part.loadDouble(i);
        }
        Mem out = a.mem(3);
        if (a.i32(4) == 5) {
            out.storeDouble(0, s * a.f64(2));
        } else {
            out.store(a.i32(4), 0, (float) (s * a.f64(2)));
        }
    }

    /** Tensor i's partial g sums, as {@link #reducePartial} on a G-block launch, the elements of block g. */
    private void sumSquaresMultiPartial(Args a, LaunchConfig c) {
        Mem table = a.mem(0);
        int count = a.i32(1);
        long total = a.i64(2);
        Mem part = a.mem(3);
        if (c.blockX() != 256 || c.gridX() > Math.max(1, total)) {
            throw new AssertionError("solder_sumsq_multi_partial: launched as " + c + " for " + total + " partials");
        }
        long written = 0;
        for (int t = 0; t < count; t++) {
            long row = (long) t * CudaReduce.SUMSQ_ROW_BYTES;
            Mem x = new Mem(table.seg.get(ValueLayout.JAVA_LONG, row + CudaReduce.SUMSQ_OFF_X), "sumsq_multi x");
            long n = table.seg.get(ValueLayout.JAVA_LONG, row + CudaReduce.SUMSQ_OFF_N);
            long first = table.seg.get(ValueLayout.JAVA_LONG, row + CudaReduce.SUMSQ_OFF_FIRST);
            int dt = table.seg.get(ValueLayout.JAVA_INT, row + CudaReduce.SUMSQ_OFF_DT);
            int blocks = table.seg.get(ValueLayout.JAVA_INT, row + CudaReduce.SUMSQ_OFF_BLOCKS);
            if (first != written) {
                throw new AssertionError("solder_sumsq_multi_partial: tensor " + t + " starts at partial " + first
                        + ", expected " + written);
            }
            long threads = (long) blocks * c.blockX();
            double[] perBlock = new double[blocks];
            for (long i = 0; i < n; i++) {
                double v = x.load(dt, i);
                perBlock[(int) ((i % threads) / c.blockX())] += v * v;
            }
            for (int b = 0; b < blocks; b++) {
                part.storeDouble(first + b, perBlock[b]);
            }
            written += blocks;
        }
        if (written != total) {
            throw new AssertionError("solder_sumsq_multi_partial: table holds " + written + " partials, told " + total);
        }
    }

    private void sumSquaresMultiFinish(Args a, LaunchConfig c) {
        Mem table = a.mem(0);
        int count = a.i32(1);
        Mem part = a.mem(2);
        Mem out = a.mem(3);
        if (c.blockX() != 256 || c.gridX() > count) {
            throw new AssertionError("solder_sumsq_multi_finish: launched as " + c + " for " + count + " tensors");
        }
        for (int t = 0; t < count; t++) {
            long row = (long) t * CudaReduce.SUMSQ_ROW_BYTES;
            long first = table.seg.get(ValueLayout.JAVA_LONG, row + CudaReduce.SUMSQ_OFF_FIRST);
            int blocks = table.seg.get(ValueLayout.JAVA_INT, row + CudaReduce.SUMSQ_OFF_BLOCKS);
            double s = 0;
            for (int b = 0; b < blocks; b++) {
                s += part.loadDouble(first + b);
            }
            out.storeDouble(t, s);
        }
    }

    private void columnSumPartial(Args a, LaunchConfig c) {
        Mem x = a.mem(0);
        long rows = a.i64(2);
        long cols = a.i64(3);
        long perChunk = a.i64(4);
        Mem part = a.mem(5);
        for (int by = 0; by < c.gridY(); by++) {
            for (int bx = 0; bx < c.gridX(); bx++) {
                for (int tx = 0; tx < 32; tx++) {
                    long col = (long) bx * 32 + tx;
                    if (col >= cols) {
                        continue;
                    }
                    long r0 = by * perChunk;
                    long r1 = Math.min(rows, r0 + perChunk);
                    double s = 0;
                    for (long r = r0; r < r1; r++) {
                        s += x.load(a.i32(1), r * cols + col);
                    }
                    part.storeDouble(by * cols + col, s);
                }
            }
        }
    }

    private void columnSumFinish(Args a, LaunchConfig c) {
        int chunks = a.i32(2);
        long cols = a.i64(3);
        // the kernel's sum order depends on its block being 32 columns × 8 slices
        if (c.blockX() != 32 || c.blockY() != 8 || c.gridY() > 2) {
            throw new AssertionError("solder_column_sum_finish: launched as " + c);
        }
        for (int plane = 0; plane < c.gridY(); plane++) {
            Mem part = a.mem(plane == 0 ? 0 : 1);
            Mem out = a.mem(plane == 0 ? 4 : 5);
            for (long col = 0; col < cols; col++) {
                // the kernel's order: eight slices of the chunks (k ≡ s mod 8), each in chunk
                // order, then the slices in order
                double total = 0;
                for (int sl = 0; sl < 8; sl++) {
                    double acc = 0;
                    for (int k = sl; k < chunks; k += 8) {
                        acc += part.loadDouble(k * cols + col);
                    }
                    total += acc;
                }
                out.store(a.i32(6), col, (float) total);
            }
        }
    }

    // softmax.cu

    private static float masked(Mem x, int xdt, Mem mask, int mdt, int mode, long maskRow, long r, int cols, int j) {
        float v = x.load(xdt, r * cols + j);
        if (mode == 1) {
            v += mask.load(mdt, maskRow * cols + j);
        } else if (mode == 2 && mask.isZero(mdt, maskRow * cols + j)) {
            v += -Float.MAX_VALUE;
        }
        return v;
    }

    private void softmaxForward(Args a) {
        Mem x = a.mem(0);
        Mem mask = a.mem(2);
        int mode = a.i32(4);
        long perMask = a.i64(5);
        Mem out = a.mem(6);
        long rows = a.i64(8);
        int cols = a.i32(9);
        for (long r = 0; r < rows; r++) {
            long mr = mode == 0 ? 0 : r / perMask;
            float m = Float.NEGATIVE_INFINITY;
            for (int j = 0; j < cols; j++) {
                m = Math.max(m, masked(x, a.i32(1), mask, a.i32(3), mode, mr, r, cols, j));
            }
            float s = 0;
            for (int j = 0; j < cols; j++) {
                s += (float) Math.exp(masked(x, a.i32(1), mask, a.i32(3), mode, mr, r, cols, j) - m);
            }
            float[] e = new float[cols];
            for (int j = 0; j < cols; j++) {
                e[j] = (float) Math.exp(masked(x, a.i32(1), mask, a.i32(3), mode, mr, r, cols, j) - m);
            }
            for (int j = 0; j < cols; j++) {
                out.store(a.i32(7), r * cols + j, e[j] / s);
            }
        }
    }

    private void softmaxBackward(Args a) {
        Mem y = a.mem(0);
        Mem dy = a.mem(2);
        Mem dx = a.mem(4);
        long rows = a.i64(6);
        int cols = a.i32(7);
        for (long r = 0; r < rows; r++) {
            long base = r * cols;
            float dot = 0;
            for (int j = 0; j < cols; j++) {
                dot += dy.load(a.i32(3), base + j) * y.load(a.i32(1), base + j);
            }
            float[] o = new float[cols];
            for (int j = 0; j < cols; j++) {
                o[j] = y.load(a.i32(1), base + j) * (dy.load(a.i32(3), base + j) - dot);
            }
            for (int j = 0; j < cols; j++) {
                dx.store(a.i32(5), base + j, o[j]);
            }
        }
    }

    // layernorm.cu

    private static float round(int dt, float v) {
        return switch (dt) {
            case 1 -> DType.bf16ToFloat(DType.floatToBf16(v));
            case 2 -> Float.float16ToFloat(Float.floatToFloat16(v));
            default -> v;
        };
    }

    private void layerNormForward(Args a) {
        Mem x = a.mem(0);
        Mem res = a.mem(2);
        Mem gamma = a.mem(4);
        Mem beta = a.mem(6);
        float eps = a.f32(8);
        Mem out = a.mem(9);
        Mem hOut = a.mem(11);
        int hdt = a.i32(12);
        Mem mean = a.mem(13);
        Mem rstd = a.mem(14);
        long rows = a.i64(15);
        int cols = a.i32(16);
        for (long r = 0; r < rows; r++) {
            long base = r * cols;
            float[] h = new float[cols];
            for (int j = 0; j < cols; j++) {
                float v = x.load(a.i32(1), base + j);
                if (res != null) {
                    v = round(hdt, v + res.load(a.i32(3), base + j));
                }
                h[j] = v;
            }
            normalizeRow(h, r, eps, gamma, a.i32(5), beta, a.i32(7), out, a.i32(10), hOut, hdt, mean, rstd);
        }
    }

    /**
     * What every LayerNorm kernel does with a row's h (summed and rounded by the caller): mean,
     * two-pass biased variance, rstd = 1/sqrt(var + eps), out = (h − mean)·rstd·gamma + beta in
     * odt, h stored in hdt when hOut is non-null, mean and rstd stored for row r.
     */
    private static void normalizeRow(float[] h, long r, float eps, Mem gamma, int gdt, Mem beta, int bdt, Mem out,
                                     int odt, Mem hOut, int hdt, Mem mean, Mem rstd) {
        int cols = h.length;
        long base = r * cols;
        float s = 0;
        for (float v : h) {
            s += v;
        }
        float mu = s / cols;
        float q = 0;
        for (float v : h) {
            q += (v - mu) * (v - mu);
        }
        float rs = 1f / (float) Math.sqrt(q / cols + eps);
        for (int j = 0; j < cols; j++) {
            if (hOut != null) {
                hOut.store(hdt, base + j, h[j]);
            }
            out.store(odt, base + j, (h[j] - mu) * rs * gamma.load(gdt, j) + beta.load(bdt, j));
        }
        mean.store(0, r, mu);
        rstd.store(0, r, rs);
    }

    private void layerNormBackwardInput(Args a) {
        Mem dy = a.mem(0);
        Mem h = a.mem(2);
        Mem gamma = a.mem(4);
        Mem mean = a.mem(6);
        Mem rstd = a.mem(7);
        Mem dh = a.mem(8);
        long rows = a.i64(10);
        int cols = a.i32(11);
        for (long r = 0; r < rows; r++) {
            long base = r * cols;
            float mu = mean.load(0, r);
            float rs = rstd.load(0, r);
            float sg = 0;
            float sgx = 0;
            for (int j = 0; j < cols; j++) {
                float g = dy.load(a.i32(1), base + j) * gamma.load(a.i32(5), j);
                float xh = (h.load(a.i32(3), base + j) - mu) * rs;
                sg += g;
                sgx += g * xh;
            }
            float mg = sg / cols;
            float mgx = sgx / cols;
            for (int j = 0; j < cols; j++) {
                float g = dy.load(a.i32(1), base + j) * gamma.load(a.i32(5), j);
                float xh = (h.load(a.i32(3), base + j) - mu) * rs;
                dh.store(a.i32(9), base + j, rs * (g - mg - xh * mgx));
            }
        }
    }

    // layernorm.cu, fused path: same functions; the model checks the cases the kernels accept
    // (the kernels return without writing otherwise) and the 16-byte alignment they assume.

    private static void requireFusedLayerNorm(String k, int cols, int... dts) {
        if (cols != 384 && cols != 768 && cols != 1024) {
            throw new AssertionError(k + ": launched with width " + cols);
        }
        for (int dt : dts) {
            if (dt != 0 && dt != 1) {
                throw new AssertionError(k + ": launched with dtype code " + dt);
            }
        }
    }

    private static void requireAligned(String k, long... ptrs) {
        for (long p : ptrs) {
            if ((p & 15) != 0) {
                throw new AssertionError(k + ": pointer 0x" + Long.toHexString(p) + " is not 16-byte aligned");
            }
        }
    }

    private void layerNormFusedForward(Args a) {
        int dt = a.i32(2);
        long rows = a.i64(12);
        int cols = a.i32(13);
        requireFusedLayerNorm("solder_layernorm_fused_forward", cols, dt);
        requireAligned("solder_layernorm_fused_forward", a.a[0], a.a[1], a.a[8], a.a[9]);
        Mem x = a.mem(0);
        Mem res = a.mem(1);
        Mem gamma = a.mem(3);
        Mem beta = a.mem(5);
        float eps = a.f32(7);
        Mem out = a.mem(8);
        Mem hOut = a.mem(9);
        Mem mean = a.mem(10);
        Mem rstd = a.mem(11);
        for (long r = 0; r < rows; r++) {
            long base = r * cols;
            float[] h = new float[cols];
            for (int j = 0; j < cols; j++) {
                float v = x.load(dt, base + j);
                if (res != null) {
                    v = round(dt, v + res.load(dt, base + j));
                }
                h[j] = v;
            }
            normalizeRow(h, r, eps, gamma, a.i32(4), beta, a.i32(6), out, dt, hOut, dt, mean, rstd);
        }
    }

    private void dropoutLayerNormFusedForward(Args a) {
        int xdt = a.i32(1);
        int dt = a.i32(3);
        float p = a.f32(4);
        long seed = a.i64(5);
        long rows = a.i64(15);
        int cols = a.i32(16);
        String k = "solder_dropout_layernorm_fused_forward";
        requireFusedLayerNorm(k, cols, dt, xdt);
        if (xdt != dt && !(xdt == 1 && dt == 0)) {
            throw new AssertionError(k + ": x dtype code " + xdt + " beside " + dt);
        }
        requireAligned(k, a.a[0], a.a[2], a.a[11], a.a[12]);
        Mem x = a.mem(0);
        Mem res = a.mem(2);
        Mem gamma = a.mem(6);
        Mem beta = a.mem(8);
        float eps = a.f32(10);
        Mem out = a.mem(11);
        Mem hOut = a.mem(12);
        Mem mean = a.mem(13);
        Mem rstd = a.mem(14);
        Mem outLow = null;
        if (a.a[17] != 0) {
            if (dt != 0 || (a.a[17] & 7) != 0) {
                throw new AssertionError(k + ": a bfloat16 copy needs a float32 out and 8-byte alignment");
            }
            outLow = a.mem(17);
        }
        float scale = 1f / (1f - p);
        for (long r = 0; r < rows; r++) {
            long base = r * cols;
            float[] h = new float[cols];
            for (int j = 0; j < cols; j++) {
                float d = Philox.keep(seed, base + j, p) ? round(xdt, x.load(xdt, base + j) * scale) : 0f;
                h[j] = round(dt, d + res.load(dt, base + j));
            }
            normalizeRow(h, r, eps, gamma, a.i32(7), beta, a.i32(9), out, dt, hOut, dt, mean, rstd);
            if (outLow != null) {
                for (int j = 0; j < cols; j++) {
                    outLow.store(1, base + j, out.load(dt, base + j));   // bfloat16, as solder_convert rounds
                }
            }
        }
    }

    private void embeddingsLayerNormFusedForward(Args a) {
        int dt = a.i32(13);
        long rows = a.i64(23);
        int cols = a.i32(24);
        String k = "solder_embeddings_layernorm_fused_forward";
        requireFusedLayerNorm(k, cols, dt);
        requireAligned(k, a.a[7], a.a[9], a.a[11], a.a[19], a.a[20]);
        Mem[] tables = {a.mem(7), a.mem(9), a.mem(11)};
        long[] tableRows = {a.i64(8), a.i64(10), a.i64(12)};
        Mem[] ids = {a.mem(0), a.mem(2), a.mem(4)};
        int[] idts = {a.i32(1), a.i32(3), a.i32(5)};
        long seq = a.i64(6);
        Mem gamma = a.mem(14);
        Mem beta = a.mem(16);
        float eps = a.f32(18);
        Mem out = a.mem(19);
        Mem hOut = a.mem(20);
        Mem mean = a.mem(21);
        Mem rstd = a.mem(22);
        Mem err = a.mem(25);
        Mem info = a.mem(26);
        for (long r = 0; r < rows; r++) {
            long[] base = new long[3];
            for (int t = 0; t < 3; t++) {
                long id = ids[t].loadIndex(idts[t], t == 2 ? r % seq : r);
                base[t] = id >= 0 && id < tableRows[t] ? id * cols : -1;
                if (base[t] < 0 && err.loadInt(0) == 0) {
                    err.storeInt(0, 1);
                    info.storeLong(0, t * rows + r);
                    info.storeLong(1, id);
                }
            }
            float[] h = new float[cols];
            for (int j = 0; j < cols; j++) {
                float[] v = new float[3];
                for (int t = 0; t < 3; t++) {
                    v[t] = base[t] < 0 ? 0f : tables[t].load(dt, base[t] + j);
                }
                h[j] = round(dt, round(dt, v[0] + v[1]) + v[2]);
            }
            normalizeRow(h, r, eps, gamma, a.i32(15), beta, a.i32(17), out, dt, hOut, dt, mean, rstd);
        }
    }

    private void embeddingsBackwardFused(Args a, LaunchConfig c) {
        Mem dh = a.mem(0);
        long rows = a.i64(1);
        int cols = a.i32(2);
        int wb = a.i32(8);
        int tb = a.i32(13);
        int pb = a.i32(19);
        if (c.gridY() != wb + tb + pb) {
            throw new AssertionError("solder_embeddings_backward_fused: grid " + c + " for " + wb + " + " + tb + " + "
                    + pb + " buckets");
        }
        for (int y = 0; y < c.gridY(); y++) {
            if (y < wb) {
                scatter(c, a.mem(3), a.i32(4), rows, dh, 0, a.mem(5), rows, cols, a.i64(6), a.i64(7), wb, y);
            } else if (y < wb + tb) {
                scatter(c, a.mem(9), a.i32(10), rows, dh, 0, a.mem(11), rows, cols, a.i64(12), -1, tb, y - wb);
            } else {
                scatter(c, a.mem(14), a.i32(15), a.i64(16), dh, 0, a.mem(17), rows, cols, a.i64(18), -1, pb,
                        y - wb - tb);
            }
        }
    }

    private void layerNormFusedBackward(Args a, LaunchConfig c) {
        layerNormFusedBackward(a, c, "solder_layernorm_fused_backward", 9, null, 0, 0f, 0L);
    }

    /** solder_dropout_layernorm_fused_backward: the fused backward, and dx = dropout'(dh) in dxdt. */
    private void dropoutLayerNormFusedBackward(Args a, LaunchConfig c) {
        String k = "solder_dropout_layernorm_fused_backward";
        int dxdt = a.i32(10);
        if (dxdt != 0 && dxdt != 1) {
            throw new AssertionError(k + ": dx dtype code " + dxdt);
        }
        requireAligned(k, a.a[9]);
        layerNormFusedBackward(a, c, k, 13, a.mem(9), dxdt, a.f32(11), a.i64(12));
    }

    /**
     * The fused LayerNorm backward; {@code rowsArg} is the index of {@code rows} (the arguments from
     * it on are rows, cols, rowsPerChunk, partGamma, partBeta); {@code dx} non-null: also
     * dropout'(dh), mask element r·cols + j, as solder_dropout writes it from dh.
     */
    private void layerNormFusedBackward(Args a, LaunchConfig c, String k, int rowsArg, Mem dx, int dxdt, float p,
                                        long seed) {
        int dydt = a.i32(1);
        int hdt = a.i32(3);
        long rows = a.i64(rowsArg);
        int cols = a.i32(rowsArg + 1);
        long perChunk = a.i64(rowsArg + 2);
        requireFusedLayerNorm(k, cols, dydt, hdt);
        requireAligned(k, a.a[0], a.a[2], a.a[8]);
        if (c.gridX() * perChunk < rows || (c.gridX() - 1) * perChunk >= rows || c.blockX() != 256) {
            throw new AssertionError(k + ": " + c + " does not cover " + rows + " rows in chunks of " + perChunk);
        }
        Mem dy = a.mem(0);
        Mem h = a.mem(2);
        Mem gamma = a.mem(4);
        Mem mean = a.mem(6);
        Mem rstd = a.mem(7);
        Mem dh = a.mem(8);
        Mem pg = a.mem(rowsArg + 3);
        Mem pb = a.mem(rowsArg + 4);
        float scale = 1f / (1f - p);
        for (int b = 0; b < c.gridX(); b++) {
            double[] sg = new double[cols];
            double[] sb = new double[cols];
            for (long r = b * perChunk; r < Math.min(rows, (b + 1) * perChunk); r++) {
                long base = r * cols;
                float mu = mean.load(0, r);
                float rs = rstd.load(0, r);
                float tg = 0;
                float tgx = 0;
                for (int j = 0; j < cols; j++) {
                    float d = dy.load(dydt, base + j);
                    float xh = (h.load(hdt, base + j) - mu) * rs;
                    float g = d * gamma.load(a.i32(5), j);
                    tg += g;
                    tgx += g * xh;
                    sg[j] += d * xh;
                    sb[j] += d;
                }
                float mg = tg / cols;
                float mgx = tgx / cols;
                if (dh != null || dx != null) {
                    for (int j = 0; j < cols; j++) {
                        float g = dy.load(dydt, base + j) * gamma.load(a.i32(5), j);
                        float xh = (h.load(hdt, base + j) - mu) * rs;
                        float o = rs * (g - mg - xh * mgx);
                        if (dh != null) {
                            dh.store(0, base + j, o);
                        }
                        if (dx != null) {
                            dx.store(dxdt, base + j, Philox.keep(seed, base + j, p) ? o * scale : 0f);
                        }
                    }
                }
            }
            for (int j = 0; j < cols; j++) {
                if (pg != null) {
                    pg.storeDouble((long) b * cols + j, sg[j]);
                }
                if (pb != null) {
                    pb.storeDouble((long) b * cols + j, sb[j]);
                }
            }
        }
    }

    // elementwise.cu, fused path

    private void biasGeluForward(Args a) {
        Mem pre = a.mem(0);
        int pdt = a.i32(1);
        Mem bias = a.mem(2);
        Mem out = a.mem(4);
        long rows = a.i64(6);
        int cols = a.i32(7);
        for (long r = 0; r < rows; r++) {
            for (int j = 0; j < cols; j++) {
                long i = r * cols + j;
                float v = round(pdt, pre.load(pdt, i) + bias.load(a.i32(3), j));
                pre.store(pdt, i, v);
                out.store(a.i32(5), i, 0.5f * v * (1f + erf(v * 0.70710678118654752f)));
            }
        }
    }

    private void biasGeluBackward(Args a, LaunchConfig c) {
        Mem pre = a.mem(0);
        Mem dy = a.mem(2);
        Mem dpre = a.mem(4);
        int dpdt = a.i32(5);
        long rows = a.i64(6);
        int cols = a.i32(7);
        long perChunk = a.i64(8);
        Mem part = a.mem(9);
        for (int by = 0; by < c.gridY(); by++) {
            for (int col = 0; col < cols; col++) {
                double acc = 0;
                for (long r = by * perChunk; r < Math.min(rows, (by + 1) * perChunk); r++) {
                    long i = r * cols + col;
                    float v = pre.load(a.i32(1), i);
                    float cdf = 0.5f * (1f + erf(v * 0.70710678118654752f));
                    float pdf = 0.3989422804014327f * (float) Math.exp(-0.5f * v * v);
                    float g = round(dpdt, dy.load(a.i32(3), i) * (cdf + pdf * v));
                    dpre.store(dpdt, i, g);
                    acc += g;
                }
                part.storeDouble((long) by * cols + col, acc);
            }
        }
    }

    private void layerNormParamsPartial(Args a, LaunchConfig c) {
        Mem dy = a.mem(0);
        Mem h = a.mem(2);
        Mem mean = a.mem(4);
        Mem rstd = a.mem(5);
        long rows = a.i64(6);
        int cols = a.i32(7);
        long perChunk = a.i64(8);
        Mem pg = a.mem(9);
        Mem pb = a.mem(10);
        for (int by = 0; by < c.gridY(); by++) {
            for (int bx = 0; bx < c.gridX(); bx++) {
                for (int tx = 0; tx < 32; tx++) {
                    long col = (long) bx * 32 + tx;
                    if (col >= cols) {
                        continue;
                    }
                    long r0 = by * perChunk;
                    long r1 = Math.min(rows, r0 + perChunk);
                    double sg = 0;
                    double sb = 0;
                    for (long r = r0; r < r1; r++) {
                        long i = r * cols + col;
                        float g = dy.load(a.i32(1), i);
                        float xh = (h.load(a.i32(3), i) - mean.load(0, r)) * rstd.load(0, r);
                        sg += g * xh;
                        sb += g;
                    }
                    pg.storeDouble(by * (long) cols + col, sg);
                    pb.storeDouble(by * (long) cols + col, sb);
                }
            }
        }
    }

    // dropout.cu

    private void dropout(Args a) {
        Mem x = a.mem(0);
        Mem out = a.mem(2);
        long n = a.i64(4);
        float p = a.f32(5);
        long seed = a.i64(6);
        float scale = 1f / (1f - p);
        float[] v = new float[(int) Math.min(n, Integer.MAX_VALUE)];
        for (long i = 0; i < n; i++) {
            v[(int) i] = Philox.keep(seed, i, p) ? x.load(a.i32(1), i) * scale : 0f;
        }
        for (long i = 0; i < n; i++) {
            out.store(a.i32(3), i, v[(int) i]);
        }
    }

    // embedding.cu

    private void embeddingForward(Args a) {
        Mem ids = a.mem(0);
        Mem table = a.mem(2);
        Mem out = a.mem(4);
        long rows = a.i64(6);
        int cols = a.i32(7);
        long vocab = a.i64(8);
        Mem err = a.mem(9);
        Mem info = a.mem(10);
        for (long n = 0; n < rows; n++) {
            long id = ids.loadIndex(a.i32(1), n);
            for (int c = 0; c < cols; c++) {
                if (id < 0 || id >= vocab) {
                    out.store(a.i32(5), n * cols + c, 0f);
                    if (c == 0 && err.loadInt(0) == 0) {
                        err.storeInt(0, 1);
                        info.storeLong(0, n);
                        info.storeLong(1, id);
                    }
                } else {
                    out.store(a.i32(5), n * cols + c, table.load(a.i32(3), id * cols + c));
                }
            }
        }
    }

    private void embeddingBackward(Args a, LaunchConfig c) {
        Mem ids = a.mem(0);
        Mem dy = a.mem(2);
        Mem dtable = a.mem(4);
        long rows = a.i64(5);
        int cols = a.i32(6);
        long vocab = a.i64(7);
        long padding = a.i64(8);
        int buckets = a.i32(9);
        for (int bucket = 0; bucket < c.gridY(); bucket++) {
            scatter(c, ids, a.i32(1), rows, dy, a.i32(3), dtable, rows, cols, vocab, padding, buckets, bucket);
        }
    }

    /** embedding.cu's solder_embedding_scatter for one bucket, every column tile (null dtable: skipped). */
    private static void scatter(LaunchConfig c, Mem ids, int idt, long idPeriod, Mem dy, int dydt, Mem dtable, long rows,
                                int cols, long vocab, long padding, int buckets, long bucket) {
        if (dtable == null) {
            return;
        }
        for (int bx = 0; bx < c.gridX(); bx++) {
            for (int tx = 0; tx < c.blockX(); tx++) {
                int col = bx * c.blockX() + tx;
                long cur = -1;
                float acc = 0;
                for (long n = 0; n < rows; n++) {
                    long id = ids.loadIndex(idt, n % idPeriod);
                    if (id < 0 || id >= vocab || id == padding || id % buckets != bucket) {
                        continue;
                    }
                    if (col < cols) {
                        if (id != cur) {
                            if (cur >= 0) {
                                dtable.store(0, cur * cols + col, dtable.load(0, cur * cols + col) + acc);
                            }
                            cur = id;
                            acc = 0;
                        }
                        acc += dy.load(dydt, n * cols + col);
                    }
                }
                if (col < cols && cur >= 0) {
                    dtable.store(0, cur * cols + col, dtable.load(0, cur * cols + col) + acc);
                }
            }
        }
    }

    // attention.cu

    private void attentionSoftmaxForward(Args a) {
        Mem scores = a.mem(0);
        Mem mask = a.mem(1);
        int mdt = a.i32(2);
        long perBatch = a.i64(3);
        long rows = a.i64(4);
        int s = a.i32(5);
        for (long r = 0; r < rows; r++) {
            long mb = (r / perBatch) * s;
            float[] v = new float[s];
            float m = Float.NEGATIVE_INFINITY;
            for (int j = 0; j < s; j++) {
                v[j] = scores.load(0, r * s + j);
                if (mask != null && mask.isZero(mdt, mb + j)) {
                    v[j] += -Float.MAX_VALUE;
                }
                m = Math.max(m, v[j]);
            }
            float sum = 0;
            for (int j = 0; j < s; j++) {
                sum += (float) Math.exp(v[j] - m);
            }
            for (int j = 0; j < s; j++) {
                scores.store(0, r * s + j, (float) Math.exp(v[j] - m) / sum);
            }
        }
    }

    private void attentionSoftmaxBackward(Args a) {
        Mem p = a.mem(0);
        Mem grad = a.mem(1);
        long rows = a.i64(2);
        int s = a.i32(3);
        float dp = a.f32(4);
        long seed = a.i64(5);
        float keep = 1f / (1f - dp);
        for (long r = 0; r < rows; r++) {
            float[] gr = new float[s];
            float dot = 0;
            for (int j = 0; j < s; j++) {
                float g = grad.load(0, r * s + j);
                if (dp > 0f) {
                    g = Philox.keep(seed, r * s + j, dp) ? g * keep : 0f;
                }
                gr[j] = g;
                dot += g * p.load(0, r * s + j);
            }
            for (int j = 0; j < s; j++) {
                grad.store(0, r * s + j, p.load(0, r * s + j) * (gr[j] - dot));
            }
        }
    }

    // loss.cu

    private void crossEntropyForward(Args a) {
        Mem logits = a.mem(0);
        Mem labels = a.mem(2);
        long ignore = a.i64(4);
        long rows = a.i64(5);
        int classes = a.i32(6);
        Mem rowLoss = a.mem(7);
        Mem err = a.mem(8);
        Mem info = a.mem(9);
        for (long r = 0; r < rows; r++) {
            long label = labels.loadIndex(a.i32(3), r);
            if (label == ignore) {
                rowLoss.store(0, r, 0f);
                continue;
            }
            if (label < 0 || label >= classes) {
                rowLoss.store(0, r, 0f);
                if (err.loadInt(0) == 0) {
                    err.storeInt(0, 1);
                    info.storeLong(0, r);
                    info.storeLong(1, label);
                }
                continue;
            }
            long base = r * classes;
            float[] ms = ceRowStats(logits, a.i32(1), base, classes);
            float m = ms[0];
            float s = ms[1];
            rowLoss.store(0, r, (m + (float) Math.log(s)) - logits.load(a.i32(1), base + label));
        }
    }

    /** loss.cu's solder_ce_row_stats: {max, Σ exp(x − max)} of one row (sequential sums here). */
    private static float[] ceRowStats(Mem logits, int ldt, long base, int classes) {
        float m = Float.NEGATIVE_INFINITY;
        for (int j = 0; j < classes; j++) {
            m = Math.max(m, logits.load(ldt, base + j));
        }
        float s = 0;
        for (int j = 0; j < classes; j++) {
            s += (float) Math.exp(logits.load(ldt, base + j) - m);
        }
        return new float[] {m, s};
    }

    private void crossEntropyReduce(Args a) {
        Mem rowLoss = a.mem(0);
        Mem labels = a.mem(1);
        long ignore = a.i64(3);
        long rows = a.i64(4);
        Mem loss = a.mem(5);
        double sum = 0;
        double count = 0;
        for (long r = 0; r < rows; r++) {
            if (labels.loadIndex(a.i32(2), r) != ignore) {
                sum += rowLoss.load(0, r);
                count += 1;
            }
        }
        loss.store(a.i32(6), 0, count > 0 ? (float) (sum / count) : 0f);
    }

    private void countLabels(Args a) {
        Mem labels = a.mem(0);
        long ignore = a.i64(2);
        long rows = a.i64(3);
        double c = 0;
        for (long r = 0; r < rows; r++) {
            if (labels.loadIndex(a.i32(1), r) != ignore) {
                c += 1;
            }
        }
        a.mem(4).store(0, 0, (float) c);
    }

    private void crossEntropyBackward(Args a) {
        Mem logits = a.mem(0);
        Mem labels = a.mem(2);
        long ignore = a.i64(4);
        Mem dloss = a.mem(5);
        Mem count = a.mem(7);
        Mem d = a.mem(8);
        long rows = a.i64(10);
        int classes = a.i32(11);
        float cnt = count.load(0, 0);
        float g = dloss.load(a.i32(6), 0);
        for (long r = 0; r < rows; r++) {
            long base = r * classes;
            long label = labels.loadIndex(a.i32(3), r);
            if (label == ignore || label < 0 || label >= classes || cnt == 0f) {
                for (int j = 0; j < classes; j++) {
                    d.store(a.i32(9), base + j, 0f);
                }
                continue;
            }
            float[] ms = ceRowStats(logits, a.i32(1), base, classes);
            float m = ms[0];
            float s = ms[1];
            for (int j = 0; j < classes; j++) {
                float p = (float) Math.exp(logits.load(a.i32(1), base + j) - m) / s;
                d.store(a.i32(9), base + j, g * (p - (j == label ? 1f : 0f)) / cnt);
            }
        }
    }

    private void crossEntropyFusedForward(Args a) {
        Mem logits = a.mem(0);
        Mem labels = a.mem(2);
        long ignore = a.i64(4);
        long rows = a.i64(5);
        int classes = a.i32(6);
        float cnt = a.mem(7).load(0, 0);
        Mem rowLoss = a.mem(8);
        Mem d = a.mem(9);
        Mem err = a.mem(10);
        Mem info = a.mem(11);
        for (long r = 0; r < rows; r++) {
            long base = r * classes;
            long label = labels.loadIndex(a.i32(3), r);
            boolean bad = label != ignore && (label < 0 || label >= classes);
            if (label == ignore || bad) {
                rowLoss.store(0, r, 0f);
                if (bad && err.loadInt(0) == 0) {
                    err.storeInt(0, 1);
                    info.storeLong(0, r);
                    info.storeLong(1, label);
                }
                for (int j = 0; j < classes; j++) {
                    d.store(0, base + j, 0f);
                }
                continue;
            }
            float[] ms = ceRowStats(logits, a.i32(1), base, classes);
            float m = ms[0];
            float s = ms[1];
            rowLoss.store(0, r, (m + (float) Math.log(s)) - logits.load(a.i32(1), base + label));
            for (int j = 0; j < classes; j++) {
                float p = (float) Math.exp(logits.load(a.i32(1), base + j) - m) / s;
                d.store(0, base + j, (p - (j == label ? 1f : 0f)) / cnt);
            }
        }
    }

    private void mseBackward(Args a) {
        Mem pred = a.mem(0);
        Mem target = a.mem(2);
        Mem dloss = a.mem(4);
        Mem dpred = a.mem(6);
        long n = a.i64(8);
        float g = dloss.load(a.i32(5), 0);
        float invN = (float) (1.0 / n);
        for (long i = 0; i < n; i++) {
            float d = pred.load(a.i32(1), i) - target.load(a.i32(3), i);
            dpred.store(a.i32(7), i, g * 2f * d * invN);
        }
    }

    // adamw.cu

    private void adamw(Args a) {
        adamwRange(a.mem(0), a.mem(1), a.i32(2), a.mem(3), a.mem(4), 0, a.i64(5), 1f, a.f32(6), a.f32(7), a.f32(8),
                a.f32(9), a.f32(10), a.f32(11), a.f32(12));
    }

    /** The table rows (SolderAdamwTensor, 56 bytes) and chunk lists, walked as the blocks would. */
    private void adamwMulti(Args a, LaunchConfig c) {
        int chunks = a.i32(3);
        if (c.blockX() != 256 || c.gridX() > chunks) {
            throw new AssertionError("solder_adamw_multi: launched as " + c + " for " + a.i32(3) + " chunks");
        }
        Mem table = a.mem(0);
        Mem tensorOfChunk = a.mem(1);
        Mem startOfChunk = a.mem(2);
        long chunkSize = a.i64(4);
        for (int chunk = 0; chunk < chunks; chunk++) {
            long row = (long) tensorOfChunk.seg.getAtIndex(ValueLayout.JAVA_INT, chunk) * CudaOptim.ROW_BYTES;
            long start = startOfChunk.seg.getAtIndex(ValueLayout.JAVA_LONG, chunk);
            long n = table.seg.get(ValueLayout.JAVA_LONG, row + CudaOptim.OFF_N);
            Mem param = new Mem(table.seg.get(ValueLayout.JAVA_LONG, row + CudaOptim.OFF_PARAM), "adamw_multi param");
            Mem grad = new Mem(table.seg.get(ValueLayout.JAVA_LONG, row + CudaOptim.OFF_GRAD), "adamw_multi grad");
            Mem m = new Mem(table.seg.get(ValueLayout.JAVA_LONG, row + CudaOptim.OFF_M), "adamw_multi m");
            Mem v = new Mem(table.seg.get(ValueLayout.JAVA_LONG, row + CudaOptim.OFF_V), "adamw_multi v");
            long end = Math.min(start + chunkSize, n);
            adamwRange(param, grad, table.seg.get(ValueLayout.JAVA_INT, row + CudaOptim.OFF_GDT), m, v, start,
                    end, a.f32(9), a.f32(5), a.f32(6), a.f32(7), a.f32(8),
                    table.seg.get(ValueLayout.JAVA_FLOAT, row + CudaOptim.OFF_WEIGHT_DECAY),
                    table.seg.get(ValueLayout.JAVA_FLOAT, row + CudaOptim.OFF_BC1),
                    table.seg.get(ValueLayout.JAVA_FLOAT, row + CudaOptim.OFF_BC2));
            long lowPtr = table.seg.get(ValueLayout.JAVA_LONG, row + CudaOptim.OFF_LOW);
            if (lowPtr != 0) {   // the updated parameter's low-precision copy, stored as solder_store rounds
                Mem low = new Mem(lowPtr, "adamw_multi low");
                int lowDt = table.seg.get(ValueLayout.JAVA_INT, row + CudaOptim.OFF_LOW_DT);
                for (long i = start; i < end; i++) {
                    low.store(lowDt, i, param.load(0, i));
                }
            }
        }
    }

    /** adamw.cu's solder_adamw_element over elements [from, to), the gradient times gradScale. */
    private static void adamwRange(Mem param, Mem grad, int gdt, Mem m, Mem v, long from, long to, float gradScale,
                                   float lr, float b1, float b2, float eps, float wd, float bc1, float bc2) {
        float decay = lr * wd;
        for (long i = from; i < to; i++) {
            float g = grad.load(gdt, i) * gradScale;
            float p = param.load(0, i);
            p = p - p * decay;
            float mi = m.load(0, i) * b1 + g * (1f - b1);
            float vi = v.load(0, i) * b2 + g * g * (1f - b2);
            float denom = (float) Math.sqrt(vi / bc2) + eps;
            p = p - mi / bc1 / denom * lr;
            param.store(0, i, p);
            m.store(0, i, mi);
            v.store(0, i, vi);
        }
    }

    // ------------------------------------------------------------------ cuBLAS

    @Override
    public void gemm(Gemm g) {
        gemms++;
        g.validate();
        int at = DeviceTensors.code(g.aType());
        int bt = DeviceTensors.code(g.bType());
        int ct = DeviceTensors.code(g.cType());
        // bounds: the last element each operand can touch
        long aLast = (long) (g.batch() - 1) * g.strideA() + (long) (g.aCols() - 1) * g.lda() + g.aRows();
        long bLast = (long) (g.batch() - 1) * g.strideB() + (long) (g.bCols() - 1) * g.ldb() + g.bRows();
        long cLast = (long) (g.batch() - 1) * g.strideC() + (long) (g.n() - 1) * g.ldc() + g.m();
        Mem a = new Mem(g.a(), "gemm A");
        Mem b = new Mem(g.b(), "gemm B");
        Mem c = new Mem(g.c(), "gemm C");
        a.load(at, aLast - 1);
        b.load(bt, bLast - 1);
        c.load(ct, cLast - 1);
        for (int i = 0; i < g.batch(); i++) {
            long ao = i * g.strideA();
            long bo = i * g.strideB();
            long co = i * g.strideC();
            for (int col = 0; col < g.n(); col++) {
                for (int row = 0; row < g.m(); row++) {
                    double s = 0;
                    for (int p = 0; p < g.k(); p++) {
                        float av = g.transA() ? a.load(at, ao + p + (long) row * g.lda()) : a.load(at, ao + row + (long) p * g.lda());
                        float bv = g.transB() ? b.load(bt, bo + col + (long) p * g.ldb()) : b.load(bt, bo + p + (long) col * g.ldb());
                        s += (double) av * bv;
                    }
                    long ci = co + row + (long) col * g.ldc();
                    double v = g.alpha() * s;
                    if (g.beta() != 0f) {
                        v += (double) g.beta() * c.load(ct, ci);
                    }
                    c.store(ct, ci, (float) v);
                }
            }
        }
    }

    /** cuBLASLt's row-major product with its epilogue: float64 sums, D and the bias rounded once. */
    /** Set by tests: answer every ltGemm as cuBLASLt does when it has no algorithm. */
    volatile boolean ltRefuses;

    @Override
    public boolean ltGemm(LtGemm g) {
        g.validate();
        if (ltRefuses) {
            return false;
        }
        ltGemms++;
        int abt = DeviceTensors.code(g.abType());
        int dt = DeviceTensors.code(g.dType());
        int bt = DeviceTensors.code(g.biasType());
        Mem a = new Mem(g.a(), "ltGemm A");
        Mem b = new Mem(g.b(), "ltGemm B");
        Mem d = new Mem(g.d(), "ltGemm D");
        Mem bias = new Mem(g.bias(), "ltGemm bias");
        for (int i = 0; i < g.m(); i++) {
            double rowSum = 0;
            for (int p = 0; p < g.k(); p++) {
                rowSum += g.transA() ? a.load(abt, (long) p * g.lda() + i) : a.load(abt, (long) i * g.lda() + p);
            }
            for (int j = 0; j < g.n(); j++) {
                double s = 0;
                for (int p = 0; p < g.k(); p++) {
                    float av = g.transA() ? a.load(abt, (long) p * g.lda() + i) : a.load(abt, (long) i * g.lda() + p);
                    float bv = g.transB() ? b.load(abt, (long) j * g.ldb() + p) : b.load(abt, (long) p * g.ldb() + j);
                    s += (double) av * bv;
                }
                if (g.epilogue() == LtEpilogue.BIAS) {
                    s += bias.load(bt, j);
                }
                d.store(dt, (long) i * g.ldd() + j, (float) s);
            }
            if (g.epilogue() == LtEpilogue.BGRADB) {
                bias.store(bt, i, (float) rowSum);
            }
        }
        return true;
    }

    // flash_attention.cu: the same functions per (b·h), untiled. The model checks what the kernels
    // assume (dtype, head dim, S ≤ 512, 16-byte alignment, the grid covering every tile) and rounds
    // where the kernels round: P (after dropout) and dS to the operands' dtype before the second
    // product of each pair, as the tensor-core fragments do. Masking as the kernels: a masked key
    // scores −FLT_MAX, or 0 for every key when the batch entry has no unmasked key.

    private static void requireFlash(String k, int dt, int s, long... ptrs) {
        if (dt != 1 && dt != 2 && !(dt == 0 && k.contains("_f32_"))) {
            throw new AssertionError(k + ": launched with dtype code " + dt + " (bf16/fp16; float32 in the _f32_ kernels)");
        }
        if (s < 1 || s > 512) {
            throw new AssertionError(k + ": launched with S = " + s);
        }
        requireAligned(k, ptrs);
    }

    private static void requireGrid(String k, LaunchConfig c, long bh, int s, int tile, int threads) {
        if (c.gridX() != bh || c.gridY() != (s + tile - 1) / tile || c.blockX() != threads || c.blockY() != 1
                || c.sharedBytes() != 0) {
            throw new AssertionError(k + ": " + c + " is not grid (" + bh + ", ceil(" + s + "/" + tile + ")), block "
                    + threads);
        }
    }

    /** One head's [S, D] slice as floats. */
    private static float[][] head(Mem m, int dt, long base, long rowStride, int s, int d) {
        float[][] x = new float[s][d];
        for (int i = 0; i < s; i++) {
            for (int e = 0; e < d; e++) {
                x[i][e] = m.load(dt, base + i * rowStride + e);
            }
        }
        return x;
    }

    private static float dot(float[] a, float[] b) {
        float acc = 0f;
        for (int e = 0; e < a.length; e++) {
            acc += a[e] * b[e];
        }
        return acc;
    }

    /** The per-key mask score: keyOk[j], and the masked score (−FLT_MAX, or 0 when all are masked). */
    private static float flashMask(Mem mask, int mdt, long b, int s, boolean[] keyOk) {
        boolean any = false;
        for (int j = 0; j < s; j++) {
            keyOk[j] = mask == null || !mask.isZero(mdt, b * s + j);
            any |= keyOk[j];
        }
        return any ? -Float.MAX_VALUE : 0f;
    }

    /**
     * One (batch, head) of a flash launch as the kernels see it: where the head starts in
     * [B, S, H·D], the score a masked key gets (flashMask fills keyOk), and q, k, v as float rows.
     */
    private record FlashHead(long base, float masked, float[][] q, float[][] k, float[][] v) {
        static FlashHead of(Mem q, Mem k, Mem v, int dt, Mem mask, int mdt, long bh, int heads, int s, int d,
                            boolean[] keyOk) {
            long rowStride = (long) heads * d;
            long b = bh / heads;
            long base = b * s * rowStride + (bh % heads) * d;
            float masked = flashMask(mask, mdt, b, s, keyOk);
            return new FlashHead(base, masked, head(q, dt, base, rowStride, s, d), head(k, dt, base, rowStride, s, d),
                    head(v, dt, base, rowStride, s, d));
        }
    }

    private void flashForward(Args a, LaunchConfig c, int d, boolean f32) {
        // the float32 kernels take no dt (argument 3): the later arguments sit one lower
        java.util.function.IntUnaryOperator at = x -> f32 && x > 3 ? x - 1 : x;
        String k = a.k.cName();
        int dt = f32 ? 0 : a.i32(3);
        int heads = a.i32(at.applyAsInt(8));
        int s = a.i32(at.applyAsInt(9));
        requireFlash(k, dt, s, a.a[0], a.a[1], a.a[2], a.a[at.applyAsInt(6)]);
        long bhN = c.gridX();
        requireGrid(k, c, bhN, s, 64, f32 && d == 128 ? 256 : 128);
        Mem q = a.mem(0);
        Mem kk = a.mem(1);
        Mem v = a.mem(2);
        Mem mask = a.mem(at.applyAsInt(4));
        int mdt = a.i32(at.applyAsInt(5));
        Mem out = a.mem(at.applyAsInt(6));
        Mem lse = a.mem(at.applyAsInt(7));
        float scale = a.f32(at.applyAsInt(10));
        float p = a.f32(at.applyAsInt(11));
        long seed = a.i64(at.applyAsInt(12));
        float keepScale = 1f / (1f - p);
        long rowStride = (long) heads * d;
        boolean[] keyOk = new boolean[s];
        for (long bh = 0; bh < bhN; bh++) {
            FlashHead hd = FlashHead.of(q, kk, v, dt, mask, mdt, bh, heads, s, d, keyOk);
            long base = hd.base();
            float[] sc = new float[s];
            for (int i = 0; i < s; i++) {
                float m = -Float.MAX_VALUE;
                for (int j = 0; j < s; j++) {
                    sc[j] = keyOk[j] ? dot(hd.q()[i], hd.k()[j]) * scale : hd.masked();
                    m = Math.max(m, sc[j]);
                }
                float l = 0f;
                float[] o = new float[d];
                for (int j = 0; j < s; j++) {
                    float pj = (float) Math.exp(sc[j] - m);
                    l += pj;
                    if (p > 0f) {
                        pj = Philox.keep(seed, ((bh * s) + i) * s + j, p) ? pj * keepScale : 0f;
                    }
                    pj = round(dt, pj);
                    for (int e = 0; e < d; e++) {
                        o[e] += pj * hd.v()[j][e];
                    }
                }
                for (int e = 0; e < d; e++) {
                    out.store(dt, base + i * rowStride + e, o[e] / l);
                }
                lse.store(0, bh * s + i, m + (float) Math.log(l));
            }
        }
    }

    private void flashBackwardDot(Args a) {
        Mem dout = a.mem(0);
        int dodt = a.i32(1);
        Mem out = a.mem(2);
        int odt = a.i32(3);
        Mem delta = a.mem(4);
        long rows = a.i64(5);
        int heads = a.i32(6);
        int s = a.i32(7);
        int d = a.i32(8);
        for (long r = 0; r < rows; r++) {
            float acc = 0f;
            for (int e = 0; e < d; e++) {
                acc += dout.load(dodt, r * d + e) * out.load(odt, r * d + e);
            }
            long h = r % heads;
            long bi = r / heads;
            delta.store(0, ((bi / s) * heads + h) * s + bi % s, acc);
        }
    }

    /** The dK/dV pass ({@code dq == false}) or the dQ pass. */
    private void flashBackward(Args a, LaunchConfig c, int d, boolean dqPass, boolean f32) {
        // the float32 kernels take no dt (argument 4): the later arguments sit one lower
        java.util.function.IntUnaryOperator ix = x -> f32 && x > 4 ? x - 1 : x;
        String k = a.k.cName();
        int dt = f32 ? 0 : a.i32(4);
        int heads = dqPass ? a.i32(ix.applyAsInt(11)) : a.i32(ix.applyAsInt(13));
        int s = dqPass ? a.i32(ix.applyAsInt(12)) : a.i32(ix.applyAsInt(14));
        float scale = dqPass ? a.f32(ix.applyAsInt(13)) : a.f32(ix.applyAsInt(15));
        float p = dqPass ? a.f32(ix.applyAsInt(14)) : a.f32(ix.applyAsInt(16));
        long seed = dqPass ? a.i64(ix.applyAsInt(15)) : a.i64(ix.applyAsInt(17));
        requireFlash(k, dt, s, a.a[0], a.a[1], a.a[2], a.a[3]);
        long bhN = c.gridX();
        // float32: 64 rows a CTA, 2 threads a row (4 at D = 128); bf16/fp16: dQ 128 threads, dK/dV 2 a key
        int keysPerBlock = d == 128 && !f32 ? 32 : 64;
        int f32Threads = d == 128 ? 256 : 128;
        if (dqPass) {
            requireGrid(k, c, bhN, s, 64, f32 ? f32Threads : 128);
        } else {
            requireGrid(k, c, bhN, s, keysPerBlock, f32 ? f32Threads : keysPerBlock * 2);
        }
        Mem q = a.mem(0);
        Mem kk = a.mem(1);
        Mem v = a.mem(2);
        Mem dout = a.mem(3);
        Mem mask = a.mem(ix.applyAsInt(5));
        int mdt = a.i32(ix.applyAsInt(6));
        Mem lse = a.mem(ix.applyAsInt(7));
        Mem delta = a.mem(ix.applyAsInt(8));
        Mem g1 = a.mem(ix.applyAsInt(9));
        int g1dt = a.i32(ix.applyAsInt(10));
        Mem g2 = dqPass ? null : a.mem(ix.applyAsInt(11));
        int g2dt = dqPass ? 0 : a.i32(ix.applyAsInt(12));
        float keepScale = 1f / (1f - p);
        long rowStride = (long) heads * d;
        boolean[] keyOk = new boolean[s];
        for (long bh = 0; bh < bhN; bh++) {
            FlashHead hd = FlashHead.of(q, kk, v, dt, mask, mdt, bh, heads, s, d, keyOk);
            long base = hd.base();
            float[][] doh = head(dout, dt, base, rowStride, s, d);
            float[][] acc1 = new float[s][d]; // dQ, or dK
            float[][] acc2 = new float[s][d]; // dV
            for (int i = 0; i < s; i++) {
                float li = lse.load(0, bh * s + i);
                float di = delta.load(0, bh * s + i);
                for (int j = 0; j < s; j++) {
                    float sc = keyOk[j] ? dot(hd.q()[i], hd.k()[j]) * scale : hd.masked();
                    float pij = (float) Math.exp(sc - li);
                    float dp = dot(doh[i], hd.v()[j]);
                    float pd = pij;
                    float gd = dp;
                    if (p > 0f) {
                        boolean keep = Philox.keep(seed, ((bh * s) + i) * s + j, p);
                        pd = keep ? pij * keepScale : 0f;
                        gd = keep ? dp * keepScale : 0f;
                    }
                    float ds = round(dt, pij * (gd - di));
                    pd = round(dt, pd);
                    for (int e = 0; e < d; e++) {
                        if (dqPass) {
                            acc1[i][e] += ds * hd.k()[j][e];
                        } else {
                            acc1[j][e] += ds * hd.q()[i][e];
                            acc2[j][e] += pd * doh[i][e];
                        }
                    }
                }
            }
            for (int i = 0; i < s; i++) {
                for (int e = 0; e < d; e++) {
                    long at = base + i * rowStride + e;
                    if (g1 != null) {
                        g1.store(g1dt, at, acc1[i][e] * scale);
                    }
                    if (g2 != null) {
                        g2.store(g2dt, at, acc2[i][e]);
                    }
                }
            }
        }
    }
}
