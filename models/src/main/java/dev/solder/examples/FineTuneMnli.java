package dev.solder.examples;

import dev.solder.bert.Bert;
import dev.solder.bert.BertForSequenceClassification;
import dev.solder.data.Glue;
import dev.solder.data.GlueTask;
import dev.solder.data.ReadOptions;
import dev.solder.data.TaskData;
import dev.solder.tokenizer.BertTokenizer;
import dev.solder.train.Metrics;
import dev.solder.train.Trainer;
import dev.solder.train.TrainingArguments;
import java.nio.file.Path;
import java.util.Map;

/**
 * The reference fine-tuning: {@code bert-base-uncased} on MNLI exactly as the Hugging Face
 * notebook does it — the first 1,000 training pairs, evaluated on the first 1,000 pairs of
 * {@code validation_matched}, 3 epochs, batch 8, learning rate 5e-5, seed 42, every other setting
 * the {@code Trainer}'s default — reporting accuracy and macro-F1.
 *
 * <pre>
 * java -cp ... dev.solder.examples.FineTuneMnli [GLUE MNLI folder]   # without one, MNLI.zip is downloaded
 * ./solder finetune --data-dir glue_data/MNLI                       # the same, from the command line
 * </pre>
 */
public final class FineTuneMnli {
    private FineTuneMnli() {
    }

    public static void main(String[] argv) throws Exception {
        Path dataDir = argv.length > 0 ? Path.of(argv[0]) : null;

        // 1. The tokenizer and the data: premise/hypothesis pairs, truncated to 128 tokens.
        BertTokenizer tokenizer = Bert.tokenizer("bert-base-uncased");
        TaskData mnli = Glue.load(GlueTask.MNLI, dataDir, ReadOptions.firstRows(1000), ReadOptions.firstRows(1000))
                .tokenized(tokenizer, 128);

        // 2. The pretrained encoder under a new 3-way head named entailment / neutral / contradiction.
        try (var model = BertForSequenceClassification.fromPretrained("bert-base-uncased", mnli.labels().names())) {

            // 3. HF's TrainingArguments: everything not set here keeps the Trainer's default.
            var args = TrainingArguments.builder()
                    .outputDir(Path.of("test-nli"))
                    .numTrainEpochs(3)
                    .perDeviceTrainBatchSize(8)
                    .learningRate(5e-5)
                    .seed(42)
                    .loggingSteps(50)
                    .build();

            // 4. Train, evaluate, save. The notebook's compute_metrics gives eval_F1 and eval_Accuracy.
            try (var trainer = new Trainer(model, args, mnli.train(), mnli.validation(), Metrics.accuracyAndMacroF1())) {
                trainer.setTokenizer(tokenizer);
                trainer.train();                                   // logs, checkpoints, train_results.json
                Map<String, Double> eval = trainer.evaluate();     // prints {'eval_loss': ..., 'eval_F1': ..., ...}
                System.out.printf("accuracy %.4f, macro-F1 %.4f%n", eval.get("eval_Accuracy"), eval.get("eval_F1"));
                trainer.saveModel();                               // test-nli/: loads in transformers unchanged
            }
        }
    }
}
