package dev.solder.data;

import java.util.Objects;

/**
 * One labelled text (or text pair) as read from a data file, before tokenization.
 *
 * @param textA the first text (premise, sentence, question)
 * @param textB the second text of a pair, or null for single-sentence tasks
 * @param label the class index, or -1 for a regression example
 * @param score the regression target (STS-B similarity), NaN for classification
 * @param source where it came from ({@code file:line}), for messages; may be null
 */
public record Example(String textA, String textB, int label, float score, String source) {
    public Example {
        Objects.requireNonNull(textA, "textA");
    }

    /** A classification example. */
    public static Example of(String textA, String textB, int label) {
        return new Example(textA, textB, label, Float.NaN, null);
    }

    /** A regression example. */
    public static Example regression(String textA, String textB, float score) {
        return new Example(textA, textB, -1, score, null);
    }

    /** True for a text pair. */
    public boolean isPair() {
        return textB != null;
    }
}
