package dev.solder.bert;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.solder.Autograd;
import dev.solder.Generator;
import dev.solder.Ops;
import dev.solder.Scope;
import dev.solder.Tensor;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.SplittableRandom;
import org.junit.jupiter.api.Test;

/**
 * The packed encoder ({@link PackedTokens}: per-token work on the real tokens only, the last
 * layer on the [CLS] rows only) computes what the padded encoder computes.
 */
class PackedTokensTest {
    private static final int B = 5;
    private static final int S = 11;

    /** Ragged right-padded inputs: lengths drawn from [1, S], one row always full. */
    private static Tensor[] raggedInputs(long seed) {
        SplittableRandom r = new SplittableRandom(seed);
        long[] ids = new long[B * S];
        long[] types = new long[B * S];
        long[] mask = new long[B * S];
        for (int b = 0; b < B; b++) {
            int len = b == 2 ? S : r.nextInt(1, S + 1);
            for (int s = 0; s < len; s++) {
                ids[b * S + s] = r.nextInt(1, BertTestSupport.VOCAB);
                types[b * S + s] = s >= len / 2 ? 1 : 0;
                mask[b * S + s] = 1;
            }
        }
        return new Tensor[] {Tensor.ofLongs(ids, B, S), Tensor.ofLongs(types, B, S), Tensor.ofLongs(mask, B, S)};
    }

    private static float maxAbsDiff(float[] a, float[] b) {
        assertEquals(a.length, b.length);
        float m = 0;
        for (int i = 0; i < a.length; i++) {
            m = Math.max(m, Math.abs(a[i] - b[i]));
        }
        return m;
    }

    @Test
    void packAndSpreadPlaceTheRealTokens() {
        try (Scope s = Scope.open()) {
            Tensor ids = Tensor.zeros(2, 3);
            Tensor mask = Tensor.ofLongs(new long[] {1, 1, 0, 1, 0, 0}, 2, 3);
            PackedTokens p = PackedTokens.of(ids, mask);
            assertNotNull(p);
            assertEquals(3, p.tokens());
            Tensor padded = Tensor.of(new float[] {0, 1, 2, 3, 4, 5}, 2, 3, 1);
            assertArrayEquals(new float[] {0, 1, 3}, p.pack(padded).toFloatArray());
            // Padding positions hold a copy of their sequence's first token.
            assertArrayEquals(new float[] {0, 1, 0, 3, 3, 3}, p.spread(p.pack(padded)).toFloatArray());
            assertArrayEquals(new float[] {0, 3}, p.firstTokens(p.pack(padded)).toFloatArray());
            // A float mask counts any nonzero as a token, as the attention op does.
            PackedTokens f = PackedTokens.of(ids, Tensor.of(new float[] {1, 0.5f, 0, 1, 0, 0}, 2, 3));
            assertEquals(3, f.tokens());
        }
    }

    @Test
    void aSequenceStartingWithPaddingKeepsThePaddedPath() {
        try (Scope s = Scope.open()) {
            Tensor ids = Tensor.zeros(2, 3);
            assertNull(PackedTokens.of(ids, Tensor.ofLongs(new long[] {1, 1, 1, 0, 1, 1}, 2, 3)));
            assertNull(PackedTokens.of(ids, Tensor.ofLongs(new long[] {1, 1}, 1, 2)), "a mask of the wrong shape");
            assertNotNull(PackedTokens.of(ids, null), "no mask: every position is a token");
        }
    }

    @Test
    void pooledMatchesThePaddedEncoderInEval() {
        long seed = BertTestSupport.freshSeed("pooledMatchesThePaddedEncoderInEval");
        try (var bert = new BertModel(BertTestSupport.config(), new Generator(seed), true);
                var ng = Autograd.noGrad(); Scope s = Scope.open()) {
            bert.eval();
            Tensor[] in = raggedInputs(seed);
            float[] padded = bert.forward(in[0], in[1], in[2]).pooled().toFloatArray();
            float[] packed = bert.pooled(in[0], in[1], in[2]).toFloatArray();
            float d = maxAbsDiff(padded, packed);
            System.out.println("packed vs padded pooled: max |diff| " + d);
            assertTrue(d <= 1e-5f, "max |packed - padded| = " + d + " (seed " + seed + ")");
            float[] full = bert.forward(in[0], in[1], null).pooled().toFloatArray();
            float dFull = maxAbsDiff(full, bert.pooled(in[0], in[1], null).toFloatArray());
            assertTrue(dFull <= 1e-5f, "no mask: max |diff| = " + dFull + " (seed " + seed + ")");
        }
    }

    @Test
    void gradientsMatchThePaddedEncoderWithoutDropout() {
        long seed = BertTestSupport.freshSeed("gradientsMatchThePaddedEncoderWithoutDropout");
        BertConfig c = BertConfig.builder().vocabSize(BertTestSupport.VOCAB).hiddenSize(32).numHiddenLayers(2)
                .numAttentionHeads(4).intermediateSize(64).maxPositionEmbeddings(40).dropout(0f, 0f).build();
        try (var bert = new BertModel(c, new Generator(seed), true); Scope s = Scope.open()) {
            bert.train();
            Tensor[] in = raggedInputs(seed);
            Tensor weights = Tensor.randn(new Generator(seed + 1), B, 32);
            Map<String, float[]> padded = gradients(bert, () -> bert.forward(in[0], in[1], in[2]).pooled(), weights);
            Map<String, float[]> packed = gradients(bert, () -> bert.pooled(in[0], in[1], in[2]), weights);
            for (var e : padded.entrySet()) {
                float d = maxAbsDiff(e.getValue(), packed.get(e.getKey()));
                assertTrue(d <= 2e-5f, e.getKey() + ": max |packed - padded| gradient " + d + " (seed " + seed + ")");
            }
        }
    }

    @Test
    void trainingWithDropoutIsReproducible() {
        long seed = BertTestSupport.freshSeed("trainingWithDropoutIsReproducible");
        float[][] runs = new float[2][];
        for (int run = 0; run < 2; run++) {
            try (var bert = new BertModel(BertTestSupport.config(), new Generator(seed), true); Scope s = Scope.open()) {
                bert.train();
                Tensor[] in = raggedInputs(seed);
                runs[run] = bert.pooled(in[0], in[1], in[2]).toFloatArray();
            }
        }
        // Dropout is on (hidden 0.1, attention 0.1): same seed, same masks, same bits.
        assertArrayEquals(runs[0], runs[1], 0f, "seed " + seed);
    }

    private static Map<String, float[]> gradients(BertModel bert, java.util.function.Supplier<Tensor> pooled, Tensor weights) {
        bert.zeroGrad();
        Ops.sum(Ops.mul(pooled.get(), weights)).backward();
        Map<String, float[]> grads = new LinkedHashMap<>();
        for (var e : bert.namedParameters().entrySet()) {
            Tensor g = e.getValue().grad();
            assertNotNull(g, e.getKey() + " got no gradient");
            grads.put(e.getKey(), g.toFloatArray());
        }
        return grads;
    }
}
