package dev.solder.cuda;

import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.function.Supplier;

/**
 * Whether CUDA is usable here, what the devices are, and which CUDA libraries were found.
 *
 * <p>{@link #isAvailable()} never throws: it loads the driver, runs {@code cuInit}, checks the
 * driver's CUDA version and counts devices once, and remembers the outcome;
 * {@link #unavailableReason()} says what failed (with every path tried when there is no driver).
 *
 * <pre>{@code
 * import dev.solder.cuda.*;
 *
 * public class Info {
 *     public static void main(String[] args) {
 *         if (!Cuda.isAvailable()) {
 *             System.out.println("no GPU: " + Cuda.unavailableReason());
 *             return;
 *         }
 *         System.out.println("driver " + CudaDriver.versionString(Cuda.driverVersion()));
 *         for (int d = 0; d < Cuda.deviceCount(); d++) System.out.println(Cuda.deviceInfo(d));
 *         Cuda.libraries().forEach(System.out::println);
 *
 *         CudaDriver.ensureCurrent(0);                       // primary context of device 0, this thread
 *         long stream = CudaDriver.streamCreate(CudaDriver.STREAM_NON_BLOCKING);
 *         long buf = CudaDriver.memAllocAsync(1 << 20, stream);
 *         CudaDriver.memsetD32Async(buf, Float.floatToRawIntBits(1f), 1 << 18, stream);
 *         CudaDriver.memFreeAsync(buf, stream);
 *         CudaDriver.streamSynchronize(stream);
 *         CudaDriver.streamDestroy(stream);
 *     }
 * }
 * }</pre>
 * Run it with {@code java --enable-native-access=ALL-UNNAMED -cp solder-native.jar Info.java}.
 */
public final class Cuda {
    private Cuda() {}

    /** The oldest driver API version Solder runs on: CUDA 12.0 ({@code cuDriverGetVersion} = 12000). */
    public static final int MIN_DRIVER_VERSION = 12000;

    /**
     * One device.
     *
     * @param totalMemory bytes of device memory
     * @param freeMemory  bytes free when asked (read in the device's primary context)
     * @param maxSharedMemoryPerBlockOptin the most shared memory a block may opt in to, in bytes
     */
    public record DeviceInfo(int ordinal, String name, int computeCapabilityMajor, int computeCapabilityMinor,
                             int multiprocessors, long totalMemory, long freeMemory,
                             int maxSharedMemoryPerBlockOptin) {
        /** E.g. {@code "9.0"}. */
        public String computeCapability() {
            return computeCapabilityMajor + "." + computeCapabilityMinor;
        }

        @Override
        public String toString() {
            return String.format(java.util.Locale.ROOT,
                    "GPU %d: %s, compute capability %s, %d SMs, %.1f GiB (%.1f GiB free), %d KiB shared memory per block",
                    ordinal, name, computeCapability(), multiprocessors, totalMemory / GIB, freeMemory / GIB,
                    maxSharedMemoryPerBlockOptin / 1024);
        }
    }

    private static final double GIB = 1024.0 * 1024 * 1024;

    /**
     * A CUDA library as found (or not) on this machine.
     *
     * @param library  e.g. {@code cuBLAS}
     * @param location the file it was loaded from, or null
     * @param version  its version, or null
     * @param problem  why it cannot be used, or null when it can
     */
    public record LibraryInfo(String library, String location, String version, String problem) {
        /** True when the library loaded and answered its version call. */
        public boolean usable() {
            return problem == null;
        }

        @Override
        public String toString() {
            return problem == null ? library + " " + version + " (" + location + ")" : library + ": " + problem;
        }
    }

    private record Probe(boolean available, String reason, int driverVersion, int deviceCount) {}

    private static volatile Probe probe;

    private static Probe probe() {
        Probe p = probe;
        if (p == null) {
            synchronized (Cuda.class) {
                p = probe;
                if (p == null) probe = p = runProbe();
            }
        }
        return p;
    }

    /** What a failing cuInit usually means, for the reason text. */
    private static final Map<Integer, String> INIT_HINTS = Map.of(
            34, "the libcuda found is the CUDA toolkit's stub, not the NVIDIA driver's library",
            35, "the NVIDIA driver is older than this libcuda; update the driver",
            100, "the driver sees no CUDA-capable GPU (check nvidia-smi and CUDA_VISIBLE_DEVICES)",
            803, "the libcuda library and the kernel driver module are different versions (reboot, or a stray compat libcuda)",
            804, "the forward-compatibility libcuda does not support this GPU");

    private static Probe runProbe() {
        try {
            var failure = CudaDriver.libraryFailure();
            if (failure.isPresent()) {
                return new Probe(false, "no CUDA driver: " + failure.get().getMessage(), 0, 0);
            }
            String where = CudaDriver.libraryLocation().orElse("libcuda");
            try {
                CudaDriver.init();
            } catch (CudaException e) {
                String hint = INIT_HINTS.get(e.status());
                return new Probe(false, "the CUDA driver (" + where + ") did not initialize: " + e.getMessage()
                        + (hint == null ? "" : "; " + hint), 0, 0);
            }
            int version = CudaDriver.driverVersion();
            if (version < MIN_DRIVER_VERSION) {
                return new Probe(false, "the CUDA driver (" + where + ") supports CUDA "
                        + CudaDriver.versionString(version) + "; Solder needs CUDA "
                        + CudaDriver.versionString(MIN_DRIVER_VERSION) + " or newer: update the NVIDIA driver",
                        version, 0);
            }
            int count = CudaDriver.deviceCount();
            if (count == 0) {
                return new Probe(false, "the CUDA driver (" + where + ", CUDA " + CudaDriver.versionString(version)
                        + ") reports no CUDA devices", version, 0);
            }
            return new Probe(true, "", version, count);
        } catch (Throwable t) {
            // isAvailable() must never throw: whatever went wrong becomes the reason
            return new Probe(false, "probing CUDA failed: " + t, 0, 0);
        }
    }

    /** True when the driver loads, initializes, is new enough and sees at least one GPU. Never throws. */
    public static boolean isAvailable() {
        return probe().available();
    }

    /**
     * Why CUDA is not usable (no driver library, with every path tried; {@code cuInit} failing;
     * a driver older than CUDA 12.0; no devices), or an empty string when it is.
     */
    public static String unavailableReason() {
        return probe().reason();
    }

    /**
     * The first line of a reason such as {@link #unavailableReason()}: what failed, without the
     * list of every place searched ({@code solder info} prints that list once, under "CUDA driver").
     */
    public static String summary(String reason) {
        if (reason == null) {
            return "";
        }
        int end = reason.indexOf('\n');
        String first = end < 0 ? reason : reason.substring(0, end);
        int tried = first.indexOf("; tried ");
        return tried < 0 ? first : first.substring(0, tried) + " (" + first.substring(tried + 2).replace(" in this order:", "")
                + ")";
    }

    private static Probe requireAvailable() {
        Probe p = probe();
        if (!p.available()) throw new IllegalStateException("CUDA is not available: " + p.reason());
        return p;
    }

    /** The driver's CUDA version, e.g. {@code 13000}. */
    public static int driverVersion() {
        Probe p = probe();
        if (p.driverVersion() == 0) requireAvailable();
        return p.driverVersion();
    }

    /** The number of CUDA devices. */
    public static int deviceCount() {
        return requireAvailable().deviceCount();
    }

    /**
     * Facts about device {@code ordinal}. Reading its free memory makes the device's primary
     * context current on the calling thread ({@link CudaDriver#ensureCurrent}).
     */
    public static DeviceInfo deviceInfo(int ordinal) {
        requireAvailable();
        String name = CudaDriver.deviceName(ordinal);
        int major = CudaDriver.deviceAttribute(ordinal, CudaDriver.DeviceAttribute.COMPUTE_CAPABILITY_MAJOR);
        int minor = CudaDriver.deviceAttribute(ordinal, CudaDriver.DeviceAttribute.COMPUTE_CAPABILITY_MINOR);
        int sms = CudaDriver.deviceAttribute(ordinal, CudaDriver.DeviceAttribute.MULTIPROCESSOR_COUNT);
        int smem = CudaDriver.deviceAttribute(ordinal, CudaDriver.DeviceAttribute.MAX_SHARED_MEMORY_PER_BLOCK_OPTIN);
        long total = CudaDriver.deviceTotalMem(ordinal);
        CudaDriver.ensureCurrent(ordinal);
        long free = CudaDriver.memGetInfo().free();
        return new DeviceInfo(ordinal, name, major, minor, sms, total, free, smem);
    }

    /**
     * Each CUDA library Solder binds, with where it was found and its version, or why it cannot
     * be used. Loads the libraries; needs no GPU for cuBLAS, cuBLASLt and NVRTC.
     */
    public static List<LibraryInfo> libraries() {
        List<LibraryInfo> out = new ArrayList<>();
        out.add(info("CUDA driver", CudaDriver::libraryFailure, CudaDriver::libraryLocation,
                () -> "CUDA " + CudaDriver.versionString(CudaDriver.driverVersion())));
        out.add(info("cuBLAS", Cublas::libraryFailure, Cublas::libraryLocation, Cublas::versionString));
        out.add(info("cuBLASLt", CublasLt::libraryFailure, CublasLt::libraryLocation, CublasLt::versionString));
        out.add(info("NVRTC", Nvrtc::libraryFailure, Nvrtc::libraryLocation, () -> Nvrtc.version().toString()));
        return out;
    }

    private static LibraryInfo info(String name,
                                    Supplier<java.util.Optional<CudaLibraryNotFoundException>> failure,
                                    Supplier<java.util.Optional<String>> location, Supplier<String> version) {
        try {
            var f = failure.get();
            if (f.isPresent()) return new LibraryInfo(name, null, null, f.get().getMessage());
            String where = location.get().orElse(null);
            try {
                return new LibraryInfo(name, where, version.get(), null);
            } catch (RuntimeException e) {
                return new LibraryInfo(name, where, null, "loaded from " + where + " but its version call failed: "
                        + e.getMessage());
            }
        } catch (Throwable t) {
            return new LibraryInfo(name, null, null, "could not be probed: " + t);
        }
    }

    /** A multi-line summary (availability, devices, libraries) for {@code solder info}. Never throws. */
    public static String report() {
        StringBuilder sb = new StringBuilder();
        try {
            if (isAvailable()) {
                sb.append("CUDA: available, driver supports CUDA ").append(CudaDriver.versionString(driverVersion()))
                        .append('\n');
                for (int d = 0; d < deviceCount(); d++) {
                    try {
                        sb.append("  ").append(deviceInfo(d)).append('\n');
                    } catch (RuntimeException e) {
                        sb.append("  GPU ").append(d).append(": ").append(e.getMessage()).append('\n');
                    }
                }
            } else {
                sb.append("CUDA: not available: ").append(summary(unavailableReason())).append('\n');
            }
            for (LibraryInfo l : libraries()) sb.append(l).append('\n');
        } catch (Throwable t) {
            sb.append("CUDA report failed: ").append(t).append('\n');
        }
        return sb.toString();
    }
}
