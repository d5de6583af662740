package dev.solder.optim;

/**
 * Linear warmup then linear decay to zero — HF's {@code get_linear_schedule_with_warmup},
 * the {@code Trainer}'s default. The learning rate at step {@code t} is
 * {@code baseLr · factor(t)} with
 * <pre>
 *   factor(t) = t / max(1, warmup)                                 for t &lt; warmup
 *   factor(t) = max(0, (total − t) / max(1, total − warmup))       otherwise
 * </pre>
 * As with torch's {@code LambdaLR}, building the schedule already applies
 * {@code factor(0)} — so with warmup the first optimizer step runs at lr 0 — and each
 * {@link #step()} (called after {@code optimizer.step()}) advances {@code t} by one.
 *
 * <pre>{@code
 * var schedule = new LinearSchedule(opt, 0, numEpochs * batchesPerEpoch);
 * // per batch: opt.step(); opt.zeroGrad(); schedule.step();
 * }</pre>
 */
public final class LinearSchedule {
    /** What a checkpoint needs to resume the schedule. */
    public record State(long step, double baseLr) {
    }

    private final Optimizer optimizer;
    private final long warmupSteps;
    private final long totalSteps;
    private double baseLr;
    private long step;

    /** Takes the optimizer's current lr as the peak ({@code baseLr}) and applies {@code factor(0)}. */
    public LinearSchedule(Optimizer optimizer, long warmupSteps, long totalSteps) {
        if (optimizer == null) {
            throw new IllegalArgumentException("LinearSchedule: optimizer is null");
        }
        if (warmupSteps < 0 || totalSteps < 0) {
            throw new IllegalArgumentException("LinearSchedule: steps must be >= 0, got warmup " + warmupSteps + ", total "
                    + totalSteps);
        }
        this.optimizer = optimizer;
        this.warmupSteps = warmupSteps;
        this.totalSteps = totalSteps;
        this.baseLr = optimizer.lr();
        apply();
    }

    /** The multiplier at step {@code t}. */
    public double factor(long t) {
        if (t < warmupSteps) {
            return (double) t / Math.max(1, warmupSteps);
        }
        return Math.max(0.0, (double) (totalSteps - t) / Math.max(1, totalSteps - warmupSteps));
    }

    /** Advances one step and sets the optimizer's lr for the next update. */
    public void step() {
        step++;
        apply();
    }

    private void apply() {
        optimizer.setLr(baseLr * factor(step));
    }

    /** Steps taken so far. */
    public long currentStep() {
        return step;
    }

    /** The peak learning rate. */
    public double baseLr() {
        return baseLr;
    }

    /** The learning rate the schedule set last ({@code baseLr · factor(currentStep)}). */
    public double lastLr() {
        return baseLr * factor(step);
    }

    public long warmupSteps() {
        return warmupSteps;
    }

    public long totalSteps() {
        return totalSteps;
    }

    public State state() {
        return new State(step, baseLr);
    }

    /** Resumes at {@code state}'s step and sets the optimizer's lr accordingly. */
    public void loadState(State state) {
        if (state.step() < 0 || !(state.baseLr() >= 0)) {
            throw new IllegalArgumentException("LinearSchedule.loadState: bad state " + state);
        }
        this.step = state.step();
        this.baseLr = state.baseLr();
        apply();
    }
}
