package dev.solder.backend.cuda;

import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;

/**
 * The parity suite on {@link FakeDeviceApi}, the Java model of the GPU: runs everywhere (no
 * tag), so CI exercises the CUDA backend's whole Java side and the suite's own checks on every
 * build. What it cannot see — the .cu code itself on real hardware — {@link CudaParityGpuTest}
 * checks on a GPU.
 */
class CudaParityFakeTest extends CudaParitySuite {
    private static AutoCloseable restore;

    @BeforeAll
    static void installFakeDevice() {
        restore = CudaDevice.useFactory(ordinal -> new FakeDeviceApi());
    }

    @AfterAll
    static void removeFakeDevice() throws Exception {
        restore.close();
    }
}
