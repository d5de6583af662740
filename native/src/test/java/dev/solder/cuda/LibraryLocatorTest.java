package dev.solder.cuda;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.solder.cuda.LibraryLocator.Candidate;
import dev.solder.cuda.LibraryLocator.Environment;
import dev.solder.cuda.LibraryLocator.Library;
import java.io.IOException;
import java.lang.foreign.Arena;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Discovery order against a fake file-system tree: nothing is loaded except in the last test. */
class LibraryLocatorTest {

    @TempDir
    Path root;

    private final Map<String, String> props = new HashMap<>();
    private final Map<String, String> vars = new HashMap<>();

    private LibraryLocator locator() {
        return new LibraryLocator(Environment.of(props, vars, root));
    }

    private Path touch(String rel) throws IOException {
        Path p = root.resolve(rel);
        Files.createDirectories(p.getParent());
        Files.createFile(p);
        return p;
    }

    private Path found(Library lib) {
        return locator().find(lib).map(Candidate::path).orElse(null);
    }

    @Test
    void picksTheFirstExistingCandidateInDiscoveryOrder() throws IOException {
        props.put(LibraryLocator.PROPERTY, "/opt/prop");
        vars.put(LibraryLocator.ENV, "/opt/env");
        vars.put("LD_LIBRARY_PATH", "/opt/ld1::/opt/ld2");
        vars.put("CUDA_HOME", "/opt/cudahome");
        vars.put("CUDA_PATH", "/opt/cudapath");
        vars.put("VIRTUAL_ENV", "/venv");

        Path wheel = touch("venv/lib/python3.12/site-packages/nvidia/cu13/lib/libcublas.so.13");
        Path old = touch("usr/local/cuda-12.6/lib64/libcublas.so.12");
        Path newer = touch("usr/local/cuda-13.0/targets/x86_64-linux/lib/libcublas.so.13");
        Path dflt = touch("usr/local/cuda/lib64/libcublas.so.12");
        Path cudaPath = touch("opt/cudapath/lib/libcublas.so");
        Path cudaHome = touch("opt/cudahome/targets/x86_64-linux/lib/libcublas.so.13");
        Path ld2 = touch("opt/ld2/libcublas.so.12");
        Path ld1 = touch("opt/ld1/libcublas.so");
        Path env = touch("opt/env/libcublas.so.12");
        Path prop = touch("opt/prop/libcublas.so.13");

        // Remove the winner each time: the next place in the documented order must win.
        for (Path expected : List.of(prop, env, ld1, ld2, cudaHome, cudaPath, dflt, newer, old, wheel)) {
            assertEquals(expected, found(Library.CUBLAS));
            Files.delete(expected);
        }
        assertEquals(null, found(Library.CUBLAS));
    }

    @Test
    void versionedNamesComeBeforeUnversionedOnesWithinADirectory() throws IOException {
        vars.put("LD_LIBRARY_PATH", "/x");
        Path plain = touch("x/libnvrtc.so");
        Path v12 = touch("x/libnvrtc.so.12");
        Path v13 = touch("x/libnvrtc.so.13");
        assertEquals(v13, found(Library.NVRTC));
        Files.delete(v13);
        assertEquals(v12, found(Library.NVRTC));
        Files.delete(v12);
        assertEquals(plain, found(Library.NVRTC));
        List<String> names = locator().candidates(Library.NVRTC).stream()
                .filter(c -> !c.bareName()).limit(3).map(Candidate::name).toList();
        assertEquals(List.of("libnvrtc.so.13", "libnvrtc.so.12", "libnvrtc.so"), names);
    }

    @Test
    void directoriesComeBeforeNamesSoAnExplicitOldLibraryWins() throws IOException {
        vars.put("LD_LIBRARY_PATH", "/old:/new");
        Path old = touch("old/libcublasLt.so.12");
        touch("new/libcublasLt.so.13");
        assertEquals(old, found(Library.CUBLAS_LT));
    }

    @Test
    void propertyListMayNameFilesAndIgnoresOtherLibraries() throws IOException {
        Path file = touch("libs/libcublas.so.12.8.4");
        Path other = touch("libs/libnvrtc.so.12");
        props.put(LibraryLocator.PROPERTY, file + ":" + other);
        // absolute paths are taken under the fake root; pass them relative to it
        props.put(LibraryLocator.PROPERTY, "/libs/libcublas.so.12.8.4:/libs/libnvrtc.so.12");
        assertEquals(file, found(Library.CUBLAS));
        assertEquals(other, found(Library.NVRTC));
    }

    @Test
    void usrLocalCudaFoldersAreDefaultFirstThenNewestFirst() throws IOException {
        for (String d : List.of("cuda-12", "cuda-12.6", "cuda-13.0", "cuda", "cudatoolkit", "cudnn"))
            Files.createDirectories(root.resolve("usr/local").resolve(d).resolve("lib64"));
        List<String> origins = locator().candidates(Library.NVRTC).stream()
                .filter(c -> c.origin().startsWith("/usr/local/")).map(Candidate::origin).distinct().toList();
        assertEquals(List.of("/usr/local/cuda", "/usr/local/cuda-13.0", "/usr/local/cuda-12.6", "/usr/local/cuda-12",
                "/usr/local/cudatoolkit"), origins);
    }

    @Test
    void driverAddsSystemFoldersAndSonameOneFirst() throws IOException {
        List<Candidate> c = locator().candidates(Library.CUDA_DRIVER);
        assertTrue(c.stream().anyMatch(x -> "system folder".equals(x.origin())));
        assertEquals(List.of("libcuda.so.1", "libcuda.so"),
                c.stream().filter(Candidate::bareName).map(Candidate::name).toList());
        assertFalse(locator().candidates(Library.CUBLAS).stream().anyMatch(x -> "system folder".equals(x.origin())),
                "toolkit libraries are not looked for in the driver's folders (the system loader covers them)");

        Path sys = touch("usr/lib/x86_64-linux-gnu/libcuda.so.1");
        Path nv = touch("usr/local/nvidia/lib64/libcuda.so.1");
        assertEquals(sys, found(Library.CUDA_DRIVER));
        Files.delete(sys);
        assertEquals(nv, found(Library.CUDA_DRIVER));
        vars.put("LD_LIBRARY_PATH", "/drv");
        Path ld = touch("drv/libcuda.so");
        assertEquals(ld, found(Library.CUDA_DRIVER));
    }

    @Test
    void neverLooksInStubsOrCompat() throws IOException {
        touch("usr/local/cuda/lib64/stubs/libcuda.so");
        touch("usr/local/cuda/compat/libcuda.so.1");
        assertEquals(null, found(Library.CUDA_DRIVER));
        assertTrue(locator().candidates(Library.CUDA_DRIVER).stream()
                .noneMatch(c -> c.path() != null && (c.path().toString().contains("stubs")
                        || c.path().toString().contains("compat"))));
    }

    @Test
    void bareNamesComeLastAndPreferredDirsFirst() throws IOException {
        vars.put("LD_LIBRARY_PATH", "/a");
        Path pref = root.resolve("pref");
        List<Candidate> c = locator().candidates(Library.CUBLAS_LT, List.of(pref));
        assertEquals(pref.resolve("libcublasLt.so.13"), c.getFirst().path());
        assertTrue(c.getLast().bareName());
        assertEquals("libcublasLt.so", c.getLast().name());
    }

    @Test
    void loadReportsEveryPlaceTriedAndWhy() throws IOException {
        vars.put("LD_LIBRARY_PATH", "/bad");
        Path fake = touch("bad/libnvrtc.so.13"); // an empty file: exists, but is no library
        Path script = touch("bad/libnvrtc.so");
        Files.writeString(script, "/* GNU ld script */ INPUT(libnvrtc.so.13)");
        try {
            LibraryLocator.Loaded l = locator().load(Library.NVRTC, List.of(), Arena.global());
            // a machine with a real NVRTC on the system loader's path: it must not be the fake
            assertNotEquals(fake.toString(), l.location());
            assertTrue(l.tried().stream().anyMatch(t -> t.contains(fake.toString()) && t.contains("not an ELF")),
                    l.tried().toString());
        } catch (CudaLibraryNotFoundException e) {
            assertTrue(e.getMessage().contains(fake + " (LD_LIBRARY_PATH): exists but is not an ELF shared library"
                    + " (0 bytes)"), e.getMessage());
            assertTrue(e.getMessage().contains(script + " (LD_LIBRARY_PATH): exists but is not an ELF"), e.getMessage());
            assertTrue(e.getMessage().contains("libnvrtc.so.12 via the system loader"), e.getMessage());
            assertTrue(e.getMessage().contains("not found"), e.getMessage());
            assertTrue(e.getMessage().contains("-D" + LibraryLocator.PROPERTY), e.getMessage());
            assertEquals("NVRTC", e.library());
            assertTrue(e.tried().size() > 5);
        }
    }

    @Test
    void versionComparison() {
        assertTrue(LibraryLocator.compareVersionsDescending("cuda-13.0", "cuda-12.6") < 0);
        assertTrue(LibraryLocator.compareVersionsDescending("cuda-12.10", "cuda-12.9") < 0);
        assertTrue(LibraryLocator.compareVersionsDescending("cuda-12", "cuda-12.6") > 0);
    }
}
