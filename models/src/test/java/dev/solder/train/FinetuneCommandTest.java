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
        var captured = new ByteArrayOutputStream();
        int code;
        StringWriter err = new StringWriter();
        try {
            System.setOut(new PrintStream(captured, true, StandardCharsets.UTF_8));
            code = new CommandLine(new SolderCli()).setErr(new PrintWriter(err)).execute("finetune", "--model", modelDir.toString(),
                    "--task", "csv", "--data-dir", tmp.toString(), "--output-dir", out.toString(), "--num-train-epochs", "1",
                    "--learning-rate", "1e-3", "--logging-steps", "2", "--device", "cpu", "--save-steps", "4",
                    "--save-total-limit", "1", "--eval-strategy", "epoch");
        } finally {
            System.setOut(old);
        }
        String text = captured.toString(StandardCharsets.UTF_8);
        assertEquals(0, code, text + err);
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
}
