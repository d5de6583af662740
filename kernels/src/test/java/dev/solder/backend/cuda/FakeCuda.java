package dev.solder.backend.cuda;

import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;

/**
 * For tests outside this module (the models module's Trainer and CLI tests): makes every
 * {@code cuda:N} device a {@link FakeDeviceApi}, the Java model of a GPU that runs each kernel's
 * documented semantics and cuBLAS's products on the host, until the returned handle is closed.
 *
 * <pre>{@code
 * try (AutoCloseable gpu = FakeCuda.install()) {
 *     Tensor x = Tensor.randn(new Generator(1), DType.FLOAT32, Device.cuda(), 4, 4);   // on the fake device
 * }
 * }</pre>
 */
public final class FakeCuda {
    private static final List<FakeDeviceApi> DEVICES = new CopyOnWriteArrayList<>();

    private FakeCuda() {
    }

    /** Installs the fake device for every ordinal; close the handle to restore the real one. */
    public static AutoCloseable install() {
        return CudaDevice.useFactory(ordinal -> {
            FakeDeviceApi d = new FakeDeviceApi();
            DEVICES.add(d);
            return d;
        });
    }

    /**
     * Installs fake devices of {@code capacityBytes} each: an allocation beyond it fails with
     * {@code CudaOutOfMemoryException} as {@code cuMemAllocAsync} does. Close to restore what was before.
     */
    public static AutoCloseable install(long capacityBytes) {
        return CudaDevice.useFactory(ordinal -> {
            FakeDeviceApi d = new FakeDeviceApi(capacityBytes);
            DEVICES.add(d);
            return d;
        });
    }

    /**
     * Selects the fused kernels wherever they support the case, validated on a card or not
     * ({@code -Dsolder.kernels=fused}), until the handle is closed.
     */
    public static AutoCloseable forceFusedKernels() {
        return KernelPaths.force(KernelPaths.Mode.FUSED);
    }

    /** Launches of the kernel named {@code cName} (e.g. {@code solder_adamw_multi}) on the fake devices so far. */
    public static int launches(String cName) {
        for (Kernel k : Kernel.values()) {
            if (k.cName().equals(cName)) {
                return DEVICES.stream().mapToInt(d -> d.launchesOf(k)).sum();
            }
        }
        throw new IllegalArgumentException("no kernel " + cName);
    }

    /** Bytes the CUDA backend holds on {@code cuda:0} (tensors not yet freed). */
    public static long liveBytes() {
        return dev.solder.Backends.forKind(dev.solder.Device.Kind.CUDA).liveBytes(dev.solder.Device.cuda());
    }
}
