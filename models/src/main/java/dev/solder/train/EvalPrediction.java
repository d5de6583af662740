package dev.solder.train;

/**
 * What {@link MetricFn}s see after an evaluation pass (HF's {@code EvalPrediction}): the model's
 * outputs per example and the gold labels.
 *
 * @param predictions logits {@code [n][num_labels]} (one column for regression)
 * @param labelIds gold class indexes (classification), or null
 * @param labelValues gold targets (regression), or null
 */
public record EvalPrediction(float[][] predictions, int[] labelIds, float[] labelValues) {

    /** The predicted class of each example: the index of its largest logit (first on ties, as numpy). */
    public int[] predictedClasses() {
        int[] out = new int[predictions.length];
        for (int i = 0; i < out.length; i++) {
            float[] row = predictions[i];
            int best = 0;
            for (int j = 1; j < row.length; j++) {
                if (row[j] > row[best] || Float.isNaN(row[j]) && !Float.isNaN(row[best])) {
                    best = j;
                }
            }
            out[i] = best;
        }
        return out;
    }

    /** The predicted value of each example (regression: the single output). */
    public double[] predictedValues() {
        double[] out = new double[predictions.length];
        for (int i = 0; i < out.length; i++) {
            out[i] = predictions[i][0];
        }
        return out;
    }

    /** Gold regression targets as doubles. */
    public double[] goldValues() {
        double[] out = new double[labelValues.length];
        for (int i = 0; i < out.length; i++) {
            out[i] = labelValues[i];
        }
        return out;
    }

    public boolean isRegression() {
        return labelValues != null;
    }
}
