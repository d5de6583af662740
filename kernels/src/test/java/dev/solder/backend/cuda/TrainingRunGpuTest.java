package dev.solder.backend.cuda;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import dev.solder.cuda.Cuda;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Tag;

/**
 * 200 training steps of a small encoder on the GPU and on the CPU: the same loss curve within
 * tolerance, the same curve bit for bit when the GPU run is repeated (no atomics anywhere on
 * the path), and device memory back to its baseline.
 */
@Tag("gpu")
class TrainingRunGpuTest extends TrainingRunSuite {

    @BeforeEach
    void requireGpu() {
        assumeTrue(Cuda.isAvailable(), () -> "no usable CUDA GPU: " + Cuda.unavailableReason());
    }

    @Override
    int steps() {
        return 200;
    }

    @Override
    void extraChecks(float[] cpu, float[] gpu) {
        float[] again = train(GPU, steps());
        assertArrayEquals(gpu, again, "a second cuda run from the same seed gave another loss curve (seed " + SEED + ")");
    }
}
