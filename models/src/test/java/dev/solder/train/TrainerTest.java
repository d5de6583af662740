package dev.solder.train;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.solder.DType;
import dev.solder.Tensor;
import dev.solder.bert.BertForSequenceClassification;
import dev.solder.data.Dataset;
import dev.solder.tokenizer.BertTokenizer;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import javax.imageio.ImageIO;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;
import org.junit.jupiter.api.io.TempDir;

/** The Trainer on a tiny random BERT: it learns, writes HF's files, and stops on a diverging loss. */
class TrainerTest {
    private static final ObjectMapper JSON = new ObjectMapper();

    @TempDir
    Path tmp;

    @Test
    void learnsATinyTaskAndWritesHfOutputs() throws IOException {
        BertTokenizer tok = TinyBert.tokenizer(tmp.resolve("tok"));
        Dataset train = TinyBert.sentiment("tiny/train", 320, 1).tokenized(tok, 16);
        Dataset eval = TinyBert.sentiment("tiny/eval", 96, 2).tokenized(tok, 16);
        Path out = tmp.resolve("run");
        var args = TrainingArguments.builder().outputDir(out).numTrainEpochs(3).perDeviceTrainBatchSize(16)
                .learningRate(5e-3).loggingSteps(10).saveSteps(40).saveTotalLimit(1).disableTqdm(true).seed(42)
                .evalStrategy(IntervalStrategy.EPOCH).build();
        var log = new ByteArrayOutputStream();
        try (BertForSequenceClassification model = TinyBert.model(tok.vocabSize(), 2, 7, 0.1f);
             Trainer trainer = new Trainer(model, args, train, eval, Metrics.accuracy())) {
            trainer.setOut(new PrintStream(log, true, StandardCharsets.UTF_8)).setModelCardInfo("tiny-bert", "tiny");
            TrainOutput o = trainer.train();
            assertEquals(60, o.globalStep());                        // ceil(320 / 16) × 3
            Map<String, Double> m = trainer.evaluate();
            trainer.saveModel();

            List<Double> losses = new ArrayList<>();
            for (Map<String, Object> e : trainer.state().logHistory) {
                if (e.containsKey("loss")) {
                    losses.add(((Number) e.get("loss")).doubleValue());
                }
            }
            assertEquals(6, losses.size());
            assertTrue(losses.get(losses.size() - 1) < 0.6 * losses.get(0), "loss did not fall: " + losses + "\n" + log);
            assertTrue(m.get("eval_accuracy") > 0.8, "eval accuracy " + m + "\n" + log);
            assertEquals(List.of("eval_loss", "eval_accuracy", "eval_runtime", "eval_samples_per_second",
                    "eval_steps_per_second", "epoch"), List.copyOf(m.keySet()));
            assertEquals(3.0, m.get("epoch"));
        }
        String text = log.toString(StandardCharsets.UTF_8);
        assertTrue(text.contains("{'loss': "), text);
        assertTrue(text.contains(", 'grad_norm': "), text);
        assertTrue(text.contains(", 'learning_rate': "), text);
        assertTrue(text.contains("{'eval_loss': "), text);
        assertTrue(text.contains("{'train_runtime': "), text);
        assertTrue(text.contains("progress: step 60/60 (100%)"), text);

        JsonNode trainRes = JSON.readTree(out.resolve("train_results.json").toFile());
        for (String k : List.of("train_runtime", "train_samples_per_second", "train_steps_per_second", "train_loss", "epoch",
                "total_flos")) {
            assertTrue(trainRes.has(k), k + " missing in " + trainRes);
        }
        // HF rounds samples/s to 3 decimals and the runtime to 4: that, and nothing more, may separate
        // them. The runtime's rounding (at most 5e-5 s) moves samples/s by up to sps·5e-5/runtime, which
        // on a fast machine (a 0.32 s run) is nearly 0.5 samples/s; the bound allows twice that.
        double runtime = trainRes.get("train_runtime").asDouble();
        double sps = 320 * 3 / runtime;
        assertEquals(sps, trainRes.get("train_samples_per_second").asDouble(), 6e-4 + sps * 1e-4 / runtime);
        // Written as Python's json.dump(indent=4, sort_keys=True) writes it.
        assertTrue(Files.readString(out.resolve("train_results.json")).startsWith("{\n    \"epoch\": 3.0,\n"),
                Files.readString(out.resolve("train_results.json")));
        JsonNode evalRes = JSON.readTree(out.resolve("eval_results.json").toFile());
        for (String k : List.of("eval_loss", "eval_accuracy", "eval_runtime", "eval_samples_per_second", "eval_steps_per_second",
                "epoch")) {
            assertTrue(evalRes.has(k), k + " missing in " + evalRes);
        }
        JsonNode all = JSON.readTree(out.resolve("all_results.json").toFile());
        assertTrue(all.has("train_loss") && all.has("eval_accuracy"), all.toString());
        JsonNode state = JSON.readTree(out.resolve("trainer_state.json").toFile());
        assertEquals(60, state.get("global_step").asInt());
        assertEquals(60, state.get("max_steps").asInt());
        assertEquals(3.0, state.get("epoch").asDouble());
        assertEquals(16, state.get("train_batch_size").asInt());
        assertEquals(6 + 3 + 1 + 1, state.get("log_history").size(), state.get("log_history").toString());
        JsonNode first = state.get("log_history").get(0);
        assertEquals(List.of("epoch", "grad_norm", "learning_rate", "loss", "step"), fieldNames(first));
        assertEquals(10, first.get("step").asInt());
        assertEquals(5e-3 * 50 / 60, first.get("learning_rate").asDouble(), 1e-12);   // linear decay after 10 of 60 steps

        List<String> jsonl = Files.readAllLines(out.resolve("metrics.jsonl"));
        assertEquals(state.get("log_history").size(), jsonl.size());
        assertTrue(Files.readString(out.resolve("README.md")).contains("- Accuracy: "));
        assertTrue(ImageIO.read(out.resolve("training_curves.png").toFile()).getWidth() > 100);
        assertTrue(Files.isRegularFile(out.resolve("model.safetensors")));
        assertTrue(Files.readString(out.resolve("config.json")).contains("\"positive\""));
        assertTrue(Files.isRegularFile(out.resolve("vocab.txt")));
        // save_total_limit 1: only the final checkpoint is left, complete.
        assertEquals(List.of(out.resolve("checkpoint-60")), TrainerCheckpoint.list(out));
        for (String f : List.of("model.safetensors", "optimizer.safetensors", "scheduler.json", "rng_state.json",
                "trainer_state.json", "config.json", "training_args.json")) {
            assertTrue(Files.isRegularFile(out.resolve("checkpoint-60").resolve(f)), f);
        }
    }

    private static List<String> fieldNames(JsonNode n) {
        List<String> l = new ArrayList<>();
        n.fieldNames().forEachRemaining(l::add);
        return l;
    }
    @Test
    void byDefaultEvaluatesOnlyWhenAskedAsHfDoes() throws IOException {
        // HF's eval_strategy defaults to "no": train() logs no evaluation; evaluate() adds one.
        BertTokenizer tok = TinyBert.tokenizer(tmp.resolve("tok"));
        Dataset train = TinyBert.sentiment("tiny/train", 32, 1).tokenized(tok, 16);
        Dataset eval = TinyBert.sentiment("tiny/eval", 16, 2).tokenized(tok, 16);
        var args = TrainingArguments.builder().outputDir(tmp.resolve("default-eval")).numTrainEpochs(2)
                .perDeviceTrainBatchSize(8).loggingSteps(2).disableTqdm(true).savePlot(false).build();
        assertEquals(IntervalStrategy.NO, args.evalStrategy());
        try (BertForSequenceClassification model = TinyBert.model(tok.vocabSize(), 2, 7, 0.1f);
             Trainer trainer = new Trainer(model, args, train, eval, Metrics.accuracy())) {
            trainer.setOut(new PrintStream(new ByteArrayOutputStream(), true, StandardCharsets.UTF_8));
            trainer.train();
            assertEquals(0, evalEntries(trainer), "evaluations logged during training");
            trainer.evaluate(true);   // nothing to reuse: it evaluates
            assertEquals(1, evalEntries(trainer));
        }
    }

    private static long evalEntries(Trainer trainer) {
        return trainer.state().logHistory.stream().filter(e -> e.containsKey("eval_loss")).count();
    }


    @Test
    void nanLossStopsWithStepAndEpoch() throws IOException {
        BertTokenizer tok = TinyBert.tokenizer(tmp.resolve("tok"));
        Dataset train = TinyBert.sentiment("tiny/train", 64, 1).tokenized(tok, 16);
        var args = TrainingArguments.builder().outputDir(tmp.resolve("nan")).numTrainEpochs(2).learningRate(1e30)
                .disableTqdm(true).build();
        var log = new ByteArrayOutputStream();
        try (BertForSequenceClassification model = TinyBert.model(tok.vocabSize(), 2, 7, 0.0f);
             Trainer trainer = new Trainer(model, args, train, null, null)) {
            trainer.setOut(new PrintStream(log, true, StandardCharsets.UTF_8));
            TrainingDivergedException e = assertThrows(TrainingDivergedException.class, trainer::train);
            assertTrue(e.getMessage().matches("training stopped: the loss is (NaN|infinite) at step \\d+ of 16 \\(epoch \\d\\.\\d\\d\\).*"),
                    e.getMessage());
            assertTrue(e.step() >= 2, "step " + e.step());
            assertTrue(e.getMessage().contains("lower --learning-rate (now 1e+30)"), e.getMessage());
            assertTrue(log.toString(StandardCharsets.UTF_8).contains("training stopped"));
        }
    }

    @Test
    void labelCountMismatchIsExplained() throws IOException {
        BertTokenizer tok = TinyBert.tokenizer(tmp.resolve("tok"));
        Dataset train = TinyBert.sentiment("tiny/train", 8, 1).tokenized(tok, 16);
        try (BertForSequenceClassification model = TinyBert.model(tok.vocabSize(), 3, 7, 0.0f)) {
            var e = assertThrows(IllegalArgumentException.class, () -> new Trainer(model,
                    TrainingArguments.builder().outputDir(tmp).build(), train, null, null));
            assertTrue(e.getMessage().contains("numLabels = 2"), e.getMessage());
        }
    }

    /**
     * bf16 and fp16 autocast: the same tiny task is learned; fp16 keeps its loss scale in the
     * trainer state (so a resume continues with it) and bf16 has none.
     */
    @ParameterizedTest
    @EnumSource(value = TrainingArguments.Precision.class, names = {"BF16", "FP16"})
    void mixedPrecisionLearnsTheTinyTask(TrainingArguments.Precision precision) throws IOException {
        BertTokenizer tok = TinyBert.tokenizer(tmp.resolve("tok"));
        Dataset train = TinyBert.sentiment("tiny/train", 320, 1).tokenized(tok, 16);
        Dataset eval = TinyBert.sentiment("tiny/eval", 96, 2).tokenized(tok, 16);
        Path out = tmp.resolve("run-" + precision);
        var args = TrainingArguments.builder().outputDir(out).numTrainEpochs(3).perDeviceTrainBatchSize(16)
                .learningRate(5e-3).loggingSteps(10).saveStrategy(IntervalStrategy.NO).disableTqdm(true).seed(42)
                .precision(precision).build();
        var log = new ByteArrayOutputStream();
        try (BertForSequenceClassification model = TinyBert.model(tok.vocabSize(), 2, 7, 0.1f);
             Trainer trainer = new Trainer(model, args, train, eval, Metrics.accuracy())) {
            trainer.setOut(new PrintStream(log, true, StandardCharsets.UTF_8));
            trainer.train();
            Map<String, Double> m = trainer.evaluate();
            List<Double> losses = new ArrayList<>();
            for (Map<String, Object> e : trainer.state().logHistory) {
                if (e.containsKey("loss")) {
                    losses.add(((Number) e.get("loss")).doubleValue());
                }
            }
            assertTrue(losses.get(losses.size() - 1) < 0.6 * losses.get(0), precision + ": loss did not fall: " + losses + "\n" + log);
            assertTrue(m.get("eval_accuracy") > 0.8, precision + ": eval accuracy " + m + "\n" + log);
            if (precision == TrainingArguments.Precision.FP16) {
                assertTrue(trainer.state().gradScale != null && trainer.state().gradScale > 0, "fp16 loss scale " + trainer.state().gradScale);
                assertTrue(trainer.state().toJson().path("solder").has("grad_scale"));
            } else {
                assertEquals(null, trainer.state().gradScale, "bf16 needs no loss scaling");
            }
            for (Tensor p : model.parameters()) {
                assertEquals(DType.FLOAT32, p.dtype(), "master weights stay float32");
            }
        }
    }
}
