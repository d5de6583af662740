package dev.solder.backend.cuda;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.solder.Autocast;
import dev.solder.DType;
import dev.solder.Ops;
import dev.solder.Scope;
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

    /**
     * Under bf16 autocast on the fused path, the projections that read a {@code dropoutLayerNorm}
     * output read the bf16 copy its kernel wrote: the block's forward converts the three weights
     * (scoped test tensors, which the cast cache does not keep) and nothing else (BERT-Base: 23
     * conversion launches a step fewer).
     */
    @Test
    void projectionsAfterDropoutLayerNormLaunchNoConversionOfTheirInput() {
        int hid = 384;
        Tensor x = gpu(randn(2, 7, hid), DType.BFLOAT16);
        Tensor res = gpu(randn(2, 7, hid));
        res.requiresGrad(true);
        Tensor gamma = gpu(uniform(0.5f, 1.5f, hid));
        Tensor beta = gpu(randn(hid));
        Tensor[] w = new Tensor[3];
        for (int i = 0; i < 3; i++) {
            w[i] = gpu(randn(hid, hid));
        }
        assertNotNull(fake, "the fake device is in use");
        int before = fake.launchesOf(Kernel.CONVERT);
        with(Mode.FUSED, () -> {
            try (Scope s = Scope.open(); Autocast ac = Autocast.enable(DType.BFLOAT16)) {
                Tensor h = Ops.dropoutLayerNorm(x, 0.1f, 3L, res, gamma, beta, 1e-12f);
                for (Tensor wi : w) {
                    Ops.linear(h, wi, null);
                }
            }
        });
        assertEquals(3, fake.launchesOf(Kernel.CONVERT) - before,
                "conversions in the block's forward: one per weight, none of the projections' input" + at());
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
