package dev.solder.backend.cuda;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.solder.DType;
import java.io.IOException;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;

/**
 * The flash attention kernels' own code (flash_attention.cu), run WITHOUT a GPU:
 * {@code src/test/cpp/flash_host_model.cpp} compiles the .cu with g++, runs every CUDA thread as
 * a host thread (block and warp barriers, shuffles through a buffer) and models mma.sync and the
 * bf16x2 packing from the PTX ISA fragment tables, then compares out, lse, dq, dk, dv with a
 * float64 evaluation of CpuAttention's semantics (masks with a fully masked entry, Philox dropout).
 *
 * <p>What it proves: the kernels' indexing, tiling, tails, barriers, online softmax, masking,
 * dropout bits and the composition of fragments are right <em>given</em> the PTX fragment layout
 * as modelled. What it cannot: that the model matches the hardware (FusedKernelsGpuTest does),
 * performance.
 *
 * <p>Four of the cases run again under ThreadSanitizer and under AddressSanitizer
 * ({@link HostSanitizer}): a missing barrier, a {@code cp.async} into a tile still being read, or
 * an access outside a buffer or a shared array fails the test with the sanitizer's report.
 *
 * <p>Tolerances: 1e-2 normwise relative for out and the gradients with bf16 operands (P and dS
 * rounded to bf16, as on the GPU; seen: about 2e-3), 2e-3 with fp16 (seen: about 2.5e-4), every
 * element within 0.25 (bf16) / 0.05 (fp16) of the reference's rms, no NaN (outputs are
 * NaN-poisoned); lse 1e-5 (float32 accumulation only; seen: about 4e-8). The float32 kernels:
 * 1e-5 normwise (seen: about 3e-7), every element within 1e-4 of the rms (seen: about 5e-6).
 */
class FlashAttentionHostModelTest {

    @ParameterizedTest(name = "{0}")
    @EnumSource(HostSanitizer.class)
    void kernelsMatchTheReferenceOnTheHostModel(HostSanitizer sanitizer, @TempDir Path dir) throws IOException {
        Path exe = CudaSourceFiles.hostModel(dir, "flash_host_model", "the flash kernels", sanitizer);

        long seed = Long.getLong("solder.test.seed", System.nanoTime()) & Long.MAX_VALUE;
        // B H S D p maskMode dt: tails (17, 70, 130), S = 1, exact tile + 1 (65), every head dim,
        // dropout off/on, no mask / padded + fully masked entries; dt 1 = bf16, 2 = fp16, 0 = float32
        // (the SIMT kernels)
        String[] cases = {"2 2 17 32 0 0 1", "3 1 70 64 0.1 1 1", "3 1 1 64 0.1 1 1", "2 2 1 64 0 0 1", "3 1 65 128 0.2 1 1",
            "1 2 130 32 0 1 1", "2 1 70 64 0.1 1 2", "3 1 33 128 0 1 2", "3 1 70 64 0.1 1 0", "2 2 130 32 0 1 0",
            "3 1 1 32 0.2 1 0", "2 1 1 128 0 0 0", "2 1 65 64 0 0 0", "2 1 70 128 0.1 1 0"};
        // sanitized: the two-stage cp.async pipeline over three key tiles with a mask (bf16, D 32),
        // with dropout (fp16, D 64), the one-stage D 128, and the float32 kernels
        cases = sanitizer.cases(cases, 5, 6, 7, 12);
        for (int c = 0; c < cases.length; c++) {
            long caseSeed = seed + c;
            List<String> cmd = new java.util.ArrayList<>();
            cmd.add(exe.toString());
            String[] a = cases[c].split(" ");
            cmd.addAll(List.of(a).subList(0, 6));
            cmd.add(Long.toUnsignedString(caseSeed));
            cmd.add(a[6]);
            CudaSourceFiles.Result run = CudaSourceFiles.exec(dir, null, cmd);
            String what = exe.getFileName() + " B H S D p mask dt = " + cases[c] + " (seed " + caseSeed
                    + ", -Dsolder.test.seed=" + seed + ")";
            HostSanitizer.assertClean(what, run);
            assertEquals(0, run.code(), what + ":\n" + run.output());
            String[] f = run.output().trim().split("\\s+");
            assertEquals(24, f.length, what + ": " + run.output());
            boolean s1 = a[2].equals("1");
            if (s1) {
                // The reference dq and dk are exactly 0 there: bound the kernels' values instead.
                assertEquals("zero", f[20], what);
                DType dt = a[6].equals("1") ? DType.BFLOAT16 : a[6].equals("2") ? DType.FLOAT16 : DType.FLOAT32;
                int d = Integer.parseInt(a[3]);
                double bound = FlashZeroBound.of(dt, d, 1 / Math.sqrt(d), Double.parseDouble(a[4]),
                        Double.parseDouble(f[23]));
                assertTrue(Double.parseDouble(f[21]) <= bound, what + ": max |dq| " + f[21] + " > " + bound);
                assertTrue(Double.parseDouble(f[22]) <= bound, what + ": max |dk| " + f[22] + " > " + bound);
            }
            for (int i = 0; i < 5; i++) {
                String name = f[4 * i];
                double rel = Double.parseDouble(f[4 * i + 1]);
                double worst = Double.parseDouble(f[4 * i + 2]);
                long nan = Long.parseLong(f[4 * i + 3]);
                assertEquals(0, nan, what + ": " + name + " has " + nan + " NaN (unwritten poison?)");
                if (s1 && (name.equals("dq") || name.equals("dk"))) {
                    continue; // the reference is exactly 0 (softmax over one key): no relative error
                }
                boolean fp16 = a[6].equals("2");
                boolean fp32 = a[6].equals("0");
                double tol = name.equals("lse") || fp32 ? 1e-5 : fp16 ? 2e-3 : 1e-2;
                double worstTol = name.equals("lse") ? 1e-5 : fp32 ? 1e-4 : fp16 ? 0.05 : 0.25;
                assertTrue(rel <= tol, what + ": " + name + " relative error " + rel + " > " + tol);
                assertTrue(worst <= worstTol, what + ": " + name + " worst element off by " + worst + " × rms (> "
                        + worstTol + ")");
            }
        }
    }
}
