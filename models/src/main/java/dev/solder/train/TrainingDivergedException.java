package dev.solder.train;

/**
 * Training stopped because the loss became NaN or infinite. The message names the optimizer step,
 * the epoch and the learning rate, and suggests what to change.
 */
public final class TrainingDivergedException extends RuntimeException {
    private static final long serialVersionUID = 1L;
    private final long step;
    private final double epoch;

    public TrainingDivergedException(String message, long step, double epoch) {
        super(message);
        this.step = step;
        this.epoch = epoch;
    }

    /** The optimizer step (1-based) whose loss was not finite. */
    public long step() {
        return step;
    }

    /** The fractional epoch at that point. */
    public double epoch() {
        return epoch;
    }
}
