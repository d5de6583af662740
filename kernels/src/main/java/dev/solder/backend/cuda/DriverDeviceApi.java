package dev.solder.backend.cuda;

import dev.solder.DType;
import dev.solder.cuda.Cublas;
import dev.solder.cuda.CublasLt;
import dev.solder.cuda.CudaDataType;
import dev.solder.cuda.CudaDriver;
import dev.solder.cuda.CudaException;
import dev.solder.cuda.KernelArgs;
import dev.solder.cuda.LtMatmul;
import java.lang.foreign.MemorySegment;

/**
 * {@link DeviceApi} on a real GPU: the device's primary context, one non-blocking stream, the
 * stream-ordered allocator ({@code cuMemAllocAsync}, pool kept across synchronizations) or
 * plain {@code cuMemAlloc} where pools are unsupported, one cuBLAS handle on that stream
 * (created on the first GEMM), one cuBLASLt handle with a 32 MiB workspace and its cached plans
 * (created on the first epilogue GEMM), and the kernel module loaded on the first launch
 * ({@link KernelImage}).
 */
final class DriverDeviceApi implements DeviceApi {
    /** Bytes of the pinned buffer that stages copies from/to Java heap arrays. */
    static final long STAGING_BYTES = 8L << 20;

    private final int ordinal;
    private final int cc;
    private final String name;
    private final long stream;
    private final boolean pools;
    private long cublas; // created on the first GEMM: elementwise work needs no cuBLAS
    /** cuBLASLt handle, workspace and plans, created on the first epilogue GEMM (the fused path's). */
    private LtMatmul ltMatmul;
    /** Problems cuBLASLt found no algorithm for (asked once each; the fused path falls back). */
    private final java.util.Set<java.util.List<Object>> ltUnsupported = new java.util.HashSet<>();
    /** cublasStatus_t CUBLAS_STATUS_NOT_SUPPORTED. */
    private static final int CUBLAS_STATUS_NOT_SUPPORTED = 15;
    /** NVIDIA's recommended cuBLASLt workspace on Hopper. */
    static final long LT_WORKSPACE_BYTES = 32L << 20;
    private long module;
    private String moduleOrigin = "kernels not loaded yet";
    private final long[] functions = new long[Kernel.values().length];
    private MemorySegment staging;

    DriverDeviceApi(int ordinal) {
        this.ordinal = ordinal;
        CudaDriver.ensureCurrent(ordinal);
        int major = CudaDriver.deviceAttribute(ordinal, CudaDriver.DeviceAttribute.COMPUTE_CAPABILITY_MAJOR);
        int minor = CudaDriver.deviceAttribute(ordinal, CudaDriver.DeviceAttribute.COMPUTE_CAPABILITY_MINOR);
        this.cc = major * 10 + minor;
        this.name = CudaDriver.deviceName(ordinal);
        this.stream = CudaDriver.streamCreate(CudaDriver.STREAM_NON_BLOCKING);
        boolean p;
        try {
            p = CudaDriver.deviceAttribute(ordinal, CudaDriver.DeviceAttribute.MEMORY_POOLS_SUPPORTED) != 0;
            if (p) {
                // Keep freed blocks in the pool across synchronizations: a training step reuses them.
                CudaDriver.setMemPoolReleaseThreshold(ordinal, Long.MAX_VALUE);
            }
        } catch (CudaException e) {
            p = false;
        }
        this.pools = p;
    }

    private long cublas() {
        if (cublas == 0) {
            long h = Cublas.create();
            Cublas.setStream(h, stream);
            // DEFAULT: float32 GEMMs in full float32 unless a call asks for TF32 (COMPUTE_32F_FAST_TF32)
            Cublas.setMathMode(h, Cublas.MathMode.DEFAULT);
            cublas = h;
        }
        return cublas;
    }

    @Override
    public int ordinal() {
        return ordinal;
    }

    @Override
    public int computeCapability() {
        return cc;
    }

    @Override
    public long streamHandle() {
        return stream;
    }

    @Override
    public String describe() {
        return "cuda:" + ordinal + " " + name + " (sm_" + cc + "), " + moduleOrigin;
    }

    @Override
    public void enter() {
        CudaDriver.ensureCurrent(ordinal);
    }

    @Override
    public long alloc(long bytes) {
        return pools ? CudaDriver.memAllocAsync(bytes, stream) : CudaDriver.memAlloc(bytes);
    }

    @Override
    public void free(long ptr) {
        if (pools) {
            CudaDriver.memFreeAsync(ptr, stream);
        } else {
            // cuMemFree is not ordered on our stream: let queued work that may use ptr finish.
            CudaDriver.streamSynchronize(stream);
            CudaDriver.memFree(ptr);
        }
    }

    private MemorySegment staging() {
        if (staging == null) {
            staging = CudaDriver.memHostAlloc(STAGING_BYTES, 0);
        }
        return staging;
    }

    @Override
    public void copyHostToDevice(long dst, MemorySegment src, long srcOffset, long bytes) {
        if (bytes == 0) {
            return;
        }
        if (src.isNative()) {
            CudaDriver.memcpyHtoDAsync(dst, src.asSlice(srcOffset, bytes), bytes, stream);
            CudaDriver.streamSynchronize(stream); // the caller may overwrite src once we return
            return;
        }
        MemorySegment buf = staging();
        for (long done = 0; done < bytes; done += STAGING_BYTES) {
            long n = Math.min(STAGING_BYTES, bytes - done);
            MemorySegment.copy(src, srcOffset + done, buf, 0, n);
            CudaDriver.memcpyHtoDAsync(dst + done, buf, n, stream);
            CudaDriver.streamSynchronize(stream); // the staging buffer is reused by the next chunk
        }
    }

    @Override
    public void copyDeviceToHost(MemorySegment dst, long dstOffset, long src, long bytes) {
        if (bytes == 0) {
            return;
        }
        if (dst.isNative()) {
            CudaDriver.memcpyDtoHAsync(dst.asSlice(dstOffset, bytes), src, bytes, stream);
            CudaDriver.streamSynchronize(stream);
            return;
        }
        MemorySegment buf = staging();
        for (long done = 0; done < bytes; done += STAGING_BYTES) {
            long n = Math.min(STAGING_BYTES, bytes - done);
            CudaDriver.memcpyDtoHAsync(buf, src + done, n, stream);
            CudaDriver.streamSynchronize(stream);
            MemorySegment.copy(buf, 0, dst, dstOffset + done, n);
        }
    }

    @Override
    public void copyDeviceToDevice(long dst, long src, long bytes) {
        if (bytes > 0) {
            CudaDriver.memcpyDtoDAsync(dst, src, bytes, stream);
        }
    }

    @Override
    public void memset(long dst, byte value, long bytes) {
        if (bytes > 0) {
            CudaDriver.memsetD8Async(dst, value, bytes, stream);
        }
    }

    @Override
    public void synchronize() {
        CudaDriver.streamSynchronize(stream);
    }

    private long function(Kernel k) {
        long f = functions[k.ordinal()];
        if (f != 0) {
            return f;
        }
        if (module == 0) {
            KernelImage.Loaded loaded = KernelImage.load(cc);
            module = loaded.module();
            moduleOrigin = "kernels from " + loaded.origin();
        }
        f = CudaDriver.moduleGetFunction(module, k.cName());
        functions[k.ordinal()] = f;
        return f;
    }

    @Override
    public void launch(Kernel kernel, LaunchConfig c, long[] args) {
        long f = function(kernel);
        KernelArgs ka = KernelArgs.begin();
        for (int i = 0; i < args.length; i++) {
            switch (kernel.kind(i)) {
                case PTR -> ka.ptr(args[i]);
                case I32 -> ka.i32((int) args[i]);
                case I64 -> ka.i64(args[i]);
                case F32 -> ka.f32(Float.intBitsToFloat((int) args[i]));
                case F64 -> ka.f64(Double.longBitsToDouble(args[i]));
            }
        }
        try {
            CudaDriver.launchKernel(f, c.gridX(), c.gridY(), 1, c.blockX(), c.blockY(), 1, c.sharedBytes(), stream, ka);
        } catch (CudaException e) {
            CudaException w = new CudaException("launch of " + kernel.cName() + " (" + c + ")", e.function(),
                    e.status(), e.statusName(), e.statusText(), e.details());
            w.initCause(e);
            throw w;
        }
    }

    static CudaDataType dataType(DType t) {
        return switch (t) {
            case FLOAT32 -> CudaDataType.R_32F;
            case BFLOAT16 -> CudaDataType.R_16BF;
            case FLOAT16 -> CudaDataType.R_16F;
            default -> throw new IllegalArgumentException("cuBLAS cannot multiply " + t);
        };
    }

    @Override
    public boolean ltGemm(LtGemm g) {
        g.validate();
        if (ltUnsupported.contains(g.shapeKey())) {
            return false;
        }
        if (ltMatmul == null) {
            long handle = CublasLt.create();
            // outside the allocation pool: the workspace lives as long as the device does
            long workspace = CudaDriver.memAlloc(LT_WORKSPACE_BYTES);
            ltMatmul = new LtMatmul(handle, workspace, LT_WORKSPACE_BYTES);
        }
        Cublas.ComputeType compute = g.tf32() && g.abType() == DType.FLOAT32
                ? Cublas.ComputeType.COMPUTE_32F_FAST_TF32 : Cublas.ComputeType.COMPUTE_32F;
        CublasLt.Epilogue epilogue = switch (g.epilogue()) {
            case BIAS -> CublasLt.Epilogue.BIAS;
            case BGRADB -> CublasLt.Epilogue.BGRADB;
        };
        LtMatmul.Problem p = new LtMatmul.Problem(g.transA() ? Cublas.Operation.T : Cublas.Operation.N,
                g.transB() ? Cublas.Operation.T : Cublas.Operation.N, g.m(), g.n(), g.k(), g.lda(), g.ldb(), g.ldd(),
                dataType(g.abType()), dataType(g.abType()), dataType(g.dType()), compute, epilogue,
                dataType(g.biasType()), g.n(), 1, 0, 0, 0);
        try {
            ltMatmul.run(p, g.a(), g.b(), g.d(), g.bias(), 0, stream);
            return true;
        } catch (CudaException e) {
            if (e.status() != CUBLAS_STATUS_NOT_SUPPORTED) {
                throw e;
            }
            ltUnsupported.add(g.shapeKey());   // planning failed: nothing was launched
            return false;
        }
    }

    @Override
    public void gemm(Gemm g) {
        g.validate();
        Cublas.ComputeType compute = g.tf32() && g.aType() == DType.FLOAT32
                ? Cublas.ComputeType.COMPUTE_32F_FAST_TF32 : Cublas.ComputeType.COMPUTE_32F;
        Cublas.Operation ta = g.transA() ? Cublas.Operation.T : Cublas.Operation.N;
        Cublas.Operation tb = g.transB() ? Cublas.Operation.T : Cublas.Operation.N;
        long handle = cublas();
        if (g.batch() == 1) {
            Cublas.gemmEx(handle, ta, tb, g.m(), g.n(), g.k(), g.alpha(), g.a(), dataType(g.aType()), g.lda(),
                    g.b(), dataType(g.bType()), g.ldb(), g.beta(), g.c(), dataType(g.cType()), g.ldc(), compute);
        } else {
            Cublas.gemmStridedBatchedEx(handle, ta, tb, g.m(), g.n(), g.k(), g.alpha(),
                    g.a(), dataType(g.aType()), g.lda(), g.strideA(),
                    g.b(), dataType(g.bType()), g.ldb(), g.strideB(),
                    g.beta(), g.c(), dataType(g.cType()), g.ldc(), g.strideC(), g.batch(), compute);
        }
    }
}
