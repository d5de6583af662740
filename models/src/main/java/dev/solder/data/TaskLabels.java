package dev.solder.data;

import java.util.List;

/**
 * The labels of a task: class names by index (HF {@code ClassLabel(names=...)}, which become the
 * model config's {@code id2label}), or a regression target.
 *
 * @param names class names by index; empty for regression
 * @param regression true for a real-valued target (STS-B); the model then has one output
 */
public record TaskLabels(List<String> names, boolean regression) {
    public TaskLabels {
        names = List.copyOf(names);
        if (!regression && names.isEmpty()) {
            throw new IllegalArgumentException("a classification task needs at least one label name");
        }
    }

    public static TaskLabels of(String... names) {
        return new TaskLabels(List.of(names), false);
    }

    public static TaskLabels regressionTarget() {
        return new TaskLabels(List.of(), true);
    }

    /** {@code num_labels}: the number of classes, or 1 for regression. */
    public int numLabels() {
        return regression ? 1 : names.size();
    }

    /** The index of a class name, or -1. */
    public int indexOf(String name) {
        return names.indexOf(name);
    }
}
