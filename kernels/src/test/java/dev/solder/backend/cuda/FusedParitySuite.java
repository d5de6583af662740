package dev.solder.backend.cuda;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

import dev.solder.Backends;

import dev.solder.DType;
import dev.solder.Device;
import dev.solder.Generator;
import dev.solder.Ops;
import dev.solder.Scope;
import dev.solder.Tensor;
import dev.solder.backend.cuda.KernelPaths.Mode;
import java.util.ArrayList;
import java.util.List;
import java.util.function.Supplier;
import dev.solder.spi.Backend;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInfo;

/**
 * Every fused kernel against its cuBLAS-only twin and against the CPU backend: fresh random
 * inputs (seed in every message), outputs poisoned with NaN and checked fully written, DESIGN
 * §5 tolerances (float32 1e-5, GEMM-based 1e-5 / TF32 5e-4, bf16 1e-2). The fused kernels are
 * forced with {@link KernelPaths#force} ({@code -Dsolder.kernels=fused}), the twin with
 * {@code cublas}. Plus one BERT layer (attention, residual LayerNorms, GELU FFN through
 * {@code Ops.linearGelu}) forward and backward on both paths, every gradient compared.
 *
 * <p>{@link FusedKernelsGpuTest} runs it on a GPU; {@link FusedKernelsFakeTest} on the Java
 * model of the device, which checks the Java side of the fused path (arguments, chunking,
 * temporaries) everywhere.
 */
abstract class FusedParitySuite {
    static final long BASE_SEED = CudaParitySuite.BASE_SEED;
    static final Device GPU = CudaParitySuite.GPU;
    static final Backend CPU = CudaParitySuite.CPU;
    static final double F32 = CudaParitySuite.F32;
    static final double HALF = CudaParitySuite.HALF;

    Backend cuda;
    long seed;
    Generator g;
    Scope scope;
    long baseline;

    @BeforeEach
    void open(TestInfo info) {
        cuda = Backends.forKind(Device.Kind.CUDA);
        seed = BASE_SEED ^ info.getDisplayName().hashCode() ^ 0xf05edL;
        g = new Generator(seed);
        baseline = cuda.liveBytes(GPU);
        scope = Scope.open();
    }

    @AfterEach
    void close() {
        scope.close();
        cuda.synchronize(GPU);
        assertEquals(baseline, cuda.liveBytes(GPU), "device memory leaked by the test (seed " + seed + ")");
    }

    String at() {
        return " (seed " + seed + ", base seed " + BASE_SEED + ")";
    }

    Tensor randn(int... shape) {
        return Tensor.randn(g, shape);
    }

    Tensor uniform(float lo, float hi, int n) {
        float[] v = new float[n];
        for (int i = 0; i < n; i++) {
            v[i] = lo + (hi - lo) * g.nextFloat();
        }
        return Tensor.of(v, n);
    }

    static Tensor as(Tensor cpu, DType dt) {
        return CudaParitySuite.as(cpu, dt);
    }

    static Tensor gpu(Tensor cpu, DType dt) {
        return CudaParitySuite.gpu(cpu, dt);
    }

    static Tensor gpu(Tensor cpu) {
        return CudaParitySuite.gpu(cpu);
    }

    static Tensor cpuOut(DType dt, int... shape) {
        return CudaParitySuite.cpuOut(dt, shape);
    }

    static double gemmTol() {
        return CudaParitySuite.gemmTol();
    }

    static double tolFor(DType t) {
        return CudaParitySuite.tolFor(t);
    }

    static int[] bits(Tensor t) {
        return CudaParitySuite.bits(t);
    }

    Tensor poisoned(DType dt, int... shape) {
        Tensor t = Tensor.empty(shape, dt, GPU);
        cuda.fill(t, Double.NaN);
        return t;
    }

    /** Normwise relative error at most {@code tol}, every element written, no element far off. */
    void assertClose(String what, Tensor ref, Tensor got, double tol) {
        assertArrayEquals(ref.shape(), got.shape(), what + ": shapes" + at());
        float[] r = ref.toFloatArray();
        float[] o = got.toFloatArray();
        double num = 0;
        double den = 0;
        for (int i = 0; i < r.length; i++) {
            if (Float.isNaN(o[i]) && !Float.isNaN(r[i])) {
                fail(what + ": element " + i + " is NaN (unwritten poison?), reference " + r[i] + at());
            }
            double d = (double) o[i] - r[i];
            num += d * d;
            den += (double) r[i] * r[i];
        }
        double rms = Math.sqrt(den / Math.max(1, r.length));
        double rel = Math.sqrt(num) / Math.max(Math.sqrt(den), 1e-30);
        assertTrue(den > 0, what + ": reference is all zeros" + at());
        assertTrue(rel <= tol, what + ": relative error " + rel + " > " + tol + at());
        for (int i = 0; i < r.length; i++) {
            double d = Math.abs((double) o[i] - r[i]);
            if (d > 32 * tol * (Math.abs(r[i]) + rms) + 1e-30) {
                fail(what + ": element " + i + " is " + o[i] + ", reference " + r[i] + " (rms " + rms + ")" + at());
            }
        }
    }

    /** Runs {@code body} with the path forced to {@code mode}. */
    static <T> T with(Mode mode, Supplier<T> body) {
        try (AutoCloseable ignored = KernelPaths.force(mode)) {
            return body.get();
        } catch (RuntimeException e) {
            throw e;
        } catch (Exception e) {
            throw new IllegalStateException(e);
        }
    }

    static void with(Mode mode, Runnable body) {
        with(mode, () -> {
            body.run();
            return null;
        });
    }

    /** The rows of the LayerNorm checks: odd, not a multiple of 8 or 16 (partial chunks, idle warps). */
    int rows() {
        return 37;
    }

    // ------------------------------------------------------------------ LayerNorm

    @Test
    void fusedLayerNormMatchesTwinAndCpu() {
        for (int cols : CudaFused.LAYER_NORM_WIDTHS) {
            for (DType dt : new DType[] {DType.FLOAT32, DType.BFLOAT16}) {
                for (boolean withResidual : new boolean[] {false, true}) {
                    checkLayerNorm(rows(), cols, dt, withResidual, DType.FLOAT32);
                }
            }
            // bf16 activations with a bf16 upstream gradient (the kernel's mixed-dtype branches)
            checkLayerNorm(rows(), cols, DType.BFLOAT16, true, DType.BFLOAT16);
        }
    }

    private void checkLayerNorm(int rows, int cols, DType dt, boolean withResidual, DType dyType) {
        String w = "fused layerNorm [" + rows + ", " + cols + "] " + dt + " residual=" + withResidual + " dy " + dyType;
        Tensor x = as(randn(rows, cols).mul(2f), dt);
        Tensor res = withResidual ? as(randn(rows, cols), dt) : null;
        Tensor gamma = uniform(0.5f, 1.5f, cols);
        Tensor beta = randn(cols);
        Tensor ref = cpuOut(dt, rows, cols);
        Tensor refH = withResidual ? cpuOut(dt, rows, cols) : null;
        Tensor refMean = cpuOut(DType.FLOAT32, rows);
        Tensor refRstd = cpuOut(DType.FLOAT32, rows);
        CPU.layerNorm(x, res, gamma, beta, 1e-12f, ref, refH, refMean, refRstd);

        Tensor gx = gpu(x, dt);
        Tensor gres = res == null ? null : gpu(res, dt);
        Tensor gg = gpu(gamma);
        Tensor gb = gpu(beta);
        Tensor[] fused = new Tensor[4];
        Tensor[] twin = new Tensor[4];
        for (Mode m : new Mode[] {Mode.FUSED, Mode.CUBLAS}) {
            Tensor out = poisoned(dt, rows, cols);
            Tensor h = withResidual ? poisoned(dt, rows, cols) : null;
            Tensor mean = poisoned(DType.FLOAT32, rows);
            Tensor rstd = poisoned(DType.FLOAT32, rows);
            with(m, () -> cuda.layerNorm(gx, gres, gg, gb, 1e-12f, out, h, mean, rstd));
            Tensor[] r = m == Mode.FUSED ? fused : twin;
            r[0] = out;
            r[1] = h;
            r[2] = mean;
            r[3] = rstd;
        }
        for (Tensor[] r : new Tensor[][] {fused, twin}) {
            String which = w + (r == fused ? " (fused)" : " (cuBLAS-only)");
            assertClose(which + " out", ref, r[0], tolFor(dt));
            if (withResidual) {
                assertClose(which + " h", refH, r[1], tolFor(dt));
            }
            assertClose(which + " mean", refMean, r[2], F32);
            assertClose(which + " rstd", refRstd, r[3], F32);
        }
        assertClose(w + " fused vs twin out", twin[0], fused[0], tolFor(dt));

        Tensor hIn = withResidual ? refH : x;
        Tensor dy = as(randn(rows, cols), dyType);
        Tensor dh = cpuOut(DType.FLOAT32, rows, cols);
        Tensor dg = cpuOut(DType.FLOAT32, cols);
        Tensor db = cpuOut(DType.FLOAT32, cols);
        CPU.layerNormBackward(dy, hIn, gamma, refMean, refRstd, dh, dg, db);
        Tensor gdy = gpu(dy, dyType);
        Tensor gh = gpu(hIn, dt);
        Tensor gm = gpu(refMean);
        Tensor gr = gpu(refRstd);
        List<Tensor[]> grads = new ArrayList<>();
        for (Mode m : new Mode[] {Mode.FUSED, Mode.CUBLAS}) {
            Tensor gdh = poisoned(DType.FLOAT32, rows, cols);
            Tensor gdg = poisoned(DType.FLOAT32, cols);
            Tensor gdb = poisoned(DType.FLOAT32, cols);
            with(m, () -> cuda.layerNormBackward(gdy, gh, gg, gm, gr, gdh, gdg, gdb));
            String which = w + (m == Mode.FUSED ? " (fused)" : " (cuBLAS-only)");
            assertClose(which + " dh", dh, gdh, F32);
            assertClose(which + " dgamma", dg, gdg, F32);
            assertClose(which + " dbeta", db, gdb, F32);
            grads.add(new Tensor[] {gdh, gdg, gdb});
        }
        assertClose(w + " fused vs twin dh", grads.get(1)[0], grads.get(0)[0], F32);
        // deterministic: the same bits again, and dgamma alone (dh, dbeta not requested)
        Tensor again = poisoned(DType.FLOAT32, cols);
        with(Mode.FUSED, () -> cuda.layerNormBackward(gdy, gh, gg, gm, gr, null, again, null));
        assertArrayEquals(bits(grads.get(0)[1]), bits(again), w + " fused dgamma deterministic" + at());
    }

    @Test
    void fusedDropoutLayerNormMatchesTwinAndCpu() {
        // x, residual dtypes: float32; bf16; bf16 beside float32 (an autocast layer)
        DType[][] cases = {{DType.FLOAT32, DType.FLOAT32}, {DType.BFLOAT16, DType.BFLOAT16},
            {DType.BFLOAT16, DType.FLOAT32}};
        for (DType[] c : cases) {
            checkDropoutLayerNorm(rows(), 384, c[0], c[1]);
        }
        checkDropoutLayerNorm(rows(), 768, DType.BFLOAT16, DType.FLOAT32);
    }

    private void checkDropoutLayerNorm(int rows, int cols, DType xt, DType dt) {
        String w = "dropoutLayerNorm [" + rows + ", " + cols + "] x " + xt + " residual " + dt;
        float p = 0.3f;
        long dropSeed = seed * 31 + cols;
        Tensor x = as(randn(rows, cols).mul(2f), xt);
        Tensor res = as(randn(rows, cols), dt);
        Tensor gamma = uniform(0.5f, 1.5f, cols);
        Tensor beta = randn(cols);
        Tensor ref = cpuOut(dt, rows, cols);
        Tensor refH = cpuOut(dt, rows, cols);
        Tensor refMean = cpuOut(DType.FLOAT32, rows);
        Tensor refRstd = cpuOut(DType.FLOAT32, rows);
        CPU.dropoutLayerNorm(x, p, dropSeed, res, gamma, beta, 1e-12f, ref, refH, refMean, refRstd);
        Tensor gx = gpu(x, xt);
        Tensor gres = gpu(res, dt);
        Tensor gg = gpu(gamma);
        Tensor gb = gpu(beta);
        for (Mode m : new Mode[] {Mode.FUSED, Mode.CUBLAS}) {
            String which = w + (m == Mode.FUSED ? " (fused)" : " (cuBLAS-only)");
            KernelPaths.resetLog();
            Tensor out = poisoned(dt, rows, cols);
            Tensor h = poisoned(dt, rows, cols);
            Tensor mean = poisoned(DType.FLOAT32, rows);
            Tensor rstd = poisoned(DType.FLOAT32, rows);
            // with a float32 output, also its bfloat16 copy (autocast's, for the next products)
            Tensor low = dt == DType.FLOAT32 ? poisoned(DType.BFLOAT16, rows, cols) : null;
            with(m, () -> cuda.dropoutLayerNorm(gx, p, dropSeed, gres, gg, gb, 1e-12f, out, h, mean, rstd, low));
            // h holds the same dropped, rounded sums as the CPU's: the masks are Philox's on both
            assertArrayEquals(bits(refH), bits(h), which + " h differs from the CPU's" + at());
            assertClose(which + " out", ref, out, tolFor(dt));
            assertClose(which + " mean", refMean, mean, F32);
            assertClose(which + " rstd", refRstd, rstd, F32);
            if (low != null) {
                Tensor converted = Tensor.empty(new int[] {rows, cols}, DType.BFLOAT16, Device.cpu());
                CPU.copy(Tensor.of(out.toFloatArray(), rows, cols), converted);
                assertArrayEquals(bits(converted), bits(low), which + ": the bf16 copy is not out converted" + at());
            }
            if (m == Mode.FUSED) {
                assertTrue(KernelPaths.logged("dropoutLayerNorm -> fused: -Dsolder.kernels=fused"),
                        which + ": the fused kernel was not taken" + at());
            }
        }
        // the backward against the CPU's: dx in x's dtype, as Ops asks for it (bf16 under autocast).
        // Fused: one pass (solder_dropout_layernorm_fused_backward), which must also give the bits of
        // the fused LayerNorm backward followed by the dropout kernel on its dh. cuBLAS-only: that
        // composition with the generic LayerNorm kernels.
        Tensor dy = randn(rows, cols);
        Tensor rdx = cpuOut(xt, rows, cols);
        Tensor rdres = cpuOut(DType.FLOAT32, rows, cols);
        Tensor rdg = cpuOut(DType.FLOAT32, cols);
        Tensor rdb = cpuOut(DType.FLOAT32, cols);
        CPU.dropoutLayerNormBackward(dy, refH, gamma, refMean, refRstd, p, dropSeed, rdx, rdres, rdg, rdb);
        Tensor gdy = gpu(dy);
        Tensor gh = gpu(refH, dt);
        Tensor gmean = gpu(refMean);
        Tensor grstd = gpu(refRstd);
        for (Mode m : new Mode[] {Mode.FUSED, Mode.CUBLAS}) {
            String which = w + (m == Mode.FUSED ? " backward (fused)" : " backward (cuBLAS-only)");
            KernelPaths.resetLog();
            Tensor dx = poisoned(xt, rows, cols);
            Tensor dres = poisoned(DType.FLOAT32, rows, cols);
            Tensor dg = poisoned(DType.FLOAT32, cols);
            Tensor db = poisoned(DType.FLOAT32, cols);
            with(m, () -> cuda.dropoutLayerNormBackward(gdy, gh, gg, gmean, grstd, p, dropSeed, dx, dres, dg, db));
            assertClose(which + " dx", rdx, dx, tolFor(xt));
            assertClose(which + " dresidual", rdres, dres, F32);
            assertClose(which + " dgamma", rdg, dg, F32);
            assertClose(which + " dbeta", rdb, db, F32);
            if (m == Mode.FUSED) {
                assertTrue(KernelPaths.logged("dropoutLayerNormBackward -> fused: -Dsolder.kernels=fused"),
                        which + ": the one-pass kernel was not taken" + at());
                Tensor twoDx = poisoned(xt, rows, cols);
                Tensor twoDres = poisoned(DType.FLOAT32, rows, cols);
                Tensor twoDg = poisoned(DType.FLOAT32, cols);
                Tensor twoDb = poisoned(DType.FLOAT32, cols);
                with(m, () -> {
                    cuda.layerNormBackward(gdy, gh, gg, gmean, grstd, twoDres, twoDg, twoDb);
                    cuda.dropoutBackward(twoDres, p, dropSeed, twoDx);
                });
                assertArrayEquals(bits(twoDx), bits(dx), which + ": dx differs from the two launches'" + at());
                assertArrayEquals(bits(twoDres), bits(dres), which + ": dresidual differs from the two launches'" + at());
                assertArrayEquals(bits(twoDg), bits(dg), which + ": dgamma differs from the two launches'" + at());
                assertArrayEquals(bits(twoDb), bits(db), which + ": dbeta differs from the two launches'" + at());
                // a residual that needs no gradient: dx alone
                Tensor onlyDx = poisoned(xt, rows, cols);
                with(m, () -> cuda.dropoutLayerNormBackward(gdy, gh, gg, gmean, grstd, p, dropSeed, onlyDx, null, null,
                        null));
                assertArrayEquals(bits(twoDx), bits(onlyDx), which + ": dx without dresidual differs" + at());
            }
        }
    }

    @Test
    void layerNormWidthsOffTheFastPathFallBack() {
        // width 77 under -Dsolder.kernels=fused: the generic kernel runs, and is right
        int rows = 5;
        int cols = 77;
        Tensor x = randn(rows, cols);
        Tensor gamma = uniform(0.5f, 1.5f, cols);
        Tensor beta = randn(cols);
        Tensor ref = cpuOut(DType.FLOAT32, rows, cols);
        CPU.layerNorm(x, null, gamma, beta, 1e-5f, ref, null, cpuOut(DType.FLOAT32, rows), cpuOut(DType.FLOAT32, rows));
        Tensor out = poisoned(DType.FLOAT32, rows, cols);
        with(Mode.FUSED, () -> cuda.layerNorm(gpu(x), null, gpu(gamma), gpu(beta), 1e-5f, out, null,
                poisoned(DType.FLOAT32, rows), poisoned(DType.FLOAT32, rows)));
        assertClose("layerNorm width 77 under fused", ref, out, F32);
    }

    // ------------------------------------------------------------------ cross-entropy

    @Test
    void fusedCrossEntropyMatchesTwinAndCpu() {
        for (int classes : new int[] {3, 77}) {
            for (DType dt : new DType[] {DType.FLOAT32, DType.BFLOAT16}) {
                checkCrossEntropy(rows(), classes, dt, 1f);
            }
        }
        checkCrossEntropy(rows(), 5, DType.FLOAT32, 0.37f);   // a dloss other than 1
    }

    /**
     * Loss and logits gradient through {@code Ops.crossEntropy(...).backward()} on the CPU and on
     * both CUDA paths; a few rows carry the ignore index. With dloss = 1 the fused path gives the
     * twin's bits (the same arithmetic; the backward multiplies by 1).
     */
    private void checkCrossEntropy(int rows, int classes, DType dt, float dloss) {
        String w = "crossEntropy [" + rows + ", " + classes + "] " + dt + " dloss " + dloss;
        Tensor logits = as(randn(rows, classes).mul(3f), dt);
        int[] y = new int[rows];
        for (int r = 0; r < rows; r++) {
            y[r] = r % 7 == 3 ? Ops.IGNORE_INDEX : (int) (g.nextFloat() * classes);
        }
        List<Tensor[]> results = new ArrayList<>();
        for (Mode m : new Mode[] {null, Mode.FUSED, Mode.CUBLAS}) {
            Device dev = m == null ? Device.cpu() : GPU;
            results.add(with(m == null ? Mode.CUBLAS : m, () -> {
                // fresh copies: on the CPU `to` would hand back the very tensors closed below
                Tensor leaf = Tensor.of(logits.toFloatArray(), rows, classes).to(dt).to(dev);
                leaf.requiresGrad(true);
                Tensor lab = Tensor.ofInts(y, rows).to(dev);
                Tensor[] r = new Tensor[2];
                try (Scope s = Scope.open()) {
                    Tensor loss = Ops.crossEntropy(leaf, lab);
                    r[0] = s.keep(snapshot(loss));
                    (dloss == 1f ? loss : Ops.scale(loss, dloss)).backward();
                }
                r[1] = snapshot(leaf.grad());
                leaf.close();
                lab.close();
                return r;
            }));
        }
        Tensor[] cpu = results.get(0);
        Tensor[] fused = results.get(1);
        Tensor[] twin = results.get(2);
        for (Tensor[] r : new Tensor[][] {fused, twin}) {
            String which = w + (r == fused ? " (fused)" : " (cuBLAS-only)");
            assertClose(which + " loss", cpu[0], r[0], F32);
            assertClose(which + " dlogits", cpu[1], r[1], F32);
        }
        if (dloss == 1f) {
            assertArrayEquals(bits(twin[0]), bits(fused[0]), w + ": fused loss differs from the twin's" + at());
            assertArrayEquals(bits(twin[1]), bits(fused[1]), w + ": fused dlogits differ from the twin's" + at());
        }
        float[] grad = fused[1].toFloatArray();
        for (int j = 0; j < classes; j++) {
            assertEquals(0f, grad[3 * classes + j], w + ": an ignored row has a gradient" + at());
        }
    }

    @Test
    void crossEntropyWithGradReturnsTheUnitGradientOnlyOnTheFusedPath() {
        int rows = 9;
        int classes = 4;
        Tensor logits = gpu(randn(rows, classes));
        int[] y = new int[rows];
        for (int r = 0; r < rows; r++) {
            y[r] = r % classes;
        }
        Tensor labels = gpu(Tensor.ofInts(y, rows));
        Tensor loss = poisoned(DType.FLOAT32);
        assertEquals(null, with(Mode.CUBLAS, () -> cuda.crossEntropyWithGrad(logits, labels, -100, loss)),
                "the cuBLAS-only path has no one-pass gradient");
        Tensor unit = with(Mode.FUSED, () -> cuda.crossEntropyWithGrad(logits, labels, -100, loss));
        assertNotNull(unit, "the fused path returns the gradient for dloss = 1");
        try {
            Tensor ref = cpuOut(DType.FLOAT32, rows, classes);
            CPU.crossEntropyBackward(logits.to(Device.cpu()), labels.to(Device.cpu()), -100, Tensor.of(new float[] {1f}),
                    ref);
            assertClose("unit dlogits", ref, unit, F32);
        } finally {
            unit.close();
        }
        // a label outside [0, C): a clear error naming label and row, nothing leaked (checked after the test)
        y[5] = 7;
        Tensor bad = gpu(Tensor.ofInts(y, rows));
        IllegalArgumentException e = org.junit.jupiter.api.Assertions.assertThrows(IllegalArgumentException.class,
                () -> with(Mode.FUSED, () -> cuda.crossEntropyWithGrad(logits, bad, -100, loss)));
        assertTrue(e.getMessage().contains("label 7 at row 5"), e.getMessage());
    }

    // ------------------------------------------------------------------ BERT embeddings

    @Test
    void fusedEmbeddingsMatchTwinAndCpu() {
        checkEmbeddings(2, 9, 384, DType.FLOAT32);
        checkEmbeddings(3, 5, 384, DType.BFLOAT16);
        checkEmbeddings(1, 7, 768, DType.FLOAT32);
    }

    /** Ids with repeats and the padding id 0; positions 1..S (not 0..S-1: the op must use its ids). */
    private Tensor[] embeddingIds(int b, int s, int vocab) {
        int[] ids = new int[b * s];
        int[] types = new int[b * s];
        for (int n = 0; n < ids.length; n++) {
            ids[n] = n % 4 == 3 ? 0 : (int) (g.nextFloat() * vocab);
            types[n] = n % s > s / 2 ? 1 : 0;
        }
        long[] pos = new long[s];
        for (int i = 0; i < s; i++) {
            pos[i] = i + 1;
        }
        return new Tensor[] {Tensor.ofInts(ids, b, s), Tensor.ofInts(types, b, s), Tensor.ofLongs(pos, s)};
    }

    private void checkEmbeddings(int b, int s, int cols, DType dt) {
        String w = "embeddingsLayerNorm [" + b + ", " + s + ", " + cols + "] " + dt;
        int vocab = 50;
        int rows = b * s;
        Tensor[] ids = embeddingIds(b, s, vocab);
        Tensor word = as(randn(vocab, cols), dt);
        Tensor type = as(randn(2, cols), dt);
        Tensor pos = as(randn(s + 2, cols), dt);
        Tensor gamma = uniform(0.5f, 1.5f, cols);
        Tensor beta = randn(cols);
        Tensor ref = cpuOut(dt, b, s, cols);
        Tensor refH = cpuOut(dt, b, s, cols);
        Tensor refMean = cpuOut(DType.FLOAT32, rows);
        Tensor refRstd = cpuOut(DType.FLOAT32, rows);
        CPU.embeddingsLayerNorm(ids[0], ids[1], ids[2], word, type, pos, gamma, beta, 1e-12f, ref, refH, refMean, refRstd);
        Tensor dy = randn(b, s, cols);
        Tensor[] refGrads = {cpuOut(DType.FLOAT32, vocab, cols), cpuOut(DType.FLOAT32, 2, cols),
            cpuOut(DType.FLOAT32, s + 2, cols), cpuOut(DType.FLOAT32, cols), cpuOut(DType.FLOAT32, cols)};
        CPU.embeddingsLayerNormBackward(dy, refH, gamma, refMean, refRstd, ids[0], ids[1], ids[2], 0, refGrads[0],
                refGrads[1], refGrads[2], refGrads[3], refGrads[4]);
        String[] gradNames = {"dword", "dtype", "dposition", "dgamma", "dbeta"};

        Tensor[] gids = {gpu(ids[0]), gpu(ids[1]), gpu(ids[2])};
        Tensor gw = gpu(word, dt);
        Tensor gt = gpu(type, dt);
        Tensor gp = gpu(pos, dt);
        Tensor gg = gpu(gamma);
        Tensor gb = gpu(beta);
        Tensor gdy = gpu(dy);
        Tensor gh = gpu(refH, dt);
        Tensor gm = gpu(refMean);
        Tensor gr = gpu(refRstd);
        List<Tensor> outs = new ArrayList<>();
        for (Mode m : new Mode[] {Mode.FUSED, Mode.CUBLAS}) {
            String which = w + (m == Mode.FUSED ? " (fused)" : " (cuBLAS-only)");
            Tensor out = poisoned(dt, b, s, cols);
            Tensor h = poisoned(dt, b, s, cols);
            Tensor mean = poisoned(DType.FLOAT32, rows);
            Tensor rstd = poisoned(DType.FLOAT32, rows);
            with(m, () -> cuda.embeddingsLayerNorm(gids[0], gids[1], gids[2], gw, gt, gp, gg, gb, 1e-12f, out, h, mean,
                    rstd));
            assertClose(which + " out", ref, out, tolFor(dt));
            assertArrayEquals(bits(refH), bits(h), which + " h (the rounded sums) differs from the CPU's" + at());
            assertClose(which + " mean", refMean, mean, F32);
            assertClose(which + " rstd", refRstd, rstd, F32);
            outs.add(out);
            Tensor[] grads = {poisoned(DType.FLOAT32, vocab, cols), poisoned(DType.FLOAT32, 2, cols),
                poisoned(DType.FLOAT32, s + 2, cols), poisoned(DType.FLOAT32, cols), poisoned(DType.FLOAT32, cols)};
            with(m, () -> cuda.embeddingsLayerNormBackward(gdy, gh, gg, gm, gr, gids[0], gids[1], gids[2], 0, grads[0],
                    grads[1], grads[2], grads[3], grads[4]));
            for (int i = 0; i < grads.length; i++) {
                assertClose(which + " " + gradNames[i], refGrads[i], grads[i], F32);
            }
            float[] dword = grads[0].toFloatArray();
            for (int c = 0; c < cols; c++) {
                assertEquals(0f, dword[c], which + ": the padding row got a gradient" + at());
            }
        }
        assertClose(w + " fused vs twin out", outs.get(1), outs.get(0), tolFor(dt));
    }

    @Test
    void fusedEmbeddingsThroughAutogradAndABadIdNamesItsTable() {
        int b = 2;
        int s = 6;
        int cols = 384;
        Tensor[] ids = embeddingIds(b, s, 30);
        List<Tensor[]> grads = new ArrayList<>();
        Tensor[] params = {randn(30, cols), randn(2, cols), randn(s + 1, cols), uniform(0.5f, 1.5f, cols), randn(cols)};
        Tensor dy = randn(b, s, cols);
        for (Mode m : new Mode[] {null, Mode.FUSED}) {
            Device dev = m == null ? Device.cpu() : GPU;
            grads.add(with(m == null ? Mode.CUBLAS : m, () -> {
                Tensor[] leaves = new Tensor[params.length];
                for (int i = 0; i < params.length; i++) {
                    leaves[i] = Tensor.of(params[i].toFloatArray(), params[i].shape()).to(dev);
                    leaves[i].requiresGrad(true);
                }
                Tensor[] r = new Tensor[params.length + 1];
                try (Scope sc = Scope.open()) {
                    Tensor out = Ops.embeddingsLayerNorm(ids[0].to(dev), ids[1].to(dev), ids[2].to(dev), leaves[0],
                            leaves[1], leaves[2], leaves[3], leaves[4], 1e-12f, 0);
                    r[0] = sc.keep(snapshot(out));
                    out.backward(dy.to(dev));
                }
                for (int i = 0; i < params.length; i++) {
                    r[i + 1] = snapshot(leaves[i].grad());
                    leaves[i].close();
                }
                return r;
            }));
        }
        String[] names = {"out", "dword", "dtype", "dposition", "dgamma", "dbeta"};
        for (int i = 0; i < names.length; i++) {
            assertClose("Ops.embeddingsLayerNorm (fused) " + names[i], grads.get(0)[i], grads.get(1)[i], F32);
        }
        // a token-type id outside the 2-row table: the fused kernel names the table, token and id
        int[] badTypes = new int[b * s];
        badTypes[7] = 5;
        Tensor bad = gpu(Tensor.ofInts(badTypes, b, s));
        IllegalArgumentException e = org.junit.jupiter.api.Assertions.assertThrows(IllegalArgumentException.class,
                () -> with(Mode.FUSED, () -> cuda.embeddingsLayerNorm(gpu(ids[0]), bad, gpu(ids[2]), gpu(params[0]),
                        gpu(params[1]), gpu(params[2]), gpu(params[3]), gpu(params[4]), 1e-12f,
                        poisoned(DType.FLOAT32, b, s, cols), poisoned(DType.FLOAT32, b, s, cols),
                        poisoned(DType.FLOAT32, b * s), poisoned(DType.FLOAT32, b * s))));
        assertTrue(e.getMessage().contains("type id 5 of token 7"), e.getMessage());
    }

    // ------------------------------------------------------------------ linear with bias (cuBLASLt epilogues)

    @Test
    void fusedLinearBiasMatchesTwinAndCpu() {
        for (DType dt : new DType[] {DType.FLOAT32, DType.BFLOAT16}) {
            checkLinearBias(29, 47, 67, dt);
        }
    }

    private void checkLinearBias(int rows, int in, int outF, DType dt) {
        String w = "linear [" + rows + ", " + in + "]·[" + outF + ", " + in + "]ᵀ + bias " + dt;
        double tol = dt == DType.FLOAT32 ? gemmTol() : HALF;
        Tensor x = as(randn(rows, in), dt);
        Tensor wt = as(randn(outF, in).mul(0.3f), dt);
        Tensor b = as(randn(outF), dt);
        Tensor dy = as(randn(rows, outF), dt);     // autocast rounds the incoming gradient to x's type
        Tensor ref = cpuOut(dt, rows, outF);
        CPU.linear(x, wt, b, ref);
        Tensor rdx = cpuOut(DType.FLOAT32, rows, in);
        Tensor rdw = cpuOut(DType.FLOAT32, outF, in);
        Tensor rdb = cpuOut(DType.FLOAT32, outF);
        CPU.linearBackward(dy, x, wt, rdx, rdw, rdb);
        Tensor gx = gpu(x, dt);
        Tensor gw = gpu(wt, dt);
        Tensor gb = gpu(b, dt);
        Tensor gdy = gpu(dy, dt);
        for (Mode m : new Mode[] {Mode.FUSED, Mode.CUBLAS}) {
            String which = w + (m == Mode.FUSED ? " (fused)" : " (cuBLAS-only)");
            KernelPaths.resetLog();
            Tensor out = poisoned(dt, rows, outF);
            Tensor dx = poisoned(DType.FLOAT32, rows, in);
            Tensor dw = poisoned(DType.FLOAT32, outF, in);
            Tensor db = poisoned(DType.FLOAT32, outF);
            with(m, () -> {
                cuda.linear(gx, gw, gb, out);
                cuda.linearBackward(gdy, gx, gw, dx, dw, db);
            });
            assertClose(which + " out", ref, out, tol);
            assertClose(which + " dx", rdx, dx, tol);
            assertClose(which + " dw", rdw, dw, tol);
            assertClose(which + " dbias", rdb, db, F32);
            if (m == Mode.FUSED) {
                assertTrue(KernelPaths.logged("linear -> fused: -Dsolder.kernels=fused")
                        && KernelPaths.logged("linearBackward -> fused: -Dsolder.kernels=fused"),
                        which + ": the epilogue path was not taken" + at());
            }
        }
        // a float32 gradient against bf16 activations is not the epilogue's case: it falls back, and is right
        if (dt == DType.BFLOAT16) {
            Tensor dx = poisoned(DType.FLOAT32, rows, in);
            Tensor dw = poisoned(DType.FLOAT32, outF, in);
            Tensor db = poisoned(DType.FLOAT32, outF);
            Tensor dy32 = gpu(dy, DType.FLOAT32);
            with(Mode.FUSED, () -> cuda.linearBackward(dy32, gx, gw, dx, dw, db));
            assertClose(w + " float32 dy (fallback) dw", rdw, dw, tol);
            assertClose(w + " float32 dy (fallback) dbias", rdb, db, F32);
        }
    }

    // ------------------------------------------------------------------ linear + GELU

    @Test
    void fusedLinearGeluMatchesTwinAndCpu() {
        for (DType dt : new DType[] {DType.FLOAT32, DType.BFLOAT16}) {
            checkLinearGelu(29, 47, 67, dt);
        }
    }

    private void checkLinearGelu(int rows, int in, int outF, DType dt) {
        String w = "linearGelu [" + rows + ", " + in + "]·[" + outF + ", " + in + "]ᵀ " + dt;
        double tol = dt == DType.FLOAT32 ? gemmTol() : HALF;
        Tensor x = as(randn(rows, in), dt);
        Tensor wt = as(randn(outF, in).mul(0.3f), dt);
        Tensor b = as(randn(outF), dt);
        Tensor refPre = cpuOut(dt, rows, outF);
        Tensor ref = cpuOut(dt, rows, outF);
        CPU.linearGelu(x, wt, b, refPre, ref);
        Tensor dy = randn(rows, outF);
        Tensor rdpre = cpuOut(DType.FLOAT32, rows, outF);
        Tensor rdx = cpuOut(DType.FLOAT32, rows, in);
        Tensor rdw = cpuOut(DType.FLOAT32, outF, in);
        Tensor rdb = cpuOut(DType.FLOAT32, outF);
        CPU.linearGeluBackward(dy, x, wt, refPre, rdpre, rdx, rdw, rdb);

        Tensor gx = gpu(x, dt);
        Tensor gw = gpu(wt, dt);
        Tensor gb = gpu(b, dt);
        Tensor gdy = gpu(dy);
        List<Tensor[]> results = new ArrayList<>();
        for (Mode m : new Mode[] {Mode.FUSED, Mode.CUBLAS}) {
            String which = w + (m == Mode.FUSED ? " (fused)" : " (cuBLAS-only)");
            Tensor pre = poisoned(dt, rows, outF);
            Tensor out = poisoned(dt, rows, outF);
            with(m, () -> cuda.linearGelu(gx, gw, gb, pre, out));
            assertClose(which + " pre", refPre, pre, tol);
            assertClose(which + " out", ref, out, tol);
            Tensor dpre = poisoned(DType.FLOAT32, rows, outF);
            Tensor dx = poisoned(DType.FLOAT32, rows, in);
            Tensor dw = poisoned(DType.FLOAT32, outF, in);
            Tensor db = poisoned(DType.FLOAT32, outF);
            // backward from the CPU's pre-activation, so both paths see the same input
            Tensor gpre = gpu(refPre, dt);
            with(m, () -> cuda.linearGeluBackward(gdy, gx, gw, gpre, dpre, dx, dw, db));
            assertClose(which + " dpre", rdpre, dpre, F32);
            assertClose(which + " dx", rdx, dx, tol);
            assertClose(which + " dw", rdw, dw, tol);
            assertClose(which + " dbias", rdb, db, F32);
            results.add(new Tensor[] {pre, out, dpre, db});
        }
        // the fused epilogue stores what add + gelu store: the same bits from the same GEMM
        assertArrayEquals(bits(results.get(1)[0]), bits(results.get(0)[0]), w + " pre fused vs twin" + at());
        assertClose(w + " out fused vs twin", results.get(1)[1], results.get(0)[1], F32);
        assertClose(w + " dpre fused vs twin", results.get(1)[2], results.get(0)[2], F32);
        assertClose(w + " dbias fused vs twin", results.get(1)[3], results.get(0)[3], F32);
    }

    // ------------------------------------------------------------------ flash attention

    /**
     * Sequence lengths of the flash attention checks: 1, a tail tile (17), exact tiles (64, 128), a
     * tail after several tiles (200) and the longest supported (512). {@link FusedKernelsFakeTest}
     * runs fewer (its Java model of the kernels is slow); the GPU runs all.
     */
    int[] flashSeqLens() {
        return new int[] {1, 17, 64, 128, 200, 512};
    }

    static final DType[] HALF_TYPES = {DType.BFLOAT16, DType.FLOAT16};

    /**
     * The flash kernels (forced with {@code -Dsolder.kernels=fused}) against the CPU backend and
     * the cuBLAS-only path, forward and backward, for every head dim, the sequence lengths above,
     * bf16 and fp16, with dropout off and on (alternating, so every dtype sees both) and key masks
     * (none; int32 or float with a padded entry and a FULLY masked entry, which must give the
     * CPU's uniform distribution, never NaN).
     *
     * <p>Tolerance: {@link #HALF} = 1e-2 normwise relative (DESIGN §5 for bf16/fp16). The CPU
     * computes in float32 from the same bf16/fp16 inputs; the kernels round P (after dropout) and
     * dS to the operands' dtype before the P·V, dS·K and dSᵀ·Q products, and dO (float32 in the
     * test) to it as well: each a relative error of at most 2⁻⁹ (bf16) per element, which the
     * float32 accumulation averages, so the normwise error is expected at a few 1e-3, under 1e-2.
     * float32 operands (the SIMT kernels) are held to {@link #F32} against
     * the CPU (against the cuBLAS-only twin, to its GEMM tolerance: TF32 where enabled).
     * The log-sum-exp is checked against a float64 evaluation at 1e-4 relative (it sees no
     * rounding of P: only the float32 accumulation of q·k).
     */
    @Test
    void flashAttentionMatchesCpuAndTwin() {
        int n = 0;
        for (int d : CudaFlashAttention.HEAD_DIMS) {
            int si = 0;
            for (int s : flashSeqLens()) {
                for (int ti = 0; ti < HALF_TYPES.length; ti++) {
                    float p = (si + ti) % 2 == 1 ? 0.1f : 0f;
                    String mask = switch (n++ % 3) {
                        case 0 -> "int32";
                        case 1 -> "float";
                        default -> "none";
                    };
                    checkFlash(3, s, 2, d, HALF_TYPES[ti], mask, p);
                }
                si++;
            }
        }
        // the float32 (SIMT) kernels
        for (int d : CudaFlashAttention.HEAD_DIMS) {
            int si = 0;
            for (int s : flashSeqLens()) {
                checkFlash(3, s, 2, d, DType.FLOAT32, si % 2 == 0 ? "int32" : "float", si % 2 == 1 ? 0.1f : 0f);
                si++;
            }
        }
    }

    /** A heavier dropout (p = 0.3) with the BERT-base head shape and a padded mask. */
    @Test
    void flashAttentionWithHeavyDropout() {
        checkFlash(2, 77, 3, 64, DType.BFLOAT16, "int32", 0.3f);
        checkFlash(2, 77, 3, 64, DType.FLOAT16, "float", 0.3f);
        checkFlash(2, 77, 3, 64, DType.FLOAT32, "int32", 0.3f);
    }

    private Tensor flashMask(int b, int s, String kind) {
        if (kind.equals("none")) {
            return null;
        }
        int[] m = new int[b * s];
        for (int bi = 0; bi < b; bi++) {
            // entry 0 attends everywhere, entry 1 has padding at the end, entry 2 (if any) is fully masked
            int keep = bi == 0 ? s : bi == 1 ? Math.max(1, s - s / 3 - 1) : 0;
            for (int j = 0; j < s; j++) {
                m[bi * s + j] = j < keep ? 1 : 0;
            }
        }
        Tensor t = Tensor.ofInts(m, b, s);
        return kind.equals("float") ? t.to(DType.FLOAT32) : t;
    }

    /** lse as the kernels define it, in float64 from the (rounded) inputs; masked rows as the kernels. */
    private static Tensor referenceLse(Tensor q, Tensor k, Tensor mask, int heads, float scale) {
        int b = q.dim(0);
        int s = q.dim(1);
        int hd = q.dim(2);
        int d = hd / heads;
        float[] qa = q.toFloatArray();
        float[] ka = k.toFloatArray();
        float[] ma = mask == null ? null : mask.toFloatArray();
        float[] lse = new float[b * heads * s];
        for (int bi = 0; bi < b; bi++) {
            boolean any = false;
            for (int j = 0; j < s; j++) {
                any |= ma == null || ma[bi * s + j] != 0f;
            }
            for (int h = 0; h < heads; h++) {
                for (int i = 0; i < s; i++) {
                    double[] sc = new double[s];
                    double m = Double.NEGATIVE_INFINITY;
                    for (int j = 0; j < s; j++) {
                        boolean ok = ma == null || ma[bi * s + j] != 0f;
                        double acc = 0;
                        for (int e = 0; e < d; e++) {
                            acc += (double) qa[(bi * s + i) * hd + h * d + e] * ka[(bi * s + j) * hd + h * d + e];
                        }
                        sc[j] = ok ? acc * scale : any ? Double.NEGATIVE_INFINITY : 0.0;
                        m = Math.max(m, sc[j]);
                    }
                    double sum = 0;
                    for (int j = 0; j < s; j++) {
                        sum += Math.exp(sc[j] - m);
                    }
                    lse[(bi * heads + h) * s + i] = (float) (m + Math.log(sum));
                }
            }
        }
        return Tensor.of(lse, b, heads, s);
    }

    /** All elements zero (a reference that is exactly 0, e.g. dq and dk at S = 1). */
    private static boolean allZero(Tensor t) {
        for (float x : t.toFloatArray()) {
            if (x != 0f) {
                return false;
            }
        }
        return true;
    }

    /**
     * {@link #assertClose}, or, where the reference is exactly zero (softmax over one key: dS = 0),
     * every element written and at most {@code zeroBound} in magnitude.
     */
    private void assertGrad(String what, Tensor ref, Tensor got, double tol, double zeroBound) {
        if (!allZero(ref)) {
            assertClose(what, ref, got, tol);
            return;
        }
        float[] o = got.toFloatArray();
        for (int i = 0; i < o.length; i++) {
            assertTrue(Math.abs(o[i]) <= zeroBound, what + ": element " + i + " is " + o[i]
                    + " where the reference is exactly 0 (bound " + zeroBound + ")" + at());
        }
    }

    private void checkFlash(int b, int s, int heads, int d, DType dt, String maskKind, float dropoutP) {
        int hd = heads * d;
        float scale = (float) (1.0 / Math.sqrt(d));
        long dropSeed = g.nextLong();
        String w = "flash attention B" + b + " S" + s + " H" + heads + " D" + d + " " + dt + " mask " + maskKind
                + " p " + dropoutP + " (drop seed " + dropSeed + ")";
        Tensor q = as(randn(b, s, hd), dt);
        Tensor k = as(randn(b, s, hd), dt);
        Tensor v = as(randn(b, s, hd), dt);
        Tensor mask = flashMask(b, s, maskKind);
        Tensor ref = cpuOut(dt, b, s, hd);
        Tensor refSaved = CPU.attention(q, k, v, mask, heads, scale, dropoutP, dropSeed, ref);
        Tensor dout = randn(b, s, hd);
        Tensor dq = cpuOut(DType.FLOAT32, b, s, hd);
        Tensor dk = cpuOut(DType.FLOAT32, b, s, hd);
        Tensor dv = cpuOut(DType.FLOAT32, b, s, hd);
        CPU.attentionBackward(q, k, v, mask, heads, scale, dropoutP, dropSeed, ref, dout, refSaved, dq, dk, dv);
        // float32 operands: the cuBLAS-only path's products may run in TF32 (gemmTol), the float32
        // flash kernels are float32 throughout (their own error is ~1e-6 on the host model)
        double tol = dt == DType.FLOAT32 ? gemmTol() : HALF;
        // where the CPU's dq/dk are exactly 0 (S = 1), the kernels' are rounding noise of dS = P·(dP − δ)
        double zeroBound = FlashZeroBound.of(dt, d, scale, dropoutP,
                maxAbs(dout) * maxAbs(v) * Math.max(maxAbs(k), maxAbs(q)));

        Tensor gq = gpu(q, dt);
        Tensor gk = gpu(k, dt);
        Tensor gv = gpu(v, dt);
        Tensor gmask = mask == null ? null : mask.to(GPU);
        Tensor gdout = gpu(dout);
        List<Tensor[]> results = new ArrayList<>();
        for (Mode m : new Mode[] {Mode.FUSED, Mode.CUBLAS}) {
            String which = w + (m == Mode.FUSED ? " (fused)" : " (cuBLAS-only)");
            Tensor out = poisoned(dt, b, s, hd);
            Tensor saved = with(m, () -> cuda.attention(gq, gk, gv, gmask, heads, scale, dropoutP, dropSeed, out));
            if (m == Mode.FUSED) {
                assertArrayEquals(new int[] {b, heads, s}, saved.shape(), which + ": saved must be the lse [B, H, S]"
                        + " (did the fused kernel run?)" + at());
                assertClose(which + " lse", referenceLse(q, k, mask, heads, scale), saved, 1e-4);
            } else {
                assertArrayEquals(new int[] {b, heads, s, s}, saved.shape(), which + ": saved" + at());
            }
            assertClose(which + " out", ref, out, m == Mode.FUSED && dt == DType.FLOAT32 ? F32 : tol);
            Tensor gdq = poisoned(DType.FLOAT32, b, s, hd);
            Tensor gdk = poisoned(DType.FLOAT32, b, s, hd);
            Tensor gdv = poisoned(DType.FLOAT32, b, s, hd);
            with(m, () -> cuda.attentionBackward(gq, gk, gv, gmask, heads, scale, dropoutP, dropSeed, out, gdout, saved,
                    gdq, gdk, gdv));
            double gradTol = m == Mode.FUSED && dt == DType.FLOAT32 ? F32 : tol;
            assertGrad(which + " dq", dq, gdq, gradTol, zeroBound);
            assertGrad(which + " dk", dk, gdk, gradTol, zeroBound);
            assertGrad(which + " dv", dv, gdv, gradTol, zeroBound);
            if (dt != DType.FLOAT32) {
                // Gradients asked for in the operands' type (what Ops.attention does under autocast)
                // are the float32 ones rounded once, bit for bit.
                Tensor[] low = {poisoned(dt, b, s, hd), poisoned(dt, b, s, hd), poisoned(dt, b, s, hd)};
                with(m, () -> cuda.attentionBackward(gq, gk, gv, gmask, heads, scale, dropoutP, dropSeed, out, gdout,
                        saved, low[0], low[1], low[2]));
                Tensor[] f32 = {gdq, gdk, gdv};
                for (int i = 0; i < 3; i++) {
                    assertArrayEquals(f32[i].to(dt).toFloatArray(), low[i].toFloatArray(), 0f,
                            which + " d" + "qkv".charAt(i) + " in " + dt + " is not the float32 gradient rounded" + at());
                }
            }
            results.add(new Tensor[] {out, gdq, gdk, gdv});
        }
        String[] names = {"out", "dq", "dk", "dv"};
        for (int i = 0; i < names.length; i++) {
            Tensor twin = results.get(1)[i];
            if (!allZero(twin)) {
                assertClose(w + " " + names[i] + " fused vs cuBLAS-only", twin, results.get(0)[i], tol);
            }
        }
    }

    /**
     * The backward takes the path its forward took (from the saved tensor's shape), whatever the
     * mode says at backward time; and the fused backward is deterministic (no atomics).
     */
    @Test
    void flashAttentionBackwardFollowsItsForward() {
        int b = 2;
        int s = 40;
        int heads = 2;
        int d = 64;
        int hd = heads * d;
        float scale = 0.125f;
        float p = 0.1f;
        long dropSeed = g.nextLong();
        Tensor gq = gpu(as(randn(b, s, hd), DType.BFLOAT16), DType.BFLOAT16);
        Tensor gk = gpu(as(randn(b, s, hd), DType.BFLOAT16), DType.BFLOAT16);
        Tensor gv = gpu(as(randn(b, s, hd), DType.BFLOAT16), DType.BFLOAT16);
        Tensor gmask = flashMask(b, s, "int32").to(GPU);
        Tensor gdout = gpu(randn(b, s, hd));
        for (Mode fwd : new Mode[] {Mode.FUSED, Mode.CUBLAS}) {
            Tensor out = poisoned(DType.BFLOAT16, b, s, hd);
            Tensor saved = with(fwd, () -> cuda.attention(gq, gk, gv, gmask, heads, scale, p, dropSeed, out));
            assertEquals(fwd == Mode.FUSED ? 3 : 4, saved.rank(), "saved after a " + fwd + " forward" + at());
            List<Tensor[]> grads = new ArrayList<>();
            for (Mode bwd : new Mode[] {Mode.FUSED, Mode.CUBLAS, fwd}) {
                Tensor[] gr = {poisoned(DType.FLOAT32, b, s, hd), poisoned(DType.FLOAT32, b, s, hd),
                        poisoned(DType.FLOAT32, b, s, hd)};
                with(bwd, () -> cuda.attentionBackward(gq, gk, gv, gmask, heads, scale, p, dropSeed, out, gdout, saved,
                        gr[0], gr[1], gr[2]));
                grads.add(gr);
            }
            for (int i = 1; i < grads.size(); i++) {
                for (int x = 0; x < 3; x++) {
                    assertArrayEquals(bits(grads.get(0)[x]), bits(grads.get(i)[x]), "forward " + fwd
                            + ": backward " + i + " gradient " + x + " differs (same path, same bits expected)" + at());
                }
            }
        }
    }

    /** Cases the flash kernels do not take fall back to the cuBLAS-only path under fused, and are right. */
    @Test
    void flashAttentionUnsupportedCasesFallBack() {
        record Case(DType dt, DType outType, int s, int d) {
        }
        for (Case c : new Case[] {new Case(DType.FLOAT32, DType.FLOAT32, 20, 48), new Case(DType.BFLOAT16,
                DType.BFLOAT16, 20, 48), new Case(DType.BFLOAT16, DType.FLOAT32, 20, 32), new Case(DType.FLOAT16,
                DType.FLOAT16, 513, 32)}) {
            int heads = 1;
            float scale = (float) (1.0 / Math.sqrt(c.d()));
            Tensor q = as(randn(1, c.s(), c.d()), c.dt());
            Tensor k = as(randn(1, c.s(), c.d()), c.dt());
            Tensor v = as(randn(1, c.s(), c.d()), c.dt());
            Tensor ref = cpuOut(c.outType(), 1, c.s(), c.d());
            CPU.attention(q, k, v, null, heads, scale, 0f, 1L, ref);
            Tensor out = poisoned(c.outType(), 1, c.s(), c.d());
            Tensor saved = with(Mode.FUSED, () -> cuda.attention(gpu(q, c.dt()), gpu(k, c.dt()), gpu(v, c.dt()), null,
                    heads, scale, 0f, 1L, out));
            assertEquals(4, saved.rank(), c + ": expected the cuBLAS-only path's probabilities" + at());
            assertClose("attention " + c + " under fused (fallback)", ref, out,
                    c.dt() == DType.FLOAT32 ? gemmTol() : HALF);
        }
    }

    // ------------------------------------------------------------------ a BERT layer, both paths

    static final int B = 2;
    static final int S = 13;
    static final int HID = 384;
    static final int HEADS = 6;
    static final int FFN = 1536;

    /** The layer's parameters (CPU float32 values) and input. */
    private record LayerData(List<Tensor> params, Tensor x, Tensor mask, Tensor dOut) {
    }

    private LayerData layerData() {
        Generator gen = new Generator(seed ^ 0x5eed);
        List<Tensor> p = new ArrayList<>();
        for (int i = 0; i < 4; i++) { // q, k, v, o
            p.add(Tensor.randn(gen, HID, HID).mul(0.05f));
            p.add(Tensor.randn(gen, HID).mul(0.1f));
        }
        p.add(uniformWith(gen, HID)); // ln1
        p.add(Tensor.randn(gen, HID).mul(0.1f));
        p.add(Tensor.randn(gen, FFN, HID).mul(0.05f)); // up
        p.add(Tensor.randn(gen, FFN).mul(0.1f));
        p.add(Tensor.randn(gen, HID, FFN).mul(0.03f)); // down
        p.add(Tensor.randn(gen, HID).mul(0.1f));
        p.add(uniformWith(gen, HID)); // ln2
        p.add(Tensor.randn(gen, HID).mul(0.1f));
        int[] mask = new int[B * S];
        for (int b = 0; b < B; b++) {
            for (int s = 0; s < S; s++) {
                mask[b * S + s] = s < S - 3 * b ? 1 : 0;
            }
        }
        return new LayerData(p, Tensor.randn(gen, B, S, HID), Tensor.ofInts(mask, B, S), Tensor.randn(gen, B, S, HID));
    }

    private static Tensor uniformWith(Generator gen, int n) {
        float[] v = new float[n];
        for (int i = 0; i < n; i++) {
            v[i] = 0.5f + gen.nextFloat();
        }
        return Tensor.of(v, n);
    }

    /** Forward + backward of one post-LN BERT layer on {@code device}; returns out and every gradient (CPU). */
    private List<Tensor> runLayer(LayerData data, Device device) {
        return runLayer(data, device, false);
    }

    /**
     * {@code solder_add} launches so far, where the device model counts them (the fake
     * device); -1 on a real GPU.
     */
    int addLaunches() {
        return -1;
    }

    /** {@link #addLaunches()} during the latest {@link #runLayer}'s backward (-1: not counted). */
    int layerBackwardAdds = -1;

    /**
     * The layer's output, then the gradients of its input and of every parameter. With
     * {@code asModel} it runs as {@code BertLayer} does: its input comes from an op (the layer
     * below's LayerNorm in a model; a scale by 1 here), and dropout + residual + LayerNorm are one
     * {@code Ops.dropoutLayerNorm} — so the residual's gradient arrives first and the query, key,
     * value and up-projections add theirs into it (the engine's in-place sums) instead of the
     * engine adding four times.
     */
    private List<Tensor> runLayer(LayerData data, Device device, boolean asModel) {
        List<Tensor> leaves = new ArrayList<>();
        for (Tensor t : data.params()) {
            Tensor l = Tensor.of(t.toFloatArray(), t.shape()).to(device);
            l.requiresGrad(true);
            leaves.add(l);
        }
        Tensor x = Tensor.of(data.x().toFloatArray(), data.x().shape()).to(device);
        x.requiresGrad(true);
        Tensor mask = data.mask().to(device);
        List<Tensor> results = new ArrayList<>();
        try (Scope s = Scope.open()) {
            Tensor in = asModel ? Ops.scale(x, 1f) : x;
            Tensor q = Ops.linear(in, leaves.get(0), leaves.get(1));
            Tensor k = Ops.linear(in, leaves.get(2), leaves.get(3));
            Tensor v = Ops.linear(in, leaves.get(4), leaves.get(5));
            Tensor a = Ops.attention(q, k, v, mask, HEADS, 0.1f, seed + 1);
            Tensor ao = Ops.linear(a, leaves.get(6), leaves.get(7));
            Tensor h1 = asModel
                    ? Ops.dropoutLayerNorm(ao, 0.1f, seed + 2, in, leaves.get(8), leaves.get(9), 1e-12f)
                    : Ops.layerNorm(Ops.dropout(ao, 0.1f, seed + 2), in, leaves.get(8), leaves.get(9), 1e-12f);
            Tensor f = Ops.linear(Ops.linearGelu(h1, leaves.get(10), leaves.get(11)), leaves.get(12), leaves.get(13));
            Tensor out = asModel
                    ? Ops.dropoutLayerNorm(f, 0.1f, seed + 3, h1, leaves.get(14), leaves.get(15), 1e-12f)
                    : Ops.layerNorm(Ops.dropout(f, 0.1f, seed + 3), h1, leaves.get(14), leaves.get(15), 1e-12f);
            results.add(s.keep(snapshot(out)));
            Tensor dOut = data.dOut().to(device);
            int adds = device.kind() == Device.Kind.CUDA ? addLaunches() : -1;
            out.backward(dOut);
            layerBackwardAdds = adds < 0 ? -1 : addLaunches() - adds;
        }
        results.add(snapshot(x.grad()));
        for (Tensor l : leaves) {
            assertNotNull(l.grad(), "every parameter gets a gradient");
            results.add(snapshot(l.grad()));
        }
        for (Tensor l : leaves) {
            l.close();
        }
        x.close();
        if (mask != data.mask()) {
            mask.close();
        }
        return results;
    }

    private static double maxAbs(Tensor t) {
        double m = 0;
        for (float v : t.toFloatArray()) {
            m = Math.max(m, Math.abs(v));
        }
        return m;
    }

    /** A CPU float32 copy that outlives the tensor (and its owner). */
    private static Tensor snapshot(Tensor t) {
        return Tensor.of(t.toFloatArray(), t.shape());
    }

    /**
     * The layer as {@code BertLayer} runs it, on both paths, with the engine's in-place gradient
     * sums (the query, key, value and up-projection GEMMs accumulating with beta 1) and without:
     * every gradient against the CPU and the two against each other; on the device model, no
     * {@code solder_add} in the backward with them and the four sums without.
     */
    @Test
    void bertLayerAsTheModelRunsItSumsGradientsInPlace() {
        LayerData data = layerData();
        List<Tensor> cpu = runLayer(data, Device.cpu(), true);
        double tol = CudaGemm.tf32 ? 5e-4 : 1e-4;
        for (Mode mode : new Mode[] {Mode.FUSED, Mode.CUBLAS}) {
            List<Tensor> inPlace = with(mode, () -> runLayer(data, GPU, true));
            int addsInPlace = layerBackwardAdds;
            List<Tensor> separate;
            System.setProperty(dev.solder.Autograd.SUMS_IN_PLACE, "false");
            try {
                separate = with(mode, () -> runLayer(data, GPU, true));
            } finally {
                System.clearProperty(dev.solder.Autograd.SUMS_IN_PLACE);
            }
            int addsSeparate = layerBackwardAdds;
            assertEquals(cpu.size(), inPlace.size());
            for (int i = 0; i < cpu.size(); i++) {
                if (i == 5) {
                    continue;   // dbk: ~0 up to rounding (bertLayerForwardAndBackwardOnBothPaths)
                }
                assertClose(mode + " BERT layer result " + i + " with in-place sums vs CPU", cpu.get(i),
                        inPlace.get(i), tol);
                assertClose(mode + " BERT layer result " + i + " with in-place sums vs separate adds",
                        separate.get(i), inPlace.get(i), F32);
            }
            if (addsInPlace >= 0) {
                assertEquals(0, addsInPlace, mode + ": solder_add launches in the backward with in-place sums" + at());
                assertEquals(4, addsSeparate, mode + ": solder_add launches in the backward without" + at());
            }
        }
    }

    @Test
    void bertLayerForwardAndBackwardOnBothPaths() {
        LayerData data = layerData();
        List<Tensor> cpu = runLayer(data, Device.cpu());
        List<Tensor> fused = with(Mode.FUSED, () -> runLayer(data, GPU));
        List<Tensor> twin = with(Mode.CUBLAS, () -> runLayer(data, GPU));
        assertEquals(cpu.size(), fused.size());
        String[] names = {"out", "dx", "dWq", "dbq", "dWk", "dbk", "dWv", "dbv", "dWo", "dbo", "dln1.gamma",
                "dln1.beta", "dWup", "dbup", "dWdown", "dbdown", "dln2.gamma", "dln2.beta"};
        double tol = CudaGemm.tf32 ? 5e-4 : 1e-4; // float32 through ~6 GEMMs and 2 LayerNorms
        for (int i = 0; i < cpu.size(); i++) {
            if (names[i].equals("dbk")) {
                // the key bias shifts every score of a row by the same q·bk: softmax ignores it, so
                // dbk is 0 up to rounding and only an absolute bound (against dbq's scale) means anything
                double scale = maxAbs(cpu.get(i - 2));
                for (List<Tensor> r : List.of(cpu, fused, twin)) {
                    assertTrue(maxAbs(r.get(i)) <= 1e-3 * scale + 1e-7, "BERT layer dbk " + maxAbs(r.get(i))
                            + " is not ~0 (dbq scale " + scale + ")" + at());
                }
                continue;
            }
            assertClose("BERT layer " + names[i] + " fused vs CPU", cpu.get(i), fused.get(i), tol);
            assertClose("BERT layer " + names[i] + " cuBLAS-only vs CPU", cpu.get(i), twin.get(i), tol);
            assertClose("BERT layer " + names[i] + " fused vs cuBLAS-only", twin.get(i), fused.get(i), tol);
        }
    }
}
