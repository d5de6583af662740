package dev.solder.io;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import dev.solder.DType;
import java.lang.foreign.Arena;
import java.util.Random;
import org.junit.jupiter.api.Test;

class RawTensorTest {

    @Test
    void toFloatArrayWidensEveryDtype() {
        long seed = TestTensors.freshSeed();
        Random rnd = new Random(seed);
        try (Arena arena = Arena.ofConfined()) {
            for (DType dt : DType.values()) {
                RawTensor t = TestTensors.random(arena, rnd, "t", dt, 3, 5);
                float[] f = t.toFloatArray();
                assertEquals(15, f.length);
                for (int i = 0; i < 15; i++) {
                    float expected = switch (dt) {
                        case FLOAT32 -> t.data().get(RawTensor.F32, i * 4L);
                        case BFLOAT16 -> Float.intBitsToFloat((t.data().get(RawTensor.I16, i * 2L) & 0xffff) << 16);
                        case FLOAT16 -> Float.float16ToFloat(t.data().get(RawTensor.I16, i * 2L));
                        case INT32 -> (float) t.data().get(RawTensor.I32, i * 4L);
                        case INT64 -> (float) t.data().get(RawTensor.I64, i * 8L);
                    };
                    assertEquals(expected, f[i], 0f, "seed " + seed + " " + dt + " element " + i);
                    assertEquals(expected, t.getFloat(i), 0f, "seed " + seed + " " + dt + " element " + i);
                }
            }
        }
    }

    @Test
    void bf16AndF16ValuesRoundTripThroughFloat() {
        long seed = TestTensors.freshSeed();
        Random rnd = new Random(seed);
        try (Arena arena = Arena.ofConfined()) {
            float[] values = new float[64];
            RawTensor bf = RawTensor.allocate(arena, "bf", DType.BFLOAT16, 64);
            RawTensor hf = RawTensor.allocate(arena, "hf", DType.FLOAT16, 64);
            for (int i = 0; i < 64; i++) {
                values[i] = (float) rnd.nextGaussian() * 10;
                bf.data().set(RawTensor.I16, i * 2L, DType.floatToBf16(values[i]));
                hf.data().set(RawTensor.I16, i * 2L, DType.floatToFp16(values[i]));
            }
            float[] b = bf.toFloatArray();
            float[] h = hf.toFloatArray();
            for (int i = 0; i < 64; i++) {
                assertEquals(values[i], b[i], Math.abs(values[i]) / 128, "seed " + seed);
                assertEquals(values[i], h[i], Math.abs(values[i]) / 1024 + 1e-3f, "seed " + seed);
            }
        }
    }

    @Test
    void integersAsLongs() {
        try (Arena arena = Arena.ofConfined()) {
            RawTensor t = RawTensor.allocate(arena, "ids", DType.INT32, 3);
            t.data().set(RawTensor.I32, 0, -7);
            t.data().set(RawTensor.I32, 4, 101);
            t.data().set(RawTensor.I32, 8, Integer.MAX_VALUE);
            assertArrayEquals(new long[] {-7, 101, Integer.MAX_VALUE}, t.toLongArray());
            assertThrows(IllegalStateException.class, () -> RawTensor.allocate(arena, "f", DType.FLOAT32, 2).toLongArray());
        }
    }

    @Test
    void constructorChecksSizeAndCopiesShape() {
        try (Arena arena = Arena.ofConfined()) {
            long[] shape = {2, 3};
            RawTensor t = new RawTensor("w", DType.FLOAT32, shape, arena.allocate(24));
            shape[0] = 99;
            assertArrayEquals(new long[] {2, 3}, t.shape());
            assertEquals(6, t.numel());
            assertEquals(1, new RawTensor("s", DType.INT64, new long[0], arena.allocate(8)).numel());
            var e = assertThrows(IllegalArgumentException.class,
                    () -> new RawTensor("w", DType.BFLOAT16, new long[] {2, 3}, arena.allocate(24)));
            assertEquals("tensor 'w': bfloat16 [2, 3] needs 12 bytes, the data has 24", e.getMessage());
            assertThrows(IllegalArgumentException.class,
                    () -> new RawTensor("n", DType.FLOAT32, new long[] {-1}, arena.allocate(0)));
        }
    }
}
