package dev.solder.data;

import dev.solder.Generator;

/**
 * A new random permutation each epoch, drawn from Solder's {@link Generator}: a generator seeded
 * with the run's seed yields one 64-bit seed per epoch (the {@code k}-th draw for epoch {@code k}),
 * and a generator seeded with that shuffles {@code 0..n-1} (Fisher–Yates).
 *
 * <p>HF's Trainer shuffles with torch's {@code RandomSampler} on a generator seeded per epoch; the
 * structure is the same (a fixed seed gives the same order on every run, epochs differ), but the
 * orders themselves cannot equal torch's, whose Mersenne Twister and {@code randperm} algorithm are
 * not reproduced. Results therefore match HF's statistically, not bit for bit.
 */
public final class RandomSampler implements Sampler {
    private final int size;
    private final long seed;

    public RandomSampler(int size, long seed) {
        this.size = size;
        this.seed = seed;
    }

    @Override
    public long epochSeed(int epoch) {
        Generator g = new Generator(seed);
        long s = 0;
        for (int e = 0; e <= epoch; e++) {
            s = g.nextLong();
        }
        return s;
    }

    @Override
    public int[] order(int epoch) {
        int[] o = new SequentialSampler(size).order(epoch);
        new Generator(epochSeed(epoch)).shuffle(o);
        return o;
    }
}
