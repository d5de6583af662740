package dev.solder.tokenizer;

import java.util.Objects;

/**
 * One input of a batch: a single text, or a pair such as (premise, hypothesis).
 *
 * @param first the first text
 * @param second the second text, or null for a single sequence
 */
public record TextPair(String first, String second) {
    /** Validates that the first text is given. */
    public TextPair {
        Objects.requireNonNull(first, "first");
    }

    /** A single sequence. */
    public static TextPair of(String text) {
        return new TextPair(text, null);
    }

    /** A pair of sequences. */
    public static TextPair of(String first, String second) {
        return new TextPair(first, Objects.requireNonNull(second, "second"));
    }
}
