package dev.solder;

/** Tests that compare results bit for bit: a tensor's float32 values as their raw bits. */
final class FloatBits {
    private FloatBits() {
    }

    /** {@code Float.floatToRawIntBits} of every element (float32 view of any float dtype). */
    static int[] of(Tensor t) {
        return of(t.toFloatArray());
    }

    /** {@code Float.floatToRawIntBits} of every value. */
    static int[] of(float[] f) {
        int[] b = new int[f.length];
        for (int i = 0; i < f.length; i++) {
            b[i] = Float.floatToRawIntBits(f[i]);
        }
        return b;
    }
}
