package dev.solder.backend.cpu;

import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.solder.DType;
import dev.solder.Device;
import dev.solder.Ops;
import dev.solder.Scope;
import dev.solder.Tensor;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.function.Executable;

/** Bad input fails before any kernel runs, with a message naming the op and what was wrong. */
class OpErrorsTest {

    private static void fails(Class<? extends Throwable> type, Executable e, String... mentions) {
        Throwable t = assertThrows(type, e);
        for (String m : mentions) {
            assertTrue(t.getMessage() != null && t.getMessage().contains(m),
                    "message should mention '" + m + "': " + t.getMessage());
        }
    }

    @Test
    void mismatchedShapes() {
        try (Scope s = Scope.open()) {
            Tensor a = Tensor.zeros(2, 3);
            fails(IllegalArgumentException.class, () -> Ops.add(a, Tensor.zeros(4)), "add", "[2, 3]", "[4]");
            fails(IllegalArgumentException.class, () -> Ops.sub(a, Tensor.zeros(3, 2)), "sub", "[2, 3]", "[3, 2]");
            fails(IllegalArgumentException.class, () -> Ops.mul(a, Tensor.zeros(2)), "mul", "[2, 3]", "[2]");
            fails(IllegalArgumentException.class, () -> Ops.matmul(a, Tensor.zeros(2, 3)), "matmul", "[2, 3]");
            fails(IllegalArgumentException.class, () -> Ops.matmul(Tensor.zeros(2, 2, 3), Tensor.zeros(3, 3, 1)),
                    "matmul", "[2, 2, 3]", "[3, 3, 1]");
            fails(IllegalArgumentException.class, () -> Ops.linear(a, Tensor.zeros(4, 2), null), "linear", "[2, 3]", "[4, 2]");
            fails(IllegalArgumentException.class, () -> Ops.linear(a, Tensor.zeros(4, 3), Tensor.zeros(3)), "linear", "bias");
            fails(IllegalArgumentException.class, () -> Ops.layerNorm(a, null, Tensor.ones(2), Tensor.zeros(3), 1e-5f),
                    "layerNorm", "[2]");
            fails(IllegalArgumentException.class, () -> Ops.layerNorm(a, Tensor.zeros(3, 2), Tensor.ones(3), Tensor.zeros(3), 1e-5f),
                    "layerNorm", "residual", "[3, 2]");
            fails(IllegalArgumentException.class, () -> Ops.softmax(a, Tensor.zeros(2, 4)), "softmax", "mask", "[2, 4]");
            fails(IllegalArgumentException.class, () -> Ops.mse(a, Tensor.zeros(5)), "mse", "[2, 3]", "[5]");
            fails(IllegalArgumentException.class, () -> Ops.crossEntropy(a, Tensor.ofInts(new int[] {0, 1, 2})),
                    "crossEntropy", "[2, 3]", "[3]");
            Tensor q = Tensor.zeros(2, 5, 6);
            fails(IllegalArgumentException.class, () -> Ops.attention(q, q, Tensor.zeros(2, 5, 4), null, 2, 0f, 0),
                    "attention", "[2, 5, 4]");
            fails(IllegalArgumentException.class, () -> Ops.attention(q, q, q, null, 4, 0f, 0), "attention", "4 heads");
            fails(IllegalArgumentException.class, () -> Ops.attention(q, q, q, Tensor.ones(2, 4), 2, 0f, 0),
                    "attention", "mask", "[2, 4]");
        }
    }

    @Test
    void backendChecksShapesToo() {
        try (Scope s = Scope.open()) {
            fails(IllegalArgumentException.class,
                    () -> CpuBackend.INSTANCE.matmul(Tensor.zeros(2, 3), false, Tensor.zeros(4, 5), false, Tensor.zeros(2, 5), 1f, 0f),
                    "matmul", "[2, 3]", "[4, 5]");
            fails(IllegalArgumentException.class,
                    () -> CpuBackend.INSTANCE.add(Tensor.zeros(2, 3), Tensor.zeros(4), 1f, 1f, Tensor.zeros(2, 3)),
                    "add", "[4]", "[2, 3]");
        }
    }

    @Test
    void wrongTypes() {
        try (Scope s = Scope.open()) {
            Tensor ints = Tensor.ofInts(new int[] {1, 2, 3});
            fails(IllegalArgumentException.class, () -> Ops.add(ints, ints), "add", "int32", "floating");
            fails(IllegalArgumentException.class, () -> Ops.gelu(ints), "gelu", "int32");
            fails(IllegalArgumentException.class, () -> Ops.crossEntropy(Tensor.zeros(3, 2), Tensor.zeros(3)),
                    "crossEntropy", "labels", "int32 or int64");
            fails(IllegalArgumentException.class, () -> Ops.embedding(Tensor.zeros(3), Tensor.zeros(4, 2), -1),
                    "embedding", "ids", "int32 or int64");
            fails(IllegalArgumentException.class, () -> Ops.embedding(ints, ints, -1), "embedding", "floating");
            fails(IllegalArgumentException.class, () -> Ops.dropout(Tensor.zeros(3), 1f, 0), "dropout", "[0, 1)");
        }
    }

    @Test
    void labelsOutOfRange() {
        try (Scope s = Scope.open()) {
            Tensor logits = Tensor.zeros(3, 5);
            fails(IllegalArgumentException.class, () -> Ops.crossEntropy(logits, Tensor.ofInts(new int[] {0, 5, 1})),
                    "crossEntropy", "label 5", "row 1", "C = 5");
            fails(IllegalArgumentException.class, () -> Ops.crossEntropy(logits, Tensor.ofLongs(new long[] {0, 1, -1})),
                    "crossEntropy", "label -1", "row 2", "C = 5");
            // The ignore index is the one out-of-range label allowed.
            Ops.crossEntropy(logits, Tensor.ofInts(new int[] {0, -100, 1}));
        }
    }

    @Test
    void idsOutOfRange() {
        try (Scope s = Scope.open()) {
            Tensor table = Tensor.zeros(10, 4);
            fails(IllegalArgumentException.class, () -> Ops.embedding(Tensor.ofInts(new int[] {1, 2, 3, 10}, 2, 2), table, 0),
                    "embedding", "id 10", "position 3", "[1, 1]", "10 rows");
            fails(IllegalArgumentException.class, () -> Ops.embedding(Tensor.ofLongs(new long[] {-3}), table, 0),
                    "embedding", "id -3", "position 0", "vocab size 10");
            fails(IllegalArgumentException.class,
                    () -> CpuBackend.INSTANCE.embeddingBackward(Tensor.ofInts(new int[] {11}), Tensor.zeros(1, 4), -1, Tensor.zeros(10, 4)),
                    "embeddingBackward", "id 11");
        }
    }

    @Test
    void closedTensorUse() {
        try (Scope s = Scope.open()) {
            Tensor a = Tensor.ones(2, 2);
            Tensor b = Tensor.ones(2, 2);
            a.close();
            fails(IllegalStateException.class, () -> Ops.add(b, a), "add", "closed", "[2, 2]");
            fails(IllegalStateException.class, () -> Ops.matmul(a, b), "matmul", "closed");
            fails(IllegalStateException.class, () -> Ops.layerNorm(a, null, Tensor.ones(2), Tensor.zeros(2), 1e-5f),
                    "layerNorm", "closed");
        }
        Tensor escaped;
        try (Scope s = Scope.open()) {
            escaped = Tensor.ones(3);
        }
        Tensor e = escaped;
        fails(IllegalStateException.class, () -> Ops.gelu(e), "gelu", "closed");
    }

    @Test
    void backwardTwiceThroughAReleasedGraph() {
        try (Scope s = Scope.open()) {
            Tensor w = Tensor.ones(3, 4).requiresGrad(true);
            Tensor x = Tensor.ones(2, 4);
            Tensor loss = Ops.crossEntropy(Ops.linear(x, w, null), Tensor.ofInts(new int[] {0, 2}));
            loss.backward();
            fails(IllegalStateException.class, loss::backward, "crossEntropy", "released");
            Tensor h = Ops.gelu(Ops.linear(x, w, null));
            Ops.sum(h).backward();
            // A new head on the released part of the graph still cannot go through gelu again.
            fails(IllegalStateException.class, () -> Ops.mean(h).backward(), "gelu", "released");
        }
    }

    @Test
    void lowPrecisionStateIsRejectedByAdamW() {
        try (Scope s = Scope.open()) {
            Tensor p = Tensor.zeros(DType.BFLOAT16, Device.cpu(), 4);
            Tensor g = Tensor.zeros(4);
            fails(IllegalArgumentException.class,
                    () -> CpuBackend.INSTANCE.adamw(p, g, Tensor.zeros(4), Tensor.zeros(4), 1e-3f, 0.9f, 0.999f, 1e-8f, 0f, 1f, 1f),
                    "adamw", "float32", "bfloat16");
        }
    }
}
