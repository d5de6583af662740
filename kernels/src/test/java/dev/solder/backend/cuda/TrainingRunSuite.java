package dev.solder.backend.cuda;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.solder.Backends;
import dev.solder.Device;
import dev.solder.spi.Backend;
import java.util.Locale;
import org.junit.jupiter.api.Test;

/**
 * Trains {@link TinyEncoder} on the CPU and on the CUDA device from the same seed and data and
 * compares the loss curves step by step; checks that the device memory returns to its
 * baseline once the model is closed.
 */
abstract class TrainingRunSuite {
    static final Device GPU = Device.cuda();
    static final long SEED = Long.getLong("solder.test.seed", System.nanoTime());

    abstract int steps();

    static float[] train(Device device, int steps) {
        float[] loss = new float[steps];
        try (TinyEncoder model = new TinyEncoder(device, SEED)) {
            for (int i = 0; i < steps; i++) {
                loss[i] = model.step();
            }
        }
        return loss;
    }

    static String curve(float[] cpu, float[] gpu) {
        StringBuilder sb = new StringBuilder("step   cpu loss   cuda loss   |diff|\n");
        for (int i = 0; i < cpu.length; i++) {
            if (i < 5 || i % 20 == 0 || i == cpu.length - 1) {
                sb.append(String.format(Locale.ROOT, "%4d  %9.6f  %9.6f  %.2e%n", i, cpu[i], gpu[i], Math.abs(cpu[i] - gpu[i])));
            }
        }
        return sb.toString();
    }

    static double mean(float[] a, int from, int to) {
        double s = 0;
        for (int i = from; i < to; i++) {
            s += a[i];
        }
        return s / (to - from);
    }

    /** Called with both curves; subclasses add checks. */
    void extraChecks(float[] cpu, float[] gpu) {
    }

    @Test
    void cudaFollowsTheCpuLossCurve() {
        Backend cuda = Backends.forKind(Device.Kind.CUDA);
        long before = cuda.liveBytes(GPU);
        int n = steps();
        long t0 = System.nanoTime();
        float[] cpu = train(Device.cpu(), n);
        long t1 = System.nanoTime();
        float[] gpu = train(GPU, n);
        long t2 = System.nanoTime();
        cuda.synchronize(GPU);
        String table = curve(cpu, gpu) + String.format(Locale.ROOT, "cpu %.1f s, cuda %.1f s, seed %d%n",
                (t1 - t0) / 1e9, (t2 - t1) / 1e9, SEED);
        System.out.println(getClass().getSimpleName() + "\n" + table);
        for (int i = 0; i < n; i++) {
            assertTrue(Float.isFinite(gpu[i]), "cuda loss at step " + i + " is " + gpu[i] + "\n" + table);
            double tol = i < 20 ? 1e-4 : i < 100 ? 3e-3 : 2e-2;
            assertTrue(Math.abs(cpu[i] - gpu[i]) <= tol * Math.max(1, Math.abs(cpu[i])),
                    "loss at step " + i + ": cpu " + cpu[i] + ", cuda " + gpu[i] + " (tolerance " + tol + ")\n" + table);
        }
        int w = Math.min(20, n / 4);
        assertTrue(mean(gpu, n - w, n) < mean(gpu, 0, w) - 0.05, "the cuda run did not learn\n" + table);
        assertEquals(before, cuda.liveBytes(GPU), "device memory not back to its baseline after training");
        extraChecks(cpu, gpu);
    }
}
