package dev.solder.backend.cuda;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Path;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;

/**
 * The AdamW kernels' own code (adamw.cu), run WITHOUT a GPU: {@code src/test/cpp/adamw_host_model.cpp}
 * compiles the .cu with g++ and runs the blocks and threads one after another.
 *
 * <p>What it proves: the table row {@code SolderAdamwTensor} has exactly the layout that
 * {@link CudaOptim#adamwAll} writes; and one {@code solder_adamw_multi} launch over several
 * parameters (chunks crossing parameters and ending mid-parameter, fewer blocks than chunks, a
 * bf16 gradient, a clipping scale, per-parameter decay and bias corrections) updates every
 * element to the same bits as one {@code solder_adamw} launch per parameter on pre-scaled
 * gradients — the kernel whose GPU results CudaParityGpuTest compares with the CPU — and the
 * bf16 and f16 copies it writes beside two parameters are what {@code solder_convert} (a cast)
 * makes of the updated values. What it
 * cannot: anything about the hardware (CudaParityGpuTest runs adamwAll against the CPU there).
 *
 * <p>It runs plain and under AddressSanitizer ({@link HostSanitizer}), which must
 * report nothing (its threads run one after another, so ThreadSanitizer has nothing to see).
 */
class AdamwHostModelTest {

    @ParameterizedTest(name = "{0}")
    @EnumSource(value = HostSanitizer.class, names = {"NONE", "ADDRESS"})
    void multiTensorKernelMatchesThePerParameterKernel(HostSanitizer sanitizer, @TempDir Path dir) {
        Path exe = CudaSourceFiles.hostModel(dir, "adamw_host_model", "the AdamW kernels", sanitizer);

        CudaSourceFiles.HostRun run = CudaSourceFiles.runSeeded(dir, exe, "adamw host model");
        String what = run.what();
        String[] lines = run.lines();
        String layout = "layout size " + CudaOptim.ROW_BYTES + " param " + CudaOptim.OFF_PARAM + " grad "
                + CudaOptim.OFF_GRAD + " m " + CudaOptim.OFF_M + " v " + CudaOptim.OFF_V + " n " + CudaOptim.OFF_N
                + " weightDecay " + CudaOptim.OFF_WEIGHT_DECAY + " bc1 " + CudaOptim.OFF_BC1 + " bc2 " + CudaOptim.OFF_BC2
                + " gdt " + CudaOptim.OFF_GDT + " low " + CudaOptim.OFF_LOW + " lowDt " + CudaOptim.OFF_LOW_DT;
        assertEquals(layout, lines[0].trim(), what + ": the kernel's table row differs from what CudaOptim writes");
        String copies = java.util.Arrays.stream(lines).filter(l -> l.startsWith("copies ")).findFirst()
                .orElseThrow(() -> new AssertionError(what + ": no copies line:\n" + run.output()));
        assertEquals("copies 0 of " + (999 + 3501) + " differ", copies.trim(),
                what + ": low-precision copies written by the update differ from a cast of the updated parameters:\n"
                        + run.output());
        String last = lines[lines.length - 1].trim();
        String[] f = last.split("\\s+");
        assertEquals("mismatches", f[0], what + ": " + run.output());
        assertEquals(0, Long.parseLong(f[1]), what + ": elements differing from the per-parameter kernel:\n" + run.output());
        double maxErr = Double.parseDouble(f[5]);
        assertTrue(maxErr < 1e-6, what + ": parameters off a float64 AdamW step by " + maxErr + " (relative to |p| + 1)");
        assertEquals(7508, Long.parseLong(f[3]), what + ": elements checked");
    }
}
