package dev.solder;

/**
 * Philox4x32-10, the counter-based generator behind every dropout mask in Solder.
 *
 * <p>A counter-based generator turns (seed, element index) into a random number with no
 * state, so a mask can be regenerated in the backward pass instead of stored, and the
 * CPU and CUDA backends draw the very same mask for the same seed. Element {@code i}
 * uses counter {@code (lo32(i), hi32(i), 0, 0)} and key {@code (lo32(seed), hi32(seed))}
 * and keeps the first output word; the CUDA kernels implement the same function.
 */
public final class Philox {
    private static final int M0 = 0xD2511F53;
    private static final int M1 = 0xCD9E8D57;
    private static final int W0 = 0x9E3779B9;
    private static final int W1 = 0xBB67AE85;

    private Philox() {
    }

    /** The first 32-bit output word for element {@code index} under {@code seed}. */
    public static int bits(long seed, long index) {
        int c0 = (int) index;
        int c1 = (int) (index >>> 32);
        int c2 = 0;
        int c3 = 0;
        int k0 = (int) seed;
        int k1 = (int) (seed >>> 32);
        for (int round = 0; round < 10; round++) {
            long p0 = (M0 & 0xffffffffL) * (c0 & 0xffffffffL);
            long p1 = (M1 & 0xffffffffL) * (c2 & 0xffffffffL);
            int hi0 = (int) (p0 >>> 32);
            int lo0 = (int) p0;
            int hi1 = (int) (p1 >>> 32);
            int lo1 = (int) p1;
            int n0 = hi1 ^ c1 ^ k0;
            int n1 = lo1;
            int n2 = hi0 ^ c3 ^ k1;
            int n3 = lo0;
            c0 = n0;
            c1 = n1;
            c2 = n2;
            c3 = n3;
            k0 += W0;
            k1 += W1;
        }
        return c0;
    }

    /** Uniform in [0, 1) with 24 bits: {@code (bits >>> 8) · 2⁻²⁴}. */
    public static float uniform(long seed, long index) {
        return (bits(seed, index) >>> 8) * 0x1.0p-24f;
    }

    /** Dropout's rule: element {@code index} is kept when its uniform is ≥ p. */
    public static boolean keep(long seed, long index, float p) {
        return uniform(seed, index) >= p;
    }
}
