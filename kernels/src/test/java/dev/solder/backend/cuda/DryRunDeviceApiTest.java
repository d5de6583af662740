package dev.solder.backend.cuda;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.solder.Backends;
import dev.solder.Device;
import dev.solder.cuda.CudaOutOfMemoryException;
import dev.solder.spi.Backend;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.Test;

/** The dry-run device ({@code -Dsolder.cuda.dryRun=true}): every op's host side runs, nothing else. */
class DryRunDeviceApiTest {
    private static final Device GPU = Device.cuda(0);
    private static final Pattern COUNTS = Pattern.compile("(\\d+) launches, (\\d+) cuBLAS GEMMs, (\\d+) cuBLASLt GEMMs, "
            + "(\\d+) allocations, (\\d+) device copies and fills, (\\d+) host waits; device memory now ([0-9.]+) MiB, "
            + "peak ([0-9.]+) MiB");

    @Test
    void aTrainingStepRunsItsHostSideAndIsCounted() throws Exception {
        try (AutoCloseable restore = CudaDevice.useFactory(DryRunDeviceApi::new)) {
            Backend cuda = Backends.forKind(Device.Kind.CUDA);
            long before = cuda.liveBytes(GPU);
            cuda.resetPeakLiveBytes(GPU);
            try (TinyEncoder model = new TinyEncoder(GPU, 7)) {
                for (int i = 0; i < 3; i++) {
                    float loss = model.step();
                    assertEquals(0f, loss, "a dry run reads zeros back");
                }
            }
            assertEquals(before, cuda.liveBytes(GPU), "device memory not back to its baseline");
            assertTrue(cuda.peakLiveBytes(GPU) > before + 4096, "peak " + cuda.peakLiveBytes(GPU));
            cuda.resetPeakLiveBytes(GPU);
            assertEquals(before, cuda.peakLiveBytes(GPU));
            String line = CudaBackend.describe(GPU);
            Matcher m = COUNTS.matcher(line);
            assertTrue(m.find(), line);
            long launches = Long.parseLong(m.group(1));
            long gemms = Long.parseLong(m.group(2)) + Long.parseLong(m.group(3));
            long waits = Long.parseLong(m.group(6));
            double peakMiB = Double.parseDouble(m.group(8));
            // Three steps of a one-layer encoder: dozens of launches and GEMMs each, a loss read back each.
            assertTrue(launches >= 3 * 20 && gemms >= 3 * 6 && waits >= 3, line);
            assertTrue(peakMiB > 0 && line.startsWith("dry run cuda:0"), line);
        }
    }

    @Test
    void itRunsOutOfMemoryAsACardWould() throws Exception {
        try (AutoCloseable restore = CudaDevice.useFactory(DryRunDeviceApi::new)) {
            // 4 GiB at a time: the 20th allocation passes 80 GiB
            var e = assertThrows(RuntimeException.class, () -> {
                try (var s = dev.solder.Scope.open()) {
                    for (int i = 0; i < 21; i++) {
                        dev.solder.Tensor.empty(new int[] {1 << 15, 1 << 15}, dev.solder.DType.FLOAT32, GPU);
                    }
                }
            });
            Throwable c = e;
            while (c != null && !(c instanceof CudaOutOfMemoryException)) {
                c = c.getCause();
            }
            assertTrue(c != null, "expected CudaOutOfMemoryException in " + e);
            DryRunDeviceApi api = new DryRunDeviceApi(0);
            long p = api.alloc(1024);
            api.free(p);
            assertThrows(IllegalStateException.class, () -> api.free(p), "double free");
        }
    }
}
