package dev.solder.io;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.solder.DType;
import java.io.IOException;
import java.lang.foreign.Arena;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Random;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class CheckpointsTest {
    @TempDir
    Path dir;

    @Test
    void detectsEachFormat() throws IOException {
        long seed = TestTensors.freshSeed();
        Random rnd = new Random(seed);
        try (Arena arena = Arena.ofConfined()) {
            RawTensor t = TestTensors.random(arena, rnd, "w", DType.FLOAT32, 3, 2);

            Path st = Files.createDirectories(dir.resolve("st"));
            SafetensorsWriter.write(st.resolve("model.safetensors"), List.of(t));
            Files.copy(st.resolve("model.safetensors"), st.resolve("weights.bin"));

            Path pt = Files.createDirectories(dir.resolve("pt"));
            TorchCheckpointWriter.Storage s = new TorchCheckpointWriter.Storage("0", "FloatStorage", 6, TestTensors.bytes(t));
            TorchCheckpointWriter.writeZip(pt.resolve("pytorch_model.bin"), "pytorch_model",
                    TorchCheckpointWriter.statePickle(List.of(new TorchCheckpointWriter.Tensor("w", s, 0,
                            new long[] {3, 2}, new long[] {2, 1}))), List.of(s));

            Path tf = Files.createDirectories(dir.resolve("tf"));
            TfBundleWriter.write(tf.resolve("bert_model.ckpt"), List.of(new TfBundleWriter.Entry("w",
                    TfBundleWriter.DT_FLOAT, new long[] {3, 2}, TestTensors.bytes(t))), 1, 4096);

            record Case(Path path, String format) {}
            for (Case c : List.of(new Case(st, "safetensors"), new Case(st.resolve("weights.bin"), "safetensors"),
                    new Case(pt, "pytorch"), new Case(pt.resolve("pytorch_model.bin"), "pytorch"),
                    new Case(tf, "tensorflow"), new Case(tf.resolve("bert_model.ckpt"), "tensorflow"),
                    new Case(tf.resolve("bert_model.ckpt.index"), "tensorflow"))) {
                try (WeightSet w = Checkpoints.read(c.path())) {
                    assertEquals(c.format(), w.format(), c.path().toString());
                    assertEquals(t, w.get("w"), "seed " + seed + " " + c.path());
                }
            }

            Path empty = Files.createDirectories(dir.resolve("empty"));
            var e = assertThrows(WeightFormatException.class, () -> Checkpoints.read(empty));
            assertTrue(e.getMessage().contains("directory holds no model weights"), e.getMessage());
            Path text = Files.writeString(dir.resolve("README"), "# a model card");
            e = assertThrows(WeightFormatException.class, () -> Checkpoints.read(text));
            assertTrue(e.getMessage().contains("unrecognised weight format"), e.getMessage());
        }
    }
}
