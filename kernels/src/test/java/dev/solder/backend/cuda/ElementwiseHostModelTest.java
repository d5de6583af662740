package dev.solder.backend.cuda;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Path;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;

/**
 * The 16-byte vector paths of elementwise.cu, run WITHOUT a GPU: {@code src/test/cpp/elementwise_host_model.cpp}
 * compiles the .cu with g++, every CUDA thread a host thread, and runs each kernel from aligned
 * buffers (vector path) and from buffers one element off (scalar path) with the launch shapes
 * {@link LaunchConfig#vec8} and {@link LaunchConfig#columnSplit(long, long, int)} give.
 *
 * <p>What it proves: conversions, add (same shape, broadcast, in place), mul, scale, GELU both
 * ways and the fused bias-GELU forward and backward store the same bits on both paths, tails of
 * n mod 8 elements included, with NaN payloads, infinities, signed zeros, subnormals and bf16
 * rounding ties among the inputs; and the bias-GELU backward's partial column sums follow the
 * (32, 8) slice order on inputs where another order gives other bits. What it cannot: the GPU's
 * erff/expf/tanhf and its speed (FusedKernelBench's bias+gelu rows measure that on a card).
 *
 * <p>It runs three times: plain, under ThreadSanitizer and under AddressSanitizer
 * ({@link HostSanitizer}), which must report nothing.
 */
class ElementwiseHostModelTest {

    @ParameterizedTest(name = "{0}")
    @EnumSource(HostSanitizer.class)
    void vectorPathsStoreTheScalarPathsBits(HostSanitizer sanitizer, @TempDir Path dir) {
        Path exe = CudaSourceFiles.hostModel(dir, "elementwise_host_model", "the elementwise kernels", sanitizer);

        CudaSourceFiles.HostRun run = CudaSourceFiles.runSeeded(dir, exe, "elementwise host model");
        String what = run.what();
        String[] lines = run.lines();
        long orderShows = 0;
        int cases = 0;
        for (String line : lines) {
            if (line.startsWith("total") || line.startsWith(" ")) {
                continue;
            }
            String[] f = line.trim().split("\\s+");
            int at = java.util.Arrays.asList(f).indexOf("mismatches");
            assertTrue(at > 0, what + ": unexpected line " + line);
            assertEquals(0, Long.parseLong(f[at + 1]), what + ": " + line + "\n" + run.output());
            assertTrue(Long.parseLong(f[at + 3]) > 0, what + ": nothing compared in " + line);
            int om = java.util.Arrays.asList(f).indexOf("ordermatters");
            if (om > 0) {
                orderShows += Long.parseLong(f[om + 1]);
            }
            cases++;
        }
        String[] last = lines[lines.length - 1].trim().split("\\s+");
        assertEquals("total", last[0], what + ": " + run.output());
        assertEquals(0, Long.parseLong(last[2]), what + ": " + run.output());
        assertEquals(22, Integer.parseInt(last[4]), what + ": cases run");
        assertEquals(22, cases, what + ": case lines");
        assertTrue(orderShows > 0, what + ": no partial sum where the order of the adds shows, so the bit-for-bit"
                + " check could not tell the slice order from another");
    }
}
