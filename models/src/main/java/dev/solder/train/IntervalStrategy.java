package dev.solder.train;

import java.util.Locale;

/** When to evaluate or save: HF's {@code IntervalStrategy} ({@code "no"}, {@code "steps"}, {@code "epoch"}). */
public enum IntervalStrategy {
    NO, STEPS, EPOCH;

    /** Parses {@code no}, {@code steps}, {@code epoch} (any case). */
    public static IntervalStrategy parse(String s) {
        return switch (s.toLowerCase(Locale.ROOT)) {
            case "no", "none" -> NO;
            case "steps" -> STEPS;
            case "epoch" -> EPOCH;
            default -> throw new IllegalArgumentException("unknown strategy '" + s + "' (no, steps, epoch)");
        };
    }

    /** The HF spelling. */
    public String hfName() {
        return name().toLowerCase(Locale.ROOT);
    }
}
