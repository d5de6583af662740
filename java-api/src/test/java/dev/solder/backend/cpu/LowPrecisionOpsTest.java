package dev.solder.backend.cpu;

import dev.solder.DType;
import dev.solder.Ops;
import dev.solder.Tensor;
import org.junit.jupiter.api.Test;

/**
 * Ops on bfloat16 (and float16) storage: inputs are rounded to the storage type, so the
 * float64 reference sees exactly what the kernels read; the kernels compute in float32 and
 * round each output once. Outputs in bfloat16 carry 8 significant bits (relative error
 * ≤ 2^-9 ≈ 2e-3 per rounding), hence the 1e-2 tolerances, forward and backward (backward
 * passes reuse rounded forward outputs such as softmax probabilities). The absolute parts
 * are 1e-2 of the output's scale too: an op that normalises (LayerNorm, softmax) turns a
 * relative rounding of its input into an absolute error on outputs near zero.
 */
class LowPrecisionOpsTest {
    private final GradCheck gc = new GradCheck();

    private GradCheck.Case bf16(String name) {
        return gc.op(name).dtype(DType.BFLOAT16).tolerances(1e-2, 1e-2, 1e-2, 1e-2);
    }

    @Test
    void linear() {
        bf16("linear bf16").input("x", 2, 3, 4).input("w", 5, 4).input("b", 5)
                .run(t -> Ops.linear(t[0], t[1], t[2]), x -> MatmulOpsTest.linear(x[0], x[1], x[2], 6, 4, 5));
    }

    @Test
    void batchedMatmulWithTransposedOperand() {
        bf16("matmul bf16").input("a", 2, 3, 4).input("bt", 2, 5, 4)
                .run(t -> Ops.matmul(t[0], Ops.transpose(t[1])),
                        x -> Reference.matmul(2, 3, 4, 5, x[0], false, Reference.transpose(x[1], 2, 5, 4), false));
    }

    @Test
    void geluAndTanh() {
        bf16("gelu bf16").input("x", 3, 9).run(t -> Ops.gelu(t[0]), x -> Reference.map(x[0], Reference::gelu));
        bf16("tanh bf16").input("x", 3, 9).run(t -> Ops.tanh(t[0]), x -> Reference.map(x[0], Math::tanh));
    }

    @Test
    void addWithBroadcast() {
        bf16("add bf16").input("a", 3, 9).input("b", 9).run(t -> Ops.add(t[0], t[1]), x -> Reference.add(x[0], x[1], 1, 1));
        bf16("mul bf16").input("a", 3, 9).input("b", 9).run(t -> Ops.mul(t[0], t[1]), x -> Reference.mul(x[0], x[1]));
    }

    @Test
    void softmaxAndLayerNorm() {
        bf16("softmax bf16").input("x", 4, 6).run(t -> Ops.softmax(t[0], null), x -> Reference.softmax(x[0], 6, null));
        bf16("layerNorm bf16 + residual").input("x", 3, 8).input("r", 3, 8).input("gamma", 8).input("beta", 8)
                .run(t -> Ops.layerNorm(t[0], t[1], t[2], t[3], 1e-12f),
                        // The kernel also rounds h = x + r to bfloat16 (it stores h for the backward):
                        // one more 2^-9 relative error on h, well inside the tolerance for O(1) inputs.
                        x -> Reference.layerNorm(x[0], x[1], x[2], x[3], 1e-12f));
    }

    @Test
    void attention() {
        int[] mask = {1, 1, 1, 1, 1, 1, 1, 0, 0, 0};
        bf16("attention bf16").input("q", 2, 5, 6).input("k", 2, 5, 6).input("v", 2, 5, 6)
                .run(t -> Ops.attention(t[0], t[1], t[2], Tensor.ofInts(mask, 2, 5), 2, 0f, 0),
                        x -> Reference.attention(x[0], x[1], x[2], mask, 2, 5, 2, 0, 0));
    }

    @Test
    void crossEntropyOfBf16Logits() {
        int[] labels = {1, 0, -100, 3};
        bf16("crossEntropy bf16").input("logits", 4, 5)
                .run(t -> Ops.crossEntropy(t[0], Tensor.ofInts(labels)),
                        x -> new double[] {Reference.crossEntropy(x[0], labels, 5, -100)});
    }

    @Test
    void float16Storage() {
        gc.op("linear fp16").dtype(DType.FLOAT16).tolerances(2e-3, 2e-3, 2e-3).input("x", 3, 4).input("w", 2, 4)
                .run(t -> Ops.linear(t[0], t[1], null), x -> MatmulOpsTest.linear(x[0], x[1], null, 3, 4, 2));
        gc.op("gelu fp16").dtype(DType.FLOAT16).tolerances(2e-3, 2e-3, 2e-3).input("x", 3, 4)
                .run(t -> Ops.gelu(t[0]), x -> Reference.map(x[0], Reference::gelu));
    }
}
