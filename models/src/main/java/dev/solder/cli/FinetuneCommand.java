package dev.solder.cli;

import dev.solder.bert.Bert;
import dev.solder.bert.BertForSequenceClassification;
import dev.solder.data.ColumnMapping;
import dev.solder.data.DataException;
import dev.solder.data.Dataset;
import dev.solder.data.DemoNli;
import dev.solder.data.Glue;
import dev.solder.data.GlueTask;
import dev.solder.data.ReadOptions;
import dev.solder.data.TabularData;
import dev.solder.data.TaskData;
import dev.solder.train.IntervalStrategy;
import dev.solder.train.MetricFn;
import dev.solder.train.Metrics;
import dev.solder.train.Trainer;
import dev.solder.train.TrainingArguments;
import dev.solder.tokenizer.BertTokenizer;
import java.io.PrintStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.concurrent.Callable;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import picocli.CommandLine.Command;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;

/**
 * {@code solder finetune}: fine-tunes a pretrained BERT on a sentence(-pair) classification task with
 * Solder's {@link Trainer}, options spelled as Hugging Face's {@code TrainingArguments}.
 *
 * <p>With no options it is the reference notebook: {@code bert-base-uncased} on MNLI, the first
 * 1,000 training and 1,000 {@code validation_matched} rows, 3 epochs, batch 8, lr 5e-5, seed 42;
 * it prints the training logs, the train metrics and the evaluation dict
 * ({@code {'eval_loss': ..., 'eval_F1': ..., 'eval_Accuracy': ..., ...}}) and writes checkpoints,
 * results, a model card, a plot and the fine-tuned model into {@code test-nli/}.
 *
 * <pre>
 * ./solder finetune --data-dir glue_data/MNLI                  # the notebook
 * ./solder finetune --task rte --data-dir glue_data/RTE --max-train-samples 64 --num-train-epochs 1
 * ./solder finetune --task demo-nli                             # no download: generated NLI pairs
 * ./solder finetune --task jsonl --train-file t.jsonl --validation-file d.jsonl \
 *     --text-a-column premise --text-b-column hypothesis --label-column label
 * </pre>
 */
@Command(name = "finetune", mixinStandardHelpOptions = true, sortOptions = false,
        description = {"Fine-tune a pretrained BERT for sequence classification (HF Trainer semantics).",
            "Defaults reproduce the MNLI notebook: bert-base-uncased, 1,000/1,000 rows, 3 epochs, batch 8, lr 5e-5."})
final class FinetuneCommand implements Callable<Integer> {
    @Option(names = "--model", defaultValue = "bert-base-uncased", paramLabel = "M",
            description = "pretrained model: Hub id or directory (default ${DEFAULT-VALUE})")
    String model;

    @Option(names = "--task", defaultValue = "mnli", paramLabel = "T",
            description = "mnli (validation_matched), mnli-mm (validation_mismatched), cola, sst2, mrpc, stsb, qqp, qnli, "
                    + "rte, wnli, demo-nli (generated, no download), jsonl or csv (default ${DEFAULT-VALUE})")
    String task;

    @Option(names = "--data-dir", paramLabel = "DIR",
            description = "folder with the task's files: GLUE train.tsv + dev.tsv (MNLI: dev_matched.tsv, dev_mismatched.tsv), "
                    + "or train/dev .jsonl/.csv; without it GLUE tasks are downloaded into ~/.cache/solder/glue")
    Path dataDir;

    @Option(names = "--glue-url", paramLabel = "URL", description = "base URL of the GLUE zips (default: $SOLDER_GLUE_URL, "
            + "else the official dl.fbaipublicfiles.com/glue/data)")
    String glueUrl;

    @Option(names = "--train-file", paramLabel = "F", description = "jsonl/csv: the training file")
    Path trainFile;

    @Option(names = "--validation-file", paramLabel = "F", description = "jsonl/csv: the validation file")
    Path validationFile;

    @Option(names = "--text-a-column", paramLabel = "C", description = "jsonl/csv: first text column (default: sentence1, "
            + "else the first non-label column)")
    String textA;

    @Option(names = "--text-b-column", paramLabel = "C", description = "jsonl/csv: second text column (default: sentence2, "
            + "else the second non-label column; 'none' for single texts)")
    String textB;

    @Option(names = "--label-column", defaultValue = "label", paramLabel = "C",
            description = "jsonl/csv: label column (default ${DEFAULT-VALUE})")
    String labelColumn;

    @Option(names = "--labels", split = ",", paramLabel = "L", description = "jsonl/csv: label names in index order "
            + "(default: the sorted distinct training labels)")
    List<String> labels;

    @Option(names = "--output-dir", defaultValue = "test-nli", paramLabel = "DIR", description = "default ${DEFAULT-VALUE}")
    Path outputDir;

    @Option(names = "--max-train-samples", paramLabel = "N", description = "first N training rows (default 1000; demo-nli 3000; "
            + "0 = all)")
    Integer maxTrainSamples;

    @Option(names = "--max-eval-samples", paramLabel = "N", description = "first N evaluation rows (default 1000; demo-nli 600; "
            + "0 = all)")
    Integer maxEvalSamples;

    @Option(names = "--num-train-epochs", defaultValue = "3", paramLabel = "E", description = "default ${DEFAULT-VALUE}")
    double numTrainEpochs;

    @Option(names = "--max-steps", defaultValue = "-1", paramLabel = "N", description = "overrides the epochs when > 0")
    long maxSteps;

    @Option(names = "--per-device-train-batch-size", defaultValue = "8", paramLabel = "B", description = "default ${DEFAULT-VALUE}")
    int trainBatch;

    @Option(names = "--per-device-eval-batch-size", defaultValue = "8", paramLabel = "B", description = "default ${DEFAULT-VALUE}")
    int evalBatch;

    @Option(names = "--gradient-accumulation-steps", defaultValue = "1", paramLabel = "K", description = "default ${DEFAULT-VALUE}")
    int accumulation;

    @Option(names = "--learning-rate", defaultValue = "5e-5", paramLabel = "LR", description = "default ${DEFAULT-VALUE}")
    double learningRate;

    @Option(names = "--weight-decay", defaultValue = "0", paramLabel = "WD",
            description = "default ${DEFAULT-VALUE}; never on biases and LayerNorm weights")
    double weightDecay;

    @Option(names = "--warmup-steps", defaultValue = "0", paramLabel = "N", description = "default ${DEFAULT-VALUE}")
    long warmupSteps;

    @Option(names = "--warmup-ratio", defaultValue = "0", paramLabel = "R", description = "used when --warmup-steps is 0")
    double warmupRatio;

    @Option(names = "--max-grad-norm", defaultValue = "1.0", paramLabel = "N", description = "default ${DEFAULT-VALUE}")
    double maxGradNorm;

    @Option(names = "--max-seq-length", defaultValue = "128", paramLabel = "L", description = "default ${DEFAULT-VALUE}")
    int maxSeqLength;

    @Option(names = "--seed", defaultValue = "42", paramLabel = "S", description = "default ${DEFAULT-VALUE}")
    long seed;

    @Option(names = "--logging-steps", defaultValue = "50", paramLabel = "N",
            description = "default ${DEFAULT-VALUE} (HF's is 500)")
    long loggingSteps;

    @Option(names = "--eval-strategy", defaultValue = "no", paramLabel = "S", description = "no, steps or epoch "
            + "(default ${DEFAULT-VALUE}, as HF: one evaluation after training)")
    String evalStrategy;

    @Option(names = "--eval-steps", defaultValue = "0", paramLabel = "N", description = "with --eval-strategy steps "
            + "(default: --logging-steps)")
    long evalSteps;

    @Option(names = "--save-steps", defaultValue = "500", paramLabel = "N", description = "checkpoint every N steps, and at the end "
            + "(default ${DEFAULT-VALUE})")
    long saveSteps;

    @Option(names = "--save-total-limit", defaultValue = "0", paramLabel = "N", description = "keep the newest N checkpoints "
            + "(default: all)")
    int saveTotalLimit;

    @Option(names = "--device", defaultValue = "auto", paramLabel = "D", description = "auto, cpu or cuda[:N] (default ${DEFAULT-VALUE})")
    String device;

    @Option(names = "--precision", defaultValue = "fp32", paramLabel = "P", description = "fp32, bf16 or fp16 (default ${DEFAULT-VALUE})")
    String precision;

    @Option(names = "--resume", description = "continue from the latest checkpoint-N in --output-dir")
    boolean resume;

    @Option(names = "--skip-bad-rows", description = "skip (and count) ragged rows and unknown labels instead of stopping")
    boolean skipBadRows;

    @Option(names = "--group-by-length", description = "batch rows of similar length together (HF group_by_length)")
    boolean groupByLength;

    @Option(names = "--no-plot", description = "do not draw training_curves.png")
    boolean noPlot;

    @Spec
    CommandSpec spec;

    @Override
    public Integer call() throws Exception {
        PrintStream out = System.out;
        String t = task.toLowerCase(Locale.ROOT);
        boolean demo = t.equals("demo-nli") || t.equals("demonli") || t.equals("demo");
        if (!demo && !t.equals("jsonl") && !t.equals("csv") && !isMnliMismatched(t) && !GlueTask.isGlue(t)) {
            throw new CliException("unknown --task '" + task + "' (known: mnli, mnli-mm, cola, sst2, mrpc, stsb, qqp, "
                    + "qnli, rte, wnli, demo-nli, jsonl, csv)");
        }
        if (maxSeqLength <= 0) {
            throw new CliException("--max-seq-length must be positive, got " + maxSeqLength);
        }
        TrainingArguments args = arguments();
        Trainer.checkSupported(args);   // device and --resume's checkpoint, before minutes go into loading
        int maxTrain = maxTrainSamples != null ? maxTrainSamples : demo ? 3000 : 1000;
        int maxEval = maxEvalSamples != null ? maxEvalSamples : demo ? 600 : 1000;

        long t0 = System.nanoTime();
        TaskData data = loadData(t, demo, maxTrain, maxEval);
        out.printf(Locale.ROOT, "data: %s — %,d training rows, %,d evaluation rows (%s), labels %s%n", data.task(),
                data.train().size(), data.validation().size(), data.validation().name(),
                data.labels().regression() ? "regression" : data.labels().names());
        reportSkipped(out, data.train());
        reportSkipped(out, data.validation());

        Bert.Options opts = Bert.Options.defaults().seed(seed).warnings(w -> System.err.println("warning: " + w));
        long m0 = System.nanoTime();
        BertTokenizer tokenizer = Bert.tokenizer(model, opts);
        BertForSequenceClassification net = data.labels().regression()
                ? BertForSequenceClassification.fromPretrained(model, 1, opts)
                : BertForSequenceClassification.fromPretrained(model, data.labels().names(), opts);
        if (data.labels().regression()) {
            net.config().problemType = "regression";
        }
        try (net) {
            out.printf(Locale.ROOT, "model: %s, %,d parameters, loaded in %.1f s%n", model, net.numParameters(),
                    (System.nanoTime() - m0) / 1e9);
            int positions = net.config().maxPositionEmbeddings;
            int seqLength = maxSeqLength;
            if (seqLength > positions) {
                // run_glue.py: max_seq_length = min(max_seq_length, tokenizer.model_max_length), with a warning
                System.err.printf(Locale.ROOT, "warning: --max-seq-length %d is longer than the model's "
                        + "max_position_embeddings %d; using %d%n", seqLength, positions, positions);
                seqLength = positions;
            }
            TaskData tok = data.tokenized(tokenizer, seqLength);
            try (Trainer trainer = new Trainer(net, args, tok.train(), tok.validation(), metricsFor(t, demo, data))) {
                trainer.setTokenizer(tokenizer).setModelCardInfo(model, datasetName(t, demo));
                var trained = trainer.train();
                trainer.logMetrics("train", trained.metrics());
                Map<String, Double> eval = trainer.evaluate(true);   // the end-of-training evaluation when it ran at the last step
                trainer.logMetrics("eval", eval);
                trainer.saveModel();
                out.printf(Locale.ROOT, "fine-tuned model, results and checkpoints in %s (%.1f s in all)%n",
                        args.outputDir().toAbsolutePath().normalize(), (System.nanoTime() - t0) / 1e9);
            }
        }
        return 0;
    }

    private TrainingArguments arguments() {
        try {
            return TrainingArguments.builder().outputDir(outputDir).numTrainEpochs(numTrainEpochs).maxSteps(maxSteps)
                    .perDeviceTrainBatchSize(trainBatch).perDeviceEvalBatchSize(evalBatch)
                    .gradientAccumulationSteps(accumulation).learningRate(learningRate).weightDecay(weightDecay)
                    .warmupSteps(warmupSteps).warmupRatio(warmupRatio).maxGradNorm(maxGradNorm).seed(seed)
                    .loggingSteps(loggingSteps).evalStrategy(IntervalStrategy.parse(evalStrategy)).evalSteps(evalSteps)
                    .saveSteps(saveSteps).saveTotalLimit(saveTotalLimit).device(device)
                    .precision(TrainingArguments.Precision.parse(precision)).groupByLength(groupByLength)
                    .savePlot(!noPlot).resumeFromCheckpoint(resume).build();
        } catch (IllegalArgumentException e) {
            throw new CliException(inOptionNames(e.getMessage()));
        }
    }

    /**
     * {@code message} with the TrainingArguments field names it mentions ({@code num_train_epochs})
     * spelled as this command's options ({@code --num-train-epochs}), where there is one.
     */
    private String inOptionNames(String message) {
        Matcher m = Pattern.compile("\\b[a-z]+(?:_[a-z0-9]+)+\\b").matcher(message);
        StringBuilder sb = new StringBuilder();
        while (m.find()) {
            String option = "--" + m.group().replace('_', '-');
            m.appendReplacement(sb, Matcher.quoteReplacement(spec != null && spec.findOption(option) != null
                    ? option : m.group()));
        }
        m.appendTail(sb);
        return sb.toString();
    }

    private static boolean isMnliMismatched(String t) {
        return t.equals("mnli-mm") || t.equals("mnli_mismatched") || t.equals("mnli-mismatched");
    }

    private TaskData loadData(String t, boolean demo, int maxTrain, int maxEval) {
        ReadOptions tr = new ReadOptions(maxTrain, skipBadRows);
        ReadOptions ev = new ReadOptions(maxEval, skipBadRows);
        if (demo) {
            return DemoNli.load(maxTrain > 0 ? maxTrain : 3000, maxEval > 0 ? maxEval : 600, seed);
        }
        if (t.equals("jsonl") || t.equals("csv")) {
            Path train = trainFile != null ? trainFile : findFile(t, "train");
            Path dev = validationFile != null ? validationFile : findFile(t, "dev", "validation", "valid", "eval");
            return TabularData.load(train, dev, new ColumnMapping(textA, textB, labelColumn), labels, tr, ev);
        }
        boolean mismatched = isMnliMismatched(t);
        GlueTask g = GlueTask.parse(mismatched ? "mnli" : t);
        Path dir = dataDir;
        if (dir == null) {
            dir = dev.solder.data.GlueDownloader.fromEnvironment(System.getenv(), glueUrl).ensure(g);
        }
        TaskData d = Glue.load(g, dir, tr, ev);
        if (mismatched) {
            if (d.validationMismatched() == null) {
                throw new DataException("--task mnli-mm needs dev_mismatched.tsv in " + dir);
            }
            d = new TaskData("mnli-mm", d.train(), d.validationMismatched(), null);
        }
        return d;
    }

    private Path findFile(String ext, String... stems) {
        if (dataDir == null) {
            throw new CliException("--task " + ext + " needs --train-file and --validation-file, or --data-dir holding "
                    + "train." + ext + " and dev." + ext);
        }
        List<String> tried = new ArrayList<>();
        for (String s : stems) {
            Path p = dataDir.resolve(s + "." + ext);
            tried.add(p.getFileName().toString());
            if (Files.isRegularFile(p)) {
                return p;
            }
        }
        throw new CliException("--data-dir " + dataDir + " has none of " + tried);
    }

    private MetricFn metricsFor(String t, boolean demo, TaskData data) {
        if (data.labels().regression()) {
            return Metrics.regression();
        }
        if (demo || t.startsWith("mnli") || t.equals("jsonl") || t.equals("csv")) {
            return Metrics.accuracyAndMacroF1();   // the notebook's compute_metrics
        }
        return Metrics.glue(GlueTask.parse(t));
    }

    private static String datasetName(String t, boolean demo) {
        if (demo) {
            return "demo-nli";
        }
        return t.equals("jsonl") || t.equals("csv") ? null : "glue";
    }

    private static void reportSkipped(PrintStream out, Dataset d) {
        if (d.skippedRows() > 0) {
            out.printf(Locale.ROOT, "%s: skipped %,d bad rows (--skip-bad-rows); first: %s%n", d.name(), d.skippedRows(),
                    d.skippedMessages().get(0));
        }
    }
}
