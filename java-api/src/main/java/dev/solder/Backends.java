package dev.solder;

import dev.solder.backend.cpu.CpuBackend;
import dev.solder.spi.Backend;
import java.util.EnumMap;
import java.util.Map;
import java.util.ServiceLoader;

/**
 * Finds the backend for a device: the CPU backend is built in, others come through
 * {@link ServiceLoader} (putting {@code solder-kernels} on the class path brings CUDA).
 */
public final class Backends {
    private static final Map<Device.Kind, Backend> BY_KIND = new EnumMap<>(Device.Kind.class);
    private static volatile boolean loaded;

    private Backends() {
    }

    /** The backend serving {@code device}, after checking the device is usable. */
    public static Backend forDevice(Device device) {
        Backend b = forKind(device.kind());
        b.checkDevice(device);
        return b;
    }

    /** The backend for a device family, or an exception that says how to get one. */
    public static Backend forKind(Device.Kind kind) {
        load();
        Backend b = BY_KIND.get(kind);
        if (b == null) {
            throw new IllegalStateException("no backend for " + kind.name().toLowerCase(java.util.Locale.ROOT)
                    + " devices: put solder-kernels (dev.solder:solder-kernels) on the class path");
        }
        return b;
    }

    /** True when a backend for this family is on the class path (the device may still be unusable). */
    public static boolean isPresent(Device.Kind kind) {
        load();
        return BY_KIND.containsKey(kind);
    }

    private static void load() {
        if (loaded) {
            return;
        }
        synchronized (BY_KIND) {
            if (loaded) {
                return;
            }
            BY_KIND.put(Device.Kind.CPU, OpProfiler.wrap(CpuBackend.INSTANCE));
            for (Backend b : ServiceLoader.load(Backend.class)) {
                BY_KIND.putIfAbsent(b.kind(), OpProfiler.wrap(b));
            }
            loaded = true;
        }
    }
}
