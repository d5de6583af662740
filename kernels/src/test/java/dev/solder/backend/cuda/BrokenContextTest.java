package dev.solder.backend.cuda;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.solder.DType;
import dev.solder.Device;
import dev.solder.Generator;
import dev.solder.Tensor;
import java.util.ArrayList;
import java.util.List;
import java.util.logging.Handler;
import java.util.logging.Level;
import java.util.logging.LogRecord;
import java.util.logging.Logger;
import org.junit.jupiter.api.Test;

/**
 * After a kernel fault the context is broken and every driver call fails, frees included. Closing
 * a step's tensors then must neither throw over the fault that matters nor log one warning per
 * tensor: the first failed free is logged, the rest are counted, and the live-byte count still
 * returns to its baseline.
 */
class BrokenContextTest {

    @Test
    void failedFreesAfterAFaultAreLoggedOnceAndCounted() throws Exception {
        List<FakeDeviceApi> apis = new ArrayList<>();
        Logger log = Logger.getLogger(CudaDevice.class.getName());
        List<LogRecord> warnings = new ArrayList<>();
        Handler h = new Handler() {
            @Override
            public void publish(LogRecord r) {
                if (r.getLevel().intValue() >= Level.WARNING.intValue()) {
                    warnings.add(r);
                }
            }

            @Override
            public void flush() {
            }

            @Override
            public void close() {
            }
        };
        log.addHandler(h);
        try (AutoCloseable fake = CudaDevice.useFactory(ordinal -> {
            FakeDeviceApi f = new FakeDeviceApi();
            apis.add(f);
            return f;
        })) {
            Device gpu = Device.cuda();
            CudaDevice d = CudaDevice.of(gpu);
            long before = d.liveBytes();
            List<Tensor> step = new ArrayList<>();
            Generator g = new Generator(7);
            for (int i = 0; i < 40; i++) {
                step.add(Tensor.randn(g, DType.FLOAT32, gpu, 16, 8));
            }
            apis.get(0).breakContext();
            for (Tensor t : step) {
                t.close();   // must not throw: the fault was (or will be) reported by the op that met it
            }
            assertEquals(40, d.failedFrees(), "every free after the fault failed and was counted");
            assertEquals(1, warnings.size(), "one warning, not one per tensor: " + warnings.size());
            assertTrue(warnings.get(0).getMessage().contains("CUDA_ERROR_ILLEGAL_ADDRESS")
                    && warnings.get(0).getMessage().contains("counted, not logged"), warnings.get(0).getMessage());
            assertEquals(before, d.liveBytes(), "live bytes back to the baseline");
        } finally {
            log.removeHandler(h);
        }
    }
}
