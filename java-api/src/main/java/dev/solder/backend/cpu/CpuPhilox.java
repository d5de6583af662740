package dev.solder.backend.cpu;

/**
 * Dropout masks in bulk: the very function of {@link dev.solder.Philox} (Philox4x32-10, first
 * output word, counter = element index, key = seed), evaluated for runs of consecutive
 * elements.
 *
 * <p>Two changes of form, none of substance: the keep test {@code (bits >>> 8)·2⁻²⁴ ≥ p} is
 * done on integers as {@code bits >>> 8 ≥ ⌈p·2²⁴⌉} (exact, since {@code bits >>> 8 < 2²⁴}), and
 * the rounds are written out for a caller's loop instead of behind a call. The tests check
 * bit equality with {@code Philox} on random seeds and indices.
 */
final class CpuPhilox {
    private static final long M0 = 0xD2511F53L;
    private static final long M1 = 0xCD9E8D57L;
    private static final int W0 = 0x9E3779B9;
    private static final int W1 = 0xBB67AE85;

    private CpuPhilox() {
    }

    /** The integer form of dropout's {@code p}: element kept iff {@code bits >>> 8 ≥ threshold}. */
    static int threshold(float p) {
        return (int) Math.ceil(p * 16777216.0);
    }

    /** {@link dev.solder.Philox#bits}. */
    static int bits(long seed, long index) {
        int c0 = (int) index;
        int c1 = (int) (index >>> 32);
        int c2 = 0;
        int c3 = 0;
        int k0 = (int) seed;
        int k1 = (int) (seed >>> 32);
        for (int round = 0; round < 10; round++) {
            long p0 = M0 * (c0 & 0xffffffffL);
            long p1 = M1 * (c2 & 0xffffffffL);
            int n0 = (int) (p1 >>> 32) ^ c1 ^ k0;
            int n2 = (int) (p0 >>> 32) ^ c3 ^ k1;
            c1 = (int) p1;
            c3 = (int) p0;
            c0 = n0;
            c2 = n2;
            k0 += W0;
            k1 += W1;
        }
        return c0;
    }

    /** Whether element {@code index} survives dropout with the given {@link #threshold}. */
    static boolean keep(long seed, long index, int threshold) {
        return (bits(seed, index) >>> 8) >= threshold;
    }

    /**
     * {@code buf[off + j] = keep(index0 + j) ? buf[off + j]·scale : 0} for {@code j < n}: inverted
     * dropout of a run of consecutive elements.
     */
    static void apply(long seed, long index0, int threshold, float scale, float[] buf, int off, int n) {
        for (int j = 0; j < n; j++) {
            buf[off + j] = keep(seed, index0 + j, threshold) ? buf[off + j] * scale : 0f;
        }
    }

    /** {@code keep[at + j] = keep(index0 + j)} for {@code j < n}. */
    static void mask(long seed, long index0, int threshold, boolean[] keep, int at, int n) {
        for (int j = 0; j < n; j++) {
            keep[at + j] = keep(seed, index0 + j, threshold);
        }
    }
}
