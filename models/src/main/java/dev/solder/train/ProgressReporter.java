package dev.solder.train;

import java.io.PrintStream;
import java.util.Locale;

/**
 * Training progress on stdout: a tqdm-style bar redrawn in place when stdout is a terminal
 * ({@code System.console() != null}), otherwise a plain line every {@code plainIntervalSeconds}
 * (logs and CI capture stay readable). Both show steps, elapsed time, ETA, steps/s and samples/s.
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

    ProgressReporter(PrintStream out, boolean tty, long total, int samplesPerStep, double plainIntervalSeconds) {
        this.out = out;
        this.tty = tty;
        this.total = total;
        this.samplesPerStep = samplesPerStep;
        this.plainIntervalSeconds = plainIntervalSeconds;
    }

    void start(long step) {
        startNanos = System.nanoTime();
        startStep = step;
        lastDraw = startNanos;
        if (tty) {
            draw(step, 0);
        }
    }

    void update(long step, double epoch) {
        long now = System.nanoTime();
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
        return (System.nanoTime() - startNanos) / 1e9;
    }

    private double rate(long step) {
        double el = elapsed();
        return el > 0 ? (step - startStep) / el : 0;
    }

    private double eta(long step) {
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
