package dev.solder;

import dev.solder.spi.Backend;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.util.Arrays;

/**
 * The op catalogue: validated, differentiable entry points that dispatch to the backend
 * of their inputs' device. Shape, dtype and device mistakes fail here with the op's name
 * and the shapes involved, before any kernel runs.
 *
 * <pre>{@code
 * try (var s = Scope.open()) {
 *     var g = new Generator(1);
 *     Tensor x = Tensor.randn(g, 8, 16);
 *     Tensor w = Tensor.randn(g, 4, 16).mul(0.1f).requiresGrad(true);
 *     Tensor labels = Tensor.ofInts(new int[] {0, 1, 2, 3, 0, 1, 2, 3});
 *     Tensor loss = Ops.crossEntropy(Ops.linear(x, w, null), labels);
 *     loss.backward();
 * }
 * }</pre>
 *
 * <p>Floating outputs keep the dtype of the first floating input; losses are float32;
 * gradients are float32.
 */
public final class Ops {
    /** The label value cross-entropy skips, as PyTorch's default {@code ignore_index}. */
    public static final int IGNORE_INDEX = -100;

    private Ops() {
    }

    // ====================================================================== views

    /** A view with a new shape (one entry may be -1); copies first if not contiguous. */
    public static Tensor reshape(Tensor t, int... newShape) {
        t.checkOpen("reshape");
        int[] s = inferShape(t, newShape);
        if (Arrays.equals(s, t.shape()) ) {
            return t;
        }
        Tensor base = t.isContiguous() ? t : contiguous(t);
        Tensor out = base.view(s, Tensor.contiguousStrides(s), base.offset());
        int[] inShape = t.shape();
        return Autograd.record("reshape", out, g -> new Tensor[] {reshape(g, inShape)}, base);
    }

    /** Swaps the last two dimensions; a view. */
    public static Tensor transpose(Tensor t) {
        t.checkOpen("transpose");
        int r = t.rank();
        if (r < 2) {
            throw new IllegalArgumentException("transpose: " + t.describe() + " has fewer than 2 dims");
        }
        int[] s = t.shape();
        long[] st = t.strides();
        swap(s, r - 2, r - 1);
        long tmp = st[r - 2];
        st[r - 2] = st[r - 1];
        st[r - 1] = tmp;
        Tensor out = t.view(s, st, t.offset());
        return Autograd.record("transpose", out, g -> new Tensor[] {transpose(g)}, t);
    }

    /** Elements {@code [start, start+length)} along {@code dim}; a view. */
    public static Tensor narrow(Tensor t, int dim, int start, int length) {
        t.checkOpen("narrow");
        int d = t.normDim(dim, "narrow");
        int[] s = t.shape();
        if (start < 0 || length < 0 || (long) start + length > s[d]) {
            throw new IllegalArgumentException("narrow: [" + start + ", " + (start + length) + ") out of range 0.."
                    + s[d] + " on dim " + dim + " of " + t.describe());
        }
        long[] st = t.strides();
        s[d] = length;
        Tensor out = t.view(s, st, t.offset() + start * st[d]);
        int[] inShape = t.shape();
        return Autograd.record("narrow", out, g -> {
            Tensor full = Tensor.zeros(DType.FLOAT32, g.device(), inShape);
            Tensor region = full.view(g.shape(), full.strides(), start * full.strides()[d]);
            full.backend().copy(g, region);
            region.close();
            return new Tensor[] {full};
        }, t);
    }

    /** A contiguous copy (differentiable). */
    public static Tensor contiguous(Tensor t) {
        t.checkOpen("contiguous");
        Tensor out = Tensor.empty(t.shape(), t.dtype(), t.device());
        t.backend().copy(t, out);
        return Autograd.record("contiguous", out, g -> new Tensor[] {g}, t);
    }

    /** Converts the element type; floating casts are differentiable. */
    public static Tensor cast(Tensor t, DType dt) {
        t.checkOpen("cast");
        if (t.dtype() == dt) {
            return t;
        }
        Tensor out = Tensor.empty(t.shape(), dt, t.device());
        t.backend().copy(t, out);
        if (dt.isFloating() && t.dtype().isFloating()) {
            return recordCast(out, t);
        }
        return out;
    }

    /**
     * Records {@code out}, holding {@code t} converted to another floating type, as the cast of
     * {@code t}. Its backward hands the gradient on as it comes, widened to float32 when it
     * comes in a low-precision type and {@code t} is float32 (an op that returns its inputs'
     * gradients in their own bf16/fp16 type, as PyTorch's do, behind autocast's cast of a float32
     * tensor); a float32 gradient reaching a low-precision tensor stays float32.
     */
    static Tensor recordCast(Tensor out, Tensor t) {
        return Autograd.record("cast", out,
                g -> new Tensor[] {t.dtype() == DType.FLOAT32 && Autocast.isLow(g.dtype()) ? cast(g, DType.FLOAT32) : g},
                t);
    }

    /**
     * The type of the gradient an op returns for {@code input}: its own type when that is
     * bfloat16 or float16 — what PyTorch returns, and what a product consuming it would round
     * the gradient to anyway, so the rounding happens once, where the gradient is written,
     * instead of in an extra conversion pass — else float32.
     */
    private static DType gradientType(Tensor input) {
        return Autocast.isLow(input.dtype()) ? input.dtype() : DType.FLOAT32;
    }

    /** Copies to another device (through host memory when backends differ). */
    public static Tensor toDevice(Tensor t, Device dev) {
        t.checkOpen("to(" + dev + ")");
        if (t.device().equals(dev)) {
            return t;
        }
        Tensor src = t.contiguousNoGrad();
        Tensor out = Tensor.empty(t.shape(), t.dtype(), dev);
        long bytes = t.numel() * t.dtype().byteSize();
        if (src.device().isCpu()) {
            out.backend().copyFromHost(cpuSegment(src), 0, out);
        } else if (dev.isCpu()) {
            src.backend().copyToHost(src, cpuSegment(out), 0);
        } else {
            try (Arena arena = Arena.ofConfined()) {
                MemorySegment host = arena.allocate(Math.max(1, bytes), 64);
                src.backend().copyToHost(src, host, 0);
                out.backend().copyFromHost(host, 0, out);
            }
        }
        if (src != t) {
            src.close();
        }
        Device from = t.device();
        return Autograd.record("to", out, g -> new Tensor[] {toDevice(g, from)}, t);
    }

    private static MemorySegment cpuSegment(Tensor t) {
        return ((dev.solder.backend.cpu.CpuStorage) t.storage()).segment()
                .asSlice(t.offset() * t.dtype().byteSize(), t.numel() * t.dtype().byteSize());
    }

    // ====================================================================== products

    /**
     * Matrix product with batching: {@code a [..., M, K] · b [..., K, N]}; a 2-D operand is
     * shared across the other's batch. Transposed views are used without copying.
     */
    public static Tensor matmul(Tensor a, Tensor b) {
        DType low = Autocast.current();
        if (low != null) {
            check("matmul", a, b);
            return matmul(Autocast.lower(a, low), Autocast.lower(b, low), true);
        }
        return matmul(a, b, false);
    }

    private static Tensor matmul(Tensor a, Tensor b, boolean roundGrad) {
        check("matmul", a, b);
        floating("matmul", a, b);
        if (a.rank() < 2 || b.rank() < 2) {
            throw new IllegalArgumentException("matmul: operands need at least 2 dims, got " + a.describe() + " and " + b.describe());
        }
        int m = a.dim(-2);
        int k = a.dim(-1);
        int k2 = b.dim(-2);
        int n = b.dim(-1);
        if (k != k2) {
            throw new IllegalArgumentException("matmul: inner dimensions differ: " + a.describe() + " · " + b.describe());
        }
        long batchA = a.numel() / Math.max(1, (long) m * k);
        long batchB = b.numel() / Math.max(1, (long) k * n);
        int[] outShape;
        if (a.rank() > 2 && b.rank() > 2) {
            int[] ba = Arrays.copyOf(a.shape(), a.rank() - 2);
            int[] bb = Arrays.copyOf(b.shape(), b.rank() - 2);
            if (!Arrays.equals(ba, bb)) {
                throw new IllegalArgumentException("matmul: batch dims differ: " + a.describe() + " · " + b.describe());
            }
            outShape = concat(ba, m, n);
        } else if (a.rank() > 2) {
            outShape = concat(Arrays.copyOf(a.shape(), a.rank() - 2), m, n);
        } else if (b.rank() > 2) {
            outShape = concat(Arrays.copyOf(b.shape(), b.rank() - 2), m, n);
        } else {
            outShape = new int[] {m, n};
        }
        Operand oa = Operand.of(a);
        Operand ob = Operand.of(b);
        Tensor out = Tensor.empty(outShape, a.dtype(), a.device());
        long batch = Math.max(batchA, batchB);
        Tensor out3 = out.view(new int[] {(int) batch, m, n}, Tensor.contiguousStrides(new int[] {(int) batch, m, n}), 0);
        a.backend().matmul(oa.t, oa.trans, ob.t, ob.trans, out3, 1f, 0f);
        out3.close();
        oa.release(a);
        ob.release(b);
        return Autograd.record("matmul", out, gIn -> {
            Tensor g = roundGrad ? cast(gIn, a.dtype()) : gIn;
            Tensor da = null;
            Tensor db = null;
            if (a.requiresGrad()) {
                Tensor full = matmul(g, transpose(b));      // [..., M, K]
                da = full.numel() == a.numel() ? reshape(full, a.shape()) : reshape(sumLeading(full, m * k), a.shape());
            }
            if (b.requiresGrad()) {
                Tensor full = matmul(transpose(a), g);      // [..., K, N]
                db = full.numel() == b.numel() ? reshape(full, b.shape()) : reshape(sumLeading(full, k * n), b.shape());
            }
            return new Tensor[] {da, db};
        }, a, b);
    }

    /** Sums a tensor's leading elements onto its last {@code suffix} elements (no graph). */
    private static Tensor sumLeading(Tensor t, int suffix) {
        Tensor c = t.contiguousNoGrad();
        Tensor out = Tensor.empty(new int[] {suffix}, DType.FLOAT32, t.device());
        t.backend().sumToSuffix(c, out);
        return out;
    }

    /** A gemm operand: a contiguous 2-/3-D tensor plus whether to use its transpose. */
    private record Operand(Tensor t, boolean trans) {
        static Operand of(Tensor x) {
            int r = x.rank();
            int rows = x.dim(-2);
            int cols = x.dim(-1);
            int batch = (int) (x.numel() / Math.max(1, (long) rows * cols));
            if (x.isContiguous()) {
                return new Operand(x.view(new int[] {batch, rows, cols}, Tensor.contiguousStrides(new int[] {batch, rows, cols}), x.offset()), false);
            }
            long[] st = x.strides();
            boolean lastTwoSwapped = st[r - 2] == 1 && st[r - 1] == rows;
            boolean batchDense = true;
            long expect = (long) rows * cols;
            for (int i = r - 3; i >= 0; i--) {
                if (x.dim(i) != 1 && st[i] != expect) {
                    batchDense = false;
                }
                expect *= x.dim(i);
            }
            if (lastTwoSwapped && batchDense) {
                return new Operand(x.view(new int[] {batch, cols, rows}, Tensor.contiguousStrides(new int[] {batch, cols, rows}), x.offset()), true);
            }
            Tensor c = x.contiguousNoGrad();
            return new Operand(c.view(new int[] {batch, rows, cols}, Tensor.contiguousStrides(new int[] {batch, rows, cols}), c.offset()), false);
        }

        void release(Tensor original) {
            t.close();
        }
    }

    /**
     * HF's linear layer: {@code x [..., in] · wᵀ + bias} with {@code w [out, in]};
     * {@code bias [out]} may be null.
     */
    public static Tensor linear(Tensor x, Tensor w, Tensor bias) {
        return underAutocast("linear", x, w, bias, Ops::linear);
    }

    /**
     * {@code roundGrad}: lowered by autocast, so the incoming gradient is rounded to x's type;
     * {@code dxType}: the type of x's gradient ({@link #underAutocast} says which).
     */
    private static Tensor linear(Tensor x, Tensor w, Tensor bias, boolean roundGrad, DType dxType) {
        checkLinear("linear", x, w, bias);
        int in = w.dim(1);
        int outF = w.dim(0);
        int rows = (int) (x.numel() / Math.max(1, in));
        Tensor x2 = flat2(x, rows, in);
        Tensor wc = w.contiguousNoGrad();
        Tensor bc = bias == null ? null : bias.contiguousNoGrad();
        int[] outShape = x.shape();
        outShape[outShape.length - 1] = outF;
        Tensor out = Tensor.empty(outShape, x.dtype(), x.device());
        Tensor out2 = out.view(new int[] {rows, outF}, new long[] {outF, 1}, 0);
        x.backend().linear(x2, wc, bc, out2);
        out2.close();
        return Autograd.own(Autograd.record("linear", out, (Autograd.AccumulatingBackwardFn) (g, into) -> {
            boolean accumulate = accumulatesInto(into, x, dxType);
            Tensor dx = !x.requiresGrad() ? null : accumulate ? into[0] : freshGradient(x.shape(), dxType, x.device());
            Tensor dw = w.requiresGrad() ? freshGradient(w) : null;
            Tensor db = bias != null && bias.requiresGrad() ? freshGradient(bias) : null;
            Tensor g2 = flat2(roundGrad ? cast(g, x.dtype()) : g, rows, outF);
            Tensor dx2 = dx == null ? null : dx.view(new int[] {rows, in}, new long[] {in, 1}, dx.offset());
            x.backend().linearBackward(g2, x2, wc, dx2, accumulate, dw, db);
            if (dx2 != null) {
                dx2.close();
            }
            return new Tensor[] {dx, dw, db};
        }, x, w, bias), x2, made(wc, w), made(bc, bias));
    }

    /**
     * {@code gelu(x·wᵀ + bias)} (exact erf GELU) as one op: the same function as
     * {@code gelu(linear(x, w, bias))}, which backends may run as a GEMM plus one fused
     * bias-GELU pass; the pre-activation is kept for the backward.
     */
    public static Tensor linearGelu(Tensor x, Tensor w, Tensor bias) {
        return underAutocast("linearGelu", x, w, bias, Ops::linearGelu);
    }

    private static Tensor linearGelu(Tensor x, Tensor w, Tensor bias, boolean roundGrad, DType dxType) {
        checkLinear("linearGelu", x, w, bias);
        int in = w.dim(1);
        int outF = w.dim(0);
        int rows = (int) (x.numel() / Math.max(1, in));
        Tensor x2 = flat2(x, rows, in);
        Tensor wc = w.contiguousNoGrad();
        Tensor bc = bias == null ? null : bias.contiguousNoGrad();
        int[] outShape = x.shape();
        outShape[outShape.length - 1] = outF;
        Tensor pre = Tensor.empty(new int[] {rows, outF}, x.dtype(), x.device());
        Tensor out = Tensor.empty(outShape, x.dtype(), x.device());
        Tensor out2 = out.view(new int[] {rows, outF}, new long[] {outF, 1}, 0);
        x.backend().linearGelu(x2, wc, bc, pre, out2);
        out2.close();
        return Autograd.own(Autograd.record("linearGelu", out, (Autograd.AccumulatingBackwardFn) (g, into) -> {
            boolean accumulate = accumulatesInto(into, x, dxType);
            Tensor dx = !x.requiresGrad() ? null : accumulate ? into[0] : freshGradient(x.shape(), dxType, x.device());
            Tensor dw = w.requiresGrad() ? freshGradient(w) : null;
            Tensor db = bias != null && bias.requiresGrad() ? freshGradient(bias) : null;
            Tensor g2 = flat2(roundGrad ? cast(g, x.dtype()) : g, rows, outF);
            // Under autocast dpre is in x's low-precision type too, so the two backward GEMMs
            // run on bf16/fp16 operands as PyTorch's do.
            Tensor dpre = Tensor.empty(new int[] {rows, outF}, roundGrad ? x.dtype() : DType.FLOAT32, x.device());
            Tensor dx2 = dx == null ? null : dx.view(new int[] {rows, in}, new long[] {in, 1}, dx.offset());
            x.backend().linearGeluBackward(g2, x2, wc, pre, dpre, dx2, accumulate, dw, db);
            if (dx2 != null) {
                dx2.close();
            }
            dpre.close();
            return new Tensor[] {dx, dw, db};
        }, x, w, bias), pre, x2, made(wc, w), made(bc, bias));
    }

    /**
     * Whether a product's backward adds x's gradient into the sum the engine offers
     * ({@link Autograd.AccumulatingBackwardFn}): one of x's type, so that the GEMM writes the
     * sum as it would have written the gradient. BERT's query, key and value projections and
     * its up-projection read hidden states whose residual connection gave a gradient first.
     */
    private static boolean accumulatesInto(Tensor[] into, Tensor x, DType dxType) {
        return x.requiresGrad() && into.length > 0 && into[0] != null && into[0].dtype() == dxType;
    }

    /**
     * {@link #linear} or {@link #linearGelu}; {@code roundGrad} and {@code dxType} as
     * {@link #linear(Tensor, Tensor, Tensor, boolean, DType)}.
     */
    private interface LinearOp {
        Tensor apply(Tensor x, Tensor w, Tensor bias, boolean roundGrad, DType dxType);
    }

    /**
     * Runs {@code op} on autocast's low-precision copies of x, w and bias inside a region, else as is.
     *
     * <p>x's gradient: float32 outside autocast, and for an x that is a cast of a float32 tensor
     * (autocast's lowering, or the caller's own {@code to(BFLOAT16)}): the cast would only widen a
     * low-precision gradient again, and the sum with the activation's other gradients is in
     * float32. An x that an op made in low precision (the GELU output before the down-projection,
     * the attention output before its projection) gets it in its own type, written rounded by the
     * GEMM — as PyTorch's linear does — so that the op it flows into (the GELU backward, the
     * attention backward) reads it without a conversion pass.
     */
    private static Tensor underAutocast(String name, Tensor x, Tensor w, Tensor bias, LinearOp op) {
        DType low = Autocast.current();
        if (low == null) {
            return op.apply(x, w, bias, false, DType.FLOAT32);
        }
        check(name, x, w, bias);
        Tensor lx = Autocast.lower(x, low);
        Tensor lw = Autocast.lower(w, low);
        Tensor lb = Autocast.lower(bias, low);
        DType dxType = lx == x && !Autograd.isCastOfFloat32(x.gradFn) ? gradientType(x) : DType.FLOAT32;
        return Autograd.own(op.apply(lx, lw, lb, true, dxType), made(lx, x), made(lw, w), made(lb, bias));
    }

    /** {@code made} when an op made it from {@code from} (a cast, a contiguous copy), null when it is {@code from}. */
    private static Tensor made(Tensor made, Tensor from) {
        return made == from ? null : made;
    }

    /** The argument checks {@link #linear} and {@link #linearGelu} share. */
    private static void checkLinear(String op, Tensor x, Tensor w, Tensor bias) {
        check(op, x, w, bias);
        floating(op, x, w, bias);
        if (w.rank() != 2 || x.rank() < 1 || x.dim(-1) != w.dim(1)) {
            throw new IllegalArgumentException(op + ": input " + x.describe() + " does not fit weight " + w.describe()
                    + " (expected input [..., " + (w.rank() == 2 ? w.dim(1) : "in") + "] and weight [out, in])");
        }
        if (bias != null && (bias.rank() != 1 || bias.dim(0) != w.dim(0))) {
            throw new IllegalArgumentException(op + ": bias " + bias.describe() + " does not match weight " + w.describe());
        }
    }

    private static Tensor flat2(Tensor t, int rows, int cols) {
        Tensor c = t.contiguousNoGrad();
        return c.view(new int[] {rows, cols}, new long[] {cols, 1}, c.offset());
    }

    // ====================================================================== elementwise

    /** {@code a + b}; {@code b} may be broadcast along {@code a}'s leading dims (or vice versa). */
    public static Tensor add(Tensor a, Tensor b) {
        return addScaled("add", a, b, 1f);
    }

    /** {@code a − b} with the broadcasting of {@link #add}. */
    public static Tensor sub(Tensor a, Tensor b) {
        return addScaled("sub", a, b, -1f);
    }

    /** Floating operands of two types, one of them low precision, inside an autocast region. */
    private static boolean mixedUnderAutocast(Tensor a, Tensor b) {
        return Autocast.current() != null && a.dtype() != b.dtype() && a.dtype().isFloating() && b.dtype().isFloating()
                && (Autocast.isLow(a.dtype()) || Autocast.isLow(b.dtype()));
    }

    private static Tensor addScaled(String op, Tensor a, Tensor b, float beta) {
        if (mixedUnderAutocast(a, b)) {
            check(op, a, b);
            return addScaled(op, Autocast.widen(a), Autocast.widen(b), beta);
        }
        check(op, a, b);
        floating(op, a, b);
        if (!isSuffix(b, a)) {
            if (isSuffix(a, b) && beta == 1f) {
                return addScaled(op, b, a, beta);
            }
            throw new IllegalArgumentException(op + ": shapes do not broadcast: " + a.describe() + " and " + b.describe()
                    + " (expected equal shapes or one a suffix of the other)");
        }
        Tensor ac = a.contiguousNoGrad();
        Tensor bc = b.contiguousNoGrad();
        Tensor out = Tensor.empty(a.shape(), a.dtype(), a.device());
        a.backend().add(ac, bc, 1f, beta, out);
        return Autograd.record(op, out, g -> new Tensor[] {
            a.requiresGrad() ? g : null,
            b.requiresGrad() ? reduceTo(beta == 1f ? g : scale(g, beta), b) : null}, a, b);
    }

    /** Elementwise {@code a · b} with the broadcasting of {@link #add}. */
    public static Tensor mul(Tensor a, Tensor b) {
        if (mixedUnderAutocast(a, b)) {
            check("mul", a, b);
            return mul(Autocast.widen(a), Autocast.widen(b));
        }
        check("mul", a, b);
        floating("mul", a, b);
        if (!isSuffix(b, a)) {
            if (isSuffix(a, b)) {
                return mul(b, a);
            }
            throw new IllegalArgumentException("mul: shapes do not broadcast: " + a.describe() + " and " + b.describe());
        }
        Tensor ac = a.contiguousNoGrad();
        Tensor bc = b.contiguousNoGrad();
        Tensor out = Tensor.empty(a.shape(), a.dtype(), a.device());
        a.backend().mul(ac, bc, out);
        return Autograd.record("mul", out, g -> {
            Tensor da = null;
            Tensor db = null;
            if (a.requiresGrad()) {
                da = Tensor.empty(a.shape(), DType.FLOAT32, a.device());
                a.backend().mul(g, bc, da);
            }
            if (b.requiresGrad()) {
                Tensor full = Tensor.empty(a.shape(), DType.FLOAT32, a.device());
                a.backend().mul(g, ac, full);
                db = reduceTo(full, b);
            }
            return new Tensor[] {da, db};
        }, a, b);
    }

    /** {@code s · a}. */
    public static Tensor scale(Tensor a, float s) {
        check("scale", a);
        floating("scale", a);
        Tensor ac = a.contiguousNoGrad();
        Tensor out = Tensor.empty(a.shape(), a.dtype(), a.device());
        a.backend().scale(ac, s, out);
        return Autograd.record("scale", out, g -> new Tensor[] {scale(g, s)}, a);
    }

    /** Sum of all elements, as a 0-d float32 tensor. */
    public static Tensor sum(Tensor a) {
        check("sum", a);
        floating("sum", a);
        Tensor out = Tensor.empty(new int[0], DType.FLOAT32, a.device());
        a.backend().sumAll(a.contiguousNoGrad(), out);
        return Autograd.record("sum", out, g -> new Tensor[] {broadcastScalar(g, a.shape())}, a);
    }

    /** Mean of all elements, as a 0-d float32 tensor. */
    public static Tensor mean(Tensor a) {
        if (a.numel() == 0) {
            throw new IllegalArgumentException("mean: " + a.describe() + " is empty");
        }
        return scale(sum(a), 1f / a.numel());
    }

    private static Tensor broadcastScalar(Tensor g, int[] shape) {
        Tensor out = Tensor.empty(shape, DType.FLOAT32, g.device());
        g.backend().fill(out, 1);
        g.backend().mul(out, g.contiguousNoGrad().view(new int[0], new long[0], g.offset()), out);
        return out;
    }

    /** Sums a gradient of {@code full}'s shape down to {@code target}'s (suffix) shape. */
    private static Tensor reduceTo(Tensor full, Tensor target) {
        if (full.numel() == target.numel()) {
            return Arrays.equals(full.shape(), target.shape()) ? full : reshape(full, target.shape());
        }
        Tensor out = Tensor.empty(target.shape(), DType.FLOAT32, full.device());
        full.backend().sumToSuffix(full.contiguousNoGrad(), out);
        return out;
    }

    /** GELU, exact erf form (HF {@code "gelu"}). */
    public static Tensor gelu(Tensor x) {
        return gelu(x, false);
    }

    /** GELU, tanh approximation (HF {@code "gelu_new"}). */
    public static Tensor geluTanh(Tensor x) {
        return gelu(x, true);
    }

    private static Tensor gelu(Tensor x, boolean tanhForm) {
        String op = tanhForm ? "geluTanh" : "gelu";
        check(op, x);
        floating(op, x);
        Tensor xc = x.contiguousNoGrad();
        Tensor out = Tensor.empty(x.shape(), x.dtype(), x.device());
        x.backend().gelu(xc, tanhForm, out);
        return Autograd.record(op, out, g -> {
            Tensor dx = Tensor.empty(x.shape(), DType.FLOAT32, x.device());
            x.backend().geluBackward(xc, g.contiguousNoGrad(), tanhForm, dx);
            return new Tensor[] {dx};
        }, x);
    }

    /** Hyperbolic tangent. */
    public static Tensor tanh(Tensor x) {
        check("tanh", x);
        floating("tanh", x);
        Tensor out = Tensor.empty(x.shape(), x.dtype(), x.device());
        x.backend().tanh(x.contiguousNoGrad(), out);
        return Autograd.record("tanh", out, g -> {
            Tensor dx = Tensor.empty(x.shape(), DType.FLOAT32, x.device());
            x.backend().tanhBackward(out, g.contiguousNoGrad(), dx);
            return new Tensor[] {dx};
        }, x);
    }

    // ====================================================================== normalisation

    /**
     * Softmax over the last dim of {@code x + mask}; {@code mask} (may be null, not
     * differentiated) is {@code [g, lastDim]} and row {@code r} of x uses mask row
     * {@code r / (rows / g)}.
     */
    public static Tensor softmax(Tensor x, Tensor mask) {
        if (Autocast.current() != null) {
            check("softmax", x, mask);
            return softmaxOp(Autocast.widen(x), mask);
        }
        return softmaxOp(x, mask);
    }

    private static Tensor softmaxOp(Tensor x, Tensor mask) {
        check("softmax", x, mask);
        floating("softmax", x);
        if (x.rank() < 1 || x.numel() == 0) {
            throw new IllegalArgumentException("softmax: " + x.describe() + " is empty or 0-d");
        }
        int last = x.dim(-1);
        long rows = x.numel() / last;
        Tensor mc = null;
        if (mask != null) {
            if (!mask.dtype().isFloating() || mask.dim(-1) != last || rows % (mask.numel() / last) != 0) {
                throw new IllegalArgumentException("softmax: mask " + mask.describe() + " does not fit " + x.describe()
                        + " (expected a float [g, " + last + "] with g dividing " + rows + ")");
            }
            mc = mask.contiguousNoGrad();
        }
        Tensor out = Tensor.empty(x.shape(), x.dtype(), x.device());
        x.backend().softmax(x.contiguousNoGrad(), mc, out);
        return Autograd.record("softmax", out, g -> {
            Tensor dx = Tensor.empty(x.shape(), DType.FLOAT32, x.device());
            x.backend().softmaxBackward(out, g.contiguousNoGrad(), dx);
            return new Tensor[] {dx, null};
        }, x, mask);
    }

    /**
     * LayerNorm over the last dim of {@code x + residual} (residual may be null):
     * {@code (h − mean)/sqrt(var + eps)·gamma + beta}, biased variance as PyTorch.
     */
    public static Tensor layerNorm(Tensor x, Tensor residual, Tensor gamma, Tensor beta, float eps) {
        if (Autocast.current() != null) {
            check("layerNorm", x, residual, gamma, beta);
            Tensor wx = Autocast.widen(x);
            Tensor wr = Autocast.widen(residual);
            Tensor wg = Autocast.widen(gamma);
            Tensor wb = Autocast.widen(beta);
            return Autograd.own(layerNormOp(wx, wr, wg, wb, eps), made(wx, x), made(wr, residual), made(wg, gamma),
                    made(wb, beta));
        }
        return layerNormOp(x, residual, gamma, beta, eps);
    }

    private static Tensor layerNormOp(Tensor x, Tensor residual, Tensor gamma, Tensor beta, float eps) {
        check("layerNorm", x, residual, gamma, beta);
        floating("layerNorm", x, residual, gamma, beta);
        int w = x.dim(-1);
        if (gamma.rank() != 1 || gamma.dim(0) != w || beta.rank() != 1 || beta.dim(0) != w) {
            throw new IllegalArgumentException("layerNorm: gamma " + gamma.describe() + " / beta " + beta.describe()
                    + " must be [" + w + "] for input " + x.describe());
        }
        if (residual != null && !Arrays.equals(residual.shape(), x.shape())) {
            throw new IllegalArgumentException("layerNorm: residual " + residual.describe() + " does not match input " + x.describe());
        }
        int rows = (int) (x.numel() / w);
        Tensor xc = x.contiguousNoGrad();
        Tensor rc = residual == null ? null : residual.contiguousNoGrad();
        Tensor gc = gamma.contiguousNoGrad();
        Tensor out = Tensor.empty(x.shape(), x.dtype(), x.device());
        Tensor h = residual == null ? null : Tensor.empty(x.shape(), x.dtype(), x.device());
        Tensor mean = Tensor.empty(new int[] {rows}, DType.FLOAT32, x.device());
        Tensor rstd = Tensor.empty(new int[] {rows}, DType.FLOAT32, x.device());
        x.backend().layerNorm(xc, rc, gc, beta.contiguousNoGrad(), eps, out, h, mean, rstd);
        Tensor hSaved = h == null ? xc : h;
        return Autograd.own(Autograd.record("layerNorm", out, g -> {
            Tensor dh = Tensor.empty(x.shape(), DType.FLOAT32, x.device());
            Tensor dg = gamma.requiresGrad() ? freshGradient(gamma) : null;
            Tensor db = beta.requiresGrad() ? freshGradient(beta) : null;
            x.backend().layerNormBackward(g.contiguousNoGrad(), hSaved, gc, mean, rstd, dh, dg, db);
            return new Tensor[] {dh, residual == null ? null : dh, dg, db};
        }, x, residual, gamma, beta), h, mean, rstd, made(xc, x), made(rc, residual), made(gc, gamma));
    }

    /**
     * {@code layerNorm(dropout(x, p, seed) + residual)} as one op — BERT's
     * {@code LayerNorm(dropout(dense(h)) + input)} — with the values and gradients of
     * {@code layerNorm(dropout(x, p, seed), residual, gamma, beta, eps)}; a backend may fuse the
     * dropout into the LayerNorm's pass (the CUDA fused path does). Under {@link Autocast} the
     * dropout applies to x in its own (low) type and the LayerNorm runs in float32, as the two
     * ops would. {@code p == 0} is {@link #layerNorm}.
     *
     * <pre>{@code
     * Generator g = new Generator(7);
     * Tensor x = Tensor.randn(g, 4, 16), res = Tensor.randn(g, 4, 16);
     * Tensor y = Ops.dropoutLayerNorm(x, 0.1f, g.nextLong(), res, Tensor.ones(16), Tensor.zeros(16), 1e-12f);
     * }</pre>
     */
    public static Tensor dropoutLayerNorm(Tensor x, float p, long seed, Tensor residual, Tensor gamma, Tensor beta,
                                          float eps) {
        if (!(p >= 0f && p < 1f)) {
            throw new IllegalArgumentException("dropoutLayerNorm: p must be in [0, 1), got " + p);
        }
        if (p == 0f) {
            return layerNorm(x, residual, gamma, beta, eps);
        }
        check("dropoutLayerNorm", x, residual, gamma, beta);
        if (residual == null) {
            throw new IllegalArgumentException("dropoutLayerNorm: a residual is required (else use dropout, then layerNorm)");
        }
        if (Autocast.current() != null) {   // x keeps its type (the dropout's rounding), the rest widens
            Tensor wr = Autocast.widen(residual);
            Tensor wg = Autocast.widen(gamma);
            Tensor wb = Autocast.widen(beta);
            return Autograd.own(dropoutLayerNormOp(x, p, seed, wr, wg, wb, eps), made(wr, residual), made(wg, gamma),
                    made(wb, beta));
        } else if (x.dtype() != residual.dtype()) {
            return layerNorm(dropout(x, p, seed), residual, gamma, beta, eps);
        }
        return dropoutLayerNormOp(x, p, seed, residual, gamma, beta, eps);
    }

    private static Tensor dropoutLayerNormOp(Tensor x, float p, long seed, Tensor residual, Tensor gamma, Tensor beta,
                                             float eps) {
        floating("dropoutLayerNorm", x, residual, gamma, beta);
        int w = x.dim(-1);
        if (gamma.rank() != 1 || gamma.dim(0) != w || beta.rank() != 1 || beta.dim(0) != w) {
            throw new IllegalArgumentException("dropoutLayerNorm: gamma " + gamma.describe() + " / beta "
                    + beta.describe() + " must be [" + w + "] for input " + x.describe());
        }
        if (!Arrays.equals(residual.shape(), x.shape())) {
            throw new IllegalArgumentException("dropoutLayerNorm: residual " + residual.describe()
                    + " does not match input " + x.describe());
        }
        int rows = (int) (x.numel() / w);
        Tensor xc = x.contiguousNoGrad();
        Tensor rc = residual.contiguousNoGrad();
        Tensor gc = gamma.contiguousNoGrad();
        DType dt = residual.dtype();
        Tensor out = Tensor.empty(x.shape(), dt, x.device());
        Tensor h = Tensor.empty(x.shape(), dt, x.device());
        Tensor mean = Tensor.empty(new int[] {rows}, DType.FLOAT32, x.device());
        Tensor rstd = Tensor.empty(new int[] {rows}, DType.FLOAT32, x.device());
        // Under autocast the products that read this output next (BERT's projections) want it in
        // low precision: the op writes that copy with the output, and offers it to them.
        DType low = Autocast.current();
        Tensor outLow = low != null && dt == DType.FLOAT32 && Autograd.needsGraph(x, residual, gamma, beta)
                ? Tensor.empty(x.shape(), low, x.device()) : null;
        x.backend().dropoutLayerNorm(xc, p, seed, rc, gc, beta.contiguousNoGrad(), eps, out, h, mean, rstd, outLow);
        if (outLow != null) {
            SharedCasts.offer(out, outLow);
        }
        return Autograd.own(Autograd.record("dropoutLayerNorm", out, g -> {
            // dh is the residual's gradient alone: the next terms of its sum may be added into it.
            Tensor dh = freshGradient(residual);
            // x is a dense layer's bf16 output under autocast: its gradient is written in bf16.
            Tensor dx = x.requiresGrad() ? Tensor.empty(x.shape(), gradientType(x), x.device()) : null;
            Tensor dg = gamma.requiresGrad() ? freshGradient(gamma) : null;
            Tensor db = beta.requiresGrad() ? freshGradient(beta) : null;
            x.backend().dropoutLayerNormBackward(g.contiguousNoGrad(), h, gc, mean, rstd, p, seed, dx, dh, dg, db);
            return new Tensor[] {dx, dh, dg, db};
        }, x, residual, gamma, beta), h, mean, rstd, outLow, made(xc, x), made(rc, residual), made(gc, gamma));
    }

    // ====================================================================== randomness

    /**
     * Inverted dropout with probability {@code p}; the mask is a pure function of
     * {@code (seed, element index)} ({@link Philox}), so the same seed gives the same mask
     * on every backend. {@code p == 0} returns {@code x}.
     */
    public static Tensor dropout(Tensor x, float p, long seed) {
        check("dropout", x);
        floating("dropout", x);
        if (!(p >= 0f && p < 1f)) {
            throw new IllegalArgumentException("dropout: p must be in [0, 1), got " + p);
        }
        if (p == 0f) {
            return x;
        }
        Tensor out = Tensor.empty(x.shape(), x.dtype(), x.device());
        x.backend().dropout(x.contiguousNoGrad(), p, seed, out);
        return Autograd.record("dropout", out, g -> {
            Tensor dx = Tensor.empty(x.shape(), DType.FLOAT32, x.device());
            x.backend().dropoutBackward(g.contiguousNoGrad(), p, seed, dx);
            return new Tensor[] {dx};
        }, x);
    }

    // ====================================================================== lookup

    /**
     * Rows of {@code table [V, H]} picked by integer {@code ids [...]}, giving
     * {@code [..., H]}. The row {@code paddingIdx} (if ≥ 0) never receives a gradient.
     */
    public static Tensor embedding(Tensor ids, Tensor table, int paddingIdx) {
        return lookup("embedding", ids, table, paddingIdx);
    }

    /**
     * Rows of {@code x [N, H]} picked by integer {@code rows [M]}, giving {@code [M, H]}; the
     * gradient is scattered back to the picked rows (a row picked twice gets the sum, rows not
     * picked get zero). The same gather as {@link #embedding} without a padding row, named for
     * its use on activations: packing the real tokens of a padded batch and spreading them
     * back out.
     *
     * <pre>{@code
     * Tensor x = Tensor.of(new float[] {1, 2, 3, 4, 5, 6}, 3, 2);
     * Tensor picked = Ops.gatherRows(x, Tensor.ofInts(new int[] {2, 0}, 2));   // [[5, 6], [1, 2]]
     * }</pre>
     */
    public static Tensor gatherRows(Tensor x, Tensor rows) {
        if (rows.rank() != 1) {
            throw new IllegalArgumentException("gatherRows: rows " + rows.describe() + " must be a 1-D index");
        }
        return lookup("gatherRows", rows, x, -1);
    }

    private static Tensor lookup(String op, Tensor ids, Tensor table, int paddingIdx) {
        check(op, ids, table);
        if (ids.dtype().isFloating()) {
            throw new IllegalArgumentException(op + ": ids " + ids.describe() + " must be int32 or int64");
        }
        floating(op, table);
        if (table.rank() != 2) {
            throw new IllegalArgumentException(op + ": table " + table.describe() + " must be [rows, width]");
        }
        if (paddingIdx >= table.dim(0)) {
            throw new IllegalArgumentException(op + ": paddingIdx " + paddingIdx + " outside table " + table.describe());
        }
        Tensor ic = ids.contiguousNoGrad();
        int[] outShape = concat(ids.shape(), table.dim(1));
        Tensor out = Tensor.empty(outShape, table.dtype(), table.device());
        table.backend().embedding(ic, table.contiguousNoGrad(), out);
        return Autograd.record(op, out, g -> {
            Tensor dt = freshGradient(table);
            table.backend().embeddingBackward(ic, g.contiguousNoGrad(), paddingIdx, dt);
            return new Tensor[] {null, dt};
        }, ids, table);
    }

    /**
     * A new float32 gradient for {@code t}, to be returned once by a backward function and kept
     * nowhere else. When {@code t} is a leaf without a gradient yet, the autograd engine makes
     * this tensor {@code t.grad} rather than copying it: for BERT-base that is a copy of every
     * weight gradient (110 M floats) a step fewer.
     */
    private static Tensor freshGradient(Tensor t) {
        return freshGradient(t.shape(), DType.FLOAT32, t.device());
    }

    /**
     * A new gradient of the given geometry with the promise of {@link #freshGradient(Tensor)};
     * the engine may also add later terms of the same input's gradient into it
     * ({@link Autograd.AccumulatingBackwardFn}).
     */
    private static Tensor freshGradient(int[] shape, DType dt, Device device) {
        Tensor g = Tensor.empty(shape, dt, device);
        g.freshGradient = true;
        return g;
    }

    /**
     * BERT's embeddings before their dropout, as one op: the rows of {@code word},
     * {@code type} and {@code position} picked by {@code ids [B, S]}, {@code typeIds [B, S]} and
     * {@code positionIds [S]} (the same positions for every sequence), summed as
     * {@code (word + type) + position} and layer-normalised with {@code gamma}, {@code beta},
     * {@code eps}: {@code [B, S, H]}. The same values and gradients as
     * {@code layerNorm(add(add(embedding(ids, word), embedding(typeIds, type)), embedding(positionIds, position)))};
     * a backend may compute it in one pass (the CUDA fused path does: one launch forward, three
     * table gradients in one launch backward). Row {@code wordPaddingIdx} of {@code word} (−1:
     * none) never receives a gradient.
     *
     * <pre>{@code
     * Generator g = new Generator(42);
     * Tensor word = Tensor.randn(g, 100, 8), type = Tensor.randn(g, 2, 8), position = Tensor.randn(g, 16, 8);
     * Tensor ids = Tensor.ofInts(new int[] {1, 57, 2, 1, 9, 0}, 2, 3);         // two sequences of 3
     * Tensor types = Tensor.zeros(DType.INT32, Device.cpu(), 2, 3);
     * Tensor positions = Tensor.arange(0, 3);                                  // [S]
     * Tensor h = Ops.embeddingsLayerNorm(ids, types, positions, word, type, position,
     *         Tensor.ones(8), Tensor.zeros(8), 1e-12f, 0);                     // [2, 3, 8]
     * }</pre>
     */
    public static Tensor embeddingsLayerNorm(Tensor ids, Tensor typeIds, Tensor positionIds, Tensor word, Tensor type,
                                             Tensor position, Tensor gamma, Tensor beta, float eps, int wordPaddingIdx) {
        String op = "embeddingsLayerNorm";
        check(op, ids, typeIds, positionIds, word, type, position, gamma, beta);
        for (Tensor t : new Tensor[] {ids, typeIds, positionIds}) {
            if (t.dtype().isFloating()) {
                throw new IllegalArgumentException(op + ": ids " + t.describe() + " must be int32 or int64");
            }
        }
        if (ids.rank() != 2 || !Arrays.equals(ids.shape(), typeIds.shape()) || positionIds.rank() != 1
                || positionIds.dim(0) != ids.dim(1)) {
            throw new IllegalArgumentException(op + ": ids " + ids.describe() + ", typeIds " + typeIds.describe()
                    + ", positionIds " + positionIds.describe() + " must be [B, S], [B, S] and [S]");
        }
        floating(op, word, type, position, gamma, beta);
        int width = word.rank() == 2 ? word.dim(1) : -1;
        for (Tensor t : new Tensor[] {word, type, position}) {
            if (t.rank() != 2 || t.dim(1) != width || t.dtype() != word.dtype()) {
                throw new IllegalArgumentException(op + ": tables word " + word.describe() + ", type " + type.describe()
                        + ", position " + position.describe() + " must be [rows, H] of one dtype");
            }
        }
        if (gamma.rank() != 1 || gamma.dim(0) != width || beta.rank() != 1 || beta.dim(0) != width) {
            throw new IllegalArgumentException(op + ": gamma " + gamma.describe() + " / beta " + beta.describe()
                    + " must be [" + width + "]");
        }
        if (wordPaddingIdx < -1 || wordPaddingIdx >= word.dim(0)) {
            throw new IllegalArgumentException(op + ": wordPaddingIdx " + wordPaddingIdx + " outside " + word.describe());
        }
        Tensor gamma0 = gamma;
        Tensor beta0 = beta;
        if (Autocast.current() != null) {   // LayerNorm runs in float32 under autocast, as layerNorm does
            gamma = Autocast.widen(gamma);
            beta = Autocast.widen(beta);
        }
        Tensor ic = ids.contiguousNoGrad();
        Tensor tc = typeIds.contiguousNoGrad();
        Tensor pc = positionIds.contiguousNoGrad();
        Tensor gc = gamma.contiguousNoGrad();
        int[] shape = {ids.dim(0), ids.dim(1), width};
        int rows = ids.dim(0) * ids.dim(1);
        Tensor out = Tensor.empty(shape, word.dtype(), word.device());
        Tensor h = Tensor.empty(shape, word.dtype(), word.device());
        Tensor mean = Tensor.empty(new int[] {rows}, DType.FLOAT32, word.device());
        Tensor rstd = Tensor.empty(new int[] {rows}, DType.FLOAT32, word.device());
        word.backend().embeddingsLayerNorm(ic, tc, pc, word.contiguousNoGrad(), type.contiguousNoGrad(),
                position.contiguousNoGrad(), gc, beta.contiguousNoGrad(), eps, out, h, mean, rstd);
        Tensor g0 = gamma;
        Tensor b0 = beta;
        return Autograd.own(Autograd.record(op, out, g -> {
            Tensor dw = word.requiresGrad() ? freshGradient(word) : null;
            Tensor dt = type.requiresGrad() ? freshGradient(type) : null;
            Tensor dp = position.requiresGrad() ? freshGradient(position) : null;
            Tensor dg = g0.requiresGrad() ? Tensor.empty(g0.shape(), DType.FLOAT32, word.device()) : null;
            Tensor db = b0.requiresGrad() ? Tensor.empty(b0.shape(), DType.FLOAT32, word.device()) : null;
            word.backend().embeddingsLayerNormBackward(g.contiguousNoGrad(), h, gc, mean, rstd, ic, tc, pc,
                    wordPaddingIdx, dw, dt, dp, dg, db);
            return new Tensor[] {null, null, null, dw, dt, dp, dg, db};
        }, ids, typeIds, positionIds, word, type, position, gamma, beta), h, mean, rstd, made(ic, ids),
                made(tc, typeIds), made(pc, positionIds), made(gc, gamma), made(gamma, gamma0), made(beta, beta0));
    }

    // ====================================================================== attention

    /**
     * Multi-head attention as one op: {@code q, k, v} are {@code [B, S, heads·D]}, the
     * result is {@code softmax(q·kᵀ/√D + mask)·v} per head in the same layout. {@code keyMask}
     * is null or HF's {@code attention_mask [B, S]} (1 = attend, 0 = padding). With
     * {@code dropoutP > 0} the probabilities are dropped out by {@link Philox} from
     * {@code seed}.
     */
    public static Tensor attention(Tensor q, Tensor k, Tensor v, Tensor keyMask, int heads, float dropoutP, long seed) {
        DType low = Autocast.current();
        if (low != null) {
            check("attention", q, k, v, keyMask);
            Tensor lq = Autocast.lower(q, low);
            Tensor lk = Autocast.lower(k, low);
            Tensor lv = Autocast.lower(v, low);
            return Autograd.own(attentionOp(lq, lk, lv, keyMask, heads, dropoutP, seed), made(lq, q), made(lk, k),
                    made(lv, v));
        }
        return attentionOp(q, k, v, keyMask, heads, dropoutP, seed);
    }

    private static Tensor attentionOp(Tensor q, Tensor k, Tensor v, Tensor keyMask, int heads, float dropoutP, long seed) {
        check("attention", q, k, v, keyMask);
        floating("attention", q, k, v);
        if (q.rank() != 3 || !Arrays.equals(q.shape(), k.shape()) || !Arrays.equals(q.shape(), v.shape())) {
            throw new IllegalArgumentException("attention: q " + q.describe() + ", k " + k.describe() + ", v " + v.describe()
                    + " must all be [B, S, heads*D]");
        }
        int hd = q.dim(2);
        if (heads <= 0 || hd % heads != 0) {
            throw new IllegalArgumentException("attention: width " + hd + " of " + q.describe() + " is not divisible by " + heads + " heads");
        }
        if (keyMask != null && (keyMask.rank() != 2 || keyMask.dim(0) != q.dim(0) || keyMask.dim(1) != q.dim(1))) {
            throw new IllegalArgumentException("attention: mask " + keyMask.describe() + " must be [B, S] = ["
                    + q.dim(0) + ", " + q.dim(1) + "]");
        }
        if (!(dropoutP >= 0f && dropoutP < 1f)) {
            throw new IllegalArgumentException("attention: dropout p must be in [0, 1), got " + dropoutP);
        }
        float scale = (float) (1.0 / Math.sqrt(hd / heads));
        Tensor qc = q.contiguousNoGrad();
        Tensor kc = k.contiguousNoGrad();
        Tensor vc = v.contiguousNoGrad();
        Tensor mc = keyMask == null ? null : keyMask.contiguousNoGrad();
        Tensor out = Tensor.empty(q.shape(), q.dtype(), q.device());
        Tensor saved = q.backend().attention(qc, kc, vc, mc, heads, scale, dropoutP, seed, out);
        if (saved == null) {
            throw new IllegalStateException("attention: backend " + q.backend().name() + " returned no saved state");
        }
        if (!Autograd.needsGraph(q, k, v)) {
            saved.close();              // inference: nothing will read it
            return Autograd.own(out, made(qc, q), made(kc, k), made(vc, v), made(mc, keyMask));
        }
        if (saved.owner == null && Scope.current() != null) {
            Scope.current().adopt(saved);
        }
        return Autograd.own(Autograd.record("attention", out, g -> {
            // Under autocast q, k and v are the projections' bf16 outputs: their gradients are
            // written in bf16, as the projections' backward GEMMs read them.
            Tensor dq = Tensor.empty(q.shape(), gradientType(q), q.device());
            Tensor dk = Tensor.empty(q.shape(), gradientType(k), q.device());
            Tensor dv = Tensor.empty(q.shape(), gradientType(v), q.device());
            q.backend().attentionBackward(qc, kc, vc, mc, heads, scale, dropoutP, seed, out, g.contiguousNoGrad(), saved, dq, dk, dv);
            saved.close();              // a graph runs backward once; free the S×S state now
            return new Tensor[] {dq, dk, dv, null};
        }, q, k, v, keyMask), made(qc, q), made(kc, k), made(vc, v), made(mc, keyMask));
    }

    // ====================================================================== losses

    /** Mean cross-entropy of {@code logits [N, C]} and integer {@code labels [N]}, skipping −100. */
    public static Tensor crossEntropy(Tensor logits, Tensor labels) {
        return crossEntropy(logits, labels, IGNORE_INDEX);
    }

    /** Mean cross-entropy skipping rows labelled {@code ignoreIndex}. */
    public static Tensor crossEntropy(Tensor logits, Tensor labels, int ignoreIndex) {
        if (Autocast.current() != null) {
            check("crossEntropy", logits, labels);
            return crossEntropyOp(Autocast.widen(logits), labels, ignoreIndex);
        }
        return crossEntropyOp(logits, labels, ignoreIndex);
    }

    private static Tensor crossEntropyOp(Tensor logits, Tensor labels, int ignoreIndex) {
        check("crossEntropy", logits, labels);
        floating("crossEntropy", logits);
        if (labels.dtype().isFloating()) {
            throw new IllegalArgumentException("crossEntropy: labels " + labels.describe() + " must be int32 or int64");
        }
        if (logits.rank() != 2 || labels.rank() != 1 || labels.dim(0) != logits.dim(0)) {
            throw new IllegalArgumentException("crossEntropy: logits " + logits.describe() + " and labels " + labels.describe()
                    + " must be [N, C] and [N]");
        }
        Tensor lc = logits.contiguousNoGrad();
        Tensor yc = labels.contiguousNoGrad();
        Tensor loss = Tensor.empty(new int[0], DType.FLOAT32, logits.device());
        if (!Autograd.needsGraph(logits)) {
            logits.backend().crossEntropy(lc, yc, ignoreIndex, loss);
            return loss;
        }
        // Training: a backend may hand back the gradient for dloss = 1 from the forward's pass.
        Tensor unit = logits.backend().crossEntropyWithGrad(lc, yc, ignoreIndex, loss);
        if (unit != null && unit.owner == null && Scope.current() != null) {
            Scope.current().adopt(unit);
        }
        return Autograd.record("crossEntropy", loss, g -> {
            Tensor d = Tensor.empty(logits.shape(), DType.FLOAT32, logits.device());
            if (unit != null) {
                logits.backend().mul(unit, g.contiguousNoGrad(), d);
                unit.close();           // a graph runs backward once
            } else {
                logits.backend().crossEntropyBackward(lc, yc, ignoreIndex, g.contiguousNoGrad(), d);
            }
            return new Tensor[] {d, null};
        }, logits, labels);
    }

    /** Mean squared error (HF's regression loss when {@code num_labels == 1}). */
    public static Tensor mse(Tensor pred, Tensor target) {
        if (Autocast.current() != null) {
            check("mse", pred, target);
            return mseOp(Autocast.widen(pred), Autocast.widen(target));
        }
        return mseOp(pred, target);
    }

    private static Tensor mseOp(Tensor pred, Tensor target) {
        check("mse", pred, target);
        floating("mse", pred, target);
        if (pred.numel() != target.numel()) {
            throw new IllegalArgumentException("mse: " + pred.describe() + " and " + target.describe() + " differ in size");
        }
        Tensor pc = pred.contiguousNoGrad();
        Tensor tc = target.contiguousNoGrad();
        Tensor loss = Tensor.empty(new int[0], DType.FLOAT32, pred.device());
        pred.backend().mse(pc, tc, loss);
        return Autograd.record("mse", loss, g -> {
            Tensor dp = pred.requiresGrad() ? Tensor.empty(pred.shape(), DType.FLOAT32, pred.device()) : null;
            if (dp != null) {
                pred.backend().mseBackward(pc, tc, g.contiguousNoGrad(), dp);
            }
            Tensor dt = null;
            if (target.requiresGrad()) {
                Tensor tmp = Tensor.empty(target.shape(), DType.FLOAT32, pred.device());
                pred.backend().mseBackward(tc, pc, g.contiguousNoGrad(), tmp);
                dt = tmp;
            }
            return new Tensor[] {dp, dt};
        }, pred, target);
    }

    // ====================================================================== checks

    private static void check(String op, Tensor... ts) {
        Device d = null;
        Tensor first = null;
        for (Tensor t : ts) {
            if (t == null) {
                continue;
            }
            t.checkOpen(op);
            if (d == null) {
                d = t.device();
                first = t;
            } else if (!d.equals(t.device())) {
                throw new IllegalArgumentException(op + ": tensors on different devices: " + first.describe() + " and " + t.describe());
            }
        }
    }

    private static void floating(String op, Tensor... ts) {
        for (Tensor t : ts) {
            if (t != null && !t.dtype().isFloating()) {
                throw new IllegalArgumentException(op + ": " + t.describe() + " must be a floating type");
            }
        }
    }

    private static boolean isSuffix(Tensor small, Tensor big) {
        int[] s = small.shape();
        int[] b = big.shape();
        if (s.length > b.length) {
            return false;
        }
        int off = b.length - s.length;
        for (int i = 0; i < s.length; i++) {
            if (s[i] != b[off + i]) {
                return false;
            }
        }
        return true;
    }

    private static int[] inferShape(Tensor t, int[] shape) {
        int[] s = shape.clone();
        int infer = -1;
        long known = 1;
        for (int i = 0; i < s.length; i++) {
            if (s[i] == -1) {
                if (infer >= 0) {
                    throw new IllegalArgumentException("reshape: more than one -1 in " + Arrays.toString(shape));
                }
                infer = i;
            } else if (s[i] < 0) {
                throw new IllegalArgumentException("reshape: negative dimension in " + Arrays.toString(shape));
            } else {
                known *= s[i];
            }
        }
        if (infer >= 0) {
            if (known == 0 || t.numel() % known != 0) {
                throw new IllegalArgumentException("reshape: cannot infer -1 in " + Arrays.toString(shape) + " for " + t.describe());
            }
            s[infer] = (int) (t.numel() / known);
        } else if (known != t.numel()) {
            throw new IllegalArgumentException("reshape: " + t.describe() + " (" + t.numel() + " elements) cannot become "
                    + Arrays.toString(shape));
        }
        return s;
    }

    private static int[] concat(int[] a, int... b) {
        int[] r = Arrays.copyOf(a, a.length + b.length);
        System.arraycopy(b, 0, r, a.length, b.length);
        return r;
    }

    private static void swap(int[] a, int i, int j) {
        int t = a[i];
        a[i] = a[j];
        a[j] = t;
    }
}
