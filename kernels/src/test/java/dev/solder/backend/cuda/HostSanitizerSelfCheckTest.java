package dev.solder.backend.cuda;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The sanitized host-model builds ({@link HostSanitizer}) do report what they are there for:
 * {@code src/test/cpp/sanitizer_selfcheck.cpp} is one small kernel, run in the host thread model,
 * with a missing barrier, a read past a {@code __shared__} array or a write past a buffer planted
 * by a command-line switch. Without this, a clean sanitized run of the real kernels could mean
 * that the sanitizer never saw their memory (a 16-byte {@code memset} that g++ expands inline is
 * invisible to ThreadSanitizer, for one: the flash model's {@code cp.async} stores element by
 * element for that reason).
 */
class HostSanitizerSelfCheckTest {

    private static CudaSourceFiles.Result run(Path dir, Path exe, String mode) {
        return CudaSourceFiles.exec(dir, null, List.of(exe.toString(), mode));
    }

    /** The self-check built under {@code sanitizer}, once its correct mode has run clean. */
    private static Path cleanBuild(Path dir, HostSanitizer sanitizer) {
        Path exe = CudaSourceFiles.hostModel(dir, "sanitizer_selfcheck", "the sanitizer self-check", sanitizer);
        CudaSourceFiles.Result ok = run(dir, exe, "barrier");
        HostSanitizer.assertClean("barrier", ok);
        assertEquals(0, ok.code(), ok.output());
        assertEquals("sum 1072.0", ok.output().trim(), "each thread read its neighbour's value");
        return exe;
    }

    @Test
    void threadSanitizerReportsAMissingBarrierAndNothingWithIt(@TempDir Path dir) {
        Path exe = cleanBuild(dir, HostSanitizer.THREAD);
        CudaSourceFiles.Result race = run(dir, exe, "race");
        AssertionError e = assertThrows(AssertionError.class, () -> HostSanitizer.assertClean("race", race),
                "a shared-memory race with no barrier went unreported:\n" + race.output());
        assertTrue(e.getMessage().contains("data race"), e.getMessage());
        assertTrue(race.code() != 0, "the run stops with an error at the report");
    }

    @Test
    void aSanitizerThatCannotStartSkipsRatherThanPassesOrFails() {
        // what each prints when `ulimit -v` denies it its shadow memory (seen on this machine)
        for (String out : new String[] {
            "ThreadSanitizer: CHECK failed: sanitizer_allocator_primary64.h:131 \"((kSpaceBeg)) == ...\"",
            "==1==ERROR: AddressSanitizer failed to allocate 0xdfff0001000 bytes\n"
                    + "==1==ReserveShadowMemoryRange failed while trying to map 0xdfff0001000 bytes."}) {
            assertThrows(org.opentest4j.TestAbortedException.class,
                    () -> HostSanitizer.assertClean("model", new CudaSourceFiles.Result(139, out)), out);
        }
        // a clean run passes; a report fails
        HostSanitizer.assertClean("model", new CudaSourceFiles.Result(0, "ln rows 37 outErr 9e-08"));
        assertThrows(AssertionError.class, () -> HostSanitizer.assertClean("model",
                new CudaSourceFiles.Result(66, "WARNING: ThreadSanitizer: data race (pid=1)")));
    }

    @Test
    void addressSanitizerReportsReadsAndWritesOutsideArraysAndNothingInside(@TempDir Path dir) {
        Path exe = cleanBuild(dir, HostSanitizer.ADDRESS);
        for (String mode : List.of("shared-overflow", "global-overflow")) {
            CudaSourceFiles.Result bad = run(dir, exe, mode);
            AssertionError e = assertThrows(AssertionError.class, () -> HostSanitizer.assertClean(mode, bad),
                    mode + " went unreported:\n" + bad.output());
            assertTrue(e.getMessage().contains("out of bounds") || e.getMessage().contains("buffer-overflow"),
                    mode + ": " + e.getMessage());
            assertTrue(bad.code() != 0, mode + ": the run stops with an error at the report");
        }
    }
}
