package dev.solder.train;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.solder.cli.SolderCli;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The bar, literally: {@code solder finetune} runs in a child JVM that is killed with
 * SIGKILL ({@link Process#destroyForcibly()}) right after a checkpoint appears; every
 * {@code checkpoint-N} left behind is complete, and {@code --resume} ends with a
 * {@code model.safetensors} byte for byte equal to an uninterrupted run's.
 */
class KillResumeTest {
    @TempDir
    Path tmp;

    private List<String> args(Path modelDir, Path out) {
        return List.of("finetune", "--model", modelDir.toString(), "--task", "csv", "--data-dir", tmp.resolve("data").toString(),
                "--output-dir", out.toString(), "--num-train-epochs", "2", "--per-device-train-batch-size", "8",
                "--learning-rate", "1e-3", "--logging-steps", "5", "--save-steps", "5", "--eval-strategy", "no",
                "--device", "cpu", "--seed", "7");
    }

    private static Process child(List<String> args, Path log) throws IOException {
        List<String> cmd = new ArrayList<>();
        cmd.add(ProcessHandle.current().info().command().orElse("java"));
        cmd.addAll(List.of("--enable-native-access=ALL-UNNAMED", "--add-modules", "jdk.incubator.vector", "-Xmx1g",
                "-cp", System.getProperty("java.class.path"), SolderCli.class.getName()));
        cmd.addAll(args);
        return new ProcessBuilder(cmd).redirectErrorStream(true).redirectOutput(log.toFile()).start();
    }

    @Test
    void sigkillThenResumeEndsWithTheUninterruptedWeights() throws Exception {
        Path modelDir = TinyBert.savedModel(tmp.resolve("tiny-model"), tmp.resolve("tok"));
        Files.createDirectories(tmp.resolve("data"));
        Files.writeString(tmp.resolve("data/train.csv"), TinyBert.sentimentCsv(480, 1));
        Files.writeString(tmp.resolve("data/dev.csv"), "sentence,label\n\"good nice film\",pos\n\"bad sad day\",neg\n");

        // The uninterrupted run, in a child JVM like the others.
        Path ref = tmp.resolve("ref");
        Process p0 = child(args(modelDir, ref), tmp.resolve("ref.log"));
        assertTrue(p0.waitFor(300, TimeUnit.SECONDS), "reference run did not finish");
        assertEquals(0, p0.exitValue(), Files.readString(tmp.resolve("ref.log")));

        // The killed run: SIGKILL as soon as the second checkpoint is complete (120 steps in all).
        Path out = tmp.resolve("killed");
        Process p1 = child(args(modelDir, out), tmp.resolve("killed.log"));
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(300);
        while (!Files.exists(out.resolve("checkpoint-10").resolve("trainer_state.json")) && p1.isAlive()
                && System.nanoTime() < deadline) {
            Thread.sleep(5);
        }
        assertTrue(p1.isAlive(), "the run ended before it could be killed:\n" + Files.readString(tmp.resolve("killed.log")));
        p1.destroyForcibly();
        assertTrue(p1.waitFor(60, TimeUnit.SECONDS));
        assertTrue(p1.exitValue() != 0, "killed run exit " + p1.exitValue());
        assertTrue(!Files.exists(out.resolve("model.safetensors")), "the killed run must not have reached its end");

        // Nothing named checkpoint-N is ever partial: each holds the files a resume reads.
        List<Path> checkpoints;
        try (Stream<Path> s = Files.list(out)) {
            checkpoints = s.filter(x -> x.getFileName().toString().startsWith("checkpoint-")).toList();
        }
        assertTrue(!checkpoints.isEmpty());
        for (Path c : checkpoints) {
            for (String f : List.of("model.safetensors", "config.json", "optimizer.safetensors", "scheduler.json", "rng_state.json",
                    "trainer_state.json")) {
                assertTrue(Files.size(c.resolve(f)) > 0, c + " lacks " + f);
            }
        }

        List<String> resume = new ArrayList<>(args(modelDir, out));
        resume.add("--resume");
        Process p2 = child(resume, tmp.resolve("resumed.log"));
        assertTrue(p2.waitFor(300, TimeUnit.SECONDS), "resumed run did not finish");
        String log = Files.readString(tmp.resolve("resumed.log"), StandardCharsets.UTF_8);
        assertEquals(0, p2.exitValue(), log);
        assertTrue(log.contains("resuming from " + out.resolve("checkpoint-")), log);
        assertArrayEquals(Files.readAllBytes(ref.resolve("model.safetensors")), Files.readAllBytes(out.resolve("model.safetensors")),
                "weights after kill -9 and --resume differ from the uninterrupted run's\n" + log);
    }
}
