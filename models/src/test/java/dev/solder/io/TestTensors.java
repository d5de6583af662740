package dev.solder.io;

import dev.solder.DType;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;

/** Fresh random tensors for the format tests; every test prints or carries its seed. */
final class TestTensors {
    private TestTensors() {}

    /** A seed that differs per run, reported in assertion messages so a failure can be replayed. */
    static long freshSeed() {
        return Long.getLong("solder.test.seed", System.nanoTime() ^ 0x5deece66dL);
    }

    /** Random values of the given dtype; never all zeros. */
    static RawTensor random(Arena arena, Random rnd, String name, DType dtype, long... shape) {
        RawTensor t = RawTensor.allocate(arena, name, dtype, shape);
        MemorySegment d = t.data();
        long n = t.numel();
        for (long i = 0; i < n; i++) {
            switch (dtype) {
                case FLOAT32 -> d.set(RawTensor.F32, i * 4, (float) rnd.nextGaussian());
                case BFLOAT16 -> d.set(RawTensor.I16, i * 2, DType.floatToBf16((float) rnd.nextGaussian()));
                case FLOAT16 -> d.set(RawTensor.I16, i * 2, DType.floatToFp16((float) rnd.nextGaussian()));
                case INT32 -> d.set(RawTensor.I32, i * 4, rnd.nextInt());
                case INT64 -> d.set(RawTensor.I64, i * 8, rnd.nextLong());
            }
        }
        return t;
    }

    /** A random shape of rank 0 to 3 with dimensions 1 to 7. */
    static long[] randomShape(Random rnd) {
        long[] s = new long[rnd.nextInt(4)];
        for (int i = 0; i < s.length; i++) {
            s[i] = 1 + rnd.nextInt(7);
        }
        return s;
    }

    /** One or more tensors of every dtype with random names, shapes and values. */
    static List<RawTensor> mixed(Arena arena, Random rnd) {
        List<RawTensor> out = new ArrayList<>();
        int i = 0;
        for (DType dt : DType.values()) {
            for (int k = 0; k < 1 + rnd.nextInt(3); k++) {
                out.add(random(arena, rnd, "layer." + (i++) + "." + dt.label() + ".w" + rnd.nextInt(1000), dt,
                        randomShape(rnd)));
            }
        }
        out.add(random(arena, rnd, "empty.tensor", DType.FLOAT32, 0, 5));
        return out;
    }

    static byte[] bytes(RawTensor t) {
        return t.data().toArray(java.lang.foreign.ValueLayout.JAVA_BYTE);
    }
}
