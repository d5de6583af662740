package dev.solder.data;

import dev.solder.tokenizer.BertTokenizer;

/**
 * The splits of one task: {@code train}, {@code validation} (MNLI: {@code validation_matched}) and,
 * for MNLI only, {@code validation_mismatched} (null elsewhere).
 *
 * @param task the task name ({@code mnli}, {@code rte}, {@code demo-nli}, {@code jsonl}, ...)
 */
public record TaskData(String task, Dataset train, Dataset validation, Dataset validationMismatched) {

    /** The labels of the task (those of the training split). */
    public TaskLabels labels() {
        return train.labels();
    }

    /** Every split bound to {@code tokenizer} with {@code maxSeqLength} ({@link Dataset#tokenized}). */
    public TaskData tokenized(BertTokenizer tokenizer, int maxSeqLength) {
        return new TaskData(task, train.tokenized(tokenizer, maxSeqLength), validation.tokenized(tokenizer, maxSeqLength),
                validationMismatched == null ? null : validationMismatched.tokenized(tokenizer, maxSeqLength));
    }

    /** The first {@code maxTrain} training and {@code maxEval} evaluation rows (0 = all). */
    public TaskData take(int maxTrain, int maxEval) {
        return new TaskData(task, train.take(maxTrain), validation.take(maxEval),
                validationMismatched == null ? null : validationMismatched.take(maxEval));
    }
}
