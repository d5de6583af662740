package dev.solder.train;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

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
import java.util.LinkedHashMap;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Resume equality: N steps uninterrupted versus a run that "crashes" right after writing the
 * checkpoint of step k (plus a half-written checkpoint after it), resumed by a new Trainer with a
 * differently initialised model — the final weights must be bitwise identical. Dropout is on, so
 * the dropout generators' states must be restored too.
 */
class ResumeTest {
    @TempDir
    Path tmp;

    private static final class Crash extends RuntimeException {
        private static final long serialVersionUID = 1L;
    }

    private TrainingArguments args(Path out, int accum, boolean resume) {
        return args(out, accum, resume, TrainingArguments.Precision.FP32);
    }

    private TrainingArguments args(Path out, int accum, boolean resume, TrainingArguments.Precision precision) {
        return TrainingArguments.builder().outputDir(out).numTrainEpochs(2).perDeviceTrainBatchSize(8)
                .gradientAccumulationSteps(accum).learningRate(2e-3).weightDecay(0.01).warmupSteps(2).loggingSteps(3)
                .saveSteps(4).evalStrategy(IntervalStrategy.NO).disableTqdm(true).savePlot(false).resumeFromCheckpoint(resume)
                .precision(precision).build();
    }

    private static PrintStream quiet() {
        return new PrintStream(new ByteArrayOutputStream(), true, StandardCharsets.UTF_8);
    }

    private static Map<String, int[]> bits(BertForSequenceClassification m) {
        Map<String, int[]> out = new LinkedHashMap<>();
        for (Map.Entry<String, Tensor> e : m.stateDict().entrySet()) {
            float[] f = e.getValue().toFloatArray();
            int[] b = new int[f.length];
            for (int i = 0; i < f.length; i++) {
                b[i] = Float.floatToRawIntBits(f[i]);
            }
            out.put(e.getKey(), b);
        }
        return out;
    }

    @Test
    void resumedRunEndsWithBitIdenticalWeights() throws IOException {
        check(1, 8);   // 72 rows / 8 = 9 steps per epoch; saves every 4: crash after step 8, in the first epoch
    }

    @Test
    void resumeWithGradientAccumulationAcrossAnEpochBoundary() throws IOException {
        check(2, 8);   // 9 batches → 5 steps per epoch (last group of one batch); crash in epoch 2
    }

    @Test
    void resumeUnderFp16AutocastWithLossScaling() throws IOException {
        check(1, 8, TrainingArguments.Precision.FP16);
    }

    @Test
    void resumeUnderBf16AutocastWithKeptWeightCopies() throws IOException {
        // bf16 keeps each weight's cast between steps (CastCache); the resumed run makes them anew
        // from the loaded checkpoint and must still end on the uninterrupted run's bits.
        check(1, 8, TrainingArguments.Precision.BF16);
    }

    private void check(int accum, int crashAt) throws IOException {
        check(accum, crashAt, TrainingArguments.Precision.FP32);
    }

    private void check(int accum, int crashAt, TrainingArguments.Precision precision) throws IOException {
        BertTokenizer tok = TinyBert.tokenizer(tmp.resolve("tok"));
        Dataset train = TinyBert.sentiment("tiny/train", 72, 3).tokenized(tok, 16);

        Map<String, int[]> expected;
        long steps;
        try (var model = TinyBert.model(tok.vocabSize(), 2, 11, 0.1f);
             var t = new Trainer(model, args(tmp.resolve("a" + accum), accum, false, precision), train, null, null)) {
            steps = t.setOut(quiet()).train().globalStep();
            expected = bits(model);
        }

        Path out = tmp.resolve("b" + accum);
        try (var model = TinyBert.model(tok.vocabSize(), 2, 11, 0.1f);
             var t = new Trainer(model, args(out, accum, false, precision), train, null, null)) {
            t.setOut(quiet()).addCallback(new TrainerCallback() {
                @Override
                public void onSave(Path checkpoint, TrainerState state) {
                    if (state.globalStep == crashAt) {
                        throw new Crash();
                    }
                }
            });
            assertThrows(Crash.class, t::train);
        }
        // A save interrupted after the last complete checkpoint: a temp folder with a partial model.
        Path partial = out.resolve(TrainerCheckpoint.TMP_PREFIX + (crashAt + 4) + "-x1");
        Files.createDirectories(partial);
        Files.write(partial.resolve("model.safetensors"), new byte[] {1, 2, 3});
        assertEquals(out.resolve("checkpoint-" + crashAt), TrainerCheckpoint.latest(out));

        var log = new ByteArrayOutputStream();
        try (var model = TinyBert.model(tok.vocabSize(), 2, 999, 0.1f);   // other init: the checkpoint must win
             var t = new Trainer(model, args(out, accum, true, precision), train, null, null)) {
            t.setOut(new PrintStream(log, true, StandardCharsets.UTF_8));
            TrainOutput o = t.train();
            assertEquals(steps, o.globalStep());
            Map<String, int[]> got = bits(model);
            assertEquals(expected.keySet(), got.keySet());
            for (String k : expected.keySet()) {
                assertArrayEquals(expected.get(k), got.get(k), "weights of " + k + " differ after resume");
            }
        }
        // The training log lines (loss, grad norm, learning rate) continue exactly too.
        assertEquals(lossLines(tmp.resolve("a" + accum)), lossLines(out));
        String text = log.toString(StandardCharsets.UTF_8);
        assertTrue(text.contains("resuming from " + out.resolve("checkpoint-" + crashAt)), text);
        assertTrue(text.contains("removed " + partial.getFileName()), text);
        assertFalse(Files.exists(partial));
    }

    private static java.util.List<String> lossLines(Path out) throws IOException {
        return Files.readAllLines(out.resolve("metrics.jsonl")).stream().filter(l -> l.contains("\"loss\"")).toList();
    }

    @Test
    void latestIgnoresTempAndIncompleteFolders() throws IOException {
        Path out = tmp.resolve("c");
        Files.createDirectories(out.resolve("checkpoint-3"));
        Files.writeString(out.resolve("checkpoint-3").resolve("trainer_state.json"), "{}");
        Files.createDirectories(out.resolve("checkpoint-12"));                       // no trainer_state.json
        Files.createDirectories(out.resolve(".tmp-checkpoint-20-abc"));
        Files.writeString(out.resolve(".tmp-checkpoint-20-abc").resolve("trainer_state.json"), "{}");
        Files.createDirectories(out.resolve("checkpoint-7"));
        Files.writeString(out.resolve("checkpoint-7").resolve("trainer_state.json"), "{}");
        assertEquals(out.resolve("checkpoint-7"), TrainerCheckpoint.latest(out));
        assertNull(TrainerCheckpoint.latest(tmp.resolve("none")));
    }

    @Test
    void resumeWithoutCheckpointFailsClearlyBeforeAModelIsNeeded() throws IOException {
        // the CLI calls checkSupported before it loads data and weights
        TrainingArguments a = args(tmp.resolve("empty"), 1, true);
        var early = assertThrows(IllegalStateException.class, () -> Trainer.checkSupported(a));
        assertTrue(early.getMessage().contains("no valid checkpoint-N folder in " + tmp.resolve("empty")),
                early.getMessage());
        BertTokenizer tok = TinyBert.tokenizer(tmp.resolve("tok"));
        Dataset train = TinyBert.sentiment("tiny/train", 8, 3).tokenized(tok, 16);
        try (var model = TinyBert.model(tok.vocabSize(), 2, 11, 0.1f)) {
            var e = assertThrows(IllegalStateException.class, () -> new Trainer(model, a, train, null, null));
            assertTrue(e.getMessage().contains("no valid checkpoint-N folder"), e.getMessage());
        }
    }
}
