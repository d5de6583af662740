package dev.solder;

/**
 * A seeded source of random numbers for initialisation, shuffling and dropout seeds.
 *
 * <p>Solder never uses hidden global randomness: every random tensor and every dropout
 * mask derives from a generator the caller seeded, so a run is reproducible from its
 * seed. The stream is SplitMix64, which is fast, passes BigCrush and can be {@link #fork()
 * forked} into independent streams.
 *
 * <pre>{@code
 * var g = new Generator(42);
 * Tensor w = Tensor.randn(g, 768, 768).mul(0.02f);
 * }</pre>
 */
public final class Generator {
    private long state;
    private double spareGaussian = Double.NaN;
    private final long seed;

    public Generator(long seed) {
        this.seed = seed;
        this.state = seed;
    }

    /** The seed this generator started from. */
    public long initialSeed() {
        return seed;
    }

    /** The current internal state, for checkpoints. */
    public long state() {
        return state;
    }

    /** Restores a state returned by {@link #state()}. */
    public void setState(long state) {
        this.state = state;
        this.spareGaussian = Double.NaN;
    }

    public long nextLong() {
        long z = (state += 0x9E3779B97F4A7C15L);
        z = (z ^ (z >>> 30)) * 0xBF58476D1CE4E5B9L;
        z = (z ^ (z >>> 27)) * 0x94D049BB133111EBL;
        return z ^ (z >>> 31);
    }

    /** Uniform in [0, 1) with 24 random bits. */
    public float nextFloat() {
        return (nextLong() >>> 40) * 0x1.0p-24f;
    }

    /** Uniform in [0, 1) with 53 random bits. */
    public double nextDouble() {
        return (nextLong() >>> 11) * 0x1.0p-53;
    }

    /** Uniform integer in [0, bound). */
    public int nextInt(int bound) {
        if (bound <= 0) {
            throw new IllegalArgumentException("bound must be positive, got " + bound);
        }
        return (int) (((nextLong() >>> 33) * bound) >>> 31);
    }

    /** Standard normal (Box–Muller, pairs cached). */
    public double nextGaussian() {
        if (!Double.isNaN(spareGaussian)) {
            double g = spareGaussian;
            spareGaussian = Double.NaN;
            return g;
        }
        double u1;
        do {
            u1 = nextDouble();
        } while (u1 <= 0);
        double u2 = nextDouble();
        double r = Math.sqrt(-2 * Math.log(u1));
        spareGaussian = r * Math.sin(2 * Math.PI * u2);
        return r * Math.cos(2 * Math.PI * u2);
    }

    /** A new generator whose stream is independent of this one's. */
    public Generator fork() {
        return new Generator(nextLong());
    }

    /** Shuffles {@code a} in place (Fisher–Yates). */
    public void shuffle(int[] a) {
        for (int i = a.length - 1; i > 0; i--) {
            int j = nextInt(i + 1);
            int t = a[i];
            a[i] = a[j];
            a[j] = t;
        }
    }
}
