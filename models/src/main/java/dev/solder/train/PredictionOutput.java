package dev.solder.train;

import java.util.Map;

/**
 * What {@link Trainer#predict} returns (HF's {@code PredictionOutput}).
 *
 * @param predictions logits per example, in dataset order
 * @param labelIds gold classes (null for regression)
 * @param labelValues gold targets (null for classification)
 * @param metrics loss, metrics, runtime and speed, with the prefix asked for
 */
public record PredictionOutput(float[][] predictions, int[] labelIds, float[] labelValues, Map<String, Double> metrics) {
}
