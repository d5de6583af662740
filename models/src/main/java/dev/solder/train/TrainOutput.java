package dev.solder.train;

import java.util.Map;

/**
 * What {@link Trainer#train()} returns (HF's {@code TrainOutput}).
 *
 * @param globalStep optimizer steps taken
 * @param trainingLoss mean training loss over all steps
 * @param metrics {@code train_runtime}, {@code train_samples_per_second}, {@code train_steps_per_second},
 *     {@code total_flos}, {@code train_loss}, {@code epoch}
 */
public record TrainOutput(long globalStep, double trainingLoss, Map<String, Double> metrics) {
    @Override
    public String toString() {
        return "TrainOutput(global_step=" + globalStep + ", training_loss=" + PyFormat.repr(trainingLoss) + ", metrics="
                + PyFormat.dict(metrics) + ")";
    }
}
