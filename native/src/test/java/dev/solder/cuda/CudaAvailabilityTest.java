package dev.solder.cuda;

import static java.lang.foreign.ValueLayout.ADDRESS;
import static java.lang.foreign.ValueLayout.JAVA_INT;
import static java.lang.foreign.ValueLayout.JAVA_LONG;
import static org.junit.jupiter.api.Assertions.assertDoesNotThrow;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import java.lang.foreign.Arena;
import java.lang.foreign.FunctionDescriptor;
import java.lang.foreign.Linker;
import java.lang.invoke.MethodHandle;
import java.util.List;
import org.junit.jupiter.api.Test;

/** What happens without a GPU (or without a driver): clear answers, never a crash. */
class CudaAvailabilityTest {

    @Test
    void summaryIsTheReasonsFirstLineWithoutThePlacesSearched() {
        String notFound = CudaLibraryNotFoundException.format("CUDA driver",
                List.of("/usr/lib/libcuda.so.1 (system folder): not found", "libcuda.so.1 via the system loader: no"));
        String reason = "no CUDA driver: " + notFound;
        assertEquals("no CUDA driver: CUDA driver library not found (tried 2 places)", Cuda.summary(reason));
        assertEquals("cuInit failed: CUDA_ERROR_NO_DEVICE", Cuda.summary("cuInit failed: CUDA_ERROR_NO_DEVICE"));
        assertEquals("first line", Cuda.summary("first line\nsecond"));
        assertEquals("", Cuda.summary(null));
        // report() gives the list once, under the driver's own line, not after "not available" too
        String report = Cuda.report();
        if (!Cuda.isAvailable() && CudaDriver.libraryFailure().isPresent()) {
            String line = "libcuda.so.1 via the system loader";
            assertTrue(report.contains(line), report);
            assertEquals(report.indexOf(line), report.lastIndexOf(line), report);
        }
    }

    @Test
    void isAvailableNeverThrowsAndExplainsItself() {
        boolean available = assertDoesNotThrow(Cuda::isAvailable);
        String reason = Cuda.unavailableReason();
        if (available) {
            assertEquals("", reason);
            assertTrue(Cuda.deviceCount() > 0);
        } else {
            assertFalse(reason.isBlank());
            if (CudaDriver.libraryFailure().isPresent()) {
                // no driver: the reason lists what was tried
                assertTrue(reason.contains("libcuda.so.1"), reason);
                assertTrue(reason.contains("via the system loader"), reason);
                assertTrue(reason.contains("/usr/lib/x86_64-linux-gnu/libcuda.so.1"), reason);
            }
            IllegalStateException e = assertThrows(IllegalStateException.class, Cuda::deviceCount);
            assertTrue(e.getMessage().contains(reason));
        }
    }

    @Test
    void driverCallsWithoutADriverThrowTheLookupFailure() {
        assumeTrue(CudaDriver.libraryFailure().isPresent(), "this machine has a CUDA driver");
        var e = assertThrows(CudaLibraryNotFoundException.class, CudaDriver::driverVersion);
        assertEquals("CUDA driver", e.library());
        assertThrows(CudaLibraryNotFoundException.class, () -> CudaDriver.memAllocAsync(16, 0));
        assertThrows(CudaLibraryNotFoundException.class, () -> CudaDriver.streamSynchronize(0)); // void return
    }

    @Test
    void librariesAndReportNeverThrow() {
        List<Cuda.LibraryInfo> libs = assertDoesNotThrow(Cuda::libraries);
        assertEquals(List.of("CUDA driver", "cuBLAS", "cuBLASLt", "NVRTC"),
                libs.stream().map(Cuda.LibraryInfo::library).toList());
        for (Cuda.LibraryInfo l : libs) {
            assertTrue(l.usable() ? l.version() != null && l.location() != null : !l.problem().isBlank(), l.toString());
        }
        String report = assertDoesNotThrow(Cuda::report);
        assertTrue(report.startsWith("CUDA: "), report);
        System.out.println(report);
    }

    @Test
    void missingSymbolsThrowNamingSymbolAndLibrary() throws Throwable {
        NativeLibrary libc = NativeLibrary.wrap(LibraryLocator.Library.NVRTC, Linker.nativeLinker().defaultLookup(),
                "/fake/libnvrtc.so.11");
        MethodHandle gone = libc.downcall("nvrtcNoSuchFunction", FunctionDescriptor.of(JAVA_INT, JAVA_INT));
        var e = assertThrows(CudaSymbolNotFoundException.class, () -> {
            int unused = (int) gone.invokeExact(1);
        });
        assertEquals("nvrtcNoSuchFunction", e.symbol());
        assertTrue(e.getMessage().contains("nvrtcNoSuchFunction") && e.getMessage().contains("/fake/libnvrtc.so.11"),
                e.getMessage());

        MethodHandle goneVoid = libc.downcall("noSuchVoid", FunctionDescriptor.ofVoid(JAVA_LONG, ADDRESS));
        assertThrows(CudaSymbolNotFoundException.class, () -> {
            goneVoid.invokeExact(1L, java.lang.foreign.MemorySegment.NULL);
        });

        // the first present symbol of a list is bound: here libc's strlen
        MethodHandle strlen = libc.downcallFirst(FunctionDescriptor.of(JAVA_LONG, ADDRESS),
                new Linker.Option[0], "strlen_v2_does_not_exist", "strlen");
        try (Arena a = Arena.ofConfined()) {
            assertEquals(5L, (long) strlen.invokeExact(a.allocateFrom("hello")));
        }
        assertTrue(libc.has("strlen"));
        assertFalse(libc.has("nvrtcNoSuchFunction"));
    }

    @Test
    void missingLibrariesThrowTheirLookupFailureFromEveryHandle() {
        NativeLibrary none = NativeLibrary.missing(LibraryLocator.Library.CUBLAS,
                new CudaLibraryNotFoundException("cuBLAS", List.of("/x/libcublas.so.13 (LD_LIBRARY_PATH): not found")));
        MethodHandle h = none.downcall("cublasCreate_v2", FunctionDescriptor.of(JAVA_INT, ADDRESS));
        var e = assertThrows(CudaLibraryNotFoundException.class,
                () -> {
                    int unused = (int) h.invokeExact(java.lang.foreign.MemorySegment.NULL);
                });
        assertTrue(e.getMessage().contains("/x/libcublas.so.13"), e.getMessage());
        assertFalse(none.has("cublasCreate_v2"));
    }

    @Test
    void versionStrings() {
        assertEquals("13.0", CudaDriver.versionString(13000));
        assertEquals("12.8", CudaDriver.versionString(12080));
        assertEquals(256, LtMatmul.alignment(0));
        assertEquals(4, LtMatmul.alignment(0x1004));
        assertEquals(256, LtMatmul.alignment(0x7f0000001000L));
    }
}
