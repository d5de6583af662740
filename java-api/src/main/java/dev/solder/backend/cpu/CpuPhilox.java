package dev.solder.backend.cpu;

import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.IntVector;
import jdk.incubator.vector.VectorMask;
import jdk.incubator.vector.VectorOperators;
import jdk.incubator.vector.VectorSpecies;

/**
 * Dropout masks in bulk: the very function of {@link dev.solder.Philox} (Philox4x32-10, first
 * output word, counter = element index, key = seed), evaluated for runs of consecutive
 * elements.
 *
 * <p>Changes of form, none of substance: the keep test {@code (bits >>> 8)·2⁻²⁴ ≥ p} is done
 * on integers as {@code bits >>> 8 ≥ ⌈p·2²⁴⌉} (exact, since {@code bits >>> 8 < 2²⁴}); the
 * rounds are written out for a caller's loop instead of behind a call; and runs are evaluated
 * a vector of consecutive elements at a time, one Philox stream per 32-bit lane. AVX2 has no
 * 32×32→64 multiply on 8 lanes, so a round's high product word comes from four 16-bit
 * partial products ({@link #mulHigh}); that is about 3× faster than one element at a time.
 * The tests check bit equality with {@code Philox} on random seeds and indices, in runs that
 * cross a 2³² index boundary.
 */
final class CpuPhilox {
    private static final VectorSpecies<Float> FS = CpuFloats.F;
    private static final VectorSpecies<Integer> IS = FS.withLanes(int.class);
    private static final int L = IS.length();
    private static final IntVector LANE = IntVector.zero(IS).addIndex(1);
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
        int[] bits = new int[L];
        int j = 0;
        for (; j + L <= n; j += L) {
            long first = index0 + j;
            if ((first >>> 32) != ((first + L - 1) >>> 32)) {
                for (int l = 0; l < L; l++) {     // the run crosses 2³²: the high counter word differs
                    buf[off + j + l] = keep(seed, first + l, threshold) ? buf[off + j + l] * scale : 0f;
                }
                continue;
            }
            shiftedBits(seed, first, bits);
            VectorMask<Float> drop = IntVector.fromArray(IS, bits, 0).compare(VectorOperators.LT, threshold).cast(FS);
            FloatVector.fromArray(FS, buf, off + j).mul(scale).blend(0f, drop).intoArray(buf, off + j);
        }
        for (; j < n; j++) {
            buf[off + j] = keep(seed, index0 + j, threshold) ? buf[off + j] * scale : 0f;
        }
    }

    /** {@code keep[at + j] = keep(index0 + j)} for {@code j < n}. */
    static void mask(long seed, long index0, int threshold, boolean[] keep, int at, int n) {
        int[] bits = new int[L];
        int j = 0;
        for (; j + L <= n; j += L) {
            long first = index0 + j;
            if ((first >>> 32) != ((first + L - 1) >>> 32)) {
                for (int l = 0; l < L; l++) {
                    keep[at + j + l] = keep(seed, first + l, threshold);
                }
                continue;
            }
            shiftedBits(seed, first, bits);
            // A scalar loop over the L words: a vector compare stored as booleans ran in the
            // Vector API's Java fallback in fine-tuning (JFR), and the rounds above dominate.
            for (int l = 0; l < L; l++) {
                keep[at + j + l] = bits[l] >= threshold;
            }
        }
        for (; j < n; j++) {
            keep[at + j] = keep(seed, index0 + j, threshold);
        }
    }

    /**
     * {@code bits[l] = Philox.bits(seed, first + l) >>> 8} for the {@code L} elements from
     * {@code first}, whose high index words are equal; the caller compares them with the
     * threshold. The result goes through an int array, not a returned vector or mask: a vector
     * crossing a call that C2 leaves out of line is boxed — this method is large, and while it
     * returned a mask, fine-tuning allocated a mask per 16 elements in the Vector API's Java
     * fallback of {@code compare} (JFR, 2026-11-29; {@code GemmKernel.kernel}'s doc has the story).
     */
    private static void shiftedBits(long seed, long first, int[] bits) {
        IntVector c0 = LANE.add((int) first);
        IntVector c1 = IntVector.broadcast(IS, (int) (first >>> 32));
        IntVector c2 = IntVector.zero(IS);
        IntVector c3 = c2;
        int k0 = (int) seed;
        int k1 = (int) (seed >>> 32);
        for (int round = 0; round < 10; round++) {
            IntVector n0 = mulHigh(c2, M1).lanewise(VectorOperators.XOR, c1).lanewise(VectorOperators.XOR, k0);
            IntVector n2 = mulHigh(c0, M0).lanewise(VectorOperators.XOR, c3).lanewise(VectorOperators.XOR, k1);
            c1 = c2.mul((int) M1);
            c3 = c0.mul((int) M0);
            c0 = n0;
            c2 = n2;
            k0 += W0;
            k1 += W1;
        }
        c0.lanewise(VectorOperators.LSHR, 8).intoArray(bits, 0);
    }

    /**
     * The high 32 bits of the unsigned 64-bit product {@code a·b} per lane, from the four 16-bit
     * partial products (each below 2³², added with their carries).
     */
    private static IntVector mulHigh(IntVector a, long b) {
        int bLo = (int) (b & 0xffff);
        int bHi = (int) (b >>> 16);
        IntVector aLo = a.and(0xffff);
        IntVector aHi = a.lanewise(VectorOperators.LSHR, 16);
        IntVector ll = aLo.mul(bLo);
        IntVector lh = aLo.mul(bHi);
        IntVector hl = aHi.mul(bLo);
        IntVector hh = aHi.mul(bHi);
        IntVector carry = ll.lanewise(VectorOperators.LSHR, 16).add(lh.and(0xffff)).add(hl.and(0xffff))
                .lanewise(VectorOperators.LSHR, 16);
        return hh.add(lh.lanewise(VectorOperators.LSHR, 16)).add(hl.lanewise(VectorOperators.LSHR, 16)).add(carry);
    }
}
