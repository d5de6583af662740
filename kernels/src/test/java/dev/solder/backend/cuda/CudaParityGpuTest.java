package dev.solder.backend.cuda;

import static org.junit.jupiter.api.Assumptions.assumeTrue;

import dev.solder.cuda.Cuda;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Tag;

/**
 * The parity suite on the real GPU; each test is skipped, with the reason, where CUDA is
 * unavailable. Every launch is followed by a synchronization here, so a kernel that faults is
 * named by the launch that ran it.
 */
@Tag("gpu")
class CudaParityGpuTest extends CudaParitySuite {
    private static boolean oldSync;

    @BeforeAll
    static void syncEveryLaunch() {
        oldSync = CudaDevice.syncAfterLaunch;
        if (Cuda.isAvailable()) {
            CudaDevice.syncAfterLaunch = true;
        }
    }

    @BeforeEach
    void requireGpu() {
        assumeTrue(Cuda.isAvailable(), () -> "no usable CUDA GPU: " + Cuda.unavailableReason());
    }

    @AfterAll
    static void restoreSync() {
        CudaDevice.syncAfterLaunch = oldSync;
        if (Cuda.isAvailable()) {
            System.out.println("CudaParityGpuTest ran on " + CudaBackend.describe(GPU) + ", base seed " + BASE_SEED
                    + (CudaGemm.tf32 ? ", TF32 on" : ""));
        }
    }
}
