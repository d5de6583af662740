package dev.solder.backend.cuda;

import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;

/**
 * The fused-kernel suite on {@link FakeDeviceApi} (runs everywhere): the Java side of the
 * fused path — selection, launch arguments, chunking, temporaries — against the CPU backend.
 * The .cu code itself is checked by {@link FusedKernelsGpuTest} on a GPU.
 */
class FusedKernelsFakeTest extends FusedParitySuite {
    private static AutoCloseable restore;

    @BeforeAll
    static void installFakeDevice() {
        restore = CudaDevice.useFactory(ordinal -> new FakeDeviceApi());
    }

    @AfterAll
    static void removeFakeDevice() throws Exception {
        restore.close();
    }

    /** The Java model of the flash kernels is slow at S = 512: tail and exact tiles only. */
    @Override
    int[] flashSeqLens() {
        return new int[] {1, 17, 64, 200};
    }
}
