package dev.solder.cuda;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.List;
import org.junit.jupiter.api.Test;

/** The message of every failure, formatted without a GPU. */
class CudaExceptionTest {

    private static final CudaException.StatusDescriber FAKE = new CudaException.StatusDescriber() {
        @Override
        public String name(int status) {
            return status == 2 ? "CUDA_ERROR_OUT_OF_MEMORY" : null;
        }

        @Override
        public String text(int status) {
            return status == 2 ? "out of memory" : null;
        }
    };

    @Test
    void formatNamesWrapperFunctionStatusAndArguments() {
        CudaException e = CudaException.of("CudaDriver.memAllocAsync", "cuMemAllocAsync", 2, FAKE,
                CudaException.details("bytes", 1024L, "stream", 0x7f00L));
        assertEquals("CudaDriver.memAllocAsync: cuMemAllocAsync returned CUDA_ERROR_OUT_OF_MEMORY (2): out of memory"
                + " [bytes=1024, stream=0x7f00]", e.getMessage());
        assertEquals(2, e.status());
        assertEquals("CUDA_ERROR_OUT_OF_MEMORY", e.statusName());
        assertEquals("out of memory", e.statusText());
        assertEquals("cuMemAllocAsync", e.function());
        assertEquals("CudaDriver.memAllocAsync", e.wrapper());
        assertEquals("bytes=1024, stream=0x7f00", e.details());
    }

    @Test
    void unknownStatusStillGivesTheCode() {
        assertEquals("Cublas.gemmEx: cublasGemmEx returned status (77)",
                CudaException.format("Cublas.gemmEx", "cublasGemmEx", 77, null, null, ""));
        assertEquals("W: f returned X (1)", CudaException.format("W", "f", 1, "X", "X", null));
    }

    @Test
    void aDescriberThatThrowsDoesNotHideTheError() {
        CudaException.StatusDescriber broken = new CudaException.StatusDescriber() {
            @Override
            public String name(int status) {
                throw new CudaLibraryNotFoundException("CUDA driver", List.of("nowhere"));
            }

            @Override
            public String text(int status) {
                throw new UnsatisfiedLinkError("gone");
            }
        };
        CudaException e = CudaException.of("W.w", "fn", 999, broken, "");
        assertEquals("W.w: fn returned status (999)", e.getMessage());
    }

    @Test
    void detailsPrintAddressesInHexAndOtherValuesPlain() {
        assertEquals("m=37, n=53, A=0xff, lda=29, handle=0x10, workspace=0x20, name=saxpy",
                CudaException.details("m", 37, "n", 53, "A", 255L, "lda", 29, "handle", 16L, "workspace", 32L,
                        "name", "saxpy"));
        assertThrows(IllegalArgumentException.class, () -> CudaException.details("odd"));
    }

    @Test
    void driverFallbackNamesWorkWithoutADriver() {
        // No libcuda here: cuGetErrorName cannot run, the built-in table names the code.
        if (CudaDriver.libraryFailure().isPresent()) {
            assertEquals("CUDA_ERROR_OUT_OF_MEMORY", CudaDriver.STATUS.name(2));
            assertEquals(null, CudaDriver.STATUS.text(2));
        }
        assertEquals("CUBLAS_STATUS_INVALID_VALUE", Cublas.NAMES.get(7));
        assertEquals("NVRTC_ERROR_COMPILATION", Nvrtc.STATUS.name(Nvrtc.ERROR_COMPILATION));
        assertEquals("NVRTC_ERROR_TIME_TRACE_FILE_WRITE_FAILED", Nvrtc.STATUS.name(17));
    }

    @Test
    void outOfMemoryNamesRequestAndDeviceMemory() {
        var e = new CudaOutOfMemoryException("CudaDriver.memAllocAsync", "cuMemAllocAsync", 2,
                "CUDA_ERROR_OUT_OF_MEMORY", "out of memory", "bytes=1125899906842624", 1L << 50, 3L << 30, 80L << 30);
        assertInstanceOf(CudaException.class, e);
        assertTrue(e.getMessage().startsWith("CudaDriver.memAllocAsync: cuMemAllocAsync returned"
                + " CUDA_ERROR_OUT_OF_MEMORY (2): out of memory [bytes=1125899906842624]"), e.getMessage());
        assertTrue(e.getMessage().endsWith("; requested 1125899906842624 bytes (1.0 PiB), device has"
                + " 3221225472 bytes (3.0 GiB) free of 85899345920 bytes (80.0 GiB)"), e.getMessage());
        assertEquals(1L << 50, e.requestedBytes());
        assertEquals(3L << 30, e.freeBytes());
        assertEquals(80L << 30, e.totalBytes());
        assertTrue(CudaOutOfMemoryException.oomSuffix(100, -1, -1).endsWith("device free/total memory unknown"));
        assertEquals("100 bytes", CudaOutOfMemoryException.bytes(100));
        assertEquals("1536 bytes (1.5 KiB)", CudaOutOfMemoryException.bytes(1536));
    }

    @Test
    void libraryNotFoundListsEveryPlaceTried() {
        var e = new CudaLibraryNotFoundException("cuBLAS",
                List.of("/a/libcublas.so.13 (LD_LIBRARY_PATH): not found", "libcublas.so.13 via the system loader: x"));
        assertEquals("cuBLAS library not found; tried 2 places in this order:\n"
                + "  /a/libcublas.so.13 (LD_LIBRARY_PATH): not found\n"
                + "  libcublas.so.13 via the system loader: x\n"
                + "Set -Dsolder.cuda.libs or SOLDER_CUDA_LIBS to a directory (or file) list, or add the directory"
                + " to LD_LIBRARY_PATH.", e.getMessage());
    }

    @Test
    void compilationFailureCarriesTheLog() {
        CudaException cause = CudaException.of("Nvrtc.compileProgram", "nvrtcCompileProgram", 6, Nvrtc.STATUS, "");
        var e = new NvrtcCompilationException("bad.cu", cause, new String[] {"-arch=sm_90"},
                "bad.cu(3): error: identifier \"x\" is undefined\n\n1 error detected\n");
        assertTrue(e.getMessage().startsWith("Nvrtc.compile: bad.cu did not compile with options [-arch=sm_90]:"
                + " nvrtcCompileProgram returned NVRTC_ERROR_COMPILATION (6)\n--- NVRTC log ---\n"), e.getMessage());
        assertTrue(e.getMessage().endsWith("bad.cu(3): error: identifier \"x\" is undefined\n\n1 error detected"));
        assertEquals(6, e.status());
        assertTrue(e.log().contains("identifier"));
    }
}
