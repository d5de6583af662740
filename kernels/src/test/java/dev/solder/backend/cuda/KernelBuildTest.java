package dev.solder.backend.cuda;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import java.io.IOException;
import java.io.InputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.List;
import java.util.Properties;
import java.util.Set;
import java.util.TreeSet;
import java.util.stream.Collectors;
import org.junit.jupiter.api.Test;

/**
 * The nvcc build product: where the build machine has nvcc, the jar must carry one fatbin with
 * cubins for sm_80, sm_86, sm_89, sm_90 and compute_90 PTX holding every kernel, and the ptxas
 * report must show no spills. Read with Fatbin's own parser, so no cuobjdump is needed.
 */
class KernelBuildTest {
    private static void assumeBuiltWithNvcc() {
        assumeTrue(CudaSourceFiles.nvcc().isPresent(), "nvcc not found: this build has no fatbin (NVRTC compiles at run time)");
        assumeTrue(!Boolean.getBoolean("solder.kernels.skipNvcc"), "built with -Dsolder.kernels.skipNvcc=true");
    }

    @Test
    void fatbinHoldsTheFourCubinsAndPtx() {
        assumeBuiltWithNvcc();
        byte[] fb = KernelImage.fatbin();
        assertNotNull(fb, KernelImage.FATBIN_RESOURCE + " is missing although nvcc is present");
        assertTrue(fb.length > 1024, "fatbin of " + fb.length + " bytes");
        List<Fatbin.Entry> entries = Fatbin.parse(fb);
        Set<Integer> cubins = entries.stream().filter(Fatbin.Entry::isCubin).map(Fatbin.Entry::arch)
                .collect(Collectors.toCollection(TreeSet::new));
        Set<Integer> ptx = entries.stream().filter(Fatbin.Entry::isPtx).map(Fatbin.Entry::arch)
                .collect(Collectors.toCollection(TreeSet::new));
        assertEquals(new TreeSet<>(List.of(80, 86, 89, 90)), cubins, "cubins in " + entries);
        assertEquals(Set.of(90), ptx, "PTX in " + entries);
        assertTrue(Fatbin.runsOn(entries, 90) && Fatbin.hasExactCubin(entries, 90), "an H100 runs the sm_90 cubin");
        assertTrue(Fatbin.runsOn(entries, 87), "an sm_87 GPU runs the sm_86 cubin");
        assertTrue(Fatbin.runsOn(entries, 100), "newer GPUs JIT the compute_90 PTX");
        assertTrue(!Fatbin.runsOn(entries, 75), "nothing in the fatbin runs on sm_75: NVRTC must take over");
    }

    @Test
    void manifestNamesTheArchsAndEveryKernel() throws IOException {
        assumeBuiltWithNvcc();
        Properties m = new Properties();
        try (InputStream in = KernelBuildTest.class.getResourceAsStream(KernelImage.MANIFEST_RESOURCE)) {
            assertNotNull(in, KernelImage.MANIFEST_RESOURCE + " is missing");
            m.load(in);
        }
        assertEquals("sm_80,sm_86,sm_89,sm_90", m.getProperty("cubin"));
        assertEquals("compute_90", m.getProperty("ptx"));
        assertTrue(m.getProperty("flags").contains("--Werror all-warnings"), m.getProperty("flags"));
        assertTrue(!m.getProperty("flags").contains("fast_math"), "no fast math: results are checked to 1e-5");
        Set<String> built = new TreeSet<>(Arrays.asList(m.getProperty("kernels").split(",")));
        Set<String> launched = Arrays.stream(Kernel.values()).map(Kernel::cName).collect(Collectors.toCollection(TreeSet::new));
        assertEquals(launched, built, "kernels compiled into the fatbin vs kernels the Java side launches");
        assertEquals("0", m.getProperty("spills.nonzero"), "some kernel spills registers: see nvcc-ptxas.txt");
    }

    @Test
    void ptxasReportShowsNoSpillsOrStackFrames() throws IOException {
        assumeBuiltWithNvcc();
        Path report = CudaSourceFiles.buildDir().resolve("nvcc-ptxas.txt");
        assumeTrue(Files.isRegularFile(report), "no ptxas report in " + report + " (fatbin was up to date from another build dir)");
        String text = Files.readString(report);
        for (Kernel k : Kernel.values()) {
            assertTrue(text.contains("Compiling entry function '" + k.cName() + "' for 'sm_90'"), k.cName() + " not in " + report);
        }
        List<String> bad = text.lines().filter(l -> l.matches(".*\\b[1-9][0-9]* bytes (spill stores|spill loads|stack frame).*"))
                .toList();
        assertTrue(bad.isEmpty(), "spills or stack frames in " + report + ": " + bad);
    }
}
