package dev.solder.train;

import java.nio.file.Path;
import java.util.Map;

/** Hooks into a {@link Trainer}'s loop (HF's {@code TrainerCallback}, the events Solder has). */
public interface TrainerCallback {
    /** After each optimizer step (and its logging, evaluation and saving). */
    default void onStepEnd(TrainerState state) {
    }

    /** After each logged dict (training logs, evaluations, the final summary). */
    default void onLog(Map<String, Object> logs, TrainerState state) {
    }

    /** After a checkpoint folder was written. */
    default void onSave(Path checkpoint, TrainerState state) {
    }
}
