package dev.solder.backend.cuda;

import dev.solder.Backends;
import dev.solder.DType;
import dev.solder.Device;
import dev.solder.Generator;
import dev.solder.Scope;
import dev.solder.Tensor;
import dev.solder.backend.cuda.KernelPaths.Mode;
import dev.solder.cuda.Cuda;
import dev.solder.cuda.CudaDriver;
import dev.solder.spi.Backend;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Locale;

/**
 * Times each fused kernel against its cuBLAS-only twin on one GPU, in one run (a plain main,
 * not a test: it never runs in CI). CUDA events around {@code ITERS} back-to-back calls on the
 * device's stream, after a warm-up; 7 repetitions, the median reported. Inputs are random
 * (never zeros). Prints one table: op, shape, dtype, path, time, GB/s or TFLOP/s, and
 * twin/fused. {@code fused_peers.py} (bench/python) prints PyTorch's numbers for the same shapes.
 *
 * <p>Run on the GPU machine, after {@code mvn -pl kernels -am test-compile}:
 * {@code java --enable-preview --add-modules jdk.incubator.vector -cp <kernels test-classes:classes:deps>
 * dev.solder.backend.cuda.FusedKernelBench} (see kernels/README.md for the exact line).
 */
public final class FusedKernelBench {
    static final Device GPU = Device.cuda();
    static final int ITERS = 20;
    static final int REPS = 7;

    private final Backend cuda = Backends.forKind(Device.Kind.CUDA);
    private final Generator g = new Generator(20261127L);
    private final List<String> rows = new ArrayList<>();

    public static void main(String[] args) throws Exception {
        if (!Cuda.isAvailable()) {
            System.out.println("FusedKernelBench: no usable CUDA GPU: " + Cuda.unavailableReason());
            return;
        }
        new FusedKernelBench().run();
    }

    private void run() throws Exception {
        System.out.println("device: " + CudaBackend.describe(GPU) + (CudaGemm.tf32 ? ", TF32 on" : ""));
        spinUp();
        for (DType dt : new DType[] {DType.BFLOAT16, DType.FLOAT32}) {
            layerNorm(4096, 768, dt);
            linearGelu(4096, 768, 3072, dt);
            linearBias(4096, 768, 768, dt);
        }
        // x bf16 beside a float32 residual is the autocast layer's case
        dropoutLayerNorm(4096, 768, DType.BFLOAT16, DType.FLOAT32);
        dropoutLayerNorm(4096, 768, DType.FLOAT32, DType.FLOAT32);
        embeddings(32, 128, 768);
        for (int s : new int[] {128, 512}) {
            attention(32, 12, 64, s, DType.BFLOAT16);
        }
        attention(32, 12, 64, 128, DType.FLOAT32);   // the float32 (SIMT) flash kernels
        crossEntropy(4096, 30522);
        System.out.println();
        System.out.println(String.format(Locale.ROOT, "%-22s %-22s %-9s %-7s %10s %12s %9s %10s", "op", "shape",
                "dtype", "path", "ms", "rate", "twin/fus", "host ms"));
        for (String r : rows) {
            System.out.println(r);
        }
        System.out.println("ms: device time a call (CUDA events around " + ITERS + " calls). host ms: the time the"
                + " Java side took to issue one; where it reaches the device time (*) the GPU waited for the host"
                + " and the row measures the host, not the kernel.");
    }

    /**
     * Keeps the card busy with GEMMs for about a second before the first row is timed, so that the
     * first rows see the clocks the later ones do (on 2026-11-27 the first row, bf16 LayerNorm,
     * was timed right after the process started).
     */
    private void spinUp() {
        try (Scope s = Scope.open()) {
            Tensor x = rnd(DType.BFLOAT16, 4096, 3072);
            Tensor w = rnd(DType.BFLOAT16, 3072, 3072);
            Tensor out = empty(DType.BFLOAT16, 4096, 3072);
            long end = System.nanoTime() + 1_000_000_000L;
            while (System.nanoTime() < end) {
                for (int i = 0; i < 20; i++) {
                    cuda.linear(x, w, null, out);
                }
                cuda.synchronize(GPU);
            }
        }
    }

    private Tensor rnd(DType dt, int... shape) {
        try (Tensor c = Tensor.randn(g, shape)) {
            return c.to(dt).to(GPU);
        }
    }

    private Tensor empty(DType dt, int... shape) {
        return Tensor.empty(shape, dt, GPU);
    }

    /** One call's median device milliseconds, and the median host milliseconds it took to issue it. */
    private record Timing(double ms, double hostMs) {
    }

    /** Median milliseconds of one call of {@code op}, from CUDA events around ITERS calls, and the host's. */
    private Timing timeMs(Runnable op) {
        // Warm-up: at least 10 calls and 0.2 s, synchronising every 10, so the op's Java code is
        // compiled (C1 at least) before it is timed: interpreted, the host issues launches slower
        // than the GPU runs them and the events time the gaps (hostMs shows whether it still does).
        long until = System.nanoTime() + 200_000_000L;
        for (int i = 0; i < 10 || System.nanoTime() < until; i++) {
            op.run();
            if (i % 10 == 9) {
                cuda.synchronize(GPU);
            }
        }
        cuda.synchronize(GPU);
        long stream = CudaDevice.of(GPU).api().streamHandle();
        long e0 = CudaDriver.eventCreate(0);
        long e1 = CudaDriver.eventCreate(0);
        try {
            double[] t = new double[REPS];
            double[] host = new double[REPS];
            for (int r = 0; r < REPS; r++) {
                CudaDriver.eventRecord(e0, stream);
                long h0 = System.nanoTime();
                for (int i = 0; i < ITERS; i++) {
                    op.run();
                }
                host[r] = (System.nanoTime() - h0) / 1e6 / ITERS;
                CudaDriver.eventRecord(e1, stream);
                CudaDriver.eventSynchronize(e1);
                t[r] = CudaDriver.eventElapsedTime(e0, e1) / ITERS;
            }
            Arrays.sort(t);
            Arrays.sort(host);
            return new Timing(t[REPS / 2], host[REPS / 2]);
        } finally {
            CudaDriver.eventDestroy(e0);
            CudaDriver.eventDestroy(e1);
        }
    }

    private Timing timeIn(Mode mode, Runnable op) throws Exception {
        try (AutoCloseable ignored = KernelPaths.force(mode)) {
            return timeMs(op);
        }
    }

    /** Rate: bytes → GB/s, or flops → TFLOP/s. */
    private void report(String op, String shape, DType dt, Timing fused, Timing twin, double bytes, double flops) {
        for (int k = 0; k < 2; k++) {
            Timing timing = k == 0 ? twin : fused;
            double ms = timing.ms();
            String rate = flops > 0
                    ? String.format(Locale.ROOT, "%.1f TFLOP/s", flops / (ms * 1e-3) / 1e12)
                    : String.format(Locale.ROOT, "%.0f GB/s", bytes / (ms * 1e-3) / 1e9);
            String ratio = k == 1 ? String.format(Locale.ROOT, "%.2fx", twin.ms() / fused.ms()) : "";
            double h = timing.hostMs();
            String host = String.format(Locale.ROOT, "%.4f%s", h, h >= 0.9 * ms ? "*" : "");
            rows.add(String.format(Locale.ROOT, "%-22s %-22s %-9s %-7s %10.4f %12s %9s %10s", op, shape,
                    dt.toString().toLowerCase(Locale.ROOT), k == 0 ? "cublas" : "fused", ms, rate, ratio, host));
        }
    }

    private void layerNorm(int rowsN, int cols, DType dt) throws Exception {
        try (Scope s = Scope.open()) {
            Tensor x = rnd(dt, rowsN, cols);
            Tensor res = rnd(dt, rowsN, cols);
            Tensor gamma = rnd(DType.FLOAT32, cols);
            Tensor beta = rnd(DType.FLOAT32, cols);
            Tensor out = empty(dt, rowsN, cols);
            Tensor h = empty(dt, rowsN, cols);
            Tensor mean = empty(DType.FLOAT32, rowsN);
            Tensor rstd = empty(DType.FLOAT32, rowsN);
            Runnable fwd = () -> cuda.layerNorm(x, res, gamma, beta, 1e-12f, out, h, mean, rstd);
            Timing f = timeIn(Mode.FUSED, fwd);
            Timing c = timeIn(Mode.CUBLAS, fwd);
            long n = (long) rowsN * cols;
            String shape = "[" + rowsN + "," + cols + "]+res";
            report("layerNorm fwd", shape, dt, f, c, 4.0 * n * dt.byteSize(), 0);
            Tensor dy = rnd(DType.FLOAT32, rowsN, cols);
            Tensor dh = empty(DType.FLOAT32, rowsN, cols);
            Tensor dg = empty(DType.FLOAT32, cols);
            Tensor db = empty(DType.FLOAT32, cols);
            Runnable bwd = () -> cuda.layerNormBackward(dy, h, gamma, mean, rstd, dh, dg, db);
            f = timeIn(Mode.FUSED, bwd);
            c = timeIn(Mode.CUBLAS, bwd);
            report("layerNorm bwd", shape, dt, f, c, n * (4.0 + dt.byteSize() + 4.0), 0);
        }
    }

    private void linearGelu(int rowsN, int in, int outF, DType dt) throws Exception {
        try (Scope s = Scope.open()) {
            Tensor x = rnd(dt, rowsN, in);
            Tensor w = rnd(dt, outF, in);
            Tensor b = rnd(dt, outF);
            Tensor pre = empty(dt, rowsN, outF);
            Tensor out = empty(dt, rowsN, outF);
            Runnable fwd = () -> cuda.linearGelu(x, w, b, pre, out);
            Timing f = timeIn(Mode.FUSED, fwd);
            Timing c = timeIn(Mode.CUBLAS, fwd);
            String shape = rowsN + "x" + in + "->" + outF;
            double mnk = 2.0 * rowsN * in * outF;
            report("linear+gelu fwd", shape, dt, f, c, 0, mnk);
            // The tensors autocast's training step hands the backward: dy and dpre in the operands'
            // type (dy is the down-projection's dx, which linear writes in bf16 for a bf16 input an
            // op made; dpre is rounded to x's type), so both GEMMs run on bf16/fp16 tensor cores;
            // dx float32, as for an input that is a cast of a float32 tensor (the LayerNorm output).
            Tensor dy = rnd(dt, rowsN, outF);
            Tensor dpre = empty(dt, rowsN, outF);
            Tensor dx = empty(DType.FLOAT32, rowsN, in);
            Tensor dw = empty(DType.FLOAT32, outF, in);
            Tensor db = empty(DType.FLOAT32, outF);
            Runnable bwd = () -> cuda.linearGeluBackward(dy, x, w, pre, dpre, dx, dw, db);
            f = timeIn(Mode.FUSED, bwd);
            c = timeIn(Mode.CUBLAS, bwd);
            report("linear+gelu bwd", shape, dt, f, c, 0, 2 * mnk);
            // the epilogue alone (the part the fused kernel replaces): bias+gelu vs add+gelu
            CudaDevice d = CudaDevice.of(GPU);
            Runnable fusedEpi = () -> {
                synchronized (d) {
                    CudaFused.biasGelu(d, pre, b, out);
                }
            };
            Runnable twinEpi = () -> {
                synchronized (d) {
                    CudaElementwise.add(d, pre, b, 1f, 1f, pre);
                    CudaElementwise.gelu(d, pre, false, out);
                }
            };
            f = timeMs(fusedEpi);
            c = timeMs(twinEpi);
            report("bias+gelu epilogue", "[" + rowsN + "," + outF + "]", dt, f, c,
                    3.0 * rowsN * outF * dt.byteSize(), 0);
        }
    }

    private void attention(int batch, int heads, int dHead, int seq, DType dt) throws Exception {
        try (Scope s = Scope.open()) {
            int width = heads * dHead;
            Tensor q = rnd(dt, batch, seq, width);
            Tensor k = rnd(dt, batch, seq, width);
            Tensor v = rnd(dt, batch, seq, width);
            int[] m = new int[batch * seq];
            Arrays.fill(m, 1);
            Tensor mask = Tensor.ofInts(m, batch, seq).to(GPU);
            Tensor out = empty(dt, batch, seq, width);
            // In the operands' type, as autocast's step hands them over (attention's dout comes from
            // the output projection's dx, bf16; q, k, v are bf16 outputs of the projections).
            Tensor dout = rnd(dt, batch, seq, width);
            Tensor dq = empty(dt, batch, seq, width);
            Tensor dk = empty(dt, batch, seq, width);
            Tensor dv = empty(dt, batch, seq, width);
            float scale = (float) (1 / Math.sqrt(dHead));
            String shape = "B" + batch + " H" + heads + " D" + dHead + " S" + seq;
            // forward alone (the fused one saves lse [B, H, S], the twin P [B, H, S, S])
            Runnable f = () -> cuda.attention(q, k, v, mask, heads, scale, 0f, 1L, out).close();
            Timing ff = timeIn(Mode.FUSED, f);
            Timing cf = timeIn(Mode.CUBLAS, f);
            report("attention fwd", shape, dt, ff, cf, 0, 4.0 * batch * heads * seq * seq * dHead);
            Runnable fb = () -> {
                try (Tensor saved = cuda.attention(q, k, v, mask, heads, scale, 0f, 1L, out)) {
                    cuda.attentionBackward(q, k, v, mask, heads, scale, 0f, 1L, out, dout, saved, dq, dk, dv);
                }
            };
            // with dropout 0.1 (Philox per score element, forward and both backward passes)
            Runnable fbDrop = () -> {
                try (Tensor saved = cuda.attention(q, k, v, mask, heads, scale, 0.1f, 1L, out)) {
                    cuda.attentionBackward(q, k, v, mask, heads, scale, 0.1f, 1L, out, dout, saved, dq, dk, dv);
                }
            };
            double flops = 4.0 * batch * heads * seq * seq * dHead * 3.5; // fwd 2 GEMMs + bwd 5
            Timing fused = timeIn(Mode.FUSED, fb);
            Timing c = timeIn(Mode.CUBLAS, fb);
            report("attention fwd+bwd", shape, dt, fused, c, 0, flops);
            fused = timeIn(Mode.FUSED, fbDrop);
            c = timeIn(Mode.CUBLAS, fbDrop);
            report("attention fwd+bwd p.1", shape, dt, fused, c, 0, flops);
        }
    }

    private void crossEntropy(int n, int classes) throws Exception {
        try (Scope s = Scope.open()) {
            Tensor logits = rnd(DType.FLOAT32, n, classes);
            long[] lab = new long[n];
            for (int i = 0; i < n; i++) {
                lab[i] = g.nextInt(classes);
            }
            Tensor labels = Tensor.ofLongs(lab).to(GPU);
            Tensor loss = empty(DType.FLOAT32, 1);
            Tensor dloss = rnd(DType.FLOAT32, 1);
            Tensor dlogits = empty(DType.FLOAT32, n, classes);
            Runnable fb = () -> {
                cuda.crossEntropy(logits, labels, -100, loss);
                cuda.crossEntropyBackward(logits, labels, -100, dloss, dlogits);
            };
            // fused: the forward's pass also writes the dloss = 1 gradient; the backward multiplies by dloss
            Runnable fused = () -> {
                Tensor unit = cuda.crossEntropyWithGrad(logits, labels, -100, loss);
                cuda.mul(unit, dloss, dlogits);
                unit.close();
            };
            Timing c = timeIn(Mode.CUBLAS, fb);
            Timing f = timeIn(Mode.FUSED, fused);
            report("cross-entropy fwd+bwd", "[" + n + "," + classes + "]", DType.FLOAT32, f, c,
                    3.0 * n * classes * 4, 0);
        }
    }

    /** A linear layer with bias: cuBLASLt BIAS / BGRADB epilogues against GEMM + add / GEMM + column sum. */
    private void linearBias(int rowsN, int in, int outF, DType dt) throws Exception {
        try (Scope s = Scope.open()) {
            Tensor x = rnd(dt, rowsN, in);
            Tensor w = rnd(dt, outF, in);
            Tensor b = rnd(dt, outF);
            Tensor out = empty(dt, rowsN, outF);
            Runnable fwd = () -> cuda.linear(x, w, b, out);
            String shape = rowsN + "x" + in + "->" + outF;
            double mnk = 2.0 * rowsN * in * outF;
            report("linear+bias fwd", shape, dt, timeIn(Mode.FUSED, fwd), timeIn(Mode.CUBLAS, fwd), 0, mnk);
            Tensor dy = rnd(dt, rowsN, outF);
            Tensor dx = empty(DType.FLOAT32, rowsN, in);
            Tensor dw = empty(DType.FLOAT32, outF, in);
            Tensor db = empty(DType.FLOAT32, outF);
            Runnable bwd = () -> cuda.linearBackward(dy, x, w, dx, dw, db);
            report("linear+bias bwd", shape, dt, timeIn(Mode.FUSED, bwd), timeIn(Mode.CUBLAS, bwd), 0, 2 * mnk);
        }
    }

    /** LayerNorm(dropout(x) + residual), p = 0.1: one pass against dropout (+ widening) + LayerNorm. */
    private void dropoutLayerNorm(int rowsN, int cols, DType xt, DType dt) throws Exception {
        try (Scope s = Scope.open()) {
            Tensor x = rnd(xt, rowsN, cols);
            Tensor res = rnd(dt, rowsN, cols);
            Tensor gamma = rnd(DType.FLOAT32, cols);
            Tensor beta = rnd(DType.FLOAT32, cols);
            Tensor out = empty(dt, rowsN, cols);
            Tensor h = empty(dt, rowsN, cols);
            Tensor mean = empty(DType.FLOAT32, rowsN);
            Tensor rstd = empty(DType.FLOAT32, rowsN);
            Runnable fwd = () -> cuda.dropoutLayerNorm(x, 0.1f, 7L, res, gamma, beta, 1e-12f, out, h, mean, rstd);
            long n = (long) rowsN * cols;
            report("dropout+res+LN fwd", "[" + rowsN + "," + cols + "] x " + xt.toString().toLowerCase(Locale.ROOT), dt,
                    timeIn(Mode.FUSED, fwd), timeIn(Mode.CUBLAS, fwd), n * (xt.byteSize() + 3.0 * dt.byteSize()), 0);
        }
    }

    /** BERT's embeddings (float32 tables, as the model keeps them): gathers + adds + LayerNorm, and back. */
    private void embeddings(int batch, int seq, int cols) throws Exception {
        try (Scope s = Scope.open()) {
            int vocab = 30522;
            long[] ids = new long[batch * seq];
            long[] types = new long[batch * seq];
            for (int i = 0; i < ids.length; i++) {
                ids[i] = g.nextInt(vocab);
                types[i] = (i % seq) > seq / 2 ? 1 : 0;
            }
            long[] pos = new long[seq];
            for (int i = 0; i < seq; i++) {
                pos[i] = i;
            }
            Tensor gi = Tensor.ofLongs(ids, batch, seq).to(GPU);
            Tensor gt = Tensor.ofLongs(types, batch, seq).to(GPU);
            Tensor gp = Tensor.ofLongs(pos, seq).to(GPU);
            DType dt = DType.FLOAT32;
            Tensor word = rnd(dt, vocab, cols);
            Tensor type = rnd(dt, 2, cols);
            Tensor position = rnd(dt, 512, cols);
            Tensor gamma = rnd(dt, cols);
            Tensor beta = rnd(dt, cols);
            Tensor out = empty(dt, batch, seq, cols);
            Tensor h = empty(dt, batch, seq, cols);
            Tensor mean = empty(dt, batch * seq);
            Tensor rstd = empty(dt, batch * seq);
            Runnable fwd = () -> cuda.embeddingsLayerNorm(gi, gt, gp, word, type, position, gamma, beta, 1e-12f, out, h,
                    mean, rstd);
            long n = (long) batch * seq * cols;
            String shape = "B" + batch + " S" + seq + " H" + cols;
            report("embeddings+LN fwd", shape, dt, timeIn(Mode.FUSED, fwd), timeIn(Mode.CUBLAS, fwd), n * 5.0 * 4, 0);
            Tensor dy = rnd(dt, batch, seq, cols);
            Tensor dword = empty(dt, vocab, cols);
            Tensor dtype = empty(dt, 2, cols);
            Tensor dpos = empty(dt, 512, cols);
            Tensor dg = empty(dt, cols);
            Tensor db = empty(dt, cols);
            Runnable bwd = () -> cuda.embeddingsLayerNormBackward(dy, h, gamma, mean, rstd, gi, gt, gp, 0, dword, dtype,
                    dpos, dg, db);
            // the zeroing of the word table's gradient (94 MB) dominates both paths
            report("embeddings+LN bwd", shape, dt, timeIn(Mode.FUSED, bwd), timeIn(Mode.CUBLAS, bwd),
                    ((long) vocab * cols + n * 4) * 4.0, 0);
        }
    }
}
