package dev.solder.nn;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.solder.Backends;
import dev.solder.Device;
import dev.solder.Generator;
import dev.solder.Scope;
import dev.solder.Tensor;
import dev.solder.spi.Backend;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

class ModuleTest {
    private static final Backend CPU = Backends.forKind(Device.Kind.CPU);

    private static TinyEncoder model(long seed, int hidden) {
        return new TinyEncoder(MajorityTask.VOCAB, 16, hidden, 2, 2, 0.1f, new Generator(seed));
    }

    @Test
    void generatorsAreListedOnceUnderTheirFirstPath() {
        Generator shared = new Generator(7);
        Generator own = new Generator(8);
        class Block extends Module {
            Block() {
                registerModule("drop", new Dropout(0.1f, shared));
                registerModule("drop2", new Dropout(0.2f, own));
            }
        }
        class Net extends Module {
            Net() {
                registerModule("a", new Block());
                registerModule("b", new Dropout(0.1f, shared));
                registerModule("none", new Dropout(0f, null));
            }
        }
        try (Net net = new Net()) {
            Map<String, Generator> g = net.namedGenerators();
            assertEquals(List.of("a.drop#rng", "a.drop2#rng"), List.copyOf(g.keySet()));
            assertSame(shared, g.get("a.drop#rng"));
            assertSame(own, g.get("a.drop2#rng"));
            var e = assertThrows(IllegalArgumentException.class, () -> net.registerGenerator("a", new Generator(1)));
            assertTrue(e.getMessage().contains("already registered"), e.getMessage());
        }
    }

    @Test
    void namesFollowHuggingFaceAndAreSetOnTensors() {
        long seed = Long.getLong("solder.test.seed", System.nanoTime());
        try (var m = model(seed, 8)) {
            var names = List.copyOf(m.namedParameters().keySet());
            assertEquals(List.of(
                    "embeddings.word_embeddings.weight",
                    "embeddings.position_embeddings.weight",
                    "embeddings.LayerNorm.weight",
                    "embeddings.LayerNorm.bias",
                    "encoder.layer.0.attention.self.query.weight",
                    "encoder.layer.0.attention.self.query.bias",
                    "encoder.layer.0.attention.self.key.weight",
                    "encoder.layer.0.attention.self.key.bias",
                    "encoder.layer.0.attention.self.value.weight",
                    "encoder.layer.0.attention.self.value.bias",
                    "encoder.layer.0.attention.output.dense.weight",
                    "encoder.layer.0.attention.output.dense.bias",
                    "encoder.layer.0.attention.output.LayerNorm.weight",
                    "encoder.layer.0.attention.output.LayerNorm.bias",
                    "encoder.layer.0.intermediate.dense.weight",
                    "encoder.layer.0.intermediate.dense.bias",
                    "encoder.layer.0.output.dense.weight",
                    "encoder.layer.0.output.dense.bias",
                    "encoder.layer.0.output.LayerNorm.weight",
                    "encoder.layer.0.output.LayerNorm.bias",
                    "classifier.weight",
                    "classifier.bias"), names);
            for (var e : m.namedParameters().entrySet()) {
                assertEquals(e.getKey(), e.getValue().name());
                assertTrue(e.getValue().requiresGrad(), e.getKey());
                assertFalse(e.getValue().isScoped(), e.getKey());
            }
            long expect = 8 * 8 + 16 * 8 + 2 * 8 + 4 * (8 * 8 + 8) + 2 * 8 + (8 * 32 + 32) + (32 * 8 + 8) + 2 * 8 + 2 * 8 + 2;
            assertEquals(expect, m.numParameters());
            // The non-persistent position_ids buffer is a buffer, but not state.
            assertEquals(List.of("embeddings.position_ids"), List.copyOf(m.namedBuffers().keySet()));
            assertEquals(names, List.copyOf(m.stateDict().keySet()));
            assertTrue(m.namedModules().containsKey("encoder.layer.0.attention.self.query"));
        }
    }

    @Test
    void initialisationFollowsHfBert() {
        long seed = Long.getLong("solder.test.seed", System.nanoTime());
        try (var lin = new Linear(256, 128, true, new Generator(seed));
             var ln = new LayerNorm(64, 1e-12f);
             var emb = new Embedding(50, 32, 3, new Generator(seed + 1))) {
            double[] w = lin.weight().toDoubleArray();
            double mean = 0;
            double sq = 0;
            for (double x : w) {
                mean += x;
                sq += x * x;
            }
            mean /= w.length;
            double std = Math.sqrt(sq / w.length - mean * mean);
            assertEquals(0.02, std, 0.02 * 0.03, "weight std, seed=" + seed);
            assertEquals(0, mean, 0.001, "weight mean, seed=" + seed);
            assertArrayEquals(new int[] {128, 256}, lin.weight().shape());
            assertArrayEquals(new float[128], lin.bias().toFloatArray());
            float[] ones = new float[64];
            java.util.Arrays.fill(ones, 1f);
            assertArrayEquals(ones, ln.weight().toFloatArray());
            assertArrayEquals(new float[64], ln.bias().toFloatArray());
            float[] e = emb.weight().toFloatArray();
            for (int r = 0; r < 50; r++) {
                boolean allZero = true;
                for (int c = 0; c < 32; c++) {
                    allZero &= e[r * 32 + c] == 0f;
                }
                assertEquals(r == 3, allZero, "row " + r + " (padding row is 3), seed=" + seed);
            }
        }
    }

    @Test
    void registrationRejectsWhatWouldBreakLater() {
        var m = new TinyEncoder.Container();
        try (m) {
            try (var s = Scope.open()) {
                Tensor scoped = Tensor.zeros(3);
                var e = assertThrows(IllegalArgumentException.class, () -> m.registerParameter("w", scoped));
                assertTrue(e.getMessage().contains("Scope"), e.getMessage());
            }
            m.registerParameter("w", Params.zeros(3));
            assertThrows(IllegalArgumentException.class, () -> m.registerParameter("w", Params.zeros(3)));
            assertThrows(IllegalArgumentException.class, () -> m.registerParameter("a.b", Params.zeros(3)));
            Tensor ints = Tensor.emptyUnscoped(new int[] {2}, dev.solder.DType.INT32, Device.cpu());
            assertThrows(IllegalArgumentException.class, () -> m.registerParameter("i", ints));
            ints.close();
        }
        assertTrue(m.isClosed());
    }

    @Test
    void stateDictRoundTripReproducesOutputs() {
        long seed = Long.getLong("solder.test.seed", System.nanoTime());
        try (var a = model(seed, 16); var b = model(seed + 7, 16); var s = Scope.open()) {
            a.eval();
            b.eval();
            var batch = MajorityTask.batch(new Generator(seed), 4, 10);
            float[] ya = a.forward(batch.ids(), batch.mask()).toFloatArray();
            float[] yb = b.forward(batch.ids(), batch.mask()).toFloatArray();
            assertFalse(java.util.Arrays.equals(ya, yb), "differently seeded models agree, seed=" + seed);

            Map<String, Tensor> before = b.stateDict();
            var result = b.loadStateDict(a.stateDict(), true);
            assertTrue(result.isExact());
            // Values are copied into the same tensors, so optimizers holding them stay valid.
            for (var e : before.entrySet()) {
                assertSame(e.getValue(), b.stateDict().get(e.getKey()), e.getKey());
            }
            assertArrayEquals(ya, b.forward(batch.ids(), batch.mask()).toFloatArray(), "seed=" + seed);
        }
    }

    @Test
    void loadStateDictReportsShapeMismatchAndKeys() {
        long seed = Long.getLong("solder.test.seed", System.nanoTime());
        try (var small = model(seed, 8); var big = model(seed, 16)) {
            var e = assertThrows(IllegalArgumentException.class, () -> small.loadStateDict(big.stateDict(), false));
            String msg = e.getMessage();
            assertTrue(msg.contains("embeddings.word_embeddings.weight: checkpoint has [8, 16], model has [8, 8]"), msg);
            assertTrue(msg.contains("classifier.weight: checkpoint has [2, 16], model has [2, 8]"), msg);

            float[] wordBefore = small.embeddings.word.weight().toFloatArray();
            try (var other = model(seed + 1, 8)) {
                Map<String, Tensor> sd = new LinkedHashMap<>(other.stateDict());
                sd.remove("classifier.bias");
                sd.put("pooler.dense.weight", other.classifier.weight());
                var strict = assertThrows(IllegalArgumentException.class, () -> small.loadStateDict(sd, true));
                assertTrue(strict.getMessage().contains("missing keys [classifier.bias]"), strict.getMessage());
                assertTrue(strict.getMessage().contains("unexpected keys [pooler.dense.weight]"), strict.getMessage());
                // A failed strict load changes nothing.
                assertArrayEquals(wordBefore, small.embeddings.word.weight().toFloatArray());

                var r = small.loadStateDict(sd, false);
                assertEquals(List.of("classifier.bias"), r.missing());
                assertEquals(List.of("pooler.dense.weight"), r.unexpected());
                assertArrayEquals(other.embeddings.word.weight().toFloatArray(), small.embeddings.word.weight().toFloatArray());
            }
        }
    }

    @Test
    void loadStateDictConvertsDtype() {
        long seed = Long.getLong("solder.test.seed", System.nanoTime());
        try (var lin = new Linear(4, 3, true, new Generator(seed)); var s = Scope.open()) {
            var g = new Generator(seed);
            Tensor w = Tensor.randn(g, 3, 4).to(dev.solder.DType.BFLOAT16);
            Tensor b = Tensor.randn(g, 3);
            lin.loadStateDict(Map.of("weight", w, "bias", b), true);
            assertArrayEquals(w.toFloatArray(), lin.weight().toFloatArray());
            assertEquals(dev.solder.DType.FLOAT32, lin.weight().dtype());
            assertArrayEquals(b.toFloatArray(), lin.bias().toFloatArray());
        }
    }

    @Test
    void dropoutFollowsTrainAndEval() {
        long seed = Long.getLong("solder.test.seed", System.nanoTime());
        var drop = new Dropout(0.5f, new Generator(seed));
        try (var s = Scope.open()) {
            Tensor x = Tensor.rand(new Generator(seed), 8, 64).add(Tensor.ones(8, 64));   // all in [1, 2): never 0
            float[] xs = x.toFloatArray();
            assertTrue(drop.isTraining());
            float[] y1 = drop.forward(x).toFloatArray();
            float[] y2 = drop.forward(x).toFloatArray();
            assertFalse(java.util.Arrays.equals(y1, y2), "two training calls drew the same mask, seed=" + seed);
            int dropped = 0;
            for (int i = 0; i < xs.length; i++) {
                if (y1[i] == 0f) {
                    dropped++;
                } else {
                    assertEquals(2 * xs[i], y1[i], 1e-6f * xs[i], "kept elements scale by 1/(1-p), seed=" + seed);
                }
            }
            assertTrue(dropped > 180 && dropped < 332, dropped + " of 512 dropped at p=0.5, seed=" + seed);

            drop.eval();
            assertSame(x, drop.forward(x));
            assertArrayEquals(xs, drop.forward(x).toFloatArray());
        }
    }

    @Test
    void modelEvalIsDeterministicAndTrainIsNot() {
        long seed = Long.getLong("solder.test.seed", System.nanoTime());
        try (var m = model(seed, 16); var s = Scope.open()) {
            var batch = MajorityTask.batch(new Generator(seed), 6, 12);
            float[] t1 = m.forward(batch.ids(), batch.mask()).toFloatArray();
            float[] t2 = m.forward(batch.ids(), batch.mask()).toFloatArray();
            assertFalse(java.util.Arrays.equals(t1, t2), "dropout inactive in train mode, seed=" + seed);
            m.eval();
            assertFalse(m.embeddings.dropout.isTraining(), "eval() must reach grandchildren");
            float[] e1 = m.forward(batch.ids(), batch.mask()).toFloatArray();
            float[] e2 = m.forward(batch.ids(), batch.mask()).toFloatArray();
            assertArrayEquals(e1, e2, "seed=" + seed);
            m.train();
            assertTrue(m.layers.get(0).dropout.isTraining());
        }
    }

    @Test
    void zeroGradAndCloseFreeEverything() {
        long seed = Long.getLong("solder.test.seed", System.nanoTime());
        long base = CPU.liveBytes(Device.cpu());
        var m = model(seed, 8);
        try (var s = Scope.open()) {
            var batch = MajorityTask.batch(new Generator(seed), 4, 8);
            dev.solder.Ops.crossEntropy(m.forward(batch.ids(), batch.mask()), batch.labels()).backward();
        }
        for (var e : m.namedParameters().entrySet()) {
            assertTrue(e.getValue().grad() != null, "no grad for " + e.getKey());
        }
        m.zeroGrad();
        for (Tensor p : m.parameters()) {
            assertEquals(null, p.grad());
        }
        assertSame(m, m.to(Device.cpu()), "moving to the current device is a no-op");
        List<Tensor> params = m.parameters();
        m.close();
        for (Tensor p : params) {
            assertTrue(p.isClosed());
        }
        assertEquals(base, CPU.liveBytes(Device.cpu()), "bytes left after close, seed=" + seed);
        assertNotEquals(0, params.size());
    }
}
