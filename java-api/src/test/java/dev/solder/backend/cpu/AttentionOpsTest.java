package dev.solder.backend.cpu;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;

import dev.solder.Ops;
import dev.solder.Scope;
import dev.solder.Tensor;
import org.junit.jupiter.api.Test;

/**
 * Attention against a float64 HF-style reference: padding masks (trailing padding, as a
 * tokenizer produces, which the CPU skips; holes and left padding, which it masks), dropout on the probabilities by the Philox index rule, and a query
 * batch whose keys are all masked.
 */
class AttentionOpsTest {
    private static final int B = 2;
    private static final int S = 5;
    private static final int H = 3;
    private static final int D = 4;

    private final GradCheck gc = new GradCheck();

    /** Batch 0 full length, batch 1 with its last two positions padding. */
    private static final int[] PADDING = {1, 1, 1, 1, 1, 1, 1, 1, 0, 0};

    @Test
    void attentionWithPaddingMask() {
        gc.op("attention + padding mask").input("q", B, S, H * D).input("k", B, S, H * D).input("v", B, S, H * D)
                .run(t -> Ops.attention(t[0], t[1], t[2], Tensor.ofInts(PADDING, B, S), H, 0f, 0),
                        x -> Reference.attention(x[0], x[1], x[2], PADDING, B, S, H, 0, 0));
    }

    @Test
    void attentionWithHolesAndLeftPadding() {
        // Not "ones then zeros": these take the additive mask, not the skipped-keys path.
        int[] mask = {1, 0, 1, 1, 0, 0, 0, 1, 1, 1};
        gc.op("attention + mask with holes / left padding").input("q", B, S, H * D).input("k", B, S, H * D)
                .input("v", B, S, H * D)
                .run(t -> Ops.attention(t[0], t[1], t[2], Tensor.ofInts(mask, B, S), H, 0.25f, 7),
                        x -> Reference.attention(x[0], x[1], x[2], mask, B, S, H, 0.25, 7));
    }

    @Test
    void attentionWithoutMask() {
        gc.op("attention, no mask").input("q", B, S, H * D).input("k", B, S, H * D).input("v", B, S, H * D)
                .run(t -> Ops.attention(t[0], t[1], t[2], null, H, 0f, 0),
                        x -> Reference.attention(x[0], x[1], x[2], null, B, S, H, 0, 0));
    }

    @Test
    void attentionWithPaddingMaskAndDropout() {
        long seed = gc.rng.nextLong();
        gc.op("attention + padding mask + dropout 0.25").input("q", B, S, H * D).input("k", B, S, H * D)
                .input("v", B, S, H * D)
                .run(t -> Ops.attention(t[0], t[1], t[2], Tensor.ofInts(PADDING, B, S), H, 0.25f, seed),
                        x -> Reference.attention(x[0], x[1], x[2], PADDING, B, S, H, 0.25, seed));
    }

    @Test
    void attentionWithAFloatMask() {
        double[] mask = new double[PADDING.length];
        for (int i = 0; i < mask.length; i++) {
            mask[i] = PADDING[i];
        }
        gc.op("attention + float mask").input("q", B, S, H * D).input("k", B, S, H * D).input("v", B, S, H * D)
                .run(t -> Ops.attention(t[0], t[1], t[2], GradCheck.tensor(mask, B, S), H, 0f, 0),
                        x -> Reference.attention(x[0], x[1], x[2], PADDING, B, S, H, 0, 0));
    }

    @Test
    void attentionLargeEnoughForTheBlockedGemm() {
        // S·S·D = 48·48·16 passes Sgemm's small-product cut-off; gradients sampled to stay quick.
        int b = 1;
        int s = 48;
        int h = 2;
        int d = 16;
        int[] mask = new int[s];
        for (int j = 0; j < s; j++) {
            mask[j] = j < 41 ? 1 : 0;
        }
        long seed = gc.rng.nextLong();
        gc.op("attention [1,48,32] h=2 + dropout").input("q", b, s, h * d).input("k", b, s, h * d).input("v", b, s, h * d)
                .sample(12).tolerances(1e-5, 1e-4, 2e-5)
                .run(t -> Ops.attention(t[0], t[1], t[2], Tensor.ofInts(mask, b, s), h, 0.1f, seed),
                        x -> Reference.attention(x[0], x[1], x[2], mask, b, s, h, 0.1, seed));
    }

    @Test
    void fullyMaskedSequenceAttendsUniformly() {
        // HF adds finfo.min to every score of such a row: the softmax is uniform over all keys.
        int[] mask = {1, 1, 1, 0, 0, 0, 0, 0, 0, 0};
        double[] q = gc.randn(B * S * H * D);
        double[] k = gc.randn(B * S * H * D);
        double[] v = gc.randn(B * S * H * D);
        try (Scope scope = Scope.open()) {
            float[] out = Ops.attention(GradCheck.tensor(q, B, S, H * D), GradCheck.tensor(k, B, S, H * D),
                    GradCheck.tensor(v, B, S, H * D), Tensor.ofInts(mask, B, S), H, 0f, 0).toFloatArray();
            int w = H * D;
            for (int i = 0; i < S; i++) {
                for (int c = 0; c < w; c++) {
                    double mean = 0;
                    for (int j = 0; j < S; j++) {
                        mean += v[(S + j) * w + c] / S;
                    }
                    assertEquals(mean, out[(S + i) * w + c], 1e-6, "query " + i + " channel " + c + " (" + gc.tag() + ")");
                }
            }
        }
    }

    @Test
    void dropoutChangesWithTheSeed() {
        double[] q = gc.randn(B * S * H * D);
        try (Scope scope = Scope.open()) {
            Tensor t = GradCheck.tensor(q, B, S, H * D);
            float[] a = Ops.attention(t, t, t, null, H, 0.5f, 1).toFloatArray();
            float[] a2 = Ops.attention(t, t, t, null, H, 0.5f, 1).toFloatArray();
            float[] b = Ops.attention(t, t, t, null, H, 0.5f, 2).toFloatArray();
            org.junit.jupiter.api.Assertions.assertArrayEquals(a, a2, 0f, "same seed (" + gc.tag() + ")");
            assertNotEquals(java.util.Arrays.toString(a), java.util.Arrays.toString(b), "another seed (" + gc.tag() + ")");
        }
    }
}
