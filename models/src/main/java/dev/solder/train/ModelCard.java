package dev.solder.train;

import java.io.IOException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Set;

/**
 * The {@code README.md} model card HF's {@code Trainer.create_model_card()} writes: YAML front
 * matter, the evaluation results, the hyperparameters and the table of evaluations during training.
 */
final class ModelCard {
    private ModelCard() {
    }

    static String render(String modelName, String baseModel, String dataset, Map<String, Double> eval, TrainingArguments args,
                         TrainerState state) {
        List<String> metricKeys = new ArrayList<>();
        if (eval != null) {
            for (String k : eval.keySet()) {
                if (isMetric(k)) {
                    metricKeys.add(k);
                }
            }
        }
        StringBuilder sb = new StringBuilder();
        sb.append("---\nlibrary_name: transformers\n");
        if (baseModel != null) {
            sb.append("base_model: ").append(baseModel).append('\n');
        }
        sb.append("tags:\n- generated_from_trainer\n- solder\n");
        if (dataset != null) {
            sb.append("datasets:\n- ").append(dataset).append('\n');
        }
        if (!metricKeys.isEmpty()) {
            sb.append("metrics:\n");
            for (String k : metricKeys) {
                sb.append("- ").append(k.substring(5).toLowerCase(Locale.ROOT)).append('\n');
            }
        }
        sb.append("model-index:\n- name: ").append(modelName).append("\n  results: []\n---\n\n");
        sb.append("<!-- This model card has been generated automatically by Solder's Trainer, in the form of Hugging Face's. "
                + "You should probably proofread and complete it. -->\n\n");
        sb.append("# ").append(modelName).append("\n\n");
        sb.append("This model is a fine-tuned version of ");
        sb.append(baseModel != null ? "[" + baseModel + "](https://huggingface.co/" + baseModel + ")" : "a BERT model");
        sb.append(dataset != null ? " on the " + dataset + " dataset" : " on an unknown dataset").append(".\n");
        if (eval != null && !eval.isEmpty()) {
            sb.append("It achieves the following results on the evaluation set:\n");
            if (eval.containsKey("eval_loss")) {
                sb.append("- Loss: ").append(fmt(eval.get("eval_loss"))).append('\n');
            }
            for (String k : metricKeys) {
                sb.append("- ").append(title(k)).append(": ").append(fmt(eval.get(k))).append('\n');
            }
        }
        sb.append("\n## Model description\n\nMore information needed\n\n## Intended uses & limitations\n\nMore information needed\n\n");
        sb.append("## Training and evaluation data\n\nMore information needed\n\n## Training procedure\n\n");
        sb.append("### Training hyperparameters\n\nThe following hyperparameters were used during training:\n");
        sb.append("- learning_rate: ").append(PyFormat.repr(args.learningRate())).append('\n');
        sb.append("- train_batch_size: ").append(args.perDeviceTrainBatchSize()).append('\n');
        sb.append("- eval_batch_size: ").append(args.perDeviceEvalBatchSize()).append('\n');
        sb.append("- seed: ").append(args.seed()).append('\n');
        if (args.gradientAccumulationSteps() > 1) {
            sb.append("- gradient_accumulation_steps: ").append(args.gradientAccumulationSteps()).append('\n');
            sb.append("- total_train_batch_size: ").append(args.totalTrainBatchSize()).append('\n');
        }
        sb.append("- optimizer: AdamW (torch semantics) with betas=(").append(PyFormat.repr(args.adamBeta1())).append(',')
                .append(PyFormat.repr(args.adamBeta2())).append(") and epsilon=").append(PyFormat.repr(args.adamEpsilon()))
                .append(", weight_decay=").append(PyFormat.repr(args.weightDecay())).append('\n');
        sb.append("- lr_scheduler_type: ").append(args.lrSchedulerType()).append('\n');
        if (args.warmupSteps() > 0) {
            sb.append("- lr_scheduler_warmup_steps: ").append(args.warmupSteps()).append('\n');
        } else if (args.warmupRatio() > 0) {
            sb.append("- lr_scheduler_warmup_ratio: ").append(PyFormat.repr(args.warmupRatio())).append('\n');
        }
        if (args.maxSteps() > 0) {
            sb.append("- training_steps: ").append(args.maxSteps()).append('\n');
        } else {
            sb.append("- num_epochs: ").append(PyFormat.repr(args.numTrainEpochs())).append('\n');
        }
        if (args.precision() != TrainingArguments.Precision.FP32) {
            sb.append("- mixed_precision_training: ").append(args.precision().name().toLowerCase(Locale.ROOT)).append('\n');
        }
        sb.append('\n');
        table(sb, state);
        sb.append("### Framework versions\n\n- Solder 0.1.0\n- Java ").append(Runtime.version()).append('\n');
        return sb.toString();
    }

    private static void table(StringBuilder sb, TrainerState state) {
        List<Map<String, Object>> evals = new ArrayList<>();
        Set<String> cols = new LinkedHashSet<>();
        for (Map<String, Object> e : state.logHistory) {
            if (e.containsKey("eval_loss")) {
                evals.add(e);
                for (String k : e.keySet()) {
                    if (isMetric(k)) {
                        cols.add(k);
                    }
                }
            }
        }
        if (evals.isEmpty()) {
            return;
        }
        sb.append("### Training results\n\n| Training Loss | Epoch | Step | Validation Loss |");
        for (String c : cols) {
            sb.append(' ').append(title(c)).append(" |");
        }
        sb.append("\n|:-------------:|:-----:|:----:|:---------------:|");
        sb.append(":---:|".repeat(cols.size())).append('\n');
        Object lastLoss = null;
        int j = 0;
        for (Map<String, Object> e : state.logHistory) {
            if (e.containsKey("loss")) {
                lastLoss = e.get("loss");
            }
            if (j < evals.size() && e == evals.get(j)) {
                j++;
                sb.append("| ").append(lastLoss instanceof Number n ? fmt(n.doubleValue()) : "No log").append(" | ")
                        .append(e.get("epoch") instanceof Number n ? PyFormat.repr(PyFormat.round(n.doubleValue(), 4)) : "")
                        .append(" | ").append(e.get("step")).append(" | ").append(fmt(((Number) e.get("eval_loss")).doubleValue()))
                        .append(" |");
                for (String c : cols) {
                    sb.append(' ').append(e.get(c) instanceof Number n ? fmt(n.doubleValue()) : "").append(" |");
                }
                sb.append('\n');
            }
        }
        sb.append('\n');
    }

    private static boolean isMetric(String k) {
        return k.startsWith("eval_") && !k.equals("eval_loss") && !k.endsWith("_runtime") && !k.endsWith("_per_second");
    }

    /** HF's {@code key.replace("_", " ").title()} after dropping {@code eval_}. */
    static String title(String key) {
        String[] words = key.substring(5).split("_");
        StringBuilder sb = new StringBuilder();
        for (String w : words) {
            if (sb.length() > 0) {
                sb.append(' ');
            }
            if (!w.isEmpty()) {
                sb.append(Character.toUpperCase(w.charAt(0))).append(w.substring(1).toLowerCase(Locale.ROOT));
            }
        }
        return sb.toString();
    }

    private static String fmt(double v) {
        return String.format(Locale.ROOT, "%.4f", v);
    }

    static void write(Path dir, String text) throws IOException {
        TrainerCheckpoint.writeTextAtomically(dir.resolve("README.md"), text);
    }
}
