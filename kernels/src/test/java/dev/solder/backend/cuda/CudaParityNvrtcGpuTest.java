package dev.solder.backend.cuda;

import static org.junit.jupiter.api.Assumptions.assumeTrue;

import dev.solder.cuda.Cuda;
import dev.solder.cuda.Nvrtc;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Tag;

/**
 * The parity suite once more on the GPU, with kernels compiled at run time by NVRTC from the
 * .cu sources in the jar (the fallback for GPUs the fatbin does not cover), into a fresh cache
 * directory: checks that the NVRTC unit compiles, loads and computes what the fatbin does.
 */
@Tag("gpu")
class CudaParityNvrtcGpuTest extends CudaParitySuite {
    private static AutoCloseable restore;
    private static String oldImage;
    private static String oldCache;
    private static boolean oldSync;

    private static String skipReason() {
        if (!Cuda.isAvailable()) {
            return "no usable CUDA GPU: " + Cuda.unavailableReason();
        }
        return Nvrtc.libraryFailure().map(e -> "NVRTC not found: " + e.getMessage()).orElse(null);
    }

    @BeforeAll
    static void useNvrtcKernels() throws IOException {
        if (skipReason() != null) {
            return;
        }
        oldImage = System.getProperty("solder.cuda.kernelImage");
        oldCache = System.getProperty("solder.cuda.kernelCache");
        Path cache = Files.createTempDirectory("solder-nvrtc-cache");
        System.setProperty("solder.cuda.kernelImage", "nvrtc");
        System.setProperty("solder.cuda.kernelCache", cache.toString());
        oldSync = CudaDevice.syncAfterLaunch;
        CudaDevice.syncAfterLaunch = true;
        // a fresh device state (stream, cuBLAS handle, module) whose module will come from NVRTC
        restore = CudaDevice.useFactory(DriverDeviceApi::new);
        long t0 = System.nanoTime();
        dev.solder.Tensor t = dev.solder.Tensor.full(1.5, dev.solder.DType.FLOAT32, GPU, 4); // a kernel launch
        t.close();
        System.out.println("CudaParityNvrtcGpuTest: first launch (NVRTC compile + load) took "
                + (System.nanoTime() - t0) / 1_000_000 + " ms; " + CudaBackend.describe(GPU));
    }

    @BeforeEach
    void requireGpuAndNvrtc() {
        String why = skipReason();
        assumeTrue(why == null, why);
    }

    @AfterAll
    static void restoreFatbinKernels() throws Exception {
        if (restore == null) {
            return;
        }
        restore.close();
        CudaDevice.syncAfterLaunch = oldSync;
        restoreProperty("solder.cuda.kernelImage", oldImage);
        restoreProperty("solder.cuda.kernelCache", oldCache);
    }

    private static void restoreProperty(String key, String value) {
        if (value == null) {
            System.clearProperty(key);
        } else {
            System.setProperty(key, value);
        }
    }
}
