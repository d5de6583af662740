package dev.solder.cuda;

import static java.lang.foreign.ValueLayout.ADDRESS;
import static java.lang.foreign.ValueLayout.JAVA_BYTE;
import static java.lang.foreign.ValueLayout.JAVA_FLOAT;
import static java.lang.foreign.ValueLayout.JAVA_INT;
import static java.lang.foreign.ValueLayout.JAVA_LONG;

import java.lang.foreign.Arena;
import java.lang.foreign.FunctionDescriptor;
import java.lang.foreign.Linker;
import java.lang.foreign.MemorySegment;
import java.lang.invoke.MethodHandle;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.ConcurrentHashMap;

/**
 * The CUDA driver API ({@code libcuda.so.1}), the part Solder needs.
 *
 * <p>Conventions: device pointers ({@code CUdeviceptr}) and opaque handles ({@code CUcontext},
 * {@code CUstream}, {@code CUevent}, {@code CUmodule}, {@code CUfunction}, {@code CUmemoryPool})
 * are plain {@code long}s; stream {@code 0} is the legacy default stream. Host memory is a
 * native {@link MemorySegment}. Devices are named by ordinal ({@code 0 .. deviceCount()-1}).
 * Every call checks its {@code CUresult} and throws {@link CudaException} (or
 * {@link CudaOutOfMemoryException} for a failed allocation) naming the call and its arguments.
 *
 * <p>Most calls act on the calling thread's current context: call {@link #ensureCurrent(int)}
 * on each thread before using a device. Solder uses the device's primary context, the one the
 * CUDA runtime (and so PyTorch) shares.
 *
 * <p>Where {@code cuda.h} maps a name to a versioned symbol by {@code #define}
 * ({@code cuMemGetInfo} to {@code cuMemGetInfo_v2}, {@code cuEventElapsedTime} to
 * {@code cuEventElapsedTime_v2} in CUDA 13 ...), the versioned symbol is bound, as a C program
 * compiled against that header would.
 */
public final class CudaDriver {
    private CudaDriver() {}

    /** {@code CUDA_SUCCESS}. */
    public static final int CUDA_SUCCESS = 0;
    /** {@code CUDA_ERROR_OUT_OF_MEMORY}. */
    public static final int CUDA_ERROR_OUT_OF_MEMORY = 2;
    /** {@code CUDA_ERROR_NOT_READY}: what {@link #streamQuery} sees while work is pending. */
    public static final int CUDA_ERROR_NOT_READY = 600;

    /** {@code CU_STREAM_DEFAULT}: the stream synchronizes with the legacy default stream. */
    public static final int STREAM_DEFAULT = 0x0;
    /** {@code CU_STREAM_NON_BLOCKING}: the stream does not synchronize with stream 0. */
    public static final int STREAM_NON_BLOCKING = 0x1;
    /** {@code CU_EVENT_DEFAULT}. */
    public static final int EVENT_DEFAULT = 0x0;
    /** {@code CU_EVENT_BLOCKING_SYNC}: synchronizing on the event yields the CPU instead of spinning. */
    public static final int EVENT_BLOCKING_SYNC = 0x1;
    /** {@code CU_EVENT_DISABLE_TIMING}: cheaper events that cannot be timed. */
    public static final int EVENT_DISABLE_TIMING = 0x2;
    /** {@code CU_MEMHOSTALLOC_PORTABLE}: pinned for all contexts, not just the current one. */
    public static final int MEMHOSTALLOC_PORTABLE = 0x01;
    /** {@code CU_MEMHOSTALLOC_DEVICEMAP}: also mapped into the device address space. */
    public static final int MEMHOSTALLOC_DEVICEMAP = 0x02;
    /** {@code CU_MEMHOSTALLOC_WRITECOMBINED}: fast host-to-device, very slow host reads. */
    public static final int MEMHOSTALLOC_WRITECOMBINED = 0x04;

    /** {@code CUdevice_attribute} values Solder reads (from cuda.h). */
    public enum DeviceAttribute {
        MAX_THREADS_PER_BLOCK(1),
        MAX_SHARED_MEMORY_PER_BLOCK(8),
        WARP_SIZE(10),
        MAX_REGISTERS_PER_BLOCK(12),
        CLOCK_RATE(13),
        MULTIPROCESSOR_COUNT(16),
        INTEGRATED(18),
        L2_CACHE_SIZE(38),
        COMPUTE_CAPABILITY_MAJOR(75),
        COMPUTE_CAPABILITY_MINOR(76),
        MAX_SHARED_MEMORY_PER_MULTIPROCESSOR(81),
        MAX_SHARED_MEMORY_PER_BLOCK_OPTIN(97),
        MEMORY_POOLS_SUPPORTED(115);

        /** The value in {@code cuda.h}. */
        public final int value;

        DeviceAttribute(int value) { this.value = value; }
    }

    /** {@code CUfunction_attribute} values (from cuda.h). */
    public enum FunctionAttribute {
        MAX_THREADS_PER_BLOCK(0),
        SHARED_SIZE_BYTES(1),
        CONST_SIZE_BYTES(2),
        LOCAL_SIZE_BYTES(3),
        NUM_REGS(4),
        PTX_VERSION(5),
        BINARY_VERSION(6),
        CACHE_MODE_CA(7),
        MAX_DYNAMIC_SHARED_SIZE_BYTES(8),
        PREFERRED_SHARED_MEMORY_CARVEOUT(9);

        /** The value in {@code cuda.h}. */
        public final int value;

        FunctionAttribute(int value) { this.value = value; }
    }

    /** {@code CUmemPool_attribute} values (from cuda.h) and whether each is 64 bits wide. */
    public enum MemPoolAttribute {
        REUSE_FOLLOW_EVENT_DEPENDENCIES(1, false),
        REUSE_ALLOW_OPPORTUNISTIC(2, false),
        REUSE_ALLOW_INTERNAL_DEPENDENCIES(3, false),
        /** Bytes the pool keeps reserved at a synchronization instead of returning them to the OS. */
        RELEASE_THRESHOLD(4, true),
        RESERVED_MEM_CURRENT(5, true),
        RESERVED_MEM_HIGH(6, true),
        USED_MEM_CURRENT(7, true),
        USED_MEM_HIGH(8, true);

        /** The value in {@code cuda.h}. */
        public final int value;
        /** True for {@code cuuint64_t} attributes, false for {@code int} ones. */
        public final boolean wide;

        MemPoolAttribute(int value, boolean wide) {
            this.value = value;
            this.wide = wide;
        }
    }

    /** Free and total memory of the current context's device, in bytes. */
    public record MemInfo(long free, long total) {}

    /** Holder: the library and its handles are created on the first driver call. */
    private static final class H {
        static final NativeLibrary LIB = NativeLibrary.of(LibraryLocator.Library.CUDA_DRIVER);
        private static final Linker.Option[] NONE = {};
        // Only for calls that neither block nor call back (DESIGN §8).
        private static final Linker.Option[] CRITICAL = {Linker.Option.critical(false)};

        static MethodHandle h(String name, Linker.Option[] o, java.lang.foreign.MemoryLayout... args) {
            return LIB.downcall(name, FunctionDescriptor.of(JAVA_INT, args), o);
        }

        static final MethodHandle cuGetErrorName = h("cuGetErrorName", CRITICAL, JAVA_INT, ADDRESS);
        static final MethodHandle cuGetErrorString = h("cuGetErrorString", CRITICAL, JAVA_INT, ADDRESS);
        static final MethodHandle cuInit = h("cuInit", NONE, JAVA_INT);
        static final MethodHandle cuDriverGetVersion = h("cuDriverGetVersion", CRITICAL, ADDRESS);
        static final MethodHandle cuDeviceGetCount = h("cuDeviceGetCount", NONE, ADDRESS);
        static final MethodHandle cuDeviceGet = h("cuDeviceGet", NONE, ADDRESS, JAVA_INT);
        static final MethodHandle cuDeviceGetName = h("cuDeviceGetName", NONE, ADDRESS, JAVA_INT, JAVA_INT);
        static final MethodHandle cuDeviceGetAttribute =
                h("cuDeviceGetAttribute", CRITICAL, ADDRESS, JAVA_INT, JAVA_INT);
        static final MethodHandle cuDeviceTotalMem = h("cuDeviceTotalMem_v2", NONE, ADDRESS, JAVA_INT);
        static final MethodHandle cuMemGetInfo = h("cuMemGetInfo_v2", NONE, ADDRESS, ADDRESS);
        static final MethodHandle cuDevicePrimaryCtxRetain =
                h("cuDevicePrimaryCtxRetain", NONE, ADDRESS, JAVA_INT);
        static final MethodHandle cuDevicePrimaryCtxRelease = h("cuDevicePrimaryCtxRelease_v2", NONE, JAVA_INT);
        static final MethodHandle cuCtxSetCurrent = h("cuCtxSetCurrent", NONE, ADDRESS);
        static final MethodHandle cuCtxGetCurrent = h("cuCtxGetCurrent", CRITICAL, ADDRESS);
        static final MethodHandle cuCtxGetDevice = h("cuCtxGetDevice", NONE, ADDRESS);
        static final MethodHandle cuCtxSynchronize = h("cuCtxSynchronize", NONE);
        static final MethodHandle cuStreamCreate = h("cuStreamCreate", NONE, ADDRESS, JAVA_INT);
        static final MethodHandle cuStreamSynchronize = h("cuStreamSynchronize", NONE, ADDRESS);
        static final MethodHandle cuStreamQuery = h("cuStreamQuery", NONE, ADDRESS);
        static final MethodHandle cuStreamWaitEvent = h("cuStreamWaitEvent", NONE, ADDRESS, ADDRESS, JAVA_INT);
        static final MethodHandle cuStreamDestroy = h("cuStreamDestroy_v2", NONE, ADDRESS);
        static final MethodHandle cuEventCreate = h("cuEventCreate", NONE, ADDRESS, JAVA_INT);
        static final MethodHandle cuEventRecord = h("cuEventRecord", NONE, ADDRESS, ADDRESS);
        static final MethodHandle cuEventSynchronize = h("cuEventSynchronize", NONE, ADDRESS);
        // CUDA 12.8+ headers map cuEventElapsedTime to _v2 (same signature); older drivers only have v1.
        static final MethodHandle cuEventElapsedTime = LIB.downcallFirst(
                FunctionDescriptor.of(JAVA_INT, ADDRESS, ADDRESS, ADDRESS), NONE,
                "cuEventElapsedTime_v2", "cuEventElapsedTime");
        static final MethodHandle cuEventDestroy = h("cuEventDestroy_v2", NONE, ADDRESS);
        static final MethodHandle cuMemAlloc = h("cuMemAlloc_v2", NONE, ADDRESS, JAVA_LONG);
        static final MethodHandle cuMemFree = h("cuMemFree_v2", NONE, JAVA_LONG);
        static final MethodHandle cuMemAllocAsync = h("cuMemAllocAsync", NONE, ADDRESS, JAVA_LONG, ADDRESS);
        static final MethodHandle cuMemFreeAsync = h("cuMemFreeAsync", NONE, JAVA_LONG, ADDRESS);
        static final MethodHandle cuDeviceGetDefaultMemPool =
                h("cuDeviceGetDefaultMemPool", NONE, ADDRESS, JAVA_INT);
        static final MethodHandle cuMemPoolSetAttribute =
                h("cuMemPoolSetAttribute", NONE, ADDRESS, JAVA_INT, ADDRESS);
        static final MethodHandle cuMemPoolGetAttribute =
                h("cuMemPoolGetAttribute", NONE, ADDRESS, JAVA_INT, ADDRESS);
        static final MethodHandle cuMemPoolTrimTo = h("cuMemPoolTrimTo", NONE, ADDRESS, JAVA_LONG);
        static final MethodHandle cuMemcpyHtoDAsync =
                h("cuMemcpyHtoDAsync_v2", NONE, JAVA_LONG, ADDRESS, JAVA_LONG, ADDRESS);
        static final MethodHandle cuMemcpyDtoHAsync =
                h("cuMemcpyDtoHAsync_v2", NONE, ADDRESS, JAVA_LONG, JAVA_LONG, ADDRESS);
        static final MethodHandle cuMemcpyDtoDAsync =
                h("cuMemcpyDtoDAsync_v2", NONE, JAVA_LONG, JAVA_LONG, JAVA_LONG, ADDRESS);
        static final MethodHandle cuMemsetD8Async =
                h("cuMemsetD8Async", NONE, JAVA_LONG, JAVA_BYTE, JAVA_LONG, ADDRESS);
        static final MethodHandle cuMemsetD32Async =
                h("cuMemsetD32Async", NONE, JAVA_LONG, JAVA_INT, JAVA_LONG, ADDRESS);
        static final MethodHandle cuMemHostAlloc = h("cuMemHostAlloc", NONE, ADDRESS, JAVA_LONG, JAVA_INT);
        static final MethodHandle cuMemFreeHost = h("cuMemFreeHost", NONE, ADDRESS);
        static final MethodHandle cuModuleLoadData = h("cuModuleLoadData", NONE, ADDRESS, ADDRESS);
        static final MethodHandle cuModuleUnload = h("cuModuleUnload", NONE, ADDRESS);
        static final MethodHandle cuModuleGetFunction = h("cuModuleGetFunction", NONE, ADDRESS, ADDRESS, ADDRESS);
        static final MethodHandle cuFuncSetAttribute = h("cuFuncSetAttribute", NONE, ADDRESS, JAVA_INT, JAVA_INT);
        static final MethodHandle cuFuncGetAttribute =
                h("cuFuncGetAttribute", CRITICAL, ADDRESS, JAVA_INT, ADDRESS);
        static final MethodHandle cuLaunchKernel = h("cuLaunchKernel", NONE,
                ADDRESS, JAVA_INT, JAVA_INT, JAVA_INT, JAVA_INT, JAVA_INT, JAVA_INT, JAVA_INT,
                ADDRESS, ADDRESS, ADDRESS);
    }

    // ---------------------------------------------------------------- errors

    /** Names and texts of {@code CUresult}s, from {@code cuGetErrorName}/{@code cuGetErrorString}. */
    public static final CudaException.StatusDescriber STATUS = new CudaException.StatusDescriber() {
        @Override
        public String name(int status) {
            String n = errorString(H.cuGetErrorName, status);
            return n != null ? n : FALLBACK_NAMES.get(status);
        }

        @Override
        public String text(int status) {
            return errorString(H.cuGetErrorString, status);
        }
    };

    /** Names for when even {@code cuGetErrorName} is unavailable (no or broken driver). */
    private static final Map<Integer, String> FALLBACK_NAMES = Map.ofEntries(
            Map.entry(1, "CUDA_ERROR_INVALID_VALUE"), Map.entry(2, "CUDA_ERROR_OUT_OF_MEMORY"),
            Map.entry(3, "CUDA_ERROR_NOT_INITIALIZED"), Map.entry(4, "CUDA_ERROR_DEINITIALIZED"),
            Map.entry(34, "CUDA_ERROR_STUB_LIBRARY"), Map.entry(35, "CUDA_ERROR_INSUFFICIENT_DRIVER"),
            Map.entry(100, "CUDA_ERROR_NO_DEVICE"), Map.entry(101, "CUDA_ERROR_INVALID_DEVICE"),
            Map.entry(200, "CUDA_ERROR_INVALID_IMAGE"), Map.entry(201, "CUDA_ERROR_INVALID_CONTEXT"),
            Map.entry(209, "CUDA_ERROR_NO_BINARY_FOR_GPU"), Map.entry(218, "CUDA_ERROR_INVALID_PTX"),
            Map.entry(222, "CUDA_ERROR_UNSUPPORTED_PTX_VERSION"), Map.entry(500, "CUDA_ERROR_NOT_FOUND"),
            Map.entry(600, "CUDA_ERROR_NOT_READY"), Map.entry(700, "CUDA_ERROR_ILLEGAL_ADDRESS"),
            Map.entry(701, "CUDA_ERROR_LAUNCH_OUT_OF_RESOURCES"), Map.entry(702, "CUDA_ERROR_LAUNCH_TIMEOUT"),
            Map.entry(719, "CUDA_ERROR_LAUNCH_FAILED"), Map.entry(803, "CUDA_ERROR_SYSTEM_DRIVER_MISMATCH"),
            Map.entry(804, "CUDA_ERROR_COMPAT_NOT_SUPPORTED_ON_DEVICE"), Map.entry(999, "CUDA_ERROR_UNKNOWN"));

    private static String errorString(MethodHandle fn, int status) {
        try (Arena a = Arena.ofConfined()) {
            MemorySegment out = a.allocate(ADDRESS);
            int rc = (int) fn.invokeExact(status, out);
            MemorySegment p = out.get(ADDRESS, 0);
            if (rc != CUDA_SUCCESS || p.equals(MemorySegment.NULL)) return null;
            return p.reinterpret(4096).getString(0);
        } catch (Throwable t) {
            return null;
        }
    }

    private static CudaException fail(int rc, String wrapper, String function, Object... details) {
        return CudaException.of("CudaDriver." + wrapper, function, rc, STATUS, CudaException.details(details));
    }

    private static MemorySegment ptr(long address) {
        return address == 0 ? MemorySegment.NULL : MemorySegment.ofAddress(address);
    }

    // ---------------------------------------------------------------- initialization, devices

    private static volatile boolean initialized;
    private static volatile int[] devices; // ordinal -> CUdevice

    /**
     * {@code cuInit(0)}, once per process; later calls return at once.
     *
     * @throws CudaLibraryNotFoundException when there is no driver library
     * @throws CudaException when the driver refuses (no device, stub library, driver/kernel mismatch)
     */
    public static void init() {
        if (initialized) return;
        synchronized (CudaDriver.class) {
            if (initialized) return;
            int rc;
            try {
                rc = (int) H.cuInit.invokeExact(0);
            } catch (Throwable t) {
                throw NativeLibrary.rethrow(t);
            }
            if (rc != CUDA_SUCCESS) throw fail(rc, "init", "cuInit", "flags", 0);
            initialized = true;
        }
    }

    /** {@code cuDriverGetVersion}: e.g. {@code 13000} for CUDA 13.0. Needs no {@link #init()}. */
    public static int driverVersion() {
        MemorySegment s = Scratch.get();
        int rc;
        try {
            rc = (int) H.cuDriverGetVersion.invokeExact(s);
        } catch (Throwable t) {
            throw NativeLibrary.rethrow(t);
        }
        if (rc != CUDA_SUCCESS) throw fail(rc, "driverVersion", "cuDriverGetVersion");
        return s.get(JAVA_INT, 0);
    }

    /** {@code 13000} becomes {@code "13.0"}, {@code 12080} becomes {@code "12.8"}. */
    public static String versionString(int cudaVersion) {
        return cudaVersion / 1000 + "." + (cudaVersion % 1000) / 10;
    }

    /** {@code cuDeviceGetCount}, after {@link #init()}. */
    public static int deviceCount() {
        init();
        MemorySegment s = Scratch.get();
        int rc;
        try {
            rc = (int) H.cuDeviceGetCount.invokeExact(s);
        } catch (Throwable t) {
            throw NativeLibrary.rethrow(t);
        }
        if (rc != CUDA_SUCCESS) throw fail(rc, "deviceCount", "cuDeviceGetCount");
        return s.get(JAVA_INT, 0);
    }

    /** {@code cuDeviceGet}: the {@code CUdevice} handle of an ordinal (cached). */
    public static int device(int ordinal) {
        int[] d = devices;
        if (d == null) {
            synchronized (CudaDriver.class) {
                d = devices;
                if (d == null) {
                    int n = deviceCount();
                    d = new int[n];
                    for (int i = 0; i < n; i++) d[i] = deviceGet(i);
                    devices = d;
                }
            }
        }
        if (ordinal < 0 || ordinal >= d.length) {
            throw new IllegalArgumentException("device " + ordinal + " does not exist; this machine has "
                    + d.length + " CUDA device" + (d.length == 1 ? "" : "s"));
        }
        return d[ordinal];
    }

    private static int deviceGet(int ordinal) {
        MemorySegment s = Scratch.get();
        int rc;
        try {
            rc = (int) H.cuDeviceGet.invokeExact(s, ordinal);
        } catch (Throwable t) {
            throw NativeLibrary.rethrow(t);
        }
        if (rc != CUDA_SUCCESS) throw fail(rc, "device", "cuDeviceGet", "ordinal", ordinal);
        return s.get(JAVA_INT, 0);
    }

    /** {@code cuDeviceGetName}, e.g. {@code NVIDIA H100 80GB HBM3}. */
    public static String deviceName(int ordinal) {
        int dev = device(ordinal);
        try (Arena a = Arena.ofConfined()) {
            MemorySegment buf = a.allocate(256);
            int rc = (int) H.cuDeviceGetName.invokeExact(buf, 256, dev);
            if (rc != CUDA_SUCCESS) throw fail(rc, "deviceName", "cuDeviceGetName", "device", ordinal);
            return buf.getString(0);
        } catch (Throwable t) {
            throw NativeLibrary.rethrow(t);
        }
    }

    /** {@code cuDeviceGetAttribute}. */
    public static int deviceAttribute(int ordinal, DeviceAttribute attribute) {
        return deviceAttribute(ordinal, attribute.value, attribute.name());
    }

    /** {@code cuDeviceGetAttribute} with a raw {@code CUdevice_attribute} value from cuda.h. */
    public static int deviceAttribute(int ordinal, int attribute) {
        return deviceAttribute(ordinal, attribute, Integer.toString(attribute));
    }

    private static int deviceAttribute(int ordinal, int attribute, String label) {
        int dev = device(ordinal);
        MemorySegment s = Scratch.get();
        int rc;
        try {
            rc = (int) H.cuDeviceGetAttribute.invokeExact(s, attribute, dev);
        } catch (Throwable t) {
            throw NativeLibrary.rethrow(t);
        }
        if (rc != CUDA_SUCCESS) {
            throw fail(rc, "deviceAttribute", "cuDeviceGetAttribute", "device", ordinal, "attribute", label);
        }
        return s.get(JAVA_INT, 0);
    }

    /** {@code cuDeviceTotalMem_v2}: the device's memory in bytes; needs no context. */
    public static long deviceTotalMem(int ordinal) {
        int dev = device(ordinal);
        MemorySegment s = Scratch.get();
        int rc;
        try {
            rc = (int) H.cuDeviceTotalMem.invokeExact(s, dev);
        } catch (Throwable t) {
            throw NativeLibrary.rethrow(t);
        }
        if (rc != CUDA_SUCCESS) throw fail(rc, "deviceTotalMem", "cuDeviceTotalMem_v2", "device", ordinal);
        return s.get(JAVA_LONG, 0);
    }

    /** {@code cuMemGetInfo_v2}: free and total memory of the current context's device. */
    public static MemInfo memGetInfo() {
        MemorySegment s = Scratch.get();
        int rc;
        try {
            rc = (int) H.cuMemGetInfo.invokeExact(s, s.asSlice(8));
        } catch (Throwable t) {
            throw NativeLibrary.rethrow(t);
        }
        if (rc != CUDA_SUCCESS) throw fail(rc, "memGetInfo", "cuMemGetInfo_v2");
        return new MemInfo(s.get(JAVA_LONG, 0), s.get(JAVA_LONG, 8));
    }

    // ---------------------------------------------------------------- contexts

    private static final ConcurrentHashMap<Integer, Long> PRIMARY = new ConcurrentHashMap<>();
    /** The context this thread made current through Solder (0: none yet). */
    private static final ThreadLocal<long[]> CURRENT = ThreadLocal.withInitial(() -> new long[1]);

    /**
     * The primary context of a device, retained once per process ({@code cuDevicePrimaryCtxRetain})
     * and kept until {@link #releasePrimaryContext}.
     */
    public static long primaryContext(int ordinal) {
        Long ctx = PRIMARY.get(ordinal);
        if (ctx != null) return ctx;
        synchronized (PRIMARY) {
            ctx = PRIMARY.get(ordinal);
            if (ctx != null) return ctx;
            int dev = device(ordinal);
            MemorySegment s = Scratch.get();
            int rc;
            try {
                rc = (int) H.cuDevicePrimaryCtxRetain.invokeExact(s, dev);
            } catch (Throwable t) {
                throw NativeLibrary.rethrow(t);
            }
            if (rc != CUDA_SUCCESS) {
                throw fail(rc, "primaryContext", "cuDevicePrimaryCtxRetain", "device", ordinal);
            }
            long c = s.get(JAVA_LONG, 0);
            PRIMARY.put(ordinal, c);
            return c;
        }
    }

    /**
     * {@code cuDevicePrimaryCtxRelease_v2}: drops the retain taken by {@link #primaryContext}. The
     * context (and every allocation in it) is destroyed when no one else holds it; threads that
     * still have it current must call {@link #ensureCurrent} again before using the device.
     */
    public static void releasePrimaryContext(int ordinal) {
        synchronized (PRIMARY) {
            Long ctx = PRIMARY.remove(ordinal);
            if (ctx == null) return;
            int rc;
            try {
                rc = (int) H.cuDevicePrimaryCtxRelease.invokeExact(device(ordinal));
            } catch (Throwable t) {
                throw NativeLibrary.rethrow(t);
            }
            long[] cur = CURRENT.get();
            if (cur[0] == ctx) cur[0] = 0;
            if (rc != CUDA_SUCCESS) {
                throw fail(rc, "releasePrimaryContext", "cuDevicePrimaryCtxRelease_v2", "device", ordinal);
            }
        }
    }

    /**
     * Makes the device's primary context current on the calling thread, calling
     * {@code cuCtxSetCurrent} only when this thread's current context (as last set through
     * Solder) differs, and always on a virtual thread. Cheap enough to call before every batch of
     * work.
     *
     * @return the context
     */
    public static long ensureCurrent(int ordinal) {
        init();
        long ctx = primaryContext(ordinal);
        long[] cur = CURRENT.get();
        // A virtual thread's cache says nothing: the current context belongs to the OS thread, and
        // the virtual thread may have been moved to another carrier since it last set it.
        if (cur[0] != ctx || Thread.currentThread().isVirtual()) {
            ctxSetCurrent(ctx);
        }
        return ctx;
    }

    /** {@code cuCtxSetCurrent}; also updates the per-thread cache of {@link #ensureCurrent}. */
    public static void ctxSetCurrent(long ctx) {
        int rc;
        try {
            rc = (int) H.cuCtxSetCurrent.invokeExact(ptr(ctx));
        } catch (Throwable t) {
            throw NativeLibrary.rethrow(t);
        }
        if (rc != CUDA_SUCCESS) throw fail(rc, "ctxSetCurrent", "cuCtxSetCurrent", "ctx", ctx);
        CURRENT.get()[0] = ctx;
    }

    /** {@code cuCtxGetCurrent}: the calling thread's current context, 0 when none. */
    public static long ctxGetCurrent() {
        MemorySegment s = Scratch.get();
        int rc;
        try {
            rc = (int) H.cuCtxGetCurrent.invokeExact(s);
        } catch (Throwable t) {
            throw NativeLibrary.rethrow(t);
        }
        if (rc != CUDA_SUCCESS) throw fail(rc, "ctxGetCurrent", "cuCtxGetCurrent");
        return s.get(JAVA_LONG, 0);
    }

    /** {@code cuCtxGetDevice}: the {@code CUdevice} of the current context. */
    public static int ctxGetDevice() {
        MemorySegment s = Scratch.get();
        int rc;
        try {
            rc = (int) H.cuCtxGetDevice.invokeExact(s);
        } catch (Throwable t) {
            throw NativeLibrary.rethrow(t);
        }
        if (rc != CUDA_SUCCESS) throw fail(rc, "ctxGetDevice", "cuCtxGetDevice");
        return s.get(JAVA_INT, 0);
    }

    /** {@code cuCtxSynchronize}: waits for all work of the current context. */
    public static void ctxSynchronize() {
        int rc;
        try {
            rc = (int) H.cuCtxSynchronize.invokeExact();
        } catch (Throwable t) {
            throw NativeLibrary.rethrow(t);
        }
        if (rc != CUDA_SUCCESS) throw fail(rc, "ctxSynchronize", "cuCtxSynchronize");
    }

    // ---------------------------------------------------------------- streams and events

    /** {@code cuStreamCreate} with {@link #STREAM_DEFAULT} or {@link #STREAM_NON_BLOCKING}. */
    public static long streamCreate(int flags) {
        MemorySegment s = Scratch.get();
        int rc;
        try {
            rc = (int) H.cuStreamCreate.invokeExact(s, flags);
        } catch (Throwable t) {
            throw NativeLibrary.rethrow(t);
        }
        if (rc != CUDA_SUCCESS) throw fail(rc, "streamCreate", "cuStreamCreate", "flags", flags);
        return s.get(JAVA_LONG, 0);
    }

    /** {@code cuStreamSynchronize}: waits for the stream's work; reports errors of earlier async work too. */
    public static void streamSynchronize(long stream) {
        int rc;
        try {
            rc = (int) H.cuStreamSynchronize.invokeExact(ptr(stream));
        } catch (Throwable t) {
            throw NativeLibrary.rethrow(t);
        }
        if (rc != CUDA_SUCCESS) throw fail(rc, "streamSynchronize", "cuStreamSynchronize", "stream", stream);
    }

    /** {@code cuStreamQuery}: true when all the stream's work is done, false while some is pending. */
    public static boolean streamQuery(long stream) {
        int rc;
        try {
            rc = (int) H.cuStreamQuery.invokeExact(ptr(stream));
        } catch (Throwable t) {
            throw NativeLibrary.rethrow(t);
        }
        if (rc == CUDA_SUCCESS) return true;
        if (rc == CUDA_ERROR_NOT_READY) return false;
        throw fail(rc, "streamQuery", "cuStreamQuery", "stream", stream);
    }

    /** {@code cuStreamWaitEvent}: later work on {@code stream} waits for {@code event}. */
    public static void streamWaitEvent(long stream, long event) {
        int rc;
        try {
            rc = (int) H.cuStreamWaitEvent.invokeExact(ptr(stream), ptr(event), 0);
        } catch (Throwable t) {
            throw NativeLibrary.rethrow(t);
        }
        if (rc != CUDA_SUCCESS) {
            throw fail(rc, "streamWaitEvent", "cuStreamWaitEvent", "stream", stream, "event", event);
        }
    }

    /** {@code cuStreamDestroy_v2}. Work already queued still completes. */
    public static void streamDestroy(long stream) {
        int rc;
        try {
            rc = (int) H.cuStreamDestroy.invokeExact(ptr(stream));
        } catch (Throwable t) {
            throw NativeLibrary.rethrow(t);
        }
        if (rc != CUDA_SUCCESS) throw fail(rc, "streamDestroy", "cuStreamDestroy_v2", "stream", stream);
    }

    /** {@code cuEventCreate} with {@link #EVENT_DEFAULT}, {@link #EVENT_BLOCKING_SYNC}, {@link #EVENT_DISABLE_TIMING}. */
    public static long eventCreate(int flags) {
        MemorySegment s = Scratch.get();
        int rc;
        try {
            rc = (int) H.cuEventCreate.invokeExact(s, flags);
        } catch (Throwable t) {
            throw NativeLibrary.rethrow(t);
        }
        if (rc != CUDA_SUCCESS) throw fail(rc, "eventCreate", "cuEventCreate", "flags", flags);
        return s.get(JAVA_LONG, 0);
    }

    /** {@code cuEventRecord}. */
    public static void eventRecord(long event, long stream) {
        int rc;
        try {
            rc = (int) H.cuEventRecord.invokeExact(ptr(event), ptr(stream));
        } catch (Throwable t) {
            throw NativeLibrary.rethrow(t);
        }
        if (rc != CUDA_SUCCESS) {
            throw fail(rc, "eventRecord", "cuEventRecord", "event", event, "stream", stream);
        }
    }

    /** {@code cuEventSynchronize}. */
    public static void eventSynchronize(long event) {
        int rc;
        try {
            rc = (int) H.cuEventSynchronize.invokeExact(ptr(event));
        } catch (Throwable t) {
            throw NativeLibrary.rethrow(t);
        }
        if (rc != CUDA_SUCCESS) throw fail(rc, "eventSynchronize", "cuEventSynchronize", "event", event);
    }

    /**
     * Milliseconds between two recorded, completed events ({@code cuEventElapsedTime_v2} where the
     * driver has it, else {@code cuEventElapsedTime}).
     */
    public static float eventElapsedTime(long start, long end) {
        MemorySegment s = Scratch.get();
        int rc;
        try {
            rc = (int) H.cuEventElapsedTime.invokeExact(s, ptr(start), ptr(end));
        } catch (Throwable t) {
            throw NativeLibrary.rethrow(t);
        }
        if (rc != CUDA_SUCCESS) {
            throw fail(rc, "eventElapsedTime", "cuEventElapsedTime_v2", "startEvent", start, "endEvent", end);
        }
        return s.get(JAVA_FLOAT, 0);
    }

    /** {@code cuEventDestroy_v2}. */
    public static void eventDestroy(long event) {
        int rc;
        try {
            rc = (int) H.cuEventDestroy.invokeExact(ptr(event));
        } catch (Throwable t) {
            throw NativeLibrary.rethrow(t);
        }
        if (rc != CUDA_SUCCESS) throw fail(rc, "eventDestroy", "cuEventDestroy_v2", "event", event);
    }

    // ---------------------------------------------------------------- device memory

    /**
     * {@code cuMemAllocAsync}: {@code bytes} from the device's current memory pool, usable by work
     * queued on {@code stream} after this call.
     *
     * @throws CudaOutOfMemoryException naming the request and the device's free/total memory
     */
    public static long memAllocAsync(long bytes, long stream) {
        MemorySegment s = Scratch.get();
        int rc;
        try {
            rc = (int) H.cuMemAllocAsync.invokeExact(s, bytes, ptr(stream));
        } catch (Throwable t) {
            throw NativeLibrary.rethrow(t);
        }
        if (rc != CUDA_SUCCESS) {
            throw allocFailure(rc, "memAllocAsync", "cuMemAllocAsync", bytes, "bytes", bytes, "stream", stream);
        }
        return s.get(JAVA_LONG, 0);
    }

    /** {@code cuMemFreeAsync}: returns memory to its pool once the work queued before on {@code stream} is done. */
    public static void memFreeAsync(long devicePtr, long stream) {
        int rc;
        try {
            rc = (int) H.cuMemFreeAsync.invokeExact(devicePtr, ptr(stream));
        } catch (Throwable t) {
            throw NativeLibrary.rethrow(t);
        }
        if (rc != CUDA_SUCCESS) {
            throw fail(rc, "memFreeAsync", "cuMemFreeAsync", "ptr", devicePtr, "stream", stream);
        }
    }

    /** {@code cuMemAlloc_v2}: a synchronous allocation outside the pools (for a caching allocator). */
    public static long memAlloc(long bytes) {
        MemorySegment s = Scratch.get();
        int rc;
        try {
            rc = (int) H.cuMemAlloc.invokeExact(s, bytes);
        } catch (Throwable t) {
            throw NativeLibrary.rethrow(t);
        }
        if (rc != CUDA_SUCCESS) throw allocFailure(rc, "memAlloc", "cuMemAlloc_v2", bytes, "bytes", bytes);
        return s.get(JAVA_LONG, 0);
    }

    /** {@code cuMemFree_v2}: frees a {@link #memAlloc} allocation (synchronizes the device). */
    public static void memFree(long devicePtr) {
        int rc;
        try {
            rc = (int) H.cuMemFree.invokeExact(devicePtr);
        } catch (Throwable t) {
            throw NativeLibrary.rethrow(t);
        }
        if (rc != CUDA_SUCCESS) throw fail(rc, "memFree", "cuMemFree_v2", "ptr", devicePtr);
    }

    private static CudaException allocFailure(int rc, String wrapper, String function, long bytes,
                                              Object... details) {
        if (rc != CUDA_ERROR_OUT_OF_MEMORY) return fail(rc, wrapper, function, details);
        long free = -1, total = -1;
        try {
            MemInfo info = memGetInfo();
            free = info.free();
            total = info.total();
        } catch (RuntimeException e) {
            // free/total unknown; the message says so
        }
        return new CudaOutOfMemoryException("CudaDriver." + wrapper, function, rc,
                CudaException.safeName(STATUS, rc), CudaException.safeText(STATUS, rc),
                CudaException.details(details), bytes, free, total);
    }

    /** {@code cuDeviceGetDefaultMemPool}: the pool {@link #memAllocAsync} draws from by default. */
    public static long defaultMemPool(int ordinal) {
        int dev = device(ordinal);
        MemorySegment s = Scratch.get();
        int rc;
        try {
            rc = (int) H.cuDeviceGetDefaultMemPool.invokeExact(s, dev);
        } catch (Throwable t) {
            throw NativeLibrary.rethrow(t);
        }
        if (rc != CUDA_SUCCESS) {
            throw fail(rc, "defaultMemPool", "cuDeviceGetDefaultMemPool", "device", ordinal);
        }
        return s.get(JAVA_LONG, 0);
    }

    /** {@code cuMemPoolSetAttribute}; {@code int} attributes take the low 32 bits of {@code value}. */
    public static void memPoolSetAttribute(long pool, MemPoolAttribute attribute, long value) {
        MemorySegment s = Scratch.get();
        if (attribute.wide) s.set(JAVA_LONG, 0, value);
        else s.set(JAVA_INT, 0, (int) value);
        int rc;
        try {
            rc = (int) H.cuMemPoolSetAttribute.invokeExact(ptr(pool), attribute.value, s);
        } catch (Throwable t) {
            throw NativeLibrary.rethrow(t);
        }
        if (rc != CUDA_SUCCESS) {
            throw fail(rc, "memPoolSetAttribute", "cuMemPoolSetAttribute", "pool", pool,
                    "attribute", attribute, "value", value);
        }
    }

    /** {@code cuMemPoolGetAttribute}, e.g. {@link MemPoolAttribute#USED_MEM_CURRENT} for leak checks. */
    public static long memPoolGetAttribute(long pool, MemPoolAttribute attribute) {
        MemorySegment s = Scratch.get();
        s.set(JAVA_LONG, 0, 0L);
        int rc;
        try {
            rc = (int) H.cuMemPoolGetAttribute.invokeExact(ptr(pool), attribute.value, s);
        } catch (Throwable t) {
            throw NativeLibrary.rethrow(t);
        }
        if (rc != CUDA_SUCCESS) {
            throw fail(rc, "memPoolGetAttribute", "cuMemPoolGetAttribute", "pool", pool, "attribute", attribute);
        }
        return attribute.wide ? s.get(JAVA_LONG, 0) : s.get(JAVA_INT, 0);
    }

    /**
     * Sets the default pool's release threshold: freed memory up to this many bytes stays
     * reserved across synchronizations (0, the driver's default, returns it all; training wants
     * {@code Long.MAX_VALUE}: keep what was once needed).
     */
    public static void setMemPoolReleaseThreshold(int ordinal, long bytes) {
        memPoolSetAttribute(defaultMemPool(ordinal), MemPoolAttribute.RELEASE_THRESHOLD, bytes);
    }

    /** {@code cuMemPoolTrimTo}: returns reserved but unused memory above {@code keepBytes} to the OS. */
    public static void memPoolTrimTo(long pool, long keepBytes) {
        int rc;
        try {
            rc = (int) H.cuMemPoolTrimTo.invokeExact(ptr(pool), keepBytes);
        } catch (Throwable t) {
            throw NativeLibrary.rethrow(t);
        }
        if (rc != CUDA_SUCCESS) {
            throw fail(rc, "memPoolTrimTo", "cuMemPoolTrimTo", "pool", pool, "keepBytes", keepBytes);
        }
    }

    // ---------------------------------------------------------------- copies and fills

    private static void checkHost(MemorySegment host, long bytes, String wrapper) {
        if (!host.isNative()) {
            throw new IllegalArgumentException("CudaDriver." + wrapper
                    + ": host memory must be a native segment (Arena or memHostAlloc), not a heap array");
        }
        if (bytes < 0 || host.byteSize() < bytes) {
            throw new IndexOutOfBoundsException("CudaDriver." + wrapper + ": " + bytes
                    + " bytes do not fit the host segment of " + host.byteSize() + " bytes");
        }
    }

    /**
     * {@code cuMemcpyHtoDAsync_v2}: copies {@code bytes} from host to device. Truly asynchronous only
     * from pinned memory ({@link #memHostAlloc}); from pageable memory the driver stages the data
     * and the host segment may be reused once the call returns.
     */
    public static void memcpyHtoDAsync(long dstDevice, MemorySegment srcHost, long bytes, long stream) {
        checkHost(srcHost, bytes, "memcpyHtoDAsync");
        int rc;
        try {
            rc = (int) H.cuMemcpyHtoDAsync.invokeExact(dstDevice, srcHost, bytes, ptr(stream));
        } catch (Throwable t) {
            throw NativeLibrary.rethrow(t);
        }
        if (rc != CUDA_SUCCESS) {
            throw fail(rc, "memcpyHtoDAsync", "cuMemcpyHtoDAsync_v2", "dst", dstDevice,
                    "src", srcHost.address(), "bytes", bytes, "stream", stream);
        }
    }

    /**
     * {@code cuMemcpyDtoHAsync_v2}: copies {@code bytes} from device to host. Into pinned memory the
     * data is there only after the stream is synchronized; into pageable memory the call returns
     * when the copy is done.
     */
    public static void memcpyDtoHAsync(MemorySegment dstHost, long srcDevice, long bytes, long stream) {
        checkHost(dstHost, bytes, "memcpyDtoHAsync");
        int rc;
        try {
            rc = (int) H.cuMemcpyDtoHAsync.invokeExact(dstHost, srcDevice, bytes, ptr(stream));
        } catch (Throwable t) {
            throw NativeLibrary.rethrow(t);
        }
        if (rc != CUDA_SUCCESS) {
            throw fail(rc, "memcpyDtoHAsync", "cuMemcpyDtoHAsync_v2", "dst", dstHost.address(),
                    "src", srcDevice, "bytes", bytes, "stream", stream);
        }
    }

    /** {@code cuMemcpyDtoDAsync_v2}. */
    public static void memcpyDtoDAsync(long dstDevice, long srcDevice, long bytes, long stream) {
        int rc;
        try {
            rc = (int) H.cuMemcpyDtoDAsync.invokeExact(dstDevice, srcDevice, bytes, ptr(stream));
        } catch (Throwable t) {
            throw NativeLibrary.rethrow(t);
        }
        if (rc != CUDA_SUCCESS) {
            throw fail(rc, "memcpyDtoDAsync", "cuMemcpyDtoDAsync_v2", "dst", dstDevice, "src", srcDevice,
                    "bytes", bytes, "stream", stream);
        }
    }

    /** {@code cuMemsetD8Async}: sets {@code count} bytes to {@code value}. */
    public static void memsetD8Async(long dstDevice, byte value, long count, long stream) {
        int rc;
        try {
            rc = (int) H.cuMemsetD8Async.invokeExact(dstDevice, value, count, ptr(stream));
        } catch (Throwable t) {
            throw NativeLibrary.rethrow(t);
        }
        if (rc != CUDA_SUCCESS) {
            throw fail(rc, "memsetD8Async", "cuMemsetD8Async", "dst", dstDevice, "value", value,
                    "count", count, "stream", stream);
        }
    }

    /**
     * {@code cuMemsetD32Async}: sets {@code count} 32-bit words to {@code value} (e.g.
     * {@code Float.floatToRawIntBits(Float.NaN)} to poison a float buffer); {@code dstDevice}
     * must be 4-byte aligned.
     */
    public static void memsetD32Async(long dstDevice, int value, long count, long stream) {
        int rc;
        try {
            rc = (int) H.cuMemsetD32Async.invokeExact(dstDevice, value, count, ptr(stream));
        } catch (Throwable t) {
            throw NativeLibrary.rethrow(t);
        }
        if (rc != CUDA_SUCCESS) {
            throw fail(rc, "memsetD32Async", "cuMemsetD32Async", "dst", dstDevice,
                    "value", "0x" + Integer.toHexString(value), "count", count, "stream", stream);
        }
    }

    // ---------------------------------------------------------------- pinned host memory

    /**
     * {@code cuMemHostAlloc}: page-locked host memory of {@code bytes}, for truly asynchronous
     * copies. Free it with {@link #memFreeHost}; no GC or arena frees it.
     */
    public static MemorySegment memHostAlloc(long bytes, int flags) {
        MemorySegment s = Scratch.get();
        int rc;
        try {
            rc = (int) H.cuMemHostAlloc.invokeExact(s, bytes, flags);
        } catch (Throwable t) {
            throw NativeLibrary.rethrow(t);
        }
        if (rc != CUDA_SUCCESS) {
            throw fail(rc, "memHostAlloc", "cuMemHostAlloc", "bytes", bytes, "flags", flags);
        }
        return s.get(ADDRESS, 0).reinterpret(bytes);
    }

    /** {@code cuMemFreeHost}. */
    public static void memFreeHost(MemorySegment host) {
        int rc;
        try {
            rc = (int) H.cuMemFreeHost.invokeExact(host);
        } catch (Throwable t) {
            throw NativeLibrary.rethrow(t);
        }
        if (rc != CUDA_SUCCESS) throw fail(rc, "memFreeHost", "cuMemFreeHost", "ptr", host.address());
    }

    // ---------------------------------------------------------------- modules and launches

    /**
     * {@code cuModuleLoadData}: loads a cubin, fatbin or PTX image into the current context. A
     * terminating NUL is appended, which PTX text needs and binary images ignore.
     */
    public static long moduleLoadData(byte[] image) {
        try (Arena a = Arena.ofConfined()) {
            MemorySegment img = a.allocate(image.length + 1L, 16);
            MemorySegment.copy(image, 0, img, JAVA_BYTE, 0, image.length);
            return moduleLoadData(img);
        }
    }

    /** {@code cuModuleLoadData} from native memory (a NUL-terminated string for PTX). */
    public static long moduleLoadData(MemorySegment image) {
        MemorySegment s = Scratch.get();
        int rc;
        try {
            rc = (int) H.cuModuleLoadData.invokeExact(s, image);
        } catch (Throwable t) {
            throw NativeLibrary.rethrow(t);
        }
        if (rc != CUDA_SUCCESS) {
            throw fail(rc, "moduleLoadData", "cuModuleLoadData", "imageBytes", image.byteSize());
        }
        return s.get(JAVA_LONG, 0);
    }

    /** {@code cuModuleUnload}. */
    public static void moduleUnload(long module) {
        int rc;
        try {
            rc = (int) H.cuModuleUnload.invokeExact(ptr(module));
        } catch (Throwable t) {
            throw NativeLibrary.rethrow(t);
        }
        if (rc != CUDA_SUCCESS) throw fail(rc, "moduleUnload", "cuModuleUnload", "module", module);
    }

    /** {@code cuModuleGetFunction}: a kernel by its (extern "C" or mangled) name. */
    public static long moduleGetFunction(long module, String name) {
        try (Arena a = Arena.ofConfined()) {
            MemorySegment out = a.allocate(ADDRESS);
            int rc = (int) H.cuModuleGetFunction.invokeExact(out, ptr(module), a.allocateFrom(name));
            if (rc != CUDA_SUCCESS) {
                throw fail(rc, "moduleGetFunction", "cuModuleGetFunction", "module", module, "name", name);
            }
            return out.get(JAVA_LONG, 0);
        } catch (Throwable t) {
            throw NativeLibrary.rethrow(t);
        }
    }

    /** {@code cuFuncSetAttribute}, e.g. {@link FunctionAttribute#MAX_DYNAMIC_SHARED_SIZE_BYTES} above 48 KiB. */
    public static void funcSetAttribute(long function, FunctionAttribute attribute, int value) {
        int rc;
        try {
            rc = (int) H.cuFuncSetAttribute.invokeExact(ptr(function), attribute.value, value);
        } catch (Throwable t) {
            throw NativeLibrary.rethrow(t);
        }
        if (rc != CUDA_SUCCESS) {
            throw fail(rc, "funcSetAttribute", "cuFuncSetAttribute", "function", function,
                    "attribute", attribute, "value", value);
        }
    }

    /** {@code cuFuncGetAttribute}, e.g. {@link FunctionAttribute#NUM_REGS}. */
    public static int funcGetAttribute(long function, FunctionAttribute attribute) {
        MemorySegment s = Scratch.get();
        int rc;
        try {
            rc = (int) H.cuFuncGetAttribute.invokeExact(s, attribute.value, ptr(function));
        } catch (Throwable t) {
            throw NativeLibrary.rethrow(t);
        }
        if (rc != CUDA_SUCCESS) {
            throw fail(rc, "funcGetAttribute", "cuFuncGetAttribute", "function", function, "attribute", attribute);
        }
        return s.get(JAVA_INT, 0);
    }

    /**
     * {@code cuLaunchKernel} with arguments packed in {@code args} (see {@link KernelArgs}).
     * Launch errors show here; errors inside the kernel show at the next synchronization.
     */
    public static void launchKernel(long function, int gridX, int gridY, int gridZ, int blockX, int blockY,
                                    int blockZ, int sharedMemBytes, long stream, KernelArgs args) {
        int rc;
        try {
            rc = (int) H.cuLaunchKernel.invokeExact(ptr(function), gridX, gridY, gridZ, blockX, blockY, blockZ,
                    sharedMemBytes, ptr(stream), args.pointers(), MemorySegment.NULL);
        } catch (Throwable t) {
            throw NativeLibrary.rethrow(t);
        }
        if (rc != CUDA_SUCCESS) {
            throw fail(rc, "launchKernel", "cuLaunchKernel", "function", function,
                    "grid", gridX + "x" + gridY + "x" + gridZ, "block", blockX + "x" + blockY + "x" + blockZ,
                    "sharedMemBytes", sharedMemBytes, "stream", stream, "args", args.count());
        }
    }

    // ---------------------------------------------------------------- library facts

    /** Where {@code libcuda} was loaded from; empty when it was not found. Loads it if needed. */
    public static Optional<String> libraryLocation() {
        return H.LIB.location();
    }

    /** Why {@code libcuda} is not loaded; empty when it is. Loads it if needed. */
    public static Optional<CudaLibraryNotFoundException> libraryFailure() {
        return H.LIB.failure();
    }

    /** True when the loaded driver exports {@code symbol} (e.g. to test for a newer API). */
    public static boolean hasSymbol(String symbol) {
        return H.LIB.has(symbol);
    }
}
