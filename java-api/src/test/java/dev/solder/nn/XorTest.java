package dev.solder.nn;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.solder.Autograd;
import dev.solder.Generator;
import dev.solder.Ops;
import dev.solder.Scope;
import dev.solder.Tensor;
import dev.solder.optim.AdamW;
import org.junit.jupiter.api.Test;

/** The smallest end-to-end check: Linear → tanh → Linear with cross-entropy learns XOR. */
class XorTest {
    static final class Mlp extends Module {
        final Linear fc1;
        final Linear fc2;

        Mlp(Generator g) {
            // A wider init than BERT's 0.02 so tanh starts out of its linear regime.
            fc1 = registerModule("fc1", new Linear(2, 16, true, g, 0.5));
            fc2 = registerModule("fc2", new Linear(16, 2, true, g, 0.5));
        }

        Tensor forward(Tensor x) {
            return fc2.forward(fc1.forward(x).tanh());
        }
    }

    @Test
    void learnsXor() {
        long seed = Long.getLong("solder.test.seed", System.nanoTime());
        try (var model = new Mlp(new Generator(seed));
             var opt = AdamW.builder(model.namedParameters()).lr(0.05).weightDecay(0).build();
             var data = Scope.open()) {
            Tensor x = Tensor.of(new float[] {0, 0, 0, 1, 1, 0, 1, 1}, 4, 2);
            Tensor y = Tensor.ofInts(new int[] {0, 1, 1, 0});
            float loss = Float.NaN;
            for (int i = 0; i < 500; i++) {
                try (var step = Scope.open()) {
                    Tensor l = Ops.crossEntropy(model.forward(x), y);
                    l.backward();
                    opt.step();
                    opt.zeroGrad();
                    loss = l.item();
                }
            }
            try (var ng = Autograd.noGrad(); var s = Scope.open()) {
                float[] logits = model.forward(x).toFloatArray();
                int[] expect = {0, 1, 1, 0};
                for (int r = 0; r < 4; r++) {
                    int pred = logits[2 * r + 1] > logits[2 * r] ? 1 : 0;
                    assertEquals(expect[r], pred, "row " + r + " misclassified, final loss " + loss + ", seed=" + seed);
                }
            }
            assertTrue(loss < 0.05f, "final loss " + loss + ", seed=" + seed);
        }
    }
}
