package dev.solder.data;

import java.util.Arrays;

/**
 * HF's {@code LengthGroupedSampler} ({@code group_by_length=True}): a random permutation is cut into
 * mega-batches of {@code 50 × batchSize} rows (fewer for small datasets), each sorted by length,
 * longest first, and the longest row overall is moved to the very first batch so an out-of-memory
 * error shows at once. Batches then hold rows of similar length, which wastes less on padding.
 * The permutation comes from the same per-epoch seeds as {@link RandomSampler}.
 */
public final class LengthGroupedSampler implements Sampler {
    private final int[] lengths;
    private final int batchSize;
    private final RandomSampler random;

    public LengthGroupedSampler(int[] lengths, int batchSize, long seed) {
        if (batchSize <= 0) {
            throw new IllegalArgumentException("batchSize must be positive");
        }
        this.lengths = lengths.clone();
        this.batchSize = batchSize;
        this.random = new RandomSampler(lengths.length, seed);
    }

    @Override
    public long epochSeed(int epoch) {
        return random.epochSeed(epoch);
    }

    @Override
    public int[] order(int epoch) {
        int[] perm = random.order(epoch);
        int n = perm.length;
        if (n == 0) {
            return perm;
        }
        int mult = Math.max(1, Math.min(n / (batchSize * 4), 50));
        int mega = mult * batchSize;
        Integer[][] groups = new Integer[(n + mega - 1) / mega][];
        for (int g = 0; g < groups.length; g++) {
            int from = g * mega;
            int to = Math.min(n, from + mega);
            Integer[] grp = new Integer[to - from];
            for (int i = from; i < to; i++) {
                grp[i - from] = perm[i];
            }
            // Stable sort, longest first, as Python's sorted(..., reverse=True).
            Arrays.sort(grp, (x, y) -> Integer.compare(lengths[y], lengths[x]));
            groups[g] = grp;
        }
        int maxGroup = 0;
        for (int g = 1; g < groups.length; g++) {
            if (lengths[groups[g][0]] > lengths[groups[maxGroup][0]]) {
                maxGroup = g;
            }
        }
        Integer t = groups[0][0];
        groups[0][0] = groups[maxGroup][0];
        groups[maxGroup][0] = t;
        int[] out = new int[n];
        int k = 0;
        for (Integer[] grp : groups) {
            for (Integer i : grp) {
                out[k++] = i;
            }
        }
        return out;
    }
}
