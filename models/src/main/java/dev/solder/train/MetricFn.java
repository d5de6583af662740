package dev.solder.train;

import java.util.Map;

/**
 * HF's {@code compute_metrics}: turns an {@link EvalPrediction} into named numbers. The
 * {@link Trainer} prefixes each name with {@code eval_}. Keep the map ordered (a
 * {@link java.util.LinkedHashMap}): it is printed and written in that order.
 */
@FunctionalInterface
public interface MetricFn {
    Map<String, Double> compute(EvalPrediction prediction);
}
