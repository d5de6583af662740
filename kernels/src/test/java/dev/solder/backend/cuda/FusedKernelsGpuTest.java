package dev.solder.backend.cuda;

import static org.junit.jupiter.api.Assumptions.assumeTrue;

import dev.solder.cuda.Cuda;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Tag;

/**
 * The fused kernels on the real GPU, against their cuBLAS-only twins and the CPU; each test is
 * skipped, with the reason, where CUDA is unavailable. Every launch is synchronized, so a
 * faulting kernel is named by its own launch.
 */
@Tag("gpu")
class FusedKernelsGpuTest extends FusedParitySuite {
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
            System.out.println("FusedKernelsGpuTest ran on " + CudaBackend.describe(GPU) + ", base seed " + BASE_SEED
                    + (CudaGemm.tf32 ? ", TF32 on" : ""));
        }
    }
}
