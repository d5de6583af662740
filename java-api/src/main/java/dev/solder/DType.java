package dev.solder;

/**
 * Element types a {@link Tensor} can hold.
 *
 * <p>Floating types are computed in float32 on every backend; {@code BFLOAT16} and
 * {@code FLOAT16} are storage (and tensor-core input) formats. Integer types carry token
 * ids, labels and masks.
 *
 * <pre>{@code
 * Tensor ids = Tensor.ofLongs(new long[] {101, 2023, 102}, 1, 3);   // DType.INT64
 * Tensor w = Tensor.randn(new Generator(42), 4, 4).to(DType.BFLOAT16);
 * }</pre>
 */
public enum DType {
    FLOAT32(4, true, "float32"),
    BFLOAT16(2, true, "bfloat16"),
    FLOAT16(2, true, "float16"),
    INT32(4, false, "int32"),
    INT64(8, false, "int64");

    private final int byteSize;
    private final boolean floating;
    private final String label;

    DType(int byteSize, boolean floating, String label) {
        this.byteSize = byteSize;
        this.floating = floating;
        this.label = label;
    }

    /** Bytes per element. */
    public int byteSize() {
        return byteSize;
    }

    /** True for float32, bfloat16 and float16. */
    public boolean isFloating() {
        return floating;
    }

    /** The PyTorch-style name, e.g. {@code "bfloat16"}. */
    public String label() {
        return label;
    }

    @Override
    public String toString() {
        return label;
    }

    /** Parses {@code float32|fp32|f32|bfloat16|bf16|float16|fp16|half|int32|int64|long}. */
    public static DType parse(String s) {
        return switch (s.trim().toLowerCase(java.util.Locale.ROOT)) {
            case "float32", "fp32", "f32", "float" -> FLOAT32;
            case "bfloat16", "bf16" -> BFLOAT16;
            case "float16", "fp16", "f16", "half" -> FLOAT16;
            case "int32", "i32", "int" -> INT32;
            case "int64", "i64", "long" -> INT64;
            default -> throw new IllegalArgumentException(
                    "unknown dtype '" + s + "': expected one of float32, bfloat16, float16, int32, int64");
        };
    }

    /** float32 → bfloat16 bits with round-to-nearest-even (NaN stays NaN), as PyTorch does. */
    public static short floatToBf16(float f) {
        int bits = Float.floatToRawIntBits(f);
        if ((bits & 0x7fffffff) > 0x7f800000) {
            return (short) ((bits >>> 16) | 0x40);
        }
        int rounding = 0x7fff + ((bits >>> 16) & 1);
        return (short) ((bits + rounding) >>> 16);
    }

    /** bfloat16 bits → float32 (exact). */
    public static float bf16ToFloat(short h) {
        return Float.intBitsToFloat((h & 0xffff) << 16);
    }

    /** float32 → IEEE half bits, round-to-nearest-even. */
    public static short floatToFp16(float f) {
        return Float.floatToFloat16(f);
    }

    /** IEEE half bits → float32 (exact). */
    public static float fp16ToFloat(short h) {
        return Float.float16ToFloat(h);
    }
}
