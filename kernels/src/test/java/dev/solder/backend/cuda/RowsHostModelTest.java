package dev.solder.backend.cuda;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;

/**
 * The cuBLAS-only path's row kernels run WITHOUT a GPU: {@code src/test/cpp/rows_host_model.cpp}
 * compiles layernorm.cu, softmax.cu, attention.cu, reduce.cu and embedding.cu with g++, every
 * CUDA thread a host thread, and compares what the kernels write with float64 references.
 *
 * <p>What it proves: LayerNorm forward (residual fused, h stored), its input backward and its
 * dgamma/dbeta (partial + finish, short last chunk, partial column tile); softmax with no mask,
 * an additive mask and a key mask with a fully masked row, and its backward; attention's
 * in-place softmax with key padding and its backward through dropout; the embedding gather and
 * its bad-id report — within float32 rounding of the references (bfloat16 outputs within their
 * own rounding). These kernels passed CudaParityGpuTest on a card; the point here is the
 * sanitized builds ({@link HostSanitizer}): every case also runs under ThreadSanitizer and
 * AddressSanitizer, which must report nothing — the racecheck and memcheck their shuffles,
 * barriers and shared-memory slices have not yet had on a card.
 */
class RowsHostModelTest {

    /** Runs one case; returns the fields of its output line. */
    private static String[] run(Path dir, Path exe, String what, String... args) {
        List<String> cmd = new ArrayList<>();
        cmd.add(exe.toString());
        cmd.addAll(List.of(args));
        CudaSourceFiles.Result r = CudaSourceFiles.exec(dir, null, cmd);
        HostSanitizer.assertClean(what, r);
        assertEquals(0, r.code(), what + ":\n" + r.output());
        return r.output().trim().split("\\s+");
    }

    private static void assertBelow(double limit, String field, String[] f, String what) {
        int at = List.of(f).indexOf(field);
        assertTrue(at > 0, what + ": no " + field + " in " + String.join(" ", f));
        double v = Double.parseDouble(f[at + 1]);
        assertTrue(v <= limit, what + ": " + field + " " + v + " > " + limit + " in " + String.join(" ", f));
    }

    @ParameterizedTest(name = "{0}")
    @EnumSource(HostSanitizer.class)
    void rowKernelsMatchFloat64References(HostSanitizer sanitizer, @TempDir Path dir) {
        Path exe = CudaSourceFiles.hostModel(dir, "rows_host_model", "the row kernels", sanitizer);
        long seed = Long.getLong("solder.test.seed", System.nanoTime()) & Long.MAX_VALUE;
        // rows × cols: partial warps (33, 77, 100 columns), partial column tiles, more rows than
        // the 3 × 8 a capped grid covers at once; dtype 0 float32, 1 bfloat16
        String[] cases = {"ln 37 100 0", "ln 37 768 1", "ln 9 33 0", "sm 37 77 0 0", "sm 37 77 1 1", "sm 21 5 2 0",
            "sm 21 130 2 1", "att 2 3 17 0.1", "att 3 2 70 0", "emb 37 100 50 0", "emb 20 33 9 1"};
        for (int c = 0; c < cases.length; c++) {
            long caseSeed = seed + c;
            String what = exe.getFileName() + " " + cases[c] + " (seed " + caseSeed + ", -Dsolder.test.seed=" + seed
                    + ")";
            List<String> args = new ArrayList<>(List.of(cases[c].split(" ")));
            args.add(Long.toUnsignedString(caseSeed));
            String[] f = run(dir, exe, what, args.toArray(String[]::new));
            assertEquals(args.get(0), f[0], what);
            boolean bf16 = args.get(0).equals("ln") && args.get(3).equals("1")
                    || args.get(0).equals("sm") && args.get(4).equals("1");
            double rounded = bf16 ? 8e-3 : 1e-5;   // outputs stored in bfloat16 carry its rounding
            switch (args.get(0)) {
                case "ln" -> {
                    assertBelow(rounded, "outErr", f, what);
                    assertBelow(1e-5, "statErr", f, what);
                    assertBelow(rounded, "dhErr", f, what);
                    assertBelow(1e-5, "paramErr", f, what);
                }
                case "sm" -> {
                    assertBelow(rounded, "outErr", f, what);
                    assertBelow(rounded, "dxErr", f, what);
                }
                case "att" -> {
                    assertBelow(1e-5, "outErr", f, what);
                    assertBelow(1e-5, "gradErr", f, what);
                    double p = Double.parseDouble(args.get(4));
                    assertEquals(p, Double.parseDouble(f[List.of(f).indexOf("dropped") + 1]), 0.05, what);
                }
                case "emb" -> {
                    assertEquals("0", f[4], what + ": rows not copied bit for bit");
                    long rows = Long.parseLong(args.get(1));
                    long vocab = Long.parseLong(args.get(3));
                    assertEquals(rows / 2 + " " + (vocab + 3), f[6] + " " + f[7], what + ": the bad id's report");
                }
                default -> throw new AssertionError(what);
            }
        }
    }
}
