package dev.solder.backend.cuda;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.solder.DType;
import dev.solder.backend.cuda.KernelPaths.Choice;
import dev.solder.backend.cuda.KernelPaths.FusedOp;
import dev.solder.backend.cuda.KernelPaths.Mode;
import java.util.EnumSet;
import java.util.Set;
import org.junit.jupiter.api.Test;

/** Which case takes which path, and why — the selection logic, without a GPU. */
class KernelPathsTest {
    private static final Set<FusedOp> NONE = EnumSet.noneOf(FusedOp.class);
    private static final Set<FusedOp> ALL = EnumSet.allOf(FusedOp.class);

    @Test
    void propertyValues() {
        assertEquals(Mode.AUTO, Mode.parse(null));
        assertEquals(Mode.AUTO, Mode.parse(" "));
        assertEquals(Mode.AUTO, Mode.parse("auto"));
        assertEquals(Mode.FUSED, Mode.parse("FUSED"));
        assertEquals(Mode.CUBLAS, Mode.parse("cublas"));
        var e = assertThrows(IllegalArgumentException.class, () -> Mode.parse("fast"));
        assertTrue(e.getMessage().contains("auto, fused, cublas"), e.getMessage());
    }

    @Test
    void cublasModeAlwaysTakesTheCublasPath() {
        for (FusedOp op : FusedOp.values()) {
            Choice c = KernelPaths.choose(Mode.CUBLAS, ALL, op, null);
            assertFalse(c.fused());
            assertTrue(c.reason().contains("solder.kernels=cublas"), c.reason());
        }
    }

    @Test
    void unsupportedCasesFallBackEvenWhenFusedIsForced() {
        for (Mode m : new Mode[] {Mode.AUTO, Mode.FUSED}) {
            Choice c = KernelPaths.choose(m, ALL, FusedOp.LAYER_NORM, "width 77");
            assertFalse(c.fused(), m.toString());
            assertTrue(c.reason().contains("width 77"), c.reason());
        }
    }

    @Test
    void forcedFusedRunsUnvalidatedKernels() {
        Choice c = KernelPaths.choose(Mode.FUSED, NONE, FusedOp.LINEAR_GELU, null);
        assertTrue(c.fused());
    }

    @Test
    void autoPicksOnlyValidatedKernels() {
        Choice off = KernelPaths.choose(Mode.AUTO, NONE, FusedOp.LAYER_NORM, null);
        assertFalse(off.fused());
        assertTrue(off.reason().contains("not yet validated"), off.reason());
        Choice on = KernelPaths.choose(Mode.AUTO, EnumSet.of(FusedOp.LAYER_NORM), FusedOp.LAYER_NORM, null);
        assertTrue(on.fused());
        assertFalse(KernelPaths.choose(Mode.AUTO, EnumSet.of(FusedOp.LAYER_NORM), FusedOp.LINEAR_GELU, null).fused());
    }

    @Test
    void defaultModeSelectsOnlyWhatIsValidated() throws Exception {
        // The set itself, spelled out: widening it needs a GPU run that shows the kernel passing
        // (kernels/README.md), and then this line changes with it.
        assertEquals(EnumSet.of(FusedOp.LINEAR_GELU, FusedOp.LINEAR_GELU_BACKWARD), KernelPaths.VALIDATED);
        try (AutoCloseable ignored = KernelPaths.force(Mode.AUTO)) {
            for (FusedOp op : FusedOp.values()) {
                assertEquals(KernelPaths.VALIDATED.contains(op), KernelPaths.useFused(op, null), op.toString());
            }
        }
    }

    @Test
    void forceOverridesAndRestores() throws Exception {
        Mode before = KernelPaths.mode();
        try (AutoCloseable ignored = KernelPaths.force(Mode.CUBLAS)) {
            assertEquals(Mode.CUBLAS, KernelPaths.mode());
            try (AutoCloseable inner = KernelPaths.force(Mode.FUSED)) {
                assertEquals(Mode.FUSED, KernelPaths.mode());
            }
            assertEquals(Mode.CUBLAS, KernelPaths.mode());
        }
        assertEquals(before, KernelPaths.mode());
    }

    @Test
    void eachDecisionIsLoggedOncePerOpAndReason() throws Exception {
        KernelPaths.resetLog();
        try (AutoCloseable ignored = KernelPaths.force(Mode.FUSED)) {
            KernelPaths.useFused(FusedOp.LAYER_NORM, "width 77 (fast widths 384, 768, 1024)");
            KernelPaths.useFused(FusedOp.LAYER_NORM, "width 77 (fast widths 384, 768, 1024)");
            KernelPaths.useFused(FusedOp.LAYER_NORM, null);
        }
        assertTrue(KernelPaths.logged("layerNorm -> cuBLAS-only path: fused kernel does not support width 77 "
                + "(fast widths 384, 768, 1024)"));
        assertTrue(KernelPaths.logged("layerNorm -> fused: -Dsolder.kernels=fused"));
    }

    @Test
    void layerNormForwardCases() {
        assertNull(CudaFused.layerNormUnsupported(768, DType.FLOAT32, DType.FLOAT32, DType.FLOAT32, DType.FLOAT32,
                256, 512, 1024, 2048));
        assertNull(CudaFused.layerNormUnsupported(384, DType.BFLOAT16, null, DType.BFLOAT16, null, 0x100, 0));
        assertNull(CudaFused.layerNormUnsupported(1024, DType.BFLOAT16, DType.BFLOAT16, DType.BFLOAT16,
                DType.BFLOAT16));
        assertContains(CudaFused.layerNormUnsupported(77, DType.FLOAT32, null, DType.FLOAT32, null), "width 77");
        assertContains(CudaFused.layerNormUnsupported(512, DType.FLOAT32, null, DType.FLOAT32, null), "width 512");
        assertContains(CudaFused.layerNormUnsupported(768, DType.FLOAT16, null, DType.FLOAT16, null), "dtype float");
        assertContains(CudaFused.layerNormUnsupported(768, DType.BFLOAT16, DType.FLOAT32, DType.BFLOAT16, null),
                "mixed dtypes");
        assertContains(CudaFused.layerNormUnsupported(768, DType.FLOAT32, null, DType.BFLOAT16, null), "mixed dtypes");
        assertContains(CudaFused.layerNormUnsupported(768, DType.FLOAT32, null, DType.FLOAT32, null, 0x104),
                "16-byte aligned");
    }

    @Test
    void layerNormBackwardCases() {
        assertNull(CudaFused.layerNormBackwardUnsupported(768, DType.FLOAT32, DType.BFLOAT16, DType.FLOAT32, 0, 16));
        assertNull(CudaFused.layerNormBackwardUnsupported(1024, DType.BFLOAT16, DType.BFLOAT16, null));
        assertContains(CudaFused.layerNormBackwardUnsupported(100, DType.FLOAT32, DType.FLOAT32, DType.FLOAT32),
                "width 100");
        assertContains(CudaFused.layerNormBackwardUnsupported(768, DType.FLOAT16, DType.FLOAT32, DType.FLOAT32),
                "dtypes");
        assertContains(CudaFused.layerNormBackwardUnsupported(768, DType.FLOAT32, DType.FLOAT32, DType.BFLOAT16),
                "dh dtype");
        assertContains(CudaFused.layerNormBackwardUnsupported(768, DType.FLOAT32, DType.FLOAT32, null, 8), "aligned");
    }

    @Test
    void biasGeluCases() {
        assertNull(CudaFused.biasGeluUnsupported(true));
        assertContains(CudaFused.biasGeluUnsupported(false), "without bias");
    }

    @Test
    void layerNormChunksCoverEveryRowOnce() {
        for (long rows : new long[] {1, 7, 16, 17, 255, 4096, 8191, 1_000_003}) {
            CudaFused.RowChunks c = CudaFused.layerNormChunks(rows);
            assertTrue(c.chunks() >= 1 && c.chunks() <= 512, rows + ": " + c);
            assertTrue((long) c.chunks() * c.rowsPerChunk() >= rows, rows + ": " + c);
            assertTrue((long) (c.chunks() - 1) * c.rowsPerChunk() < rows, rows + ": last chunk empty " + c);
            assertEquals(c, CudaFused.layerNormChunks(rows), "a pure function of rows");
        }
    }

    @Test
    void flashAttentionCases() {
        DType bf = DType.BFLOAT16;
        DType fp = DType.FLOAT16;
        for (int d : new int[] {32, 64, 128}) {
            for (int s : new int[] {1, 17, 512}) {
                assertNull(CudaFlashAttention.unsupported(90, bf, bf, bf, bf, d, s, true, 0x100, 0x200, 0x300, 0x400));
                assertNull(CudaFlashAttention.unsupported(80, fp, fp, fp, fp, d, s, true));
            }
        }
        assertContains(CudaFlashAttention.unsupported(75, bf, bf, bf, bf, 64, 128, true), "compute capability 7.5");
        DType f32 = DType.FLOAT32;
        for (int d : new int[] {32, 64, 128}) {   // the float32 (SIMT) kernels
            assertNull(CudaFlashAttention.unsupported(90, f32, f32, f32, f32, d, 512, true, 0x100, 0x200, 0x300, 0x400));
        }
        assertContains(CudaFlashAttention.unsupported(90, f32, f32, f32, f32, 48, 128, true), "head dim 48");
        assertContains(CudaFlashAttention.unsupported(90, DType.INT32, DType.INT32, DType.INT32, DType.INT32, 64, 128,
                true), "dtype int32");
        assertContains(CudaFlashAttention.unsupported(90, bf, fp, bf, bf, 64, 128, true), "mixed dtypes");
        assertContains(CudaFlashAttention.unsupported(90, bf, bf, bf, DType.FLOAT32, 64, 128, true), "mixed dtypes");
        assertContains(CudaFlashAttention.unsupported(90, bf, bf, bf, bf, 48, 128, true), "head dim 48");
        assertContains(CudaFlashAttention.unsupported(90, bf, bf, bf, bf, 256, 128, true), "head dim 256");
        assertContains(CudaFlashAttention.unsupported(90, bf, bf, bf, bf, 64, 513, true), "sequence length 513");
        assertContains(CudaFlashAttention.unsupported(90, bf, bf, bf, bf, 64, 128, false), "non-contiguous");
        assertContains(CudaFlashAttention.unsupported(90, bf, bf, bf, bf, 64, 128, true, 0x100, 0x108), "aligned");
        // supported cases take the kernel only when forced (not validated on a GPU yet)
        assertFalse(KernelPaths.VALIDATED.contains(FusedOp.ATTENTION));
        assertFalse(KernelPaths.VALIDATED.contains(FusedOp.ATTENTION_BACKWARD));
        assertFalse(KernelPaths.choose(Mode.AUTO, KernelPaths.VALIDATED, FusedOp.ATTENTION, null).fused());
        assertTrue(KernelPaths.choose(Mode.FUSED, KernelPaths.VALIDATED, FusedOp.ATTENTION, null).fused());
    }

    @Test
    void flashAttentionLaunchShapes() {
        for (int s : new int[] {1, 17, 64, 65, 128, 200, 512}) {
            for (int d : CudaFlashAttention.HEAD_DIMS) {
                for (DType t : new DType[] {DType.BFLOAT16, DType.FLOAT16, DType.FLOAT32}) {
                    boolean f32 = t == DType.FLOAT32;
                    LaunchConfig f = CudaFlashAttention.queryTileConfig(32 * 12, s, t, d);
                    // float32: 64 rows of 2 threads (4 at D = 128); bf16/fp16: 4 warps × 16 rows
                    int rowThreads = f32 && d == 128 ? 256 : 128;
                    assertEquals(new LaunchConfig(384, (s + 63) / 64, rowThreads, 1, 0), f, "forward/dQ S=" + s
                            + " D=" + d + " " + t);
                    LaunchConfig kv = CudaFlashAttention.dkdvConfig(32 * 12, s, t, d);
                    int keys = d == 128 && !f32 ? 32 : 64;
                    int threads = f32 ? rowThreads : keys * 2;
                    assertEquals(new LaunchConfig(384, (s + keys - 1) / keys, threads, 1, 0), kv, "dK/dV S=" + s
                            + " D=" + d + " " + t);
                    // every key and query tile covered exactly once
                    assertTrue((long) kv.gridY() * keys >= s && (long) (kv.gridY() - 1) * keys < s);
                    assertTrue((long) f.gridY() * 64 >= s && (long) (f.gridY() - 1) * 64 < s);
                }
            }
        }
        DType bf = DType.BFLOAT16;
        DType f32 = DType.FLOAT32;
        assertEquals(Kernel.FLASH_ATTENTION_FORWARD_D64, CudaFlashAttention.forwardKernel(bf, 64));
        assertEquals(Kernel.FLASH_ATTENTION_BACKWARD_DKDV_D128, CudaFlashAttention.dkdvKernel(bf, 128));
        assertEquals(Kernel.FLASH_ATTENTION_BACKWARD_DQ_D32, CudaFlashAttention.dqKernel(bf, 32));
        assertEquals(Kernel.FLASH_ATTENTION_F32_FORWARD_D32, CudaFlashAttention.forwardKernel(f32, 32));
        assertEquals(Kernel.FLASH_ATTENTION_F32_BACKWARD_DKDV_D64, CudaFlashAttention.dkdvKernel(f32, 64));
        assertEquals(Kernel.FLASH_ATTENTION_F32_BACKWARD_DQ_D64, CudaFlashAttention.dqKernel(f32, 64));
        assertThrows(IllegalArgumentException.class, () -> CudaFlashAttention.forwardKernel(bf, 48));
        assertEquals(Kernel.FLASH_ATTENTION_F32_BACKWARD_DKDV_D128, CudaFlashAttention.dkdvKernel(f32, 128));
        assertThrows(IllegalArgumentException.class, () -> CudaFlashAttention.dkdvKernel(f32, 96));
    }

    private static void assertContains(String reason, String part) {
        assertNotNull(reason, "expected a reason containing '" + part + "'");
        assertTrue(reason.contains(part), reason);
    }
}
