package dev.solder.train;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.nio.file.Path;
import java.util.Locale;

/**
 * The knobs of a {@link Trainer}, named and defaulted as Hugging Face's {@code TrainingArguments}
 * (so a setting can be copied from a Python script): lr 5e-5 with linear decay to 0, no warmup,
 * AdamW (0.9, 0.999, 1e-8), weight decay 0 (biases and LayerNorm weights never decay), gradient
 * clipping at 1.0, batch 8, 3 epochs, seed 42, logging and saving every 500 steps.
 *
 * <p>{@code eval_strategy} defaults to {@link IntervalStrategy#NO} as in HF: the reference
 * notebook trains, then calls {@link Trainer#evaluate()} once. Ask for {@link IntervalStrategy#EPOCH}
 * to follow the evaluation metrics epoch by epoch (on a CPU each bert-base evaluation of 1,000
 * pairs costs about a minute).
 *
 * <pre>{@code
 * var args = TrainingArguments.builder()
 *         .outputDir(Path.of("test-nli"))
 *         .numTrainEpochs(3).perDeviceTrainBatchSize(8).learningRate(5e-5)
 *         .loggingSteps(50).build();
 * }</pre>
 */
public final class TrainingArguments {
    /** Mixed precision: {@code fp32} (default), {@code bf16} or {@code fp16} autocast. */
    public enum Precision {
        FP32, BF16, FP16;

        public static Precision parse(String s) {
            return switch (s.toLowerCase(Locale.ROOT)) {
                case "fp32", "float32", "no" -> FP32;
                case "bf16", "bfloat16" -> BF16;
                case "fp16", "float16", "half" -> FP16;
                default -> throw new IllegalArgumentException("unknown precision '" + s + "' (fp32, bf16, fp16)");
            };
        }
    }

    private final Path outputDir;
    private final double numTrainEpochs;
    private final long maxSteps;
    private final int perDeviceTrainBatchSize;
    private final int perDeviceEvalBatchSize;
    private final int gradientAccumulationSteps;
    private final double learningRate;
    private final double weightDecay;
    private final double adamBeta1;
    private final double adamBeta2;
    private final double adamEpsilon;
    private final double maxGradNorm;
    private final long warmupSteps;
    private final double warmupRatio;
    private final String lrSchedulerType;
    private final long loggingSteps;
    private final boolean loggingFirstStep;
    private final IntervalStrategy evalStrategy;
    private final long evalSteps;
    private final IntervalStrategy saveStrategy;
    private final long saveSteps;
    private final int saveTotalLimit;
    private final long seed;
    private final Long dataSeed;
    private final Precision precision;
    private final String device;
    private final boolean groupByLength;
    private final Boolean disableTqdm;
    private final boolean savePlot;
    private final boolean resumeFromCheckpoint;

    private TrainingArguments(Builder b) {
        this.outputDir = b.outputDir;
        this.numTrainEpochs = b.numTrainEpochs;
        this.maxSteps = b.maxSteps;
        this.perDeviceTrainBatchSize = b.perDeviceTrainBatchSize;
        this.perDeviceEvalBatchSize = b.perDeviceEvalBatchSize;
        this.gradientAccumulationSteps = b.gradientAccumulationSteps;
        this.learningRate = b.learningRate;
        this.weightDecay = b.weightDecay;
        this.adamBeta1 = b.adamBeta1;
        this.adamBeta2 = b.adamBeta2;
        this.adamEpsilon = b.adamEpsilon;
        this.maxGradNorm = b.maxGradNorm;
        this.warmupSteps = b.warmupSteps;
        this.warmupRatio = b.warmupRatio;
        this.lrSchedulerType = b.lrSchedulerType;
        this.loggingSteps = b.loggingSteps;
        this.loggingFirstStep = b.loggingFirstStep;
        this.evalStrategy = b.evalStrategy;
        this.evalSteps = b.evalSteps > 0 ? b.evalSteps : b.loggingSteps;
        this.saveStrategy = b.saveStrategy;
        this.saveSteps = b.saveSteps;
        this.saveTotalLimit = b.saveTotalLimit;
        this.seed = b.seed;
        this.dataSeed = b.dataSeed;
        this.precision = b.precision;
        this.device = b.device;
        this.groupByLength = b.groupByLength;
        this.disableTqdm = b.disableTqdm;
        this.savePlot = b.savePlot;
        this.resumeFromCheckpoint = b.resumeFromCheckpoint;
    }

    public static Builder builder() {
        return new Builder();
    }

    /** A builder holding this object's values. */
    public Builder toBuilder() {
        Builder b = new Builder();
        b.outputDir = outputDir;
        b.numTrainEpochs = numTrainEpochs;
        b.maxSteps = maxSteps;
        b.perDeviceTrainBatchSize = perDeviceTrainBatchSize;
        b.perDeviceEvalBatchSize = perDeviceEvalBatchSize;
        b.gradientAccumulationSteps = gradientAccumulationSteps;
        b.learningRate = learningRate;
        b.weightDecay = weightDecay;
        b.adamBeta1 = adamBeta1;
        b.adamBeta2 = adamBeta2;
        b.adamEpsilon = adamEpsilon;
        b.maxGradNorm = maxGradNorm;
        b.warmupSteps = warmupSteps;
        b.warmupRatio = warmupRatio;
        b.lrSchedulerType = lrSchedulerType;
        b.loggingSteps = loggingSteps;
        b.loggingFirstStep = loggingFirstStep;
        b.evalStrategy = evalStrategy;
        b.evalSteps = evalSteps;
        b.saveStrategy = saveStrategy;
        b.saveSteps = saveSteps;
        b.saveTotalLimit = saveTotalLimit;
        b.seed = seed;
        b.dataSeed = dataSeed;
        b.precision = precision;
        b.device = device;
        b.groupByLength = groupByLength;
        b.disableTqdm = disableTqdm;
        b.savePlot = savePlot;
        b.resumeFromCheckpoint = resumeFromCheckpoint;
        return b;
    }

    /** {@code output_dir}: checkpoints, logs, results and the final model go here. */
    public Path outputDir() {
        return outputDir;
    }

    /** {@code num_train_epochs} (3.0; fractions train part of the last epoch). */
    public double numTrainEpochs() {
        return numTrainEpochs;
    }

    /** {@code max_steps} (-1: from the epochs); when positive it overrides {@code num_train_epochs}. */
    public long maxSteps() {
        return maxSteps;
    }

    public int perDeviceTrainBatchSize() {
        return perDeviceTrainBatchSize;
    }

    public int perDeviceEvalBatchSize() {
        return perDeviceEvalBatchSize;
    }

    public int gradientAccumulationSteps() {
        return gradientAccumulationSteps;
    }

    public double learningRate() {
        return learningRate;
    }

    public double weightDecay() {
        return weightDecay;
    }

    public double adamBeta1() {
        return adamBeta1;
    }

    public double adamBeta2() {
        return adamBeta2;
    }

    public double adamEpsilon() {
        return adamEpsilon;
    }

    /** {@code max_grad_norm} (1.0); 0 or less disables clipping. */
    public double maxGradNorm() {
        return maxGradNorm;
    }

    public long warmupSteps() {
        return warmupSteps;
    }

    public double warmupRatio() {
        return warmupRatio;
    }

    /** {@code lr_scheduler_type}: {@code linear} (default) or {@code constant}. */
    public String lrSchedulerType() {
        return lrSchedulerType;
    }

    public long loggingSteps() {
        return loggingSteps;
    }

    public boolean loggingFirstStep() {
        return loggingFirstStep;
    }

    public IntervalStrategy evalStrategy() {
        return evalStrategy;
    }

    /** {@code eval_steps}: defaults to {@code logging_steps}, as HF. */
    public long evalSteps() {
        return evalSteps;
    }

    public IntervalStrategy saveStrategy() {
        return saveStrategy;
    }

    public long saveSteps() {
        return saveSteps;
    }

    /** {@code save_total_limit}: keep at most this many checkpoints (oldest deleted); 0 keeps all. */
    public int saveTotalLimit() {
        return saveTotalLimit;
    }

    public long seed() {
        return seed;
    }

    /** {@code data_seed}: the shuffling seed, {@link #seed()} when unset. */
    public long dataSeed() {
        return dataSeed != null ? dataSeed : seed;
    }

    public Precision precision() {
        return precision;
    }

    /** {@code bf16} flag. */
    public boolean bf16() {
        return precision == Precision.BF16;
    }

    /** {@code fp16} flag. */
    public boolean fp16() {
        return precision == Precision.FP16;
    }

    /** {@code auto} (CUDA when present, else CPU), {@code cpu}, {@code cuda} or {@code cuda:N}. */
    public String device() {
        return device;
    }

    public boolean groupByLength() {
        return groupByLength;
    }

    /** {@code disable_tqdm}: null means "show the progress bar when stdout is a terminal". */
    public Boolean disableTqdm() {
        return disableTqdm;
    }

    /** Whether to draw {@code training_curves.png} (loss, learning rate, evaluation metric). */
    public boolean savePlot() {
        return savePlot;
    }

    /** {@code resume_from_checkpoint=True}: continue from the latest {@code checkpoint-N} in the output folder. */
    public boolean resumeFromCheckpoint() {
        return resumeFromCheckpoint;
    }

    /** The per-step batch: per-device batch × accumulation steps (one device). */
    public int totalTrainBatchSize() {
        return perDeviceTrainBatchSize * gradientAccumulationSteps;
    }

    /** The arguments with HF's key names, as {@code training_args.json}. */
    public ObjectNode toJson() {
        ObjectNode o = new ObjectMapper().createObjectNode();
        o.put("output_dir", outputDir.toString());
        o.put("num_train_epochs", numTrainEpochs);
        o.put("max_steps", maxSteps);
        o.put("per_device_train_batch_size", perDeviceTrainBatchSize);
        o.put("per_device_eval_batch_size", perDeviceEvalBatchSize);
        o.put("gradient_accumulation_steps", gradientAccumulationSteps);
        o.put("learning_rate", learningRate);
        o.put("weight_decay", weightDecay);
        o.put("adam_beta1", adamBeta1);
        o.put("adam_beta2", adamBeta2);
        o.put("adam_epsilon", adamEpsilon);
        o.put("max_grad_norm", maxGradNorm);
        o.put("lr_scheduler_type", lrSchedulerType);
        o.put("warmup_steps", warmupSteps);
        o.put("warmup_ratio", warmupRatio);
        o.put("logging_steps", loggingSteps);
        o.put("logging_first_step", loggingFirstStep);
        o.put("eval_strategy", evalStrategy.hfName());
        o.put("eval_steps", evalSteps);
        o.put("save_strategy", saveStrategy.hfName());
        o.put("save_steps", saveSteps);
        if (saveTotalLimit > 0) {
            o.put("save_total_limit", saveTotalLimit);
        } else {
            o.putNull("save_total_limit");
        }
        o.put("seed", seed);
        if (dataSeed != null) {
            o.put("data_seed", dataSeed);
        } else {
            o.putNull("data_seed");
        }
        o.put("bf16", bf16());
        o.put("fp16", fp16());
        o.put("optim", "adamw_torch");
        o.put("group_by_length", groupByLength);
        o.put("device", device);
        return o;
    }

    @Override
    public String toString() {
        return "TrainingArguments" + toJson();
    }

    /** Builder with HF's defaults. */
    public static final class Builder {
        private Path outputDir = Path.of("trainer_output");
        private double numTrainEpochs = 3.0;
        private long maxSteps = -1;
        private int perDeviceTrainBatchSize = 8;
        private int perDeviceEvalBatchSize = 8;
        private int gradientAccumulationSteps = 1;
        private double learningRate = 5e-5;
        private double weightDecay = 0.0;
        private double adamBeta1 = 0.9;
        private double adamBeta2 = 0.999;
        private double adamEpsilon = 1e-8;
        private double maxGradNorm = 1.0;
        private long warmupSteps = 0;
        private double warmupRatio = 0.0;
        private String lrSchedulerType = "linear";
        private long loggingSteps = 500;
        private boolean loggingFirstStep = false;
        private IntervalStrategy evalStrategy = IntervalStrategy.NO;
        private long evalSteps = 0;
        private IntervalStrategy saveStrategy = IntervalStrategy.STEPS;
        private long saveSteps = 500;
        private int saveTotalLimit = 0;
        private long seed = 42;
        private Long dataSeed;
        private Precision precision = Precision.FP32;
        private String device = "auto";
        private boolean groupByLength = false;
        private Boolean disableTqdm;
        private boolean savePlot = true;
        private boolean resumeFromCheckpoint = false;

        private Builder() {
        }

        public Builder outputDir(Path v) {
            outputDir = v;
            return this;
        }

        public Builder numTrainEpochs(double v) {
            numTrainEpochs = v;
            return this;
        }

        public Builder maxSteps(long v) {
            maxSteps = v;
            return this;
        }

        public Builder perDeviceTrainBatchSize(int v) {
            perDeviceTrainBatchSize = v;
            return this;
        }

        public Builder perDeviceEvalBatchSize(int v) {
            perDeviceEvalBatchSize = v;
            return this;
        }

        public Builder gradientAccumulationSteps(int v) {
            gradientAccumulationSteps = v;
            return this;
        }

        public Builder learningRate(double v) {
            learningRate = v;
            return this;
        }

        public Builder weightDecay(double v) {
            weightDecay = v;
            return this;
        }

        public Builder adamBeta1(double v) {
            adamBeta1 = v;
            return this;
        }

        public Builder adamBeta2(double v) {
            adamBeta2 = v;
            return this;
        }

        public Builder adamEpsilon(double v) {
            adamEpsilon = v;
            return this;
        }

        public Builder maxGradNorm(double v) {
            maxGradNorm = v;
            return this;
        }

        public Builder warmupSteps(long v) {
            warmupSteps = v;
            return this;
        }

        public Builder warmupRatio(double v) {
            warmupRatio = v;
            return this;
        }

        public Builder lrSchedulerType(String v) {
            lrSchedulerType = v;
            return this;
        }

        public Builder loggingSteps(long v) {
            loggingSteps = v;
            return this;
        }

        public Builder loggingFirstStep(boolean v) {
            loggingFirstStep = v;
            return this;
        }

        public Builder evalStrategy(IntervalStrategy v) {
            evalStrategy = v;
            return this;
        }

        public Builder evalSteps(long v) {
            evalSteps = v;
            return this;
        }

        public Builder saveStrategy(IntervalStrategy v) {
            saveStrategy = v;
            return this;
        }

        public Builder saveSteps(long v) {
            saveSteps = v;
            return this;
        }

        public Builder saveTotalLimit(int v) {
            saveTotalLimit = v;
            return this;
        }

        public Builder seed(long v) {
            seed = v;
            return this;
        }

        public Builder dataSeed(Long v) {
            dataSeed = v;
            return this;
        }

        public Builder precision(Precision v) {
            precision = v;
            return this;
        }

        /** HF's {@code bf16=True}. */
        public Builder bf16(boolean on) {
            precision = on ? Precision.BF16 : precision == Precision.BF16 ? Precision.FP32 : precision;
            return this;
        }

        /** HF's {@code fp16=True}. */
        public Builder fp16(boolean on) {
            precision = on ? Precision.FP16 : precision == Precision.FP16 ? Precision.FP32 : precision;
            return this;
        }

        public Builder device(String v) {
            device = v;
            return this;
        }

        public Builder groupByLength(boolean v) {
            groupByLength = v;
            return this;
        }

        public Builder disableTqdm(Boolean v) {
            disableTqdm = v;
            return this;
        }

        public Builder savePlot(boolean v) {
            savePlot = v;
            return this;
        }

        public Builder resumeFromCheckpoint(boolean v) {
            resumeFromCheckpoint = v;
            return this;
        }

        /** Checks the values and builds; errors name the HF argument. */
        public TrainingArguments build() {
            if (outputDir == null) {
                throw new IllegalArgumentException("output_dir must be set");
            }
            require(numTrainEpochs > 0 || maxSteps > 0, "num_train_epochs must be > 0 (or set max_steps), got " + numTrainEpochs);
            require(perDeviceTrainBatchSize > 0, "per_device_train_batch_size must be > 0, got " + perDeviceTrainBatchSize);
            require(perDeviceEvalBatchSize > 0, "per_device_eval_batch_size must be > 0, got " + perDeviceEvalBatchSize);
            require(gradientAccumulationSteps > 0, "gradient_accumulation_steps must be > 0, got " + gradientAccumulationSteps);
            require(learningRate >= 0,
                    "learning_rate must be >= 0, got " + learningRate);
            require(weightDecay >= 0, "weight_decay must be >= 0, got " + weightDecay);
            require(adamBeta1 >= 0 && adamBeta1 < 1 && adamBeta2 >= 0 && adamBeta2 < 1, "adam betas must be in [0, 1)");
            require(adamEpsilon >= 0, "adam_epsilon must be >= 0");
            require(warmupSteps >= 0, "warmup_steps must be >= 0, got " + warmupSteps);
            require(warmupRatio >= 0 && warmupRatio <= 1, "warmup_ratio must be in [0, 1], got " + warmupRatio);
            require(lrSchedulerType.equals("linear") || lrSchedulerType.equals("constant"),
                    "lr_scheduler_type '" + lrSchedulerType + "' is not supported (linear, constant)");
            require(loggingSteps > 0, "logging_steps must be > 0, got " + loggingSteps);
            require(saveStrategy != IntervalStrategy.STEPS || saveSteps > 0, "save_steps must be > 0, got " + saveSteps);
            require(saveTotalLimit >= 0, "save_total_limit must be >= 0");
            require(device.equals("auto") || device.equals("cpu") || device.startsWith("cuda"),
                    "device must be auto, cpu, cuda or cuda:N, got '" + device + "'");
            return new TrainingArguments(this);
        }

        private static void require(boolean ok, String message) {
            if (!ok) {
                throw new IllegalArgumentException(message);
            }
        }
    }
}
