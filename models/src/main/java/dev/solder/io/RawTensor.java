package dev.solder.io;

import dev.solder.DType;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteOrder;
import java.util.Arrays;
import java.util.Objects;

/**
 * One named tensor as a weight file stores it: element type, shape and the raw bytes.
 *
 * <p>This is the neutral currency between the format readers in {@code dev.solder.io} and
 * whatever builds real tensors from them; it deliberately knows nothing about
 * {@code dev.solder.Tensor} or backends. The bytes are <b>little-endian</b> and <b>row-major
 * contiguous</b> ({@code data.byteSize() == numel() * dtype.byteSize()}), and the segment's
 * address is aligned to the element size, so a consumer may read it with aligned layouts or hand
 * it to a bulk copy. The segment usually points into a memory-mapped file or an arena owned by
 * the {@link WeightSet} that produced it: it is valid until that set is closed, and a memory-mapped
 * segment is read-only ({@code data.isReadOnly()}): copy before modifying.
 *
 * <pre>{@code
 * try (WeightSet w = SafetensorsReader.read(Path.of("model.safetensors"))) {
 *     RawTensor emb = w.get("bert.embeddings.word_embeddings.weight");
 *     float[] values = emb.toFloatArray();          // widened from bf16/f16 if needed
 * }
 * }</pre>
 *
 * @param name the name in the file (e.g. {@code bert.encoder.layer.0.attention.self.query.weight})
 * @param dtype element type
 * @param shape dimensions, outermost first; {@code []} is a scalar
 * @param data little-endian, row-major contiguous bytes
 */
public record RawTensor(String name, DType dtype, long[] shape, MemorySegment data) implements SafetensorsWriter.Described {

    // Unaligned little-endian views: correct on any host order, and they never throw on an odd
    // address (the readers align, but a caller may build a RawTensor over any segment).
    static final ValueLayout.OfFloat F32 =
            ValueLayout.JAVA_FLOAT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);
    static final ValueLayout.OfShort I16 =
            ValueLayout.JAVA_SHORT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);
    static final ValueLayout.OfInt I32 = ValueLayout.JAVA_INT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);
    static final ValueLayout.OfLong I64 =
            ValueLayout.JAVA_LONG_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);

    /** Checks that the bytes match dtype and shape; keeps a private copy of {@code shape}. */
    public RawTensor {
        Objects.requireNonNull(name, "name");
        Objects.requireNonNull(dtype, "dtype");
        Objects.requireNonNull(shape, "shape");
        Objects.requireNonNull(data, "data");
        shape = shape.clone();
        long n = numel(name, shape);
        long expected;
        try {
            expected = Math.multiplyExact(n, (long) dtype.byteSize());
        } catch (ArithmeticException e) {
            throw new IllegalArgumentException("tensor '" + name + "': shape " + Arrays.toString(shape)
                    + " is too large");
        }
        if (data.byteSize() != expected) {
            throw new IllegalArgumentException("tensor '" + name + "': " + dtype + " " + Arrays.toString(shape)
                    + " needs " + expected + " bytes, the data has " + data.byteSize());
        }
    }

    /** Number of elements (the product of the shape; 1 for a scalar). */
    public static long numel(long... shape) {
        return numel("?", shape);
    }

    private static long numel(String name, long[] shape) {
        long n = 1;
        for (long d : shape) {
            if (d < 0) {
                throw new IllegalArgumentException("tensor '" + name + "': negative dimension in shape "
                        + Arrays.toString(shape));
            }
            try {
                n = Math.multiplyExact(n, d);
            } catch (ArithmeticException e) {
                throw new IllegalArgumentException("tensor '" + name + "': shape " + Arrays.toString(shape)
                        + " overflows a long");
            }
        }
        return n;
    }

    /** A copy of the shape. */
    @Override
    public long[] shape() {
        return shape.clone();
    }

    /** Number of dimensions. */
    public int rank() {
        return shape.length;
    }

    /** Size of dimension {@code i}. */
    public long dim(int i) {
        return shape[i];
    }

    /** Number of elements. */
    public long numel() {
        return numel(name, shape);
    }

    /** Number of bytes of data. */
    public long byteSize() {
        return data.byteSize();
    }

    /** True when the shape equals {@code expected}. */
    public boolean hasShape(long... expected) {
        return Arrays.equals(shape, expected);
    }

    /** Element {@code index} (flat, row-major) as a float, widening bf16/f16 and integers. */
    public float getFloat(long index) {
        Objects.checkIndex(index, numel());
        return switch (dtype) {
            case FLOAT32 -> data.get(F32, index * 4);
            case BFLOAT16 -> DType.bf16ToFloat(data.get(I16, index * 2));
            case FLOAT16 -> DType.fp16ToFloat(data.get(I16, index * 2));
            case INT32 -> data.get(I32, index * 4);
            case INT64 -> data.get(I64, index * 8);
        };
    }

    /**
     * All elements as a new {@code float[]}: float32 copied in bulk, bfloat16 and float16 widened
     * exactly, integers converted (large int64 values round).
     *
     * @throws IllegalStateException when the tensor has more than {@code Integer.MAX_VALUE - 8}
     *     elements, which no Java array can hold
     */
    public float[] toFloatArray() {
        int n = arrayLength();
        float[] out = new float[n];
        switch (dtype) {
            case FLOAT32 -> MemorySegment.copy(data, F32, 0, out, 0, n);
            case BFLOAT16, FLOAT16 -> {
                short[] bits = new short[n];
                MemorySegment.copy(data, I16, 0, bits, 0, n);
                if (dtype == DType.BFLOAT16) {
                    for (int i = 0; i < n; i++) {
                        out[i] = DType.bf16ToFloat(bits[i]);
                    }
                } else {
                    for (int i = 0; i < n; i++) {
                        out[i] = DType.fp16ToFloat(bits[i]);
                    }
                }
            }
            case INT32 -> {
                for (int i = 0; i < n; i++) {
                    out[i] = data.get(I32, (long) i * 4);
                }
            }
            case INT64 -> {
                for (int i = 0; i < n; i++) {
                    out[i] = data.get(I64, (long) i * 8);
                }
            }
        }
        return out;
    }

    /**
     * All elements of an integer tensor as a new {@code long[]}.
     *
     * @throws IllegalStateException for floating tensors (use {@link #toFloatArray()})
     */
    public long[] toLongArray() {
        int n = arrayLength();
        long[] out = new long[n];
        switch (dtype) {
            case INT64 -> MemorySegment.copy(data, I64, 0, out, 0, n);
            case INT32 -> {
                for (int i = 0; i < n; i++) {
                    out[i] = data.get(I32, (long) i * 4);
                }
            }
            default -> throw new IllegalStateException("tensor '" + name + "' is " + dtype
                    + ", not an integer type; use toFloatArray()");
        }
        return out;
    }

    private int arrayLength() {
        long n = numel();
        if (n > Integer.MAX_VALUE - 8) {
            throw new IllegalStateException("tensor '" + name + "' has " + n
                    + " elements, more than a Java array holds");
        }
        return (int) n;
    }

    /** A zero-filled tensor whose bytes live in {@code arena} (aligned to 64 bytes). */
    public static RawTensor allocate(Arena arena, String name, DType dtype, long... shape) {
        long bytes = Math.multiplyExact(numel(name, shape), (long) dtype.byteSize());
        return new RawTensor(name, dtype, shape, arena.allocate(bytes, 64));
    }

    /** A float32 tensor holding a copy of {@code values} in {@code arena}. */
    public static RawTensor ofFloats(Arena arena, String name, float[] values, long... shape) {
        if (numel(name, shape) != values.length) {
            throw new IllegalArgumentException("tensor '" + name + "': shape " + Arrays.toString(shape)
                    + " has " + numel(name, shape) + " elements, got " + values.length + " values");
        }
        RawTensor t = allocate(arena, name, DType.FLOAT32, shape);
        MemorySegment.copy(values, 0, t.data, F32, 0, values.length);
        return t;
    }

    /** Equal when name, dtype, shape and the bytes are equal (a content comparison). */
    @Override
    public boolean equals(Object o) {
        return o instanceof RawTensor t
                && name.equals(t.name)
                && dtype == t.dtype
                && Arrays.equals(shape, t.shape)
                && data.byteSize() == t.data.byteSize()
                && data.mismatch(t.data) == -1;
    }

    @Override
    public int hashCode() {
        return Objects.hash(name, dtype, Arrays.hashCode(shape), data.byteSize());
    }

    @Override
    public String toString() {
        return name + " " + dtype + Arrays.toString(shape);
    }
}
