package dev.solder;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.solder.backend.cpu.CpuBackend;
import dev.solder.spi.Backend;
import org.junit.jupiter.api.Test;

class OpProfilerTest {
    @Test
    void shapesModeCountsEachCallUnderItsShapesAndLeavesResultsAlone() {
        long seed = 20261127L;
        Backend timed = OpProfiler.wrap(CpuBackend.INSTANCE, "shapes");
        OpProfiler.reset();
        try (Scope s = Scope.open()) {
            Tensor a = Tensor.randn(new Generator(seed), 3, 5);
            Tensor b = Tensor.randn(new Generator(seed + 1), 3, 5);
            Tensor viaProxy = Tensor.empty(new int[] {3, 5}, DType.FLOAT32, Device.cpu());
            Tensor direct = Tensor.empty(new int[] {3, 5}, DType.FLOAT32, Device.cpu());
            for (int i = 0; i < 3; i++) {
                timed.add(a, b, 2f, -1f, viaProxy);
            }
            CpuBackend.INSTANCE.add(a, b, 2f, -1f, direct);
            assertArrayEquals(direct.toFloatArray(), viaProxy.toFloatArray(), 0f, "seed " + seed);
        }
        String report = OpProfiler.report();
        assertTrue(report.matches("(?s).*\\s3\\s+[0-9.]+\\s+add\\(\\[3, 5\\], \\[3, 5\\], _, _, \\[3, 5\\]\\)\\n.*"), report);
    }

    @Test
    void anExceptionFromTheOpReachesTheCallerUnwrapped() {
        Backend timed = OpProfiler.wrap(CpuBackend.INSTANCE, "ops");
        try (Scope s = Scope.open()) {
            Tensor a = Tensor.ones(3, 5);
            Tensor out = Tensor.empty(new int[] {2, 2}, DType.FLOAT32, Device.cpu());
            assertThrows(IllegalArgumentException.class, () -> timed.add(a, a, 1f, 1f, out));
        }
    }

    @Test
    void unknownModeIsRejectedWithTheValuesItTakes() {
        var e = assertThrows(IllegalArgumentException.class, () -> OpProfiler.wrap(CpuBackend.INSTANCE, "fast"));
        assertTrue(e.getMessage().contains("ops, shapes, sync"), e.getMessage());
    }
}
