package dev.solder;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertSame;

import java.util.ArrayList;
import java.util.List;
import java.util.function.Function;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

/**
 * The engine's in-place gradient sums ({@link Autograd.AccumulatingBackwardFn}): which sums it
 * offers, that an op adding into one gives the gradients of the separate add, and — on the CPU
 * backend — the same bits as with the offers switched off, for a BERT-shaped block in float32
 * and under bfloat16 autocast.
 */
class InPlaceGradientSumTest {
    private final long seed = Long.getLong("solder.test.seed", System.nanoTime());

    @AfterEach
    void restore() {
        System.clearProperty(Autograd.SUMS_IN_PLACE);
    }

    /** What one {@code acc} op was offered: {@code into[0]} of each call. */
    private final List<Tensor> offered = new ArrayList<>();

    /** {@code 2·h}, whose backward adds {@code 2·g} into the sum it is offered, else returns a new {@code 2·g}. */
    private Tensor acc(Tensor h) {
        Tensor out = Ops.scale(h.detach(), 2f);
        return Autograd.record("acc", out, (Autograd.AccumulatingBackwardFn) (g, into) -> {
            Tensor target = into.length > 0 ? into[0] : null;
            offered.add(target);
            if (target == null) {
                return new Tensor[] {Ops.scale(g, 2f)};
            }
            target.backend().add(target, g, 1f, 2f, target);
            return new Tensor[] {target};
        }, h);
    }

    /** {@code 3·h}, whose backward returns {@code 3·g}, marked as made for h alone when {@code fresh}. */
    private static Tensor first(Tensor h, boolean fresh) {
        Tensor out = Ops.scale(h.detach(), 3f);
        return Autograd.record("first", out, g -> {
            Tensor d = Ops.scale(g, 3f);
            d.freshGradient = fresh;
            return new Tensor[] {d};
        }, h);
    }

    /**
     * {@code loss = Σ r·acc(h) + Σ q·first(h)} with {@code h = x·wᵀ}: the engine walks
     * {@code first} before {@code acc} (the later operand's branch runs first), so acc is
     * offered the gradient first gave h. Returns x's gradient.
     */
    private float[] twoConsumers(Generator gen, boolean fresh, Function<Tensor, Tensor> lower) {
        try (var s = Scope.open()) {
            Tensor x = Tensor.randn(gen, 5, 4).requiresGrad(true);
            Tensor w = Tensor.randn(gen, 6, 4);
            Tensor r = Tensor.randn(gen, 5, 6);
            Tensor q = Tensor.randn(gen, 5, 6);
            Tensor h = Ops.linear(x, w, null);
            Tensor a = acc(lower.apply(h));
            Tensor loss = Ops.add(Ops.sum(Ops.mul(a.dtype() == DType.FLOAT32 ? a : a.to(DType.FLOAT32), r)),
                    Ops.sum(Ops.mul(first(h, fresh), q)));
            loss.backward();
            // dL/dh = 2r + 3q, then dx = dL/dh · w
            float[] rv = r.toFloatArray();
            float[] qv = q.toFloatArray();
            float[] wv = w.toFloatArray();
            float[] dx = x.grad().toFloatArray();
            for (int n = 0; n < 5; n++) {
                for (int i = 0; i < 4; i++) {
                    double e = 0;
                    for (int o = 0; o < 6; o++) {
                        e += (2.0 * rv[n * 6 + o] + 3.0 * qv[n * 6 + o]) * wv[o * 4 + i];
                    }
                    assertEquals(e, dx[n * 4 + i], 2e-2 * (1 + Math.abs(e)), "dx[" + n + ", " + i + "] (seed " + seed + ")");
                }
            }
            x.zeroGrad();
            return dx;
        }
    }

    @Test
    void anOpIsOfferedTheSumAnotherOpMadeForTheSameInputAndAddsIntoIt() {
        twoConsumers(new Generator(seed), true, h -> h);
        assertEquals(1, offered.size());
        assertNotNull(offered.get(0), "acc was offered nothing (seed " + seed + ")");
    }

    @Test
    void aGradientNotMarkedAsMadeForOneInputIsNeverWrittenInPlace() {
        twoConsumers(new Generator(seed), false, h -> h);
        assertEquals(1, offered.size());
        assertNull(offered.get(0));
    }

    @Test
    void theSwitchTurnsTheOffersOffWithoutChangingTheGradient() {
        float[] on = twoConsumers(new Generator(seed), true, h -> h);
        System.setProperty(Autograd.SUMS_IN_PLACE, "false");
        float[] off = twoConsumers(new Generator(seed), true, h -> h);
        assertEquals(2, offered.size());
        assertNotNull(offered.get(0));
        assertNull(offered.get(1));
        assertArrayEquals(FloatBits.of(off), FloatBits.of(on), "seed " + seed);
    }

    @Test
    void theSumIsOfferedThroughACastFromFloat32ThatTheOpAloneReads() {
        twoConsumers(new Generator(seed), true, h -> Ops.cast(h, DType.BFLOAT16));
        assertEquals(1, offered.size());
        assertNotNull(offered.get(0), "not offered through the cast (seed " + seed + ")");
        assertEquals(DType.FLOAT32, offered.get(0).dtype());
    }

    @Test
    void notThroughACastThatAnotherOpReadsToo() {
        Tensor[] cast = new Tensor[1];
        twoConsumers(new Generator(seed), true, h -> {
            cast[0] = Ops.cast(h, DType.BFLOAT16);
            return cast[0];
        });
        assertNotNull(offered.get(0));
        offered.clear();
        // The same with the cast read twice: acc and a second, plain op.
        try (var s = Scope.open()) {
            Generator gen = new Generator(seed);
            Tensor x = Tensor.randn(gen, 5, 4).requiresGrad(true);
            Tensor h = Ops.linear(x, Tensor.randn(gen, 6, 4), null);
            Tensor c = Ops.cast(h, DType.BFLOAT16);
            // walked: first, then acc (the cast has no gradient yet), then tanh
            Tensor loss = Ops.add(Ops.add(Ops.sum(c.tanh().to(DType.FLOAT32)), Ops.sum(acc(c).to(DType.FLOAT32))),
                    Ops.sum(first(h, true)));
            loss.backward();
            assertEquals(1, offered.size());
            assertNull(offered.get(0), "offered through a cast with two readers (seed " + seed + ")");
            x.zeroGrad();
        }
    }

    @Test
    void aGradientHandedToTwoInputsIsNotWrittenInPlace() {
        // h + acc(h): add's backward hands first's fresh gradient d, one tensor, to both operands,
        // so when acc runs, h's sum so far is d — which is also acc's own incoming gradient.
        try (var s = Scope.open()) {
            Generator gen = new Generator(seed);
            Tensor x = Tensor.randn(gen, 5, 4).requiresGrad(true);
            Tensor w = Tensor.randn(gen, 6, 4);
            Tensor h = Ops.linear(x, w, null);
            Ops.sum(first(Ops.add(h, acc(h)), true)).backward();
            assertEquals(1, offered.size());
            assertNull(offered.get(0), "offered a gradient another input holds too (seed " + seed + ")");
            // dL/dh = 3·(1 + 2) = 9 everywhere: dx[n, i] = 9·Σ_o w[o, i]
            float[] wv = w.toFloatArray();
            float[] dx = x.grad().toFloatArray();
            for (int i = 0; i < 4; i++) {
                double col = 0;
                for (int o = 0; o < 6; o++) {
                    col += wv[o * 4 + i];
                }
                assertEquals(9 * col, dx[i], 1e-4 * (1 + Math.abs(col)), "dx[0, " + i + "] (seed " + seed + ")");
            }
            x.zeroGrad();
        }
    }

    @Test
    void aSumWhoseOtherReaderAlreadyRanIsWrittenInPlace() {
        // acc(h) + sum(first(h + other)): other's projection reads the shared d before acc runs,
        // and then d is h's alone.
        try (var s = Scope.open()) {
            Generator gen = new Generator(seed);
            Tensor x = Tensor.randn(gen, 5, 4).requiresGrad(true);
            Tensor h = Ops.linear(x, Tensor.randn(gen, 6, 4), null);
            Tensor other = Ops.linear(x, Tensor.randn(gen, 6, 4), null);
            Ops.add(Ops.sum(acc(h)), Ops.sum(first(Ops.add(h, other), true))).backward();
            assertEquals(1, offered.size());
            assertNotNull(offered.get(0), "seed " + seed);
            x.zeroGrad();
        }
    }

    /**
     * A gradient made for one input and handed by an op to several — a leaf among them — must not
     * become the leaf's {@code grad}: the leaf's next gradient would be added into it in place
     * while another input still waits to read it. Here {@code fan(x, y, c) = x + y + c} hands one
     * fresh tensor to all three, and c's own backward gives x a second gradient before y's runs.
     */
    @Test
    void aGradientHandedToALeafAndToAPendingInputIsNotAdoptedByTheLeaf() {
        Generator gen = new Generator(seed);
        Tensor x = Tensor.randn(gen, 5, 4).requiresGrad(true);
        Tensor z = Tensor.randn(gen, 5, 4).requiresGrad(true);
        Tensor w = Tensor.randn(gen, 4, 4).requiresGrad(true);
        Tensor q = Tensor.randn(gen, 5, 4);
        Tensor r = Tensor.randn(gen, 5, 4);
        try (var s = Scope.open()) {
            Tensor y = Ops.linear(z, w, null);
            Tensor c = Ops.mul(x, q);
            Tensor sum = Ops.add(Ops.add(x.detach(), y.detach()), c.detach());
            Tensor fan = Autograd.record("fan", sum, g -> {
                Tensor d = Ops.scale(g, 1f);
                d.freshGradient = true;   // made here; handed to all three inputs
                return new Tensor[] {d, d, d};
            }, x, y, c);
            Ops.sum(Ops.mul(fan, r)).backward();
            // dL/dfan = r: dx = r + r·q, dw = rᵀ·z
            float[] rv = r.toFloatArray();
            float[] qv = q.toFloatArray();
            float[] zv = z.toFloatArray();
            float[] dx = x.grad().toFloatArray();
            float[] dw = w.grad().toFloatArray();
            for (int i = 0; i < rv.length; i++) {
                assertEquals(rv[i] + rv[i] * qv[i], dx[i], 1e-5, "dx[" + i + "] (seed " + seed + ")");
            }
            for (int o = 0; o < 4; o++) {
                for (int in = 0; in < 4; in++) {
                    double e = 0;
                    for (int n = 0; n < 5; n++) {
                        e += (double) rv[n * 4 + o] * zv[n * 4 + in];
                    }
                    assertEquals(e, dw[o * 4 + in], 1e-4, "dw[" + o + ", " + in + "] (seed " + seed + ")");
                }
            }
            x.zeroGrad();
            z.zeroGrad();
            w.zeroGrad();
        }
    }

    /**
     * One BERT-shaped layer (query/key/value projections and the residual of the attention's
     * LayerNorm reading the same hidden states, an up-projection and the output LayerNorm's
     * residual reading the next), its leaf gradients with the in-place sums on and off: the
     * same bits on the CPU backend, in float32 and under bfloat16 autocast.
     */
    @Test
    void aBertShapedLayerGetsTheSameBitsWithAndWithoutInPlaceSums() {
        for (DType low : new DType[] {null, DType.BFLOAT16}) {
            List<int[]> on = layerGradients(low);
            System.setProperty(Autograd.SUMS_IN_PLACE, "false");
            List<int[]> off = layerGradients(low);
            System.clearProperty(Autograd.SUMS_IN_PLACE);
            assertEquals(off.size(), on.size());
            for (int i = 0; i < on.size(); i++) {
                assertArrayEquals(off.get(i), on.get(i), "gradient " + i + " under " + low + " (seed " + seed + ")");
            }
        }
    }

    private List<int[]> layerGradients(DType low) {
        Generator gen = new Generator(seed);
        int rows = 12;
        int hid = 16;
        int ffn = 320;   // deeper than one CPU GEMM depth block (256): a GEMM with beta 1 would round differently
        List<Tensor> leaves = new ArrayList<>();
        Function<int[], Tensor> leaf = shape -> {
            Tensor t = Tensor.randn(gen, shape).requiresGrad(true);
            leaves.add(t);
            return t;
        };
        Tensor x0 = leaf.apply(new int[] {rows, hid});
        Tensor g0 = leaf.apply(new int[] {hid});
        Tensor b0 = leaf.apply(new int[] {hid});
        Tensor[] w = new Tensor[4];
        Tensor[] b = new Tensor[4];
        for (int i = 0; i < 4; i++) {
            w[i] = leaf.apply(new int[] {hid, hid});
            b[i] = leaf.apply(new int[] {hid});
        }
        Tensor wi = leaf.apply(new int[] {ffn, hid});
        Tensor bi = leaf.apply(new int[] {ffn});
        Tensor wd = leaf.apply(new int[] {hid, ffn});
        Tensor bd = leaf.apply(new int[] {hid});
        Tensor g1 = leaf.apply(new int[] {hid});
        Tensor b1 = leaf.apply(new int[] {hid});
        Tensor g2 = leaf.apply(new int[] {hid});
        Tensor b2 = leaf.apply(new int[] {hid});
        Tensor r = Tensor.randn(gen, rows, hid);
        List<int[]> grads = new ArrayList<>();
        try (var s = Scope.open(); var ac = low == null ? null : Autocast.enable(low)) {
            Tensor h = Ops.layerNorm(x0, null, g0, b0, 1e-12f);
            Tensor qv = Ops.linear(h, w[0], b[0]);
            Tensor kv = Ops.linear(h, w[1], b[1]);
            Tensor vv = Ops.linear(h, w[2], b[2]);
            Tensor mixed = Ops.add(Ops.mul(qv, kv), vv);
            Tensor h1 = Ops.dropoutLayerNorm(Ops.linear(mixed, w[3], b[3]), 0.1f, 11L, h, g1, b1, 1e-12f);
            Tensor up = Ops.linearGelu(h1, wi, bi);
            Tensor h2 = Ops.dropoutLayerNorm(Ops.linear(up, wd, bd), 0.1f, 12L, h1, g2, b2, 1e-12f);
            Ops.sum(Ops.mul(h2, r)).backward();
        }
        for (Tensor t : leaves) {
            grads.add(FloatBits.of(t.grad()));
            t.close();
        }
        r.close();
        return grads;
    }
}
