package dev.solder;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.solder.nn.Linear;
import dev.solder.nn.Module;
import dev.solder.nn.Params;
import dev.solder.optim.AdamW;
import dev.solder.spi.Backend;
import java.lang.foreign.MemorySegment;
import java.util.ArrayList;
import java.util.List;
import java.util.function.Consumer;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;
import org.junit.jupiter.api.Test;

/**
 * Autocast's kept low-precision weights ({@link CastCache}): training with them gives the same
 * bits as casting every weight again each step; a write that is not the optimizer's makes the
 * copy stale; the copies live and die with their parameters.
 */
class CastCacheTest {
    private static final long SEED = Long.getLong("solder.test.seed", System.nanoTime());

    /** Two linear layers with a GELU between them: six parameters, every product lowered. */
    private static final class TwoLayers extends Module {
        final Linear fc1;
        final Linear fc2;

        TwoLayers(Generator g) {
            fc1 = registerModule("fc1", new Linear(12, 16, true, g, 0.3));
            fc2 = registerModule("fc2", new Linear(16, 3, true, g, 0.3));
        }

        Tensor forward(Tensor x) {
            return fc2.forward(fc1.forward(x).gelu());
        }
    }

    /** Losses of {@code steps} bf16-autocast AdamW steps; {@code beforeForward} runs at the start of each. */
    private static float[] train(TwoLayers model, DType low, int steps, Consumer<Integer> beforeForward) {
        Generator data = new Generator(SEED + 1);
        float[] losses = new float[steps];
        try (AdamW opt = AdamW.builder(model.namedParameters()).lr(0.02).weightDecay(0.01)
                .noDecayOn(AdamW.HF_NO_DECAY).build()) {
            for (int step = 0; step < steps; step++) {
                try (Scope s = Scope.open()) {
                    Tensor x = Tensor.randn(data, 8, 12);
                    int[] y = new int[8];
                    for (int i = 0; i < y.length; i++) {
                        y[i] = data.nextInt(3);
                    }
                    beforeForward.accept(step);
                    Tensor loss;
                    try (Autocast ac = Autocast.enable(low)) {
                        loss = Ops.crossEntropy(model.forward(x), Tensor.ofInts(y, 8));
                    }
                    loss.backward();
                    opt.clipGradNorm(0.5);
                    opt.step();
                    opt.zeroGrad();
                    losses[step] = loss.item();
                }
            }
        }
        return losses;
    }

    private static int[] bits(Tensor t) {
        return FloatBits.of(t);
    }

    @ParameterizedTest
    @EnumSource(value = DType.class, names = {"BFLOAT16", "FLOAT16"})
    void trainingWithKeptCopiesGivesTheBitsOfCastingEveryStep(DType low) {
        try (TwoLayers kept = new TwoLayers(new Generator(SEED)); TwoLayers recast = new TwoLayers(new Generator(SEED))) {
            List<Tensor> params = kept.parameters();
            List<Tensor> firstCopies = new ArrayList<>();
            float[] a = train(kept, low, 5, step -> {
                if (step == 1) {
                    // Made by step 0's casts and rewritten by its update: current, and still the same tensors.
                    for (Tensor p : params) {
                        assertNotNull(CastCache.current(p), "seed " + SEED + ": no current copy of " + p.describe());
                        firstCopies.add(p.castCopy);
                        assertEquals(low, p.castCopy.dtype());
                    }
                } else if (step > 1) {
                    for (int i = 0; i < params.size(); i++) {
                        assertSame(firstCopies.get(i), params.get(i).castCopy,
                                "seed " + SEED + ": step " + step + " made a new copy of " + params.get(i).describe());
                    }
                }
            });
            // The reference drops every copy before each forward: every weight is cast afresh.
            float[] b = train(recast, low, 5, step -> recast.parameters().forEach(CastCache::drop));
            assertArrayEquals(FloatBits.of(b), FloatBits.of(a), "seed " + SEED + ": losses");
            List<Tensor> ref = recast.parameters();
            for (int i = 0; i < params.size(); i++) {
                assertArrayEquals(bits(ref.get(i)), bits(params.get(i)), "seed " + SEED + ": " + params.get(i).describe());
                // The kept copy is the cast of the final weights, bit for bit.
                try (Scope s = Scope.open()) {
                    assertArrayEquals(bits(Ops.cast(params.get(i), low)), bits(CastCache.current(params.get(i))),
                            "seed " + SEED + ": kept copy of " + params.get(i).describe());
                }
            }
        }
    }

    /** Every backend write into a parameter outside the optimizer: copy, copy from the host, fill. */
    enum Write {
        COPY, COPY_FROM_HOST, FILL
    }

    @ParameterizedTest
    @EnumSource(Write.class)
    void aWriteOutsideTheOptimizerMakesTheCopyStale(Write write) {
        Generator g = new Generator(SEED);
        try (Tensor w = Params.normal(g, 1.0, 6, 5).requiresGrad(true);
             Tensor replacement = Params.normal(g, 1.0, 6, 5)) {
            try (Scope s = Scope.open()) {
                Tensor before = Autocast.lower(w, DType.BFLOAT16);
                assertNotNull(CastCache.current(w));
                assertArrayEquals(bits(Ops.cast(w, DType.BFLOAT16)), bits(before));
            }
            switch (write) {
                case COPY -> Params.copyInto(replacement, w);
                case COPY_FROM_HOST -> w.backend().copyFromHost(MemorySegment.ofArray(replacement.toFloatArray()), 0, w);
                case FILL -> w.backend().fill(w, 0.4375);
            }
            assertNull(CastCache.current(w), "seed " + SEED + ": the copy survived a " + write + " into the weight");
            try (Scope s = Scope.open()) {
                Tensor after = Autocast.lower(w, DType.BFLOAT16);
                assertArrayEquals(bits(Ops.cast(w, DType.BFLOAT16)), bits(after),
                        "seed " + SEED + ": autocast used old weights after a " + write);
            }
        }
    }

    @Test
    void onlyTrainableUnscopedFloat32LeavesAreKept() {
        Generator g = new Generator(SEED);
        try (Tensor frozen = Params.normal(g, 1.0, 4, 3); Tensor w = Params.normal(g, 1.0, 4, 3).requiresGrad(true);
             Scope s = Scope.open()) {
            Tensor scoped = Tensor.randn(g, 4, 3).requiresGrad(true);
            Tensor computed = Ops.scale(w, 2f);
            for (Tensor t : new Tensor[] {frozen, scoped, computed}) {
                Autocast.lower(t, DType.BFLOAT16);
                assertNull(t.castCopy, t.describe() + " got a kept copy");
            }
            Autocast.lower(w, DType.BFLOAT16);
            assertNotNull(w.castCopy);
        }
    }

    @Test
    void keptCopiesAreFreedWithTheirParameterAndGradientsStillReachIt() {
        Generator g = new Generator(SEED);
        long baseline = Backends.forDevice(Device.cpu()).liveBytes(Device.cpu());
        Tensor w = Params.normal(g, 1.0, 7, 5).requiresGrad(true);
        Tensor copy;
        try (Scope s = Scope.open()) {
            Tensor x = Tensor.randn(g, 3, 5);
            Tensor y;
            try (Autocast ac = Autocast.enable(DType.BFLOAT16)) {
                y = Ops.linear(x, w, null);
            }
            assertEquals(DType.BFLOAT16, y.dtype());
            Ops.sum(Ops.cast(y, DType.FLOAT32)).backward();
            assertNotNull(w.grad(), "the gradient did not reach the weight through its kept copy");
            assertEquals(DType.FLOAT32, w.grad().dtype());
            copy = w.castCopy;
            assertNotNull(copy);
        }
        assertTrue(!copy.isClosed(), "the copy died with the step's scope");
        w.close();
        assertTrue(copy.isClosed(), "the copy outlived its parameter");
        assertEquals(baseline, Backends.forDevice(Device.cpu()).liveBytes(Device.cpu()), "bytes left behind");
    }

    @Test
    void anUpdateRejectsACopyThatIsNotAContiguousHalfOfTheParameter() {
        try (Scope s = Scope.open()) {
            Tensor p = Tensor.zeros(4, 3);
            Tensor wrongType = Tensor.zeros(DType.FLOAT32, Device.cpu(), 4, 3);
            Tensor wrongSize = Tensor.zeros(DType.BFLOAT16, Device.cpu(), 5, 3);
            for (Tensor bad : new Tensor[] {wrongType, wrongSize}) {
                IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                        () -> new Backend.AdamWParam(p, p, p, p, 0f, 1f, 1f, bad));
                assertTrue(e.getMessage().contains(bad.describe()) && e.getMessage().contains(p.describe()), e.getMessage());
            }
        }
    }
}
