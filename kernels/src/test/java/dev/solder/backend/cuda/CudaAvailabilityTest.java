package dev.solder.backend.cuda;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeFalse;

import dev.solder.Backends;
import dev.solder.DType;
import dev.solder.Device;
import dev.solder.Tensor;
import dev.solder.cuda.Cuda;
import org.junit.jupiter.api.Test;

/** The backend is found through ServiceLoader, and without a GPU it says why it cannot work. */
class CudaAvailabilityTest {

    @Test
    void serviceLoaderFindsTheCudaBackend() {
        assertTrue(Backends.isPresent(Device.Kind.CUDA), "META-INF/services must register CudaBackend");
        assertEquals("cuda", Backends.forKind(Device.Kind.CUDA).name());
        assertEquals(CudaBackend.class, Backends.forKind(Device.Kind.CUDA).getClass());
    }

    @Test
    void withoutAGpuCreatingACudaTensorFailsWithTheReasonOnOneLine() {
        assumeFalse(Cuda.isAvailable(), "a GPU is present: the GPU tests cover this machine");
        String reason = Cuda.unavailableReason();
        assertTrue(!reason.isBlank(), "Cuda.unavailableReason() must say something");
        IllegalStateException e = assertThrows(IllegalStateException.class,
                () -> Tensor.zeros(DType.FLOAT32, Device.cuda(), 2, 3));
        // the reason's first line (the list of places searched is Cuda.report()'s), on one line
        String summary = Cuda.summary(reason);
        assertTrue(!summary.isBlank() && reason.startsWith(summary.contains(" (tried ")
                ? summary.substring(0, summary.indexOf(" (tried ")) : summary), summary + " / " + reason);
        assertTrue(e.getMessage().contains(summary), "message '" + e.getMessage() + "' should contain '" + summary + "'");
        assertTrue(!e.getMessage().contains("\n"), "one line: " + e.getMessage());
        assertTrue(e.getMessage().contains("cuda:0"), e.getMessage());
    }

    @Test
    void checkDeviceRejectsTheCpu() {
        assertThrows(IllegalArgumentException.class, () -> new CudaBackend().checkDevice(Device.cpu()));
    }

    @Test
    void liveBytesOfAnUnusedDeviceIsZero() {
        assumeFalse(Cuda.isAvailable(), "a GPU is present");
        assertEquals(0, new CudaBackend().liveBytes(Device.cuda(3)));
    }
}
