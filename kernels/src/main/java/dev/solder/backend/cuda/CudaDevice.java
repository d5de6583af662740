package dev.solder.backend.cuda;

import dev.solder.Device;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicLong;
import java.util.function.IntFunction;

/**
 * The backend's state for one GPU: its {@link DeviceApi} (context, stream, cuBLAS handle,
 * module), a live-bytes counter over every allocation the backend made, and a small device
 * buffer through which kernels report bad ids and labels.
 *
 * <p>One instance per device ordinal per process, shared by every {@link CudaBackend} object.
 * Work on a device is serialized on the instance's monitor: the stream and the cuBLAS handle
 * are not meant for concurrent use, and freeing from another thread (a scope closing there)
 * must not interleave with a launch.
 */
final class CudaDevice {
    private static final System.Logger LOG = System.getLogger(CudaDevice.class.getName());
    private static final ConcurrentHashMap<Integer, CudaDevice> DEVICES = new ConcurrentHashMap<>();

    /**
     * How a device's API is made: the driver, or under {@code -Dsolder.cuda.dryRun=true} a device
     * that runs nothing ({@link DryRunDeviceApi}); tests swap in a fake ({@link #useFactory}).
     */
    private static volatile IntFunction<DeviceApi> factory =
            DryRunDeviceApi.requested() ? DryRunDeviceApi::new : DriverDeviceApi::new;
    private static volatile boolean faked = DryRunDeviceApi.requested();

    /**
     * {@code -Dsolder.cuda.syncLaunches=true}: synchronize after every launch, so a fault inside a
     * kernel is reported by the launch that caused it rather than by a later call.
     */
    static volatile boolean syncAfterLaunch = Boolean.getBoolean("solder.cuda.syncLaunches");

    /** Bytes of the error buffer: int flag, then two long long of details. */
    static final long ERROR_BUFFER_BYTES = 32;

    private final Device device;
    private final DeviceApi api;
    private final AtomicLong live = new AtomicLong();
    private final AtomicLong peak = new AtomicLong();
    private final AtomicLong failedFrees = new AtomicLong();
    /** Freed blocks kept for reuse ({@code -Dsolder.cuda.cacheFreed=true}), else null. */
    private final BlockCache cache;
    private long errorBuffer;

    private CudaDevice(Device device, DeviceApi api) {
        this.device = device;
        this.api = api;
        this.cache = BlockCache.fromProperties(api);
    }

    /** The state of {@code device}, created on first use. */
    static CudaDevice of(Device device) {
        CudaDevice d = DEVICES.get(device.index());
        if (d != null) {
            return d;
        }
        synchronized (DEVICES) {
            return DEVICES.computeIfAbsent(device.index(), i -> new CudaDevice(device, factory.apply(i)));
        }
    }

    /** The state of {@code device} if it was created, else null (creates nothing). */
    static CudaDevice existing(Device device) {
        return DEVICES.get(device.index());
    }

    /**
     * Replaces how device APIs are made and forgets existing devices (for tests with a fake
     * device). Returns a handle that restores the previous factory and devices when closed.
     */
    static AutoCloseable useFactory(IntFunction<DeviceApi> f) {
        synchronized (DEVICES) {
            IntFunction<DeviceApi> old = factory;
            boolean oldFaked = faked;
            var saved = new java.util.HashMap<>(DEVICES);
            factory = f;
            faked = true;
            DEVICES.clear();
            return () -> {
                synchronized (DEVICES) {
                    factory = old;
                    faked = oldFaked;
                    DEVICES.clear();
                    DEVICES.putAll(saved);
                }
            };
        }
    }

    /**
     * True while a test's fake factory is installed or under a dry run (device availability then
     * comes from it, not from the driver).
     */
    static boolean isFaked() {
        return faked;
    }

    Device device() {
        return device;
    }

    DeviceApi api() {
        return api;
    }

    /** Makes the context current on this thread. Call under the monitor before device work. */
    void enter() {
        api.enter();
    }

    long liveBytes() {
        return live.get();
    }

    long peakLiveBytes() {
        return peak.get();
    }

    void resetPeakLiveBytes() {
        peak.set(live.get());
    }

    /** Allocates {@code bytes} (at least 1) and counts them as live. */
    long alloc(long bytes) {
        long n = Math.max(1, bytes);
        long p = cache != null ? cache.alloc(n) : api.alloc(n);
        peak.accumulateAndGet(live.addAndGet(n), Math::max);
        return p;
    }

    /** Frees an {@link #alloc} result of {@code bytes} (into the block cache when there is one). */
    void free(long ptr, long bytes) {
        long n = Math.max(1, bytes);
        if (cache != null) {
            cache.free(ptr, n);
        } else {
            api.free(ptr);
        }
        live.addAndGet(-n);
    }

    /** Frees that failed (after a kernel fault every one does); only the first is logged. */
    long failedFrees() {
        return failedFrees.get();
    }

    /** The block cache, or null when freed blocks go straight back to the driver. */
    BlockCache cache() {
        return cache;
    }

    /** Frees a tensor's storage; called from whichever thread closes the last holder. */
    synchronized void freeStorage(long ptr, long bytes) {
        try {
            enter();
            free(ptr, bytes);
        } catch (RuntimeException e) {
            // A broken context (a kernel faulted) fails every call; freeing must not hide the first
            // error, nor may the hundreds of frees that unwinding a step makes then bury it: the
            // first failure is logged, the rest counted.
            live.addAndGet(-Math.max(1, bytes));
            if (failedFrees.getAndIncrement() == 0) {
                LOG.log(System.Logger.Level.WARNING, "cuda: freeing " + bytes + " bytes on " + device + " failed: " + e
                        + " (further failed frees on " + device + " are counted, not logged)");
            }
        }
    }

    /** Launches; with {@link #syncAfterLaunch}, waits and so surfaces faults of this kernel here. */
    void launch(Kernel kernel, LaunchConfig config, long[] args) {
        api.launch(kernel, config, args);
        if (syncAfterLaunch) {
            api.synchronize();
        }
    }

    /** The kernels' error-report buffer ({@value #ERROR_BUFFER_BYTES} bytes), allocated once. */
    long errorBuffer() {
        if (errorBuffer == 0) {
            errorBuffer = api.alloc(ERROR_BUFFER_BYTES); // not counted: lives as long as the process
        }
        return errorBuffer;
    }

    /** Clears the error buffer before a launch that may report through it. */
    void resetErrors() {
        api.memset(errorBuffer(), (byte) 0, ERROR_BUFFER_BYTES);
    }

    /** The error pointer kernels take ({@code int* err}). */
    long errorFlagPtr() {
        return errorBuffer();
    }

    /** The details pointer kernels take ({@code long long* errInfo}, two values). */
    long errorInfoPtr() {
        return errorBuffer() + 8;
    }

    /**
     * Waits for the queued work and reads the error buffer: null when no kernel reported, else
     * the two details it wrote (e.g. position and id).
     */
    long[] readErrors() {
        try (java.lang.foreign.Arena arena = java.lang.foreign.Arena.ofConfined()) {
            java.lang.foreign.MemorySegment host = arena.allocate(ERROR_BUFFER_BYTES, 8);
            api.copyDeviceToHost(host, 0, errorBuffer(), ERROR_BUFFER_BYTES);
            if (host.get(java.lang.foreign.ValueLayout.JAVA_INT, 0) == 0) {
                return null;
            }
            return new long[] {host.get(java.lang.foreign.ValueLayout.JAVA_LONG, 8),
                    host.get(java.lang.foreign.ValueLayout.JAVA_LONG, 16)};
        }
    }

    /** Temporaries of one op, freed (stream-ordered) when closed. */
    Temps temps() {
        return new Temps(this);
    }

    /** Collects an op's temporary allocations and frees them at the end of the op. */
    static final class Temps implements AutoCloseable {
        private final CudaDevice device;
        private final List<long[]> blocks = new ArrayList<>();

        private Temps(CudaDevice device) {
            this.device = device;
        }

        /** {@code bytes} of device memory until {@link #close()}. */
        long alloc(long bytes) {
            long p = device.alloc(bytes);
            blocks.add(new long[] {p, bytes});
            return p;
        }

        @Override
        public void close() {
            RuntimeException first = null;
            for (int i = blocks.size() - 1; i >= 0; i--) {
                long[] b = blocks.get(i);
                try {
                    device.free(b[0], b[1]);
                } catch (RuntimeException e) {
                    if (first == null) {
                        first = e;
                    }
                }
            }
            blocks.clear();
            if (first != null) {
                throw first;
            }
        }
    }
}
