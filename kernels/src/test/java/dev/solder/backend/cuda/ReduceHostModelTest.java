package dev.solder.backend.cuda;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Path;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;

/**
 * The many-tensor sum of squares of reduce.cu, run WITHOUT a GPU: {@code src/test/cpp/reduce_host_model.cpp}
 * compiles the .cu with g++, every CUDA thread a host thread.
 *
 * <p>What it proves: the table row {@code SolderSumSqTensor} has the layout
 * {@link CudaReduce#sumSquaresAll} writes, and the two launches for a whole list give each tensor
 * the bits of its own {@code solder_reduce_partial} + {@code solder_reduce_finish} launches (empty,
 * one-block, many-block, looping and bf16 tensors; fewer blocks than partials), and a float64
 * loop's value; and the column finish ({@code solder_column_sum_finish}, stage 2 of every bias
 * gradient and of LayerNorm's dgamma/dbeta) adds each column's chunks in exactly the order
 * {@link FakeDeviceApi} models, one or two outputs a launch, on inputs where another order gives
 * other bits. What it cannot: anything about the hardware (CudaParityGpuTest compares both
 * paths on a card).
 *
 * <p>It runs three times: plain, under ThreadSanitizer and under AddressSanitizer
 * ({@link HostSanitizer}), which must report nothing.
 */
class ReduceHostModelTest {

    @ParameterizedTest(name = "{0}")
    @EnumSource(HostSanitizer.class)
    void manyTensorSumMatchesTheOneTensorLaunchesAndTheColumnFinishKeepsItsOrder(HostSanitizer sanitizer, @TempDir Path dir) {
        Path exe = CudaSourceFiles.hostModel(dir, "reduce_host_model", "the reduction kernels", sanitizer);

        CudaSourceFiles.HostRun run = CudaSourceFiles.runSeeded(dir, exe, "reduce host model");
        String what = run.what();
        String[] lines = run.lines();
        String layout = "layout size " + CudaReduce.SUMSQ_ROW_BYTES + " x " + CudaReduce.SUMSQ_OFF_X + " n "
                + CudaReduce.SUMSQ_OFF_N + " firstPartial " + CudaReduce.SUMSQ_OFF_FIRST + " dt "
                + CudaReduce.SUMSQ_OFF_DT + " blocks " + CudaReduce.SUMSQ_OFF_BLOCKS;
        assertEquals(layout, lines[0].trim(), what + ": the kernel's table row differs from what CudaReduce writes");
        String[] f = lines[lines.length - 2].trim().split("\\s+");
        assertEquals("mismatches", f[0], what + ": " + run.output());
        assertEquals(0, Long.parseLong(f[1]), what + ": tensors whose sum differs from their own launch:\n" + run.output());
        assertEquals(6, Long.parseLong(f[3]), what + ": tensors checked");
        double maxRel = Double.parseDouble(f[5]);
        assertTrue(maxRel < 1e-12, what + ": sums off a float64 loop by " + maxRel);

        // The column finish: the order FakeDeviceApi models, bit for bit, one and two outputs a launch.
        String[] c = lines[lines.length - 1].trim().split("\\s+");
        assertEquals("finish", c[0], what + ": " + run.output());
        assertEquals(0, Long.parseLong(c[2]), what + ": column sums that differ from the slice order:\n" + run.output());
        assertEquals(768 * 2 + 768 + 50 * 2 + 3 + 100 * 2, Long.parseLong(c[4]), what + ": columns checked");
        double finishRel = Double.parseDouble(c[6]);
        assertTrue(finishRel < 1e-6, what + ": column sums off a chunk-order float64 loop by " + finishRel);
        assertTrue(Long.parseLong(c[8]) > 0, what + ": no input where the order of the adds shows, so the bit-for-bit"
                + " check could not tell the kernel's order from another");
    }
}
