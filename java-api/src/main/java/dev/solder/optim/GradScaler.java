package dev.solder.optim;

import dev.solder.Ops;
import dev.solder.Tensor;
import dev.solder.spi.Backend;
import java.util.List;
import java.util.Map;

/**
 * Dynamic loss scaling for float16 training, with {@code torch.amp.GradScaler}'s rule and
 * defaults: the loss is multiplied by {@code scale} (initially 2¹⁶) before the backward so that
 * small gradients survive float16; before the optimizer step the gradients are divided by it
 * again and checked. A step whose gradients hold an infinity or NaN is skipped and the scale
 * halved; after {@code growthInterval} (2000) good steps in a row it is doubled.
 *
 * <pre>{@code
 * GradScaler scaler = new GradScaler();
 * try (Autocast ac = Autocast.enable(DType.FLOAT16)) { loss = model.loss(model.forward(...), labels); }
 * scaler.scale(loss).backward();
 * boolean finite = scaler.unscale(optimizer.parameters());   // gradients back to true size
 * if (finite) { optimizer.clipGradNorm(1.0); optimizer.step(); }
 * scaler.update(finite);
 * optimizer.zeroGrad();
 * }</pre>
 */
public final class GradScaler {
    private final double growthFactor;
    private final double backoffFactor;
    private final int growthInterval;
    private double scale;
    private int growthTracker;

    /** PyTorch's defaults: initial scale 65536, growth 2, backoff 0.5, growth interval 2000. */
    public GradScaler() {
        this(65536.0, 2.0, 0.5, 2000);
    }

    public GradScaler(double initScale, double growthFactor, double backoffFactor, int growthInterval) {
        if (!(initScale > 0) || Double.isInfinite(initScale)) {
            throw new IllegalArgumentException("GradScaler: initial scale must be positive and finite, got " + initScale);
        }
        if (!(growthFactor > 1) || !(backoffFactor > 0 && backoffFactor < 1) || growthInterval < 1) {
            throw new IllegalArgumentException("GradScaler: need growthFactor > 1, 0 < backoffFactor < 1, growthInterval >= 1; got "
                    + growthFactor + ", " + backoffFactor + ", " + growthInterval);
        }
        this.scale = initScale;
        this.growthFactor = growthFactor;
        this.backoffFactor = backoffFactor;
        this.growthInterval = growthInterval;
    }

    /** {@code loss · scale}, differentiable: call {@code backward()} on the result. */
    public Tensor scale(Tensor loss) {
        return Ops.scale(loss, (float) scale);
    }

    /**
     * Divides every gradient of {@code params} by the scale in place (by the float32 reciprocal
     * of the scale, as torch does) and reports whether all of them are finite. Parameters
     * without a gradient are skipped.
     */
    public boolean unscale(Iterable<Tensor> params) {
        // Squares of finite float32 values cannot overflow a float64 sum, so this is exactly
        // "every gradient element is finite".
        return Double.isFinite(unscaleSumSquares(params));
    }

    /**
     * {@link #unscale} returning {@code Σ g²} over the unscaled gradients (infinite or NaN when
     * one is not finite) instead of a yes/no: its square root is {@link GradClip#totalNorm}'s
     * value, to the bit, so a loop that clips needs no second pass over the gradients.
     */
    public double unscaleSumSquares(Iterable<Tensor> params) {
        float inv = (float) (1.0 / scale);
        Map<Backend, List<Tensor>> grads = GradClip.gradsByBackend(params, "GradScaler.unscale");
        for (List<Tensor> gs : grads.values()) {
            for (Tensor g : gs) {
                g.backend().scale(g, inv, g);
            }
        }
        // One sum per backend over all its gradients: a GPU is waited for once a step, not once
        // per gradient.
        return GradClip.sumSquares(grads);
    }

    /** Backs off after a non-finite step, grows after {@code growthInterval} finite ones. */
    public void update(boolean finite) {
        if (!finite) {
            scale *= backoffFactor;
            growthTracker = 0;
        } else if (++growthTracker == growthInterval) {
            scale *= growthFactor;
            growthTracker = 0;
        }
    }

    /** The current scale. */
    public double getScale() {
        return scale;
    }

    /** Finite steps since the scale last changed. */
    public int growthTracker() {
        return growthTracker;
    }

    /** Restores a saved {@link #getScale()} and {@link #growthTracker()} (checkpoint resume). */
    public void load(double savedScale, int savedTracker) {
        if (!(savedScale > 0) || Double.isInfinite(savedScale) || savedTracker < 0) {
            throw new IllegalArgumentException("GradScaler: cannot restore scale " + savedScale + ", tracker " + savedTracker);
        }
        scale = savedScale;
        growthTracker = savedTracker;
    }
}
