package dev.solder.train;

import com.fasterxml.jackson.databind.JsonNode;
import dev.solder.Autocast;
import dev.solder.Autograd;
import dev.solder.DType;
import dev.solder.Backends;
import dev.solder.Device;
import dev.solder.Generator;
import dev.solder.Scope;
import dev.solder.Tensor;
import dev.solder.bert.BertForSequenceClassification;
import dev.solder.data.Batch;
import dev.solder.data.DataCollatorWithPadding;
import dev.solder.data.Dataset;
import dev.solder.data.Features;
import dev.solder.data.LengthGroupedSampler;
import dev.solder.data.RandomSampler;
import dev.solder.data.Sampler;
import dev.solder.optim.AdamW;
import dev.solder.optim.GradClip;
import dev.solder.optim.GradScaler;
import dev.solder.optim.LinearSchedule;
import dev.solder.tokenizer.BertTokenizer;
import java.io.IOException;
import java.io.PrintStream;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.TreeMap;

/**
 * Fine-tunes a {@link BertForSequenceClassification} the way Hugging Face's {@code Trainer} does.
 *
 * <pre>{@code
 * var args = TrainingArguments.builder().outputDir(Path.of("test-nli")).build();   // HF defaults
 * try (var trainer = new Trainer(model, args, data.train(), data.validation(), Metrics.accuracyAndMacroF1())) {
 *     trainer.train();                             // logs, checkpoints, trainer_state.json, train_results.json
 *     System.out.println(trainer.evaluate());      // {eval_loss=..., eval_F1=..., eval_Accuracy=..., ...}
 *     trainer.saveModel();                         // model.safetensors + config.json (+ tokenizer)
 * }
 * }</pre>
 *
 * <h2>The loop</h2>
 * Per epoch the training rows are shuffled ({@link RandomSampler}, or {@link LengthGroupedSampler}
 * with {@code group_by_length}), cut into batches of {@code per_device_train_batch_size} (the last
 * one smaller) and padded per batch. Each batch runs forward, loss and backward inside its own
 * {@link Scope}, so its activations are freed at once; with {@code gradient_accumulation_steps = k}
 * the loss is divided by {@code k} and gradients add up over {@code k} batches (the last group of an
 * epoch may be shorter). Then: clip to {@code max_grad_norm}, AdamW step (no weight decay on biases
 * and LayerNorm weights), schedule step, gradients cleared. Steps per epoch are
 * {@code ceil(ceil(n / batch) / k)}; the total is {@code max_steps} or
 * {@code ceil(num_train_epochs × steps per epoch)}; the learning rate decays linearly to 0 after
 * {@code warmup_steps} (or {@code ceil(warmup_ratio × total)}).
 *
 * <h2>Outputs</h2> (in {@code output_dir})
 * <ul>
 *   <li>every {@code logging_steps}: {@code {'loss', 'grad_norm', 'learning_rate', 'epoch'}} printed in
 *       Python dict style and appended to {@code metrics.jsonl}, like evaluations;</li>
 *   <li>a progress bar with ETA and samples/s when stdout is a terminal, plain lines otherwise;</li>
 *   <li>{@code checkpoint-STEP/} every {@code save_steps} and at the end, written atomically
 *       (see {@link #train(Path)} for resuming); {@code save_total_limit} keeps the newest;</li>
 *   <li>at the end {@code trainer_state.json}, {@code train_results.json}, {@code all_results.json},
 *       the model card {@code README.md} and {@code training_curves.png}; {@link #evaluate()}
 *       adds {@code eval_results.json}.</li>
 * </ul>
 *
 * <h2>Reproducibility</h2>
 * Training reseeds the model's dropout generators from {@code seed} (HF calls {@code set_seed}) and
 * shuffles with seeds derived from {@code data_seed}; a CPU run is therefore a pure function of
 * the model, the data and the arguments, and a run resumed from a checkpoint ends with
 * bit-identical weights. Shuffled orders cannot equal torch's (another generator), so results
 * agree with HF's statistically, not digit for digit.
 *
 * <p>When the model's config still has the placeholder labels {@code LABEL_0..}, the Trainer gives
 * it the dataset's label names, so the saved {@code config.json} names the classes.
 *
 * <p>A NaN or infinite loss stops training with a {@link TrainingDivergedException} naming the
 * step and epoch.
 */
public final class Trainer implements AutoCloseable {
    private final BertForSequenceClassification model;
    private final TrainingArguments args;
    private final Dataset trainDataset;
    private final Dataset evalDataset;
    private final MetricFn metricFn;
    private final Device device;
    private final List<TrainerCallback> callbacks = new ArrayList<>();
    private PrintStream out = System.out;
    private BertTokenizer tokenizer;
    private String baseModel;
    private String datasetName;
    private double plainProgressSeconds = 30;
    private TrainerState state = new TrainerState();
    private AdamW optimizer;
    private LinearSchedule schedule;
    /** Dynamic loss scaling, for {@code --precision fp16} only. */
    private GradScaler scaler;
    private Map<String, Generator> generators;
    private ProgressReporter progress;
    private long lastSavedStep = -1;
    private Map<String, Double> lastEval;
    private long lastEvalStep = -1;
    private boolean trainingDone;

    /**
     * @param model the model to fine-tune (moved to {@code args.device()})
     * @param trainDataset tokenized training rows (may be null if only evaluating)
     * @param evalDataset tokenized evaluation rows (may be null)
     * @param metrics {@code compute_metrics}, or null for the loss only
     */
    public Trainer(BertForSequenceClassification model, TrainingArguments args, Dataset trainDataset, Dataset evalDataset,
                   MetricFn metrics) {
        this.model = model;
        this.args = args;
        this.trainDataset = trainDataset;
        this.evalDataset = evalDataset;
        this.metricFn = metrics;
        checkSupported(args);
        int nl = model.config().numLabels();
        for (Dataset d : new Dataset[] {trainDataset, evalDataset}) {
            if (d == null) {
                continue;
            }
            if (!d.isTokenized()) {
                throw new IllegalArgumentException(d.name() + " is not tokenized: pass dataset.tokenized(tokenizer, maxSeqLength)");
            }
            if (d.labels().numLabels() != nl) {
                throw new IllegalArgumentException("the model has " + nl + " label(s) " + model.config().id2label + " but "
                        + d.name() + " has " + d.labels().numLabels() + (d.labels().regression() ? " (regression)" : " "
                        + d.labels().names()) + ": build the model with numLabels = " + d.labels().numLabels());
            }
        }
        Dataset named = trainDataset != null ? trainDataset : evalDataset;
        if (named != null && !named.labels().regression() && isDefaultLabels(model.config().id2label)) {
            // As run_glue.py sets label2id/id2label: the saved config names the classes.
            model.config().withLabels(named.labels().names());
        }
        this.device = resolveDevice(args.device());
        if (!device.isCpu()) {
            model.to(device);
        }
        if (trainDataset != null) {
            this.tokenizer = trainDataset.tokenizer();
        }
    }

    /**
     * Fails early, before a model is loaded, when {@code args} asks for what cannot be done: a
     * device without a usable backend, or {@code resume_from_checkpoint} with no checkpoint in the
     * output folder. Returns the device to use.
     */
    public static Device checkSupported(TrainingArguments args) {
        Device d = resolveDevice(args.device());
        latestCheckpointToResume(args);
        return d;
    }

    /** The checkpoint {@code --resume} continues from; null when not resuming. */
    private static Path latestCheckpointToResume(TrainingArguments args) {
        if (!args.resumeFromCheckpoint()) {
            return null;
        }
        Path from = TrainerCheckpoint.latest(args.outputDir());
        if (from == null) {
            throw new IllegalStateException("resume: no valid checkpoint-N folder in " + args.outputDir()
                    + " (start without --resume, or point --output-dir at the interrupted run)");
        }
        return from;
    }

    /** The autocast region for forward passes: bf16/fp16 as {@code --precision} says, else none. */
    private Autocast autocast() {
        return switch (args.precision()) {
            case FP32 -> Autocast.disable();
            case BF16 -> Autocast.enable(DType.BFLOAT16);
            case FP16 -> Autocast.enable(DType.FLOAT16);
        };
    }

    private static boolean isDefaultLabels(List<String> id2label) {
        for (int i = 0; i < id2label.size(); i++) {
            if (!id2label.get(i).equals("LABEL_" + i)) {
                return false;
            }
        }
        return true;
    }

    static Device resolveDevice(String spec) {
        if (spec.equals("cpu")) {
            return Device.cpu();
        }
        if (spec.equals("auto")) {
            if (Backends.isPresent(Device.Kind.CUDA)) {
                try {
                    Backends.forDevice(Device.cuda());
                    return Device.cuda();
                } catch (RuntimeException e) {
                    return Device.cpu();
                }
            }
            return Device.cpu();
        }
        Device d = Device.parse(spec);
        if (d.isCuda() && !Backends.isPresent(Device.Kind.CUDA)) {
            throw new IllegalStateException("--device " + spec + ": no CUDA backend on the class path (add solder-kernels), "
                    + "or use --device cpu");
        }
        try {
            Backends.forDevice(d);
        } catch (RuntimeException e) {
            if (!d.isCuda()) {
                throw e;
            }
            throw new IllegalStateException("--device " + spec + ": " + e.getMessage()
                    + ". Use --device cpu, or --device auto to take a GPU only when one is usable", e);
        }
        return d;
    }

    // ------------------------------------------------------------------ configuration

    /** Where logs and progress go (stdout by default). */
    public Trainer setOut(PrintStream out) {
        this.out = out;
        return this;
    }

    /** The tokenizer saved with checkpoints and the final model (the training set's by default). */
    public Trainer setTokenizer(BertTokenizer tokenizer) {
        this.tokenizer = tokenizer;
        return this;
    }

    /** Names for the model card: the base model (e.g. {@code bert-base-uncased}) and the dataset (e.g. {@code glue}). */
    public Trainer setModelCardInfo(String baseModel, String datasetName) {
        this.baseModel = baseModel;
        this.datasetName = datasetName;
        return this;
    }

    /** Seconds between plain progress lines when stdout is not a terminal (30). */
    public Trainer setPlainProgressInterval(double seconds) {
        this.plainProgressSeconds = seconds;
        return this;
    }

    public Trainer addCallback(TrainerCallback cb) {
        callbacks.add(cb);
        return this;
    }

    public TrainingArguments args() {
        return args;
    }

    public BertForSequenceClassification model() {
        return model;
    }

    /** The device training runs on. */
    public Device device() {
        return device;
    }

    /** The current state (global step, epoch, log history). */
    public TrainerState state() {
        return state;
    }

    // ------------------------------------------------------------------ training

    /** Trains from scratch, or from the latest checkpoint when {@code args.resumeFromCheckpoint()}. */
    public TrainOutput train() {
        return train(latestCheckpointToResume(args));
    }

    /**
     * Trains, continuing from {@code checkpoint} when not null ({@code resume_from_checkpoint}):
     * weights, optimizer moments and step counts, schedule, dropout generators, log history and the
     * position in the epoch's shuffled order are restored, so the run goes on exactly where it
     * stopped — on the CPU the final weights equal, bit for bit, those of an uninterrupted run
     * with the same arguments.
     */
    public TrainOutput train(Path checkpoint) {
        if (trainDataset == null) {
            throw new IllegalStateException("train: the Trainer has no training dataset");
        }
        Path outDir = args.outputDir();
        try {
            Files.createDirectories(outDir);
        } catch (IOException e) {
            throw new UncheckedIOException("cannot create output_dir " + outDir + ": " + e.getMessage(), e);
        }
        for (String stale : TrainerCheckpoint.removeStale(outDir)) {
            out.println("removed " + stale + " in " + outDir + ": an incomplete checkpoint left by an interrupted save");
        }
        trainDataset.encodeAll();
        int n = trainDataset.size();
        int bs = args.perDeviceTrainBatchSize();
        int accum = args.gradientAccumulationSteps();
        int batchesPerEpoch = (n + bs - 1) / bs;
        long updatesPerEpoch = Math.max(1, (batchesPerEpoch + accum - 1) / accum);
        long maxSteps;
        int numEpochs;
        if (args.maxSteps() > 0) {
            maxSteps = args.maxSteps();
            numEpochs = (int) ((maxSteps + updatesPerEpoch - 1) / updatesPerEpoch);
        } else {
            maxSteps = (long) Math.ceil(args.numTrainEpochs() * updatesPerEpoch);
            numEpochs = (int) Math.ceil(args.numTrainEpochs());
        }
        long warmup = args.warmupSteps() > 0 ? args.warmupSteps() : (long) Math.ceil(args.warmupRatio() * maxSteps);
        Sampler sampler = args.groupByLength() ? new LengthGroupedSampler(trainDataset.lengths(), bs, args.dataSeed())
                : new RandomSampler(n, args.dataSeed());

        if (optimizer != null) {
            optimizer.close();
        }
        generators = ModelGenerators.find(model);
        scaler = args.precision() == TrainingArguments.Precision.FP16 ? new GradScaler() : null;
        optimizer = AdamW.builder(model.namedParameters()).lr(args.learningRate()).weightDecay(args.weightDecay())
                .betas(args.adamBeta1(), args.adamBeta2()).eps(args.adamEpsilon()).noDecayOn(AdamW.HF_NO_DECAY).build();
        schedule = args.lrSchedulerType().equals("linear") ? new LinearSchedule(optimizer, warmup, maxSteps) : null;
        state = new TrainerState();
        trainingDone = false;
        lastEval = null;
        if (checkpoint != null) {
            try {
                state = TrainerCheckpoint.load(checkpoint, parts());
            } catch (IOException e) {
                throw new UncheckedIOException("cannot resume from " + checkpoint + ": " + e.getMessage(), e);
            }
            if (state.trainBatchSize != 0 && state.trainBatchSize != bs) {
                out.println("warning: " + checkpoint + " was trained with batch size " + state.trainBatchSize + ", this run uses "
                        + bs + "; the data position will not match the interrupted run");
            }
            lastSavedStep = state.globalStep;
            if (scaler != null && state.gradScale != null) {
                scaler.load(state.gradScale, state.gradScaleGrowthTracker);
            }
            out.printf(Locale.ROOT, "resuming from %s: step %d of %d, epoch %d, batch %d of %d in that epoch%n", checkpoint,
                    state.globalStep, maxSteps, state.positionEpoch, state.positionBatch, batchesPerEpoch);
        } else {
            ModelGenerators.seed(generators, args.seed());
            lastSavedStep = -1;
        }
        rewriteMetricsLog();
        state.maxSteps = maxSteps;
        state.numTrainEpochs = numEpochs;
        state.loggingSteps = args.loggingSteps();
        state.evalSteps = args.evalSteps();
        state.saveSteps = args.saveSteps();
        state.trainBatchSize = bs;

        long trainable = 0;
        long embeddings = 0;
        for (Map.Entry<String, Tensor> e : model.namedParameters().entrySet()) {
            if (e.getValue().requiresGrad()) {
                trainable += e.getValue().numel();
            }
            if (e.getKey().endsWith("_embeddings.weight")) {
                embeddings += e.getValue().numel();
            }
        }
        long nonEmbedding = trainable - embeddings;
        out.println("***** Running training *****");
        out.printf(Locale.ROOT, "  Num examples = %,d%n  Num Epochs = %d%n  Instantaneous batch size per device = %d%n"
                + "  Total train batch size (w. parallel, distributed & accumulation) = %d%n  Gradient Accumulation steps = %d%n"
                + "  Total optimization steps = %,d%n  Number of trainable parameters = %,d%n  Device = %s%n",
                n, numEpochs, bs, args.totalTrainBatchSize(), accum, maxSteps, trainable, device);

        boolean tty = args.disableTqdm() != null ? !args.disableTqdm() : System.console() != null;
        progress = new ProgressReporter(out, tty, maxSteps, args.totalTrainBatchSize(), plainProgressSeconds);
        progress.start(state.globalStep);
        DataCollatorWithPadding collator = new DataCollatorWithPadding(trainDataset.padId());
        model.train();
        long t0 = System.nanoTime();
        double stepLoss = 0;
        boolean stop = state.globalStep >= maxSteps;
        int startEpoch = state.positionEpoch;
        int startBatch = state.positionBatch;
        for (int epoch = startEpoch; epoch < numEpochs && !stop; epoch++) {
            int[] order = sampler.order(epoch);
            state.positionEpochSeed = sampler.epochSeed(epoch);
            int first = epoch == startEpoch ? startBatch : 0;
            for (int bi = first; bi < batchesPerEpoch; bi++) {
                List<Features> rows = new ArrayList<>(bs);
                for (int i = bi * bs; i < Math.min(n, (bi + 1) * bs); i++) {
                    rows.add(trainDataset.features(order[i]));
                }
                double epochHere = epoch + (bi + 1.0) / batchesPerEpoch;
                String where = String.format(Locale.ROOT, "training step %d of %d (epoch %.2f)", state.globalStep + 1,
                        maxSteps, epochHere);
                try {
                    stepLoss += trainingStep(rows, collator, accum, nonEmbedding, epochHere) / accum;
                } catch (RuntimeException e) {
                    throw OutOfMemoryContext.explain(e, where, rows);
                } catch (OutOfMemoryError e) {
                    throw OutOfMemoryContext.explain(e, where, rows);
                }
                boolean boundary = (bi + 1) % accum == 0 || bi == batchesPerEpoch - 1;
                if (!boundary) {
                    continue;
                }
                // fp16: gradients back to true size first; a step with an inf/NaN gradient is
                // skipped (weights, optimizer and schedule untouched) and the loss scale halved.
                double unscaledSquares = scaler == null ? 0 : scaler.unscaleSumSquares(optimizer.parameters());
                boolean finite = scaler == null || Double.isFinite(unscaledSquares);
                // Clipping is fused into the update: AdamW multiplies each gradient by torch's
                // clip coefficient as it reads it (the same bits as clip_grad_norm_ then step).
                // fp16: the unscale already summed the squares (GradClip's grouping and order, same bits)
                double gradNorm = scaler != null ? Math.sqrt(unscaledSquares) : GradClip.totalNorm(optimizer.parameters());
                if (finite) {
                    optimizer.step(args.maxGradNorm() > 0 ? GradClip.coefficient(gradNorm, args.maxGradNorm()) : 1f);
                    if (schedule != null) {
                        schedule.step();
                    }
                }
                if (scaler != null) {
                    scaler.update(finite);
                    state.gradScale = scaler.getScale();
                    state.gradScaleGrowthTracker = scaler.growthTracker();
                }
                optimizer.zeroGrad();
                state.globalStep++;
                state.epoch = epochHere;
                state.totalLoss += stepLoss;
                state.lossSinceLog += stepLoss;
                state.stepsSinceLog++;
                stepLoss = 0;
                if (bi + 1 == batchesPerEpoch) {
                    state.positionEpoch = epoch + 1;
                    state.positionBatch = 0;
                } else {
                    state.positionEpoch = epoch;
                    state.positionBatch = bi + 1;
                }
                progress.update(state.globalStep, epochHere);
                if (state.globalStep % args.loggingSteps() == 0 || args.loggingFirstStep() && state.globalStep == 1) {
                    logTraining(gradNorm);
                }
                if (args.evalStrategy() == IntervalStrategy.STEPS && state.globalStep % args.evalSteps() == 0) {
                    evaluateDuringTraining();
                }
                if (args.saveStrategy() == IntervalStrategy.STEPS && state.globalStep % args.saveSteps() == 0) {
                    saveCheckpoint();
                }
                for (TrainerCallback cb : callbacks) {
                    cb.onStepEnd(state);
                }
                if (state.globalStep >= maxSteps) {
                    stop = true;
                    break;
                }
            }
            if (args.evalStrategy() == IntervalStrategy.EPOCH) {
                evaluateDuringTraining();
            }
            if (args.saveStrategy() == IntervalStrategy.EPOCH) {
                saveCheckpoint();
            }
        }
        if (args.saveStrategy() != IntervalStrategy.NO && lastSavedStep != state.globalStep) {
            saveCheckpoint();   // the end of training is always a checkpoint (unless saving is off)
        }
        double runtime = (System.nanoTime() - t0) / 1e9;
        progress.finish(state.globalStep, state.epoch == null ? 0 : state.epoch);

        double samples = args.maxSteps() > 0 ? (double) maxSteps * args.totalTrainBatchSize() : n * args.numTrainEpochs();
        double trainLoss = state.totalLoss / Math.max(state.globalStep, 0.001);
        Map<String, Double> metrics = new LinkedHashMap<>();
        metrics.put("train_runtime", PyFormat.round(runtime, 4));
        metrics.put("train_samples_per_second", PyFormat.round(samples / runtime, 3));
        metrics.put("train_steps_per_second", PyFormat.round(maxSteps / runtime, 3));
        metrics.put("total_flos", state.totalFlos);
        metrics.put("train_loss", trainLoss);
        metrics.put("epoch", state.epoch == null ? 0.0 : state.epoch);
        Map<String, Object> logs = new LinkedHashMap<>(metrics);
        log(logs);
        trainingDone = true;
        try {
            saveMetrics("train", metrics);
            writeState(outDir);
            refreshReport();
        } catch (IOException e) {
            throw new UncheckedIOException("cannot write results to " + outDir + ": " + e.getMessage(), e);
        }
        return new TrainOutput(state.globalStep, trainLoss, metrics);
    }

    /** One micro-batch: forward, loss, backward (scaled by 1/accum); returns the unscaled loss. */
    @SuppressWarnings("try") // the scope frees the step's activations; its body never names it
    private double trainingStep(List<Features> rows, DataCollatorWithPadding collator, int accum, long nonEmbedding,
                                double epochHere) {
        try (Scope s = Scope.open()) {
            Batch b = collator.collate(rows, device);
            Tensor loss;
            try (Autocast ac = autocast()) {
                Tensor logits = model.forward(b.inputIds(), b.tokenTypeIds(), b.attentionMask());
                loss = model.loss(logits, b.labels());
            }
            float lv = loss.item();
            if (!Float.isFinite(lv)) {
                long step = state.globalStep + 1;
                String msg = String.format(Locale.ROOT, "training stopped: the loss is %s at step %d of %d (epoch %.2f); "
                        + "the learning rate was %s. The weights have diverged — lower --learning-rate (now %s), add "
                        + "--warmup-steps, or check the data.", Float.isNaN(lv) ? "NaN" : "infinite", step, state.maxSteps,
                        epochHere, PyFormat.repr(optimizer.lr()), PyFormat.repr(args.learningRate()));
                progress.message(msg);
                throw new TrainingDivergedException(msg, step, epochHere);
            }
            Tensor scaled = accum > 1 ? loss.mul(1f / accum) : loss;
            (scaler == null ? scaled : scaler.scale(scaled)).backward();
            // HF's floating_point_ops: 6 × input tokens (padded) × non-embedding parameters.
            state.totalFlos += 6.0 * b.inputIds().numel() * nonEmbedding;
            return lv;
        }
    }

    private void logTraining(double gradNorm) {
        Map<String, Object> logs = new LinkedHashMap<>();
        logs.put("loss", PyFormat.round(state.lossSinceLog / state.stepsSinceLog, 4));
        logs.put("grad_norm", gradNorm);
        logs.put("learning_rate", optimizer.lr());
        logs.put("epoch", PyFormat.round(state.epoch, 2));
        state.lossSinceLog = 0;
        state.stepsSinceLog = 0;
        log(logs);
    }

    /** Prints {@code logs} in Python dict style, appends it (with {@code step}) to the history and {@code metrics.jsonl}. */
    private void log(Map<String, Object> logs) {
        String line = PyFormat.dict(logs);
        if (progress != null) {
            progress.message(line);
        } else {
            out.println(line);
        }
        Map<String, Object> entry = new LinkedHashMap<>(logs);
        entry.put("step", state.globalStep);
        state.logHistory.add(entry);
        try {
            Files.createDirectories(args.outputDir());
            Files.writeString(args.outputDir().resolve("metrics.jsonl"), TrainerState.pythonJson(entry, 0) + "\n",
                    StandardCharsets.UTF_8, StandardOpenOption.CREATE, StandardOpenOption.APPEND);
        } catch (IOException e) {
            throw new UncheckedIOException("cannot append to " + args.outputDir().resolve("metrics.jsonl") + ": " + e.getMessage(), e);
        }
        for (TrainerCallback cb : callbacks) {
            cb.onLog(logs, state);
        }
    }

    /** {@code metrics.jsonl} restarts with the run: empty, or (resuming) the history up to the checkpoint. */
    private void rewriteMetricsLog() {
        StringBuilder sb = new StringBuilder();
        try {
            for (Map<String, Object> e : state.logHistory) {
                sb.append(TrainerState.pythonJson(e, 0)).append('\n');
            }
            TrainerCheckpoint.writeTextAtomically(args.outputDir().resolve("metrics.jsonl"), sb.toString());
        } catch (IOException e) {
            throw new UncheckedIOException("cannot write " + args.outputDir().resolve("metrics.jsonl") + ": " + e.getMessage(), e);
        }
    }

    private void evaluateDuringTraining() {
        if (evalDataset == null) {
            return;
        }
        Map<String, Double> m = evaluate(evalDataset, "eval");
        lastEval = m;
        lastEvalStep = state.globalStep;
        Map<String, Object> logs = new LinkedHashMap<>(m);
        log(logs);
        if (args.savePlot()) {
            writePlot();
        }
    }

    private Path saveCheckpoint() {
        try {
            Path p = TrainerCheckpoint.save(args.outputDir(), parts());
            lastSavedStep = state.globalStep;
            TrainerCheckpoint.rotate(args.outputDir(), args.saveTotalLimit());
            for (TrainerCallback cb : callbacks) {
                cb.onSave(p, state);
            }
            return p;
        } catch (IOException e) {
            throw new UncheckedIOException("cannot save a checkpoint in " + args.outputDir() + ": " + e.getMessage(), e);
        }
    }

    private TrainerCheckpoint.Parts parts() {
        return new TrainerCheckpoint.Parts(model, optimizer, schedule, args.lrSchedulerType(), generators, state, args, tokenizer);
    }

    // ------------------------------------------------------------------ evaluation

    /**
     * Evaluates on the evaluation dataset: {@code eval_loss}, the metrics as {@code eval_NAME},
     * {@code eval_runtime}, {@code eval_samples_per_second}, {@code eval_steps_per_second} and,
     * after training, {@code epoch}. Logs it (printed in dict form, added to the history) and writes
     * {@code eval_results.json}, {@code all_results.json}, the model card and the plot.
     */
    public Map<String, Double> evaluate() {
        return evaluate(false);
    }

    /**
     * As {@link #evaluate()}; with {@code reuseEndOfTraining}, when the last thing {@link #train()}
     * did was evaluating the evaluation set at the final step (eval strategy {@code epoch}), those
     * metrics are returned, logged and saved again instead of recomputing the same numbers (on a CPU
     * a bert-base evaluation takes minutes). Do not ask for reuse after changing the weights.
     */
    public Map<String, Double> evaluate(boolean reuseEndOfTraining) {
        if (evalDataset == null) {
            throw new IllegalStateException("evaluate: the Trainer has no evaluation dataset");
        }
        Map<String, Double> m = reuseEndOfTraining && lastEval != null && lastEvalStep == state.globalStep
                && trainingDone ? lastEval : evaluate(evalDataset, "eval");
        lastEval = m;
        lastEvalStep = state.globalStep;
        log(new LinkedHashMap<>(m));
        try {
            saveMetrics("eval", m);
            if (state.globalStep > 0) {
                writeState(args.outputDir());
            }
            refreshReport();
        } catch (IOException e) {
            throw new UncheckedIOException("cannot write results to " + args.outputDir() + ": " + e.getMessage(), e);
        }
        return m;
    }

    /** Evaluates {@code dataset} with keys prefixed {@code prefix_}, without logging or writing anything. */
    public Map<String, Double> evaluate(Dataset dataset, String prefix) {
        return predict(dataset, prefix).metrics();
    }

    /** Runs the model over {@code dataset} in evaluation mode (no dropout, no gradients). */
    @SuppressWarnings("try") // no-grad mode and the batch scope act by being open
    public PredictionOutput predict(Dataset dataset, String prefix) {
        dataset.encodeAll();
        int n = dataset.size();
        int bs = args.perDeviceEvalBatchSize();
        boolean wasTraining = model.isTraining();
        model.eval();
        DataCollatorWithPadding collator = new DataCollatorWithPadding(dataset.padId());
        float[][] preds = new float[n][];
        boolean regression = dataset.labels().regression();
        int[] ids = regression ? null : new int[n];
        float[] vals = regression ? new float[n] : null;
        double lossSum = 0;
        int batches = 0;
        long t0 = System.nanoTime();
        try (Autograd.NoGrad ng = Autograd.noGrad()) {
            for (int start = 0; start < n; start += bs) {
                List<Features> rows = new ArrayList<>(bs);
                for (int i = start; i < Math.min(n, start + bs); i++) {
                    Features f = dataset.features(i);
                    rows.add(f);
                    if (regression) {
                        vals[i] = f.score();
                    } else {
                        ids[i] = f.label();
                    }
                }
                String where = "evaluation batch " + (batches + 1) + " of " + ((n + bs - 1) / bs);
                try (Scope s = Scope.open()) {
                    Batch b = collator.collate(rows, device);
                    Tensor logits;
                    double batchLoss;
                    try (Autocast ac = autocast()) {
                        logits = model.forward(b.inputIds(), b.tokenTypeIds(), b.attentionMask());
                        batchLoss = model.loss(logits, b.labels()).item();
                    }
                    lossSum += batchLoss * rows.size();
                    float[] flat = logits.toFloatArray();
                    int k = flat.length / rows.size();
                    for (int r = 0; r < rows.size(); r++) {
                        float[] row = new float[k];
                        System.arraycopy(flat, r * k, row, 0, k);
                        preds[start + r] = row;
                    }
                } catch (RuntimeException e) {
                    throw OutOfMemoryContext.explain(e, where, rows);
                } catch (OutOfMemoryError e) {
                    throw OutOfMemoryContext.explain(e, where, rows);
                }
                batches++;
            }
        } finally {
            model.train(wasTraining);
        }
        double runtime = (System.nanoTime() - t0) / 1e9;
        Map<String, Double> m = new LinkedHashMap<>();
        m.put(prefix + "_loss", n == 0 ? Double.NaN : lossSum / n);
        if (metricFn != null && n > 0) {
            for (Map.Entry<String, Double> e : metricFn.compute(new EvalPrediction(preds, ids, vals)).entrySet()) {
                m.put(e.getKey().startsWith(prefix + "_") ? e.getKey() : prefix + "_" + e.getKey(), e.getValue());
            }
        }
        m.put(prefix + "_runtime", PyFormat.round(runtime, 4));
        m.put(prefix + "_samples_per_second", PyFormat.round(n / runtime, 3));
        m.put(prefix + "_steps_per_second", PyFormat.round(batches / runtime, 3));
        if (state.epoch != null) {
            m.put("epoch", state.epoch);
        }
        return new PredictionOutput(preds, ids, vals, m);
    }

    // ------------------------------------------------------------------ saving

    /** Saves the model (and tokenizer) into {@code output_dir}, as HF's {@code save_model()}. */
    public void saveModel() {
        saveModel(args.outputDir());
    }

    /**
     * Writes {@code model.safetensors} (float32, HF names), {@code config.json} (with the label names)
     * and, when known, the tokenizer files into {@code dir} ({@link BertForSequenceClassification#save}):
     * a folder {@code transformers} loads with {@code AutoModelForSequenceClassification.from_pretrained(dir)}.
     * Also writes {@code training_args.json}.
     */
    public void saveModel(Path dir) {
        try {
            model.save(dir, tokenizer);
            TrainerCheckpoint.writeTextAtomically(dir.resolve("training_args.json"),
                    TrainerState.pythonJson(args.toJson(), 2));
        } catch (IOException e) {
            throw new UncheckedIOException("cannot save the model to " + dir + ": " + e.getMessage(), e);
        }
    }

    /**
     * Prints metrics as HF's {@code log_metrics(split, metrics)} does: a {@code ***** split metrics *****}
     * header, then one aligned {@code key = value} line per metric, sorted, with runtimes as
     * {@code H:MM:SS.ss} and FLOs in GF.
     */
    public void logMetrics(String split, Map<String, Double> metrics) {
        out.println("***** " + split + " metrics *****");
        TreeMap<String, String> f = new TreeMap<>();
        for (Map.Entry<String, Double> e : metrics.entrySet()) {
            String k = e.getKey();
            double v = e.getValue();
            if (k.endsWith("_runtime")) {
                f.put(k, PyFormat.duration(v));
            } else if (k.equals("total_flos")) {
                f.put(k, ((long) v >> 30) + "GF");
            } else {
                f.put(k, PyFormat.repr(PyFormat.round(v, 4)));
            }
        }
        int kw = f.keySet().stream().mapToInt(String::length).max().orElse(0);
        int vw = f.values().stream().mapToInt(String::length).max().orElse(0);
        for (Map.Entry<String, String> e : f.entrySet()) {
            out.printf(Locale.ROOT, "  %-" + kw + "s = %" + vw + "s%n", e.getKey(), e.getValue());
        }
    }

    /**
     * HF's {@code save_metrics(split, metrics)}: writes {@code SPLIT_results.json} and merges the
     * metrics into {@code all_results.json} (keys sorted, indent 4).
     */
    public void saveMetrics(String split, Map<String, Double> metrics) throws IOException {
        Path dir = args.outputDir();
        Files.createDirectories(dir);
        TrainerCheckpoint.writeTextAtomically(dir.resolve(split + "_results.json"), json(new TreeMap<>(metrics)));
        Path all = dir.resolve("all_results.json");
        Map<String, Object> merged = new TreeMap<>();
        if (Files.isRegularFile(all)) {
            JsonNode old = TrainerState.JSON.readTree(all.toFile());
            for (Map.Entry<String, JsonNode> e : old.properties()) {
                merged.put(e.getKey(), e.getValue().isIntegralNumber() ? (Object) e.getValue().asLong() : e.getValue().asDouble());
            }
        }
        merged.putAll(metrics);
        TrainerCheckpoint.writeTextAtomically(all, json(merged));
    }

    private static String json(Map<String, ?> m) throws IOException {
        return TrainerState.pythonJson(m, 4) + "\n";
    }

    private void writeState(Path dir) throws IOException {
        TrainerCheckpoint.writeTextAtomically(dir.resolve("trainer_state.json"), state.toJsonString());
    }

    /** Rewrites the model card and the plot from what is known now. */
    private void refreshReport() throws IOException {
        Path dir = args.outputDir();
        String name = dir.toAbsolutePath().normalize().getFileName().toString();
        ModelCard.write(dir, ModelCard.render(name, baseModel, datasetName, lastEval, args, state));
        if (args.savePlot()) {
            writePlot();
        }
    }

    private void writePlot() {
        try {
            TrainingPlot.write(args.outputDir().resolve("training_curves.png"), state.logHistory);
        } catch (IOException | RuntimeException | LinkageError e) {
            out.println("warning: could not draw training_curves.png: " + e);
        }
    }

    /** Frees the optimizer state (the model stays the caller's). */
    @Override
    public void close() {
        if (optimizer != null) {
            optimizer.close();
            optimizer = null;
        }
    }
}
