package dev.solder.backend.cuda;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.solder.cuda.CudaException;
import dev.solder.cuda.CudaOutOfMemoryException;
import org.junit.jupiter.api.Test;

/** What a CUDA failure says once the op that met it has put itself in front. */
class CudaErrorsTest {

    private static CudaException driver(int status, String name, String text) {
        return new CudaException("CudaDriver.memcpyDtoH", "cuMemcpyDtoHAsync_v2", status, name, text, "bytes=4");
    }

    @Test
    void aKernelFaultSaysItMayComeFromAnEarlierOpAndHowToFindIt() {
        boolean was = CudaDevice.syncAfterLaunch;
        try {
            CudaDevice.syncAfterLaunch = false;
            RuntimeException e = CudaErrors.inOp(driver(700, "CUDA_ERROR_ILLEGAL_ADDRESS",
                    "an illegal memory access was encountered"), "copyToHost", "bytes", 4L);
            CudaException k = assertInstanceOf(CudaErrors.KernelFault.class, e);
            assertEquals(700, k.status(), "the driver's status is kept");
            assertTrue(k.getMessage().startsWith("cuda op copyToHost(bytes 4): CudaDriver.memcpyDtoH: "), k.getMessage());
            assertTrue(k.getMessage().contains("CUDA_ERROR_ILLEGAL_ADDRESS"), k.getMessage());
            assertTrue(k.getMessage().contains("may come from an earlier op's kernel")
                    && k.getMessage().contains("-Dsolder.cuda.syncLaunches=true"), k.getMessage());
            assertTrue(CudaErrors.isKernelFault(driver(719, "CUDA_ERROR_LAUNCH_FAILED", "unspecified launch failure")));
            assertTrue(CudaErrors.isKernelFault(driver(716, "CUDA_ERROR_MISALIGNED_ADDRESS", "misaligned address")));

            // with every op synchronised, the op in the message is the one that faulted: no such caveat
            CudaDevice.syncAfterLaunch = true;
            RuntimeException own = CudaErrors.inOp(driver(700, "CUDA_ERROR_ILLEGAL_ADDRESS", "illegal"), "gelu");
            assertFalse(own instanceof CudaErrors.KernelFault);
            assertTrue(own.getMessage().startsWith("cuda op gelu(): "), own.getMessage());
        } finally {
            CudaDevice.syncAfterLaunch = was;
        }
    }

    @Test
    void otherFailuresKeepTheirKind() {
        CudaException invalid = driver(1, "CUDA_ERROR_INVALID_VALUE", "invalid argument");
        assertFalse(CudaErrors.isKernelFault(invalid));
        RuntimeException e = CudaErrors.inOp(invalid, "fill");
        assertFalse(e instanceof CudaErrors.KernelFault);
        assertTrue(e.getMessage().startsWith("cuda op fill(): "), e.getMessage());
        // a cuBLAS status that happens to share a number is not a driver fault
        assertFalse(CudaErrors.isKernelFault(new CudaException("Cublas.gemmEx", "cublasGemmEx", 715,
                "CUBLAS_STATUS_X", "x", "")));
        var oom = new CudaOutOfMemoryException("CudaDriver.memAllocAsync", "cuMemAllocAsync", 2,
                "CUDA_ERROR_OUT_OF_MEMORY", "out of memory", "bytes=8", 8, 0, 16);
        assertInstanceOf(CudaOutOfMemoryException.class, CudaErrors.inOp(oom, "allocate"));
        IllegalArgumentException arg = new IllegalArgumentException("shape");
        assertSame(arg, CudaErrors.inOp(arg, "matmul"));
    }
}
