package dev.solder.backend.cuda;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.Test;

/** How the NVRTC fallback picks its target, and where it caches. */
class KernelImageTest {

    @Test
    void nvrtcCompilesForTheExactArchWhenItKnowsIt() {
        assertEquals(List.of("-arch=sm_90", "-std=c++17"), KernelImage.nvrtcOptions(90, new int[] {75, 80, 86, 89, 90}));
    }

    @Test
    void olderNvrtcFallsBackToPtxForTheNewestArchBelowTheGpu() {
        assertEquals(List.of("-arch=compute_90", "-std=c++17"), KernelImage.nvrtcOptions(120, new int[] {90, 80, 75}));
        assertThrows(IllegalStateException.class, () -> KernelImage.nvrtcOptions(70, new int[] {75, 80}));
    }

    @Test
    void cacheDirectoryDefaultsUnderTheHome() {
        String old = System.getProperty("solder.cuda.kernelCache");
        try {
            System.clearProperty("solder.cuda.kernelCache");
            assertEquals(Path.of(System.getProperty("user.home"), ".cache", "solder", "kernels"), KernelImage.cacheDir());
            System.setProperty("solder.cuda.kernelCache", "/tmp/x");
            assertEquals(Path.of("/tmp/x"), KernelImage.cacheDir());
        } finally {
            if (old == null) {
                System.clearProperty("solder.cuda.kernelCache");
            } else {
                System.setProperty("solder.cuda.kernelCache", old);
            }
        }
    }

    @Test
    void cacheKeyChangesWithSourcesAndOptions() {
        String a = KernelSources.sha256("src", "-arch=sm_90", "nvrtc 13.0");
        assertEquals(64, a.length());
        assertNotEquals(a, KernelSources.sha256("src", "-arch=sm_89", "nvrtc 13.0"));
        assertNotEquals(a, KernelSources.sha256("src2", "-arch=sm_90", "nvrtc 13.0"));
        assertNotEquals(KernelSources.sha256("ab", "c"), KernelSources.sha256("a", "bc"));
    }
}
