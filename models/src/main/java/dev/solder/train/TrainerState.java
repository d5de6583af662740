package dev.solder.train;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.core.util.DefaultIndenter;
import com.fasterxml.jackson.core.util.DefaultPrettyPrinter;
import com.fasterxml.jackson.core.util.Separators;
import com.fasterxml.jackson.core.JsonGenerator;
import com.fasterxml.jackson.core.json.JsonReadFeature;
import com.fasterxml.jackson.core.util.JsonGeneratorDelegate;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.json.JsonMapper;
import java.io.IOException;
import java.io.StringWriter;
import java.io.UncheckedIOException;
import com.fasterxml.jackson.databind.SerializationFeature;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * The progress of a training run — HF's {@code TrainerState}, written as {@code trainer_state.json}
 * in every checkpoint and in the output folder with HF's keys ({@code global_step}, {@code epoch},
 * {@code max_steps}, {@code log_history}, {@code total_flos}, ...), plus a {@code solder} object with
 * what an exact resume needs besides the tensors: where in which epoch's shuffled order the run is,
 * and the running loss sums.
 */
public final class TrainerState {
    static final ObjectMapper JSON = JsonMapper.builder().enable(SerializationFeature.INDENT_OUTPUT)
            .enable(SerializationFeature.ORDER_MAP_ENTRIES_BY_KEYS).enable(JsonReadFeature.ALLOW_NON_NUMERIC_NUMBERS).build();

    /**
     * {@code value} (a map or a JSON tree) as Python's {@code json.dumps(value, indent=indent)} writes
     * it: {@code "key": value}, one element per line, floats in Python's repr ({@code 4.5e-05},
     * {@code 3.0}, {@code NaN}); {@code indent <= 0} gives one compact line (JSON Lines).
     */
    static String pythonJson(Object value, int indent) {
        StringWriter sw = new StringWriter();
        try (JsonGenerator base = JSON.getFactory().createGenerator(sw);
             JsonGenerator g = new JsonGeneratorDelegate(base, false) {
                 @Override
                 public void writeNumber(double v) throws IOException {
                     if (Double.isFinite(v)) {
                         delegate.writeNumber(PyFormat.repr(v));
                     } else {
                         delegate.writeRawValue(Double.isNaN(v) ? "NaN" : v > 0 ? "Infinity" : "-Infinity");
                     }
                 }

                 @Override
                 public void writeNumber(float v) throws IOException {
                     writeNumber((double) v);
                 }
             }) {
            if (indent > 0) {
                var ind = new DefaultIndenter(" ".repeat(indent), "\n");
                g.setPrettyPrinter(new DefaultPrettyPrinter()
                        .withSeparators(Separators.createDefaultInstance().withObjectFieldValueSpacing(Separators.Spacing.AFTER))
                        .withObjectIndenter(ind).withArrayIndenter(ind));
            }
            JSON.writer().without(SerializationFeature.INDENT_OUTPUT).writeValue(g, value);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
        return sw.toString();
    }

    /** Optimizer steps taken. */
    public long globalStep;
    /** Epochs done, fractional ({@code epoch + batches_done / batches_per_epoch}); null before training. */
    public Double epoch;
    public long maxSteps;
    public int numTrainEpochs;
    public long loggingSteps;
    public long evalSteps;
    public long saveSteps;
    public int trainBatchSize;
    public double totalFlos;
    public Double bestMetric;
    public String bestModelCheckpoint;
    /** Every logged dict, in order (train logs, evaluations, the final summary), each with its {@code step}. */
    public final List<Map<String, Object>> logHistory = new ArrayList<>();

    // Data position and running sums (the "solder" object).
    /** The epoch (0-based) the next batch belongs to. */
    public int positionEpoch;
    /** Batches of {@link #positionEpoch} already consumed. */
    public int positionBatch;
    /** The seed of {@link #positionEpoch}'s shuffled order (for the record; the sampler recomputes it). */
    public long positionEpochSeed;
    /** Sum of the per-step losses so far ({@code train_loss = totalLoss / globalStep}). */
    public double totalLoss;
    /** Sum of per-step losses since the last log line, and how many steps that covers. */
    public double lossSinceLog;
    public long stepsSinceLog;
    /** fp16 only: the loss scale and its growth tracker ({@code GradScaler}), null otherwise. */
    public Double gradScale;
    public int gradScaleGrowthTracker;

    /** The state as HF writes {@code trainer_state.json} (keys sorted, indent 2). */
    public ObjectNode toJson() {
        ObjectNode o = JSON.createObjectNode();
        o.putNull("best_global_step");
        if (bestMetric != null) {
            o.put("best_metric", bestMetric);
        } else {
            o.putNull("best_metric");
        }
        if (bestModelCheckpoint != null) {
            o.put("best_model_checkpoint", bestModelCheckpoint);
        } else {
            o.putNull("best_model_checkpoint");
        }
        if (epoch != null) {
            o.put("epoch", epoch);
        } else {
            o.putNull("epoch");
        }
        o.put("eval_steps", evalSteps);
        o.put("global_step", globalStep);
        o.put("is_hyper_param_search", false);
        o.put("is_local_process_zero", true);
        o.put("is_world_process_zero", true);
        ArrayNode hist = o.putArray("log_history");
        for (Map<String, Object> e : logHistory) {
            hist.add(JSON.valueToTree(e));
        }
        o.put("logging_steps", loggingSteps);
        o.put("max_steps", maxSteps);
        o.put("num_input_tokens_seen", 0);
        o.put("num_train_epochs", numTrainEpochs);
        o.put("save_steps", saveSteps);
        ObjectNode s = o.putObject("solder");
        s.put("epoch_index", positionEpoch);
        s.put("batch_in_epoch", positionBatch);
        s.put("epoch_shuffle_seed", positionEpochSeed);
        s.put("total_loss", totalLoss);
        s.put("loss_since_log", lossSinceLog);
        s.put("steps_since_log", stepsSinceLog);
        if (gradScale != null) {
            s.put("grad_scale", gradScale);
            s.put("grad_scale_growth_tracker", gradScaleGrowthTracker);
        }
        o.putObject("stateful_callbacks");
        o.put("total_flos", totalFlos);
        o.put("train_batch_size", trainBatchSize);
        o.putNull("trial_name");
        o.putNull("trial_params");
        return o;
    }

    /** Reads a state written by {@link #toJson()} (or HF, without the {@code solder} object). */
    public static TrainerState fromJson(JsonNode o) {
        TrainerState s = new TrainerState();
        s.globalStep = o.path("global_step").asLong();
        s.epoch = o.hasNonNull("epoch") ? o.get("epoch").asDouble() : null;
        s.maxSteps = o.path("max_steps").asLong();
        s.numTrainEpochs = o.path("num_train_epochs").asInt();
        s.loggingSteps = o.path("logging_steps").asLong();
        s.evalSteps = o.path("eval_steps").asLong();
        s.saveSteps = o.path("save_steps").asLong();
        s.trainBatchSize = o.path("train_batch_size").asInt();
        s.totalFlos = o.path("total_flos").asDouble();
        s.bestMetric = o.hasNonNull("best_metric") ? o.get("best_metric").asDouble() : null;
        s.bestModelCheckpoint = o.hasNonNull("best_model_checkpoint") ? o.get("best_model_checkpoint").asText() : null;
        for (JsonNode e : o.path("log_history")) {
            Map<String, Object> m = new LinkedHashMap<>();
            for (Map.Entry<String, JsonNode> f : e.properties()) {
                JsonNode v = f.getValue();
                m.put(f.getKey(), v.isIntegralNumber() ? (Object) v.asLong() : v.isNumber() ? (Object) v.asDouble() : v.asText());
            }
            s.logHistory.add(m);
        }
        JsonNode p = o.path("solder");
        s.positionEpoch = p.path("epoch_index").asInt();
        s.positionBatch = p.path("batch_in_epoch").asInt();
        s.positionEpochSeed = p.path("epoch_shuffle_seed").asLong();
        s.totalLoss = p.path("total_loss").asDouble();
        s.lossSinceLog = p.path("loss_since_log").asDouble();
        s.stepsSinceLog = p.path("steps_since_log").asLong();
        s.gradScale = p.hasNonNull("grad_scale") ? p.get("grad_scale").asDouble() : null;
        s.gradScaleGrowthTracker = p.path("grad_scale_growth_tracker").asInt();
        return s;
    }

    /** The state as a JSON string. */
    public String toJsonString() {
        return pythonJson(toJson(), 2) + "\n";
    }
}
