package dev.solder.nn;

import dev.solder.Generator;
import dev.solder.Ops;
import dev.solder.Tensor;

/**
 * Inverted dropout, active only in training mode.
 *
 * <p>Each call in training draws a fresh seed from the module's generator and hands it to
 * {@link Ops#dropout}, whose mask is a pure function of (seed, element): a run is
 * reproducible from the generator's seed, and the same seed gives the same mask on every
 * backend. In eval mode, or with {@code p == 0}, the input is returned unchanged.
 *
 * <pre>{@code
 * var drop = new Dropout(0.1f, rng);
 * Tensor h = drop.forward(x);      // masked in train(), identity after eval()
 * }</pre>
 */
public final class Dropout extends Module {
    private final float p;
    private final Generator rng;

    public Dropout(float p, Generator rng) {
        if (!(p >= 0f && p < 1f)) {
            throw new IllegalArgumentException("Dropout: p must be in [0, 1), got " + p);
        }
        if (rng == null && p > 0f) {
            throw new IllegalArgumentException("Dropout: a generator is needed for p > 0");
        }
        this.p = p;
        this.rng = rng == null ? null : registerGenerator("rng", rng);
    }

    public Tensor forward(Tensor x) {
        if (!isTraining() || p == 0f) {
            return x;
        }
        return Ops.dropout(x, p, rng.nextLong());
    }

    public float p() {
        return p;
    }

    /** The probability {@link #forward} applies now: {@link #p()} in training, 0 in eval. */
    public float activeP() {
        return isTraining() ? p : 0f;
    }

    /**
     * The seed {@link #forward} would draw for its next input (0, drawing nothing, when
     * {@link #activeP()} is 0), for ops that fuse this dropout into their own pass:
     *
     * <pre>{@code
     * Tensor y = Ops.dropoutLayerNorm(x, drop.activeP(), drop.nextSeed(), residual, gamma, beta, 1e-12f);
     * }</pre>
     */
    public long nextSeed() {
        return activeP() > 0f ? rng.nextLong() : 0L;
    }
}
