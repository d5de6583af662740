package dev.solder.data;

/**
 * Which columns (CSV header names, JSON keys) hold the texts and the label of a custom data file
 * ({@code --text-a-column}, {@code --text-b-column}, {@code --label-column}).
 *
 * <p>A null text column means "choose as HF's {@code run_glue.py} does": {@code sentence1} and
 * {@code sentence2} when both exist, otherwise the first two non-label columns, or the only one.
 * A text-b column of {@code ""} or {@code "none"} forces single-text examples.
 *
 * @param textA the first text's column, or null to choose
 * @param textB the second text's column, null to choose, {@code ""} for none
 * @param label the label column ({@code label} by default)
 */
public record ColumnMapping(String textA, String textB, String label) {
    public ColumnMapping {
        if (label == null || label.isBlank()) {
            label = "label";
        }
    }

    /** Chosen texts, {@code label} as the label. */
    public static ColumnMapping auto() {
        return new ColumnMapping(null, null, "label");
    }

    boolean noTextB() {
        return textB != null && (textB.isEmpty() || textB.equalsIgnoreCase("none"));
    }
}
