package dev.solder.backend.cpu;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;

import dev.solder.DType;
import dev.solder.Device;
import dev.solder.Ops;
import dev.solder.Scope;
import dev.solder.Tensor;
import org.junit.jupiter.api.Test;

/** Gradient checks of {@code Ops.linearGelu}, and equality with {@code gelu(linear(...))}. */
class LinearGeluOpsTest {
    private final GradCheck gc = new GradCheck();

    @Test
    void linearGeluWithBias() {
        gc.op("linearGelu [2,3,4]·[5,4]ᵀ + [5]").input("x", 2, 3, 4).input("w", 5, 4).input("b", 5)
                .run(t -> Ops.linearGelu(t[0], t[1], t[2]),
                        x -> Reference.map(MatmulOpsTest.linear(x[0], x[1], x[2], 6, 4, 5), Reference::gelu));
    }

    @Test
    void linearGeluWithoutBias() {
        gc.op("linearGelu [3,4]·[5,4]ᵀ").input("x", 3, 4).input("w", 5, 4)
                .run(t -> Ops.linearGelu(t[0], t[1], null),
                        x -> Reference.map(MatmulOpsTest.linear(x[0], x[1], null, 3, 4, 5), Reference::gelu));
    }

    @Test
    void sameBitsAsTheCompositionInEveryFloatDtype() {
        for (DType dt : new DType[] {DType.FLOAT32, DType.BFLOAT16, DType.FLOAT16}) {
            try (Scope s = Scope.open()) {
                Tensor x = Tensor.fromDoubles(gc.randn(7 * 6), dt, Device.cpu(), 7, 6);
                Tensor w = Tensor.fromDoubles(gc.randn(5 * 6), dt, Device.cpu(), 5, 6);
                Tensor b = Tensor.fromDoubles(gc.randn(5), dt, Device.cpu(), 5);
                float[] fused = Ops.linearGelu(x, w, b).toFloatArray();
                float[] composed = Ops.gelu(Ops.linear(x, w, b)).toFloatArray();
                assertArrayEquals(composed, fused, 0f, "linearGelu " + dt + " (" + gc.tag() + ")");
            }
        }
    }
}
