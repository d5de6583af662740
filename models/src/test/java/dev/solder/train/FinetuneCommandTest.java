package dev.solder.train;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.ObjectMapper;
import dev.solder.cli.SolderCli;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.PrintStream;
import java.io.PrintWriter;
import java.io.StringWriter;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import picocli.CommandLine;

/** {@code solder finetune} end to end on a tiny saved model and CSV files written here (no network). */
class FinetuneCommandTest {
    @TempDir
    Path tmp;

    @Test
    void finetunesATinyModelFromCsv() throws IOException {
        Path modelDir = TinyBert.savedModel(tmp.resolve("tiny-model"), tmp.resolve("tok"));
        Files.writeString(tmp.resolve("train.csv"), TinyBert.sentimentCsv(48, 1));
        Files.writeString(tmp.resolve("dev.csv"), "sentence,label\n\"good nice film\",pos\n\"bad sad day\",neg\n");
        Path out = tmp.resolve("out");

        PrintStream old = System.out;
        PrintStream oldErr = System.err;
        var captured = new ByteArrayOutputStream();
        var warnings = new ByteArrayOutputStream();
        int code;
        StringWriter err = new StringWriter();
        try {
            System.setOut(new PrintStream(captured, true, StandardCharsets.UTF_8));
            System.setErr(new PrintStream(warnings, true, StandardCharsets.UTF_8));
            // --max-seq-length beyond the model's 64 positions is capped with a warning, as run_glue.py does
            code = new CommandLine(new SolderCli()).setErr(new PrintWriter(err)).execute("finetune", "--model", modelDir.toString(),
                    "--task", "csv", "--data-dir", tmp.toString(), "--output-dir", out.toString(), "--num-train-epochs", "1",
                    "--learning-rate", "1e-3", "--logging-steps", "2", "--device", "cpu", "--save-steps", "4",
                    "--save-total-limit", "1", "--eval-strategy", "epoch", "--max-seq-length", "1000");
        } finally {
            System.setOut(old);
            System.setErr(oldErr);
        }
        String text = captured.toString(StandardCharsets.UTF_8);
        assertEquals(0, code, text + err);
        assertTrue(warnings.toString(StandardCharsets.UTF_8).contains(
                "warning: --max-seq-length 1000 is longer than the model's max_position_embeddings 64; using 64"),
                warnings.toString(StandardCharsets.UTF_8));
        assertTrue(text.contains("data: csv — 48 training rows, 2 evaluation rows"), text);
        assertTrue(text.contains("{'eval_loss': "), text);
        assertTrue(text.contains("'eval_F1': "), text);
        assertTrue(text.contains("'eval_Accuracy': "), text);
        assertTrue(text.contains("***** train metrics *****"), text);
        var all = new ObjectMapper().readTree(out.resolve("all_results.json").toFile());
        assertTrue(all.has("eval_Accuracy") && all.has("train_loss"), all.toString());
        assertTrue(Files.readString(out.resolve("config.json")).contains("\"pos\""));
        assertTrue(Files.isDirectory(out.resolve("checkpoint-6")));
        // The end-of-training evaluation is reused, not recomputed: identical numbers in the history.
        var hist = new ObjectMapper().readTree(out.resolve("trainer_state.json").toFile()).get("log_history");
        assertEquals(hist.get(hist.size() - 3).get("eval_loss"), hist.get(hist.size() - 1).get("eval_loss"));
    }

    /** What a run returned and wrote to its error stream. */
    private record Failed(int code, String err) {
    }

    private static Failed run(String... args) {
        StringWriter err = new StringWriter();
        int code = new CommandLine(new SolderCli()).setErr(new PrintWriter(err)).execute(args);
        return new Failed(code, err.toString());
    }

    @Test
    void badArgumentsFailBeforeAnythingLoadsAndNameTheOption() throws IOException {
        // --model names nothing: each check must fire before the model (or data) would be looked for
        String noModel = tmp.resolve("no-such-model").toString();
        Failed task = run("finetune", "--model", noModel, "--task", "foo");
        assertEquals(1, task.code(), task.err());
        assertTrue(task.err().contains("unknown --task 'foo' (known: mnli, mnli-mm, cola, sst2, mrpc, stsb, qqp, qnli, "
                + "rte, wnli, demo-nli, jsonl, csv)"), task.err());

        Failed epochs = run("finetune", "--model", noModel, "--task", "demo-nli", "--num-train-epochs", "-1");
        assertEquals(1, epochs.code(), epochs.err());
        assertTrue(epochs.err().contains("--num-train-epochs must be > 0 (or set --max-steps), got -1.0"), epochs.err());

        Failed batch = run("finetune", "--model", noModel, "--task", "demo-nli", "--per-device-train-batch-size", "0");
        assertTrue(batch.err().contains("--per-device-train-batch-size must be > 0, got 0"), batch.err());

        Failed length = run("finetune", "--model", noModel, "--task", "demo-nli", "--max-seq-length", "0");
        assertTrue(length.err().contains("--max-seq-length must be positive, got 0"), length.err());

        Path empty = Files.createDirectories(tmp.resolve("empty-run"));
        Failed resume = run("finetune", "--model", noModel, "--task", "demo-nli", "--resume", "--output-dir",
                empty.toString(), "--device", "cpu");
        assertEquals(1, resume.code(), resume.err());
        assertTrue(resume.err().contains("no valid checkpoint-N folder in " + empty), resume.err());
    }
}
