package dev.solder.train;

import java.io.PrintStream;
import java.util.Locale;
import java.util.function.LongSupplier;

/**
 * Training progress on stdout: a tqdm-style bar redrawn in place when stdout is a terminal
 * ({@code System.console() != null}), otherwise a plain line every {@code plainIntervalSeconds}
 * (logs and CI capture stay readable). Both show steps, elapsed time, ETA, steps/s and samples/s.
 *
 * <p>The rate is tqdm's: an exponential moving average of the rates between updates (smoothing
 * 0.3), not the average since the start, so that the first steps (the JIT compiling, caches
 * filling: tens of seconds for BERT-Base on a CPU) do not keep the ETA high for the rest of the run.
 */
final class ProgressReporter {
    private static final int BAR = 30;
    private final PrintStream out;
    private final boolean tty;
    private final double plainIntervalSeconds;
    private final long total;
    private final int samplesPerStep;
    private long startNanos;
    private long startStep;
    private long lastDraw;
    private boolean barShown;
    /** tqdm's smoothing: the weight of the newest rate in the moving average. */
    private static final double SMOOTHING = 0.3;
    private final LongSupplier clock;
    private double smoothedRate;
    private long rateStep;
    private long rateNanos;

    ProgressReporter(PrintStream out, boolean tty, long total, int samplesPerStep, double plainIntervalSeconds) {
        this(out, tty, total, samplesPerStep, plainIntervalSeconds, System::nanoTime);
    }

    /** With {@code clock} in nanoseconds (tests drive it). */
    ProgressReporter(PrintStream out, boolean tty, long total, int samplesPerStep, double plainIntervalSeconds,
                     LongSupplier clock) {
        this.out = out;
        this.tty = tty;
        this.total = total;
        this.samplesPerStep = samplesPerStep;
        this.plainIntervalSeconds = plainIntervalSeconds;
        this.clock = clock;
    }

    void start(long step) {
        startNanos = clock.getAsLong();
        startStep = step;
        rateStep = step;
        rateNanos = startNanos;
        smoothedRate = 0;
        lastDraw = startNanos;
        if (tty) {
            draw(step, 0);
        }
    }

    void update(long step, double epoch) {
        long now = clock.getAsLong();
        if (step > rateStep && now > rateNanos) {
            double recent = (step - rateStep) / ((now - rateNanos) / 1e9);
            smoothedRate = smoothedRate == 0 ? recent : SMOOTHING * recent + (1 - SMOOTHING) * smoothedRate;
            rateStep = step;
            rateNanos = now;
        }
        if (tty) {
            if (now - lastDraw > 100_000_000L || step >= total) {
                draw(step, epoch);
                lastDraw = now;
            }
        } else if ((now - lastDraw) / 1e9 >= plainIntervalSeconds) {
            out.println(line(step, epoch));
            lastDraw = now;
        }
    }

    /** Prints a line (a log dict) above the bar. */
    void message(String text) {
        if (tty && barShown) {
            out.print("\r\033[2K");
        }
        out.println(text);
        if (tty && barShown) {
            redrawLast();
        }
    }

    private long lastStep;
    private double lastEpoch;

    private void redrawLast() {
        draw(lastStep, lastEpoch);
    }

    void finish(long step, double epoch) {
        if (tty) {
            draw(step, epoch);
            out.println();
            barShown = false;
        } else {
            out.println(line(step, epoch));
        }
    }

    private void draw(long step, double epoch) {
        lastStep = step;
        lastEpoch = epoch;
        double frac = total == 0 ? 1 : Math.min(1.0, (double) step / total);
        int full = (int) (frac * BAR);
        StringBuilder bar = new StringBuilder();
        bar.append("█".repeat(full));
        if (full < BAR) {
            int eighths = (int) ((frac * BAR - full) * 8);
            bar.append(eighths > 0 ? "▏▎▍▌▋▊▉".charAt(7 - eighths) : ' ');
            bar.append(" ".repeat(BAR - full - 1));
        }
        double el = elapsed();
        double rate = rate(step);
        String s = String.format(Locale.ROOT, "\r%3d%%|%s| %d/%d [%s<%s, %.2fit/s, %.1f samples/s, epoch %.2f]",
                (int) (frac * 100), bar, step, total, clock(el), clock(eta(step)), rate, rate * samplesPerStep, epoch);
        out.print(s);
        out.flush();
        barShown = true;
    }

    String line(long step, double epoch) {
        double rate = rate(step);
        return String.format(Locale.ROOT,
                "progress: step %d/%d (%d%%) | epoch %.2f | %.2f steps/s, %.1f samples/s | elapsed %s, ETA %s",
                step, total, total == 0 ? 100 : (int) (100.0 * step / total), epoch, rate, rate * samplesPerStep,
                clock(elapsed()), clock(eta(step)));
    }

    private double elapsed() {
        return (clock.getAsLong() - startNanos) / 1e9;
    }

    /** Steps a second: the moving average once a step has been timed, else the average so far. */
    double rate(long step) {
        if (smoothedRate > 0) {
            return smoothedRate;
        }
        double el = elapsed();
        return el > 0 ? (step - startStep) / el : 0;
    }

    double eta(long step) {
        double r = rate(step);
        return r > 0 ? (total - step) / r : Double.NaN;
    }

    static String clock(double seconds) {
        if (!Double.isFinite(seconds)) {
            return "?";
        }
        long s = Math.round(seconds);
        return s >= 3600 ? String.format(Locale.ROOT, "%d:%02d:%02d", s / 3600, s / 60 % 60, s % 60)
                : String.format(Locale.ROOT, "%02d:%02d", s / 60, s % 60);
    }
}
