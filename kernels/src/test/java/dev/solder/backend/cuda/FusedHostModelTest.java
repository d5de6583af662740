package dev.solder.backend.cuda;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.EnumMap;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;

/**
 * The fused path's one-pass kernels run WITHOUT a GPU: {@code src/test/cpp/fused_host_model.cpp}
 * compiles loss.cu (and the .cu files it names) with g++, every CUDA thread a host thread
 * ({@code host_threads.h}), and runs each fused kernel next to the unfused kernels it replaces.
 *
 * <p>What it proves: the fused cross-entropy writes the same bits as the unfused forward and
 * backward (dloss = 1), is within float32 rounding of a float64 reference, and reports a bad label
 * as the unfused kernel does; the fused BERT embeddings write the same h, out, mean and rstd as the
 * unfused sums fed to the fused LayerNorm, their one-launch backward the same table gradients as
 * three unfused scatter launches (and the scatters the bits of their documented order), and a bad
 * id is reported with its table; the fused dropout + LayerNorm writes what the dropout kernel
 * followed by the fused LayerNorm writes, also for bf16 x beside a float32 residual, and its
 * one-pass backward what the fused LayerNorm backward followed by the dropout kernel writes. What
 * it cannot:
 * anything about the hardware (FusedKernelsGpuTest compares the same kernels with the CPU on a GPU).
 *
 * <p>Each test runs its cases plain and some of them under ThreadSanitizer and AddressSanitizer
 * ({@link HostSanitizer}), which must report nothing.
 */
class FusedHostModelTest {
    @TempDir
    static Path dir;
    private static final Map<HostSanitizer, Path> EXES = new EnumMap<>(HostSanitizer.class);
    private static long seed;

    @BeforeAll
    static void seed() {
        seed = Long.getLong("solder.test.seed", System.nanoTime()) & Long.MAX_VALUE;
    }

    /** The model built under {@code sanitizer}, once for the three tests. */
    private static synchronized Path exe(HostSanitizer sanitizer) {
        Path exe = EXES.get(sanitizer);
        if (exe == null) {
            exe = CudaSourceFiles.hostModel(dir, "fused_host_model", "the fused kernels", sanitizer);
            EXES.put(sanitizer, exe);
        }
        return exe;
    }

    /** Runs the model with {@code args} and a per-case seed; returns its output lines. */
    private static String[] run(HostSanitizer sanitizer, String what, long caseSeed, String... args) {
        List<String> cmd = new ArrayList<>();
        cmd.add(exe(sanitizer).toString());
        cmd.addAll(List.of(args));
        cmd.add(Long.toUnsignedString(caseSeed));
        CudaSourceFiles.Result r = CudaSourceFiles.exec(dir, null, cmd);
        String label = what + " [" + sanitizer + "]";
        HostSanitizer.assertClean(label, r);
        assertEquals(0, r.code(), label + ":\n" + r.output());
        return r.output().trim().split("\n");
    }

    @ParameterizedTest(name = "{0}")
    @EnumSource(HostSanitizer.class)
    void fusedCrossEntropyGivesTheUnfusedKernelsBits(HostSanitizer sanitizer) {
        // rows × classes × dtype: a warp-wide row (3 classes), a ragged one (77), a wide one (1000)
        String[] cases = {"37 77 0", "37 3 1", "21 1000 0", "9 33 1"};
        cases = sanitizer.cases(cases, 0, 3);
        for (int c = 0; c < cases.length; c++) {
            long caseSeed = seed + c;
            String what = "fused cross-entropy host model rows classes dt = " + cases[c] + " (seed " + caseSeed
                    + ", -Dsolder.test.seed=" + seed + ")";
            String[] a = cases[c].split(" ");
            String[] lines = run(sanitizer, what, caseSeed, "ce", a[0], a[1], a[2]);
            String[] f = lines[0].trim().split("\\s+");
            assertEquals("mismatches", f[1], what + ": " + lines[0]);
            assertEquals(0, Long.parseLong(f[2]), what + ": elements differing from the unfused kernels: " + lines[0]);
            assertEquals(Long.parseLong(a[0]), Long.parseLong(f[4]), what + ": rows checked");
            assertTrue(Double.parseDouble(f[6]) < 1e-6, what + ": loss off the float64 reference: " + lines[0]);
            assertTrue(Double.parseDouble(f[8]) < 1e-6, what + ": dlogits off the float64 reference: " + lines[0]);
            long row = Long.parseLong(a[0]) / 2;
            long label = Long.parseLong(a[1]) + 2;
            assertEquals("ce badLabel fused " + row + " " + label + " unfused " + row + " " + label, lines[1].trim(),
                    what + ": the bad label is reported by both kernels");
        }
    }

    @ParameterizedTest(name = "{0}")
    @EnumSource(HostSanitizer.class)
    void fusedEmbeddingsGiveTheUnfusedKernelsBits(HostSanitizer sanitizer) {
        // B S width dtype: both vector widths (float32 4, bf16 8 a unit), 384 and 768 (units a lane);
        // 205 tokens: two staged tiles of ids, the second ending inside a batch of 16 loads
        String[] cases = {"2 9 384 0", "3 5 384 1", "1 7 768 0", "5 41 384 0"};
        cases = sanitizer.cases(cases, 1, 3);
        for (int c = 0; c < cases.length; c++) {
            long caseSeed = seed + 100 + c;
            String what = "fused embeddings host model B S cols dt = " + cases[c] + " (seed " + caseSeed
                    + ", -Dsolder.test.seed=" + seed + ")";
            String[] a = cases[c].split(" ");
            String[] lines = run(sanitizer, what, caseSeed, "emb", a[0], a[1], a[2], a[3]);
            String[] f = lines[0].trim().split("\\s+");
            long tokens = Long.parseLong(a[0]) * Long.parseLong(a[1]);
            assertEquals("mismatches", f[1], what + ": " + lines[0]);
            assertEquals(0, Long.parseLong(f[2]), what + ": elements differing from the unfused kernels, or the scatters from their order: " + lines[0]);
            assertEquals(tokens, Long.parseLong(f[4]), what + ": tokens checked");
            double outTol = a[3].equals("0") ? 1e-5 : 8e-3;   // bf16 out is rounded to 8 bits
            assertTrue(Double.parseDouble(f[6]) < outTol, what + ": out off the float64 LayerNorm: " + lines[0]);
            assertTrue(Double.parseDouble(f[8]) < 1e-5, what + ": table gradients off the float64 sums: " + lines[0]);
            // the token-type id 7 at token tokens − 2: table 1, reported as 1·tokens + token
            assertEquals("emb badId " + (tokens + tokens - 2) + " 7", lines[1].trim(), what + ": the bad id's report");
        }
    }

    @ParameterizedTest(name = "{0}")
    @EnumSource(HostSanitizer.class)
    void fusedDropoutLayerNormForwardAndBackwardGiveTheUnfusedKernelsBits(HostSanitizer sanitizer) {
        // rows cols x-dtype h-dtype p: float32; bf16; bf16 x beside a float32 residual (autocast), two widths
        String[] cases = {"37 384 0 0 0.3", "37 384 1 1 0.1", "21 768 1 0 0.3", "9 1024 1 0 0.5"};
        cases = sanitizer.cases(cases, 1, 2, 3);
        for (int c = 0; c < cases.length; c++) {
            long caseSeed = seed + 200 + c;
            String what = "fused dropout + LayerNorm host model rows cols xt dt p = " + cases[c] + " (seed " + caseSeed
                    + ", -Dsolder.test.seed=" + seed + ")";
            String[] a = cases[c].split(" ");
            String[] lines = run(sanitizer, what, caseSeed, "dln", a[0], a[1], a[2], a[3], a[4]);
            String[] f = lines[0].trim().split("\\s+");
            assertEquals("mismatches", f[1], what + ": " + lines[0]);
            assertEquals(0, Long.parseLong(f[2]), what + ": elements differing from the unfused kernels: " + lines[0]);
            assertEquals(Long.parseLong(a[0]), Long.parseLong(f[4]), what + ": rows checked");
            double outTol = a[3].equals("0") ? 1e-5 : 8e-3;
            assertTrue(Double.parseDouble(f[6]) < outTol, what + ": out off the float64 LayerNorm: " + lines[0]);
            double p = Double.parseDouble(a[4]);
            assertEquals(p, Double.parseDouble(f[8]), 0.05, what + ": share of x dropped");
            assertEquals("backward", f[9], what + ": " + lines[0]);
            assertEquals(0, Long.parseLong(f[10]), what + ": the one-pass backward's dh, dx or dgamma/dbeta partials"
                    + " differ from the fused LayerNorm backward followed by the dropout kernel: " + lines[0]);
        }
    }
}
