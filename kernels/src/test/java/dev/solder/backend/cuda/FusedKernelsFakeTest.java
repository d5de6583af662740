package dev.solder.backend.cuda;

import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.solder.DType;
import dev.solder.Tensor;
import dev.solder.backend.cuda.KernelPaths.Mode;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * The fused-kernel suite on {@link FakeDeviceApi} (runs everywhere): the Java side of the
 * fused path — selection, launch arguments, chunking, temporaries — against the CPU backend.
 * The .cu code itself is checked by {@link FusedKernelsGpuTest} on a GPU.
 */
class FusedKernelsFakeTest extends FusedParitySuite {
    private static AutoCloseable restore;
    private static volatile FakeDeviceApi fake;

    @BeforeAll
    static void installFakeDevice() {
        restore = CudaDevice.useFactory(ordinal -> fake = new FakeDeviceApi());
    }

    @AfterAll
    static void removeFakeDevice() throws Exception {
        restore.close();
    }

    @Override
    int addLaunches() {
        return fake.launchesOf(Kernel.ADD);
    }

    /** The Java model of the flash kernels is slow at S = 512: tail and exact tiles only. */
    @Override
    int[] flashSeqLens() {
        return new int[] {1, 17, 64, 200};
    }

    /**
     * When cuBLASLt finds no algorithm for an epilogue GEMM (nothing is launched then), linear and
     * its backward take the cuBLAS-only path, say so in the log, and are right.
     */
    @Test
    void linearFallsBackWhenCublasLtHasNoAlgorithm() {
        int rows = 5;
        int in = 8;
        int outF = 6;
        Tensor x = randn(rows, in);
        Tensor w = randn(outF, in);
        Tensor b = randn(outF);
        Tensor dy = randn(rows, outF);
        Tensor ref = cpuOut(DType.FLOAT32, rows, outF);
        CPU.linear(x, w, b, ref);
        Tensor rdx = cpuOut(DType.FLOAT32, rows, in);
        Tensor rdw = cpuOut(DType.FLOAT32, outF, in);
        Tensor rdb = cpuOut(DType.FLOAT32, outF);
        CPU.linearBackward(dy, x, w, rdx, rdw, rdb);
        Tensor gx = gpu(x);
        Tensor gw = gpu(w);
        Tensor gb = gpu(b);
        Tensor gdy = gpu(dy);
        Tensor out = poisoned(DType.FLOAT32, rows, outF);
        Tensor dx = poisoned(DType.FLOAT32, rows, in);
        Tensor dw = poisoned(DType.FLOAT32, outF, in);
        Tensor db = poisoned(DType.FLOAT32, outF);
        assertNotNull(fake, "the fake device is in use");
        KernelPaths.resetLog();
        fake.ltRefuses = true;
        try {
            with(Mode.FUSED, () -> {
                cuda.linear(gx, gw, gb, out);
                cuda.linearBackward(gdy, gx, gw, dx, dw, db);
            });
        } finally {
            fake.ltRefuses = false;
        }
        assertClose("linear after the fallback", ref, out, F32);
        assertClose("dx after the fallback", rdx, dx, F32);
        assertClose("dw after the fallback", rdw, dw, F32);
        assertClose("dbias after the fallback", rdb, db, F32);
        assertTrue(KernelPaths.logged("linear -> cuBLAS-only path: " + CudaBackend.LT_NO_ALGORITHM)
                && KernelPaths.logged("linearBackward -> cuBLAS-only path: " + CudaBackend.LT_NO_ALGORITHM),
                "the fallback is logged" + at());
    }
}
