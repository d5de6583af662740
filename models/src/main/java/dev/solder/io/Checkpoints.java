package dev.solder.io;

import java.io.IOException;
import java.io.InputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.stream.Stream;

/**
 * Reads whichever weight format a path holds, so callers (the Hub, the CLI, {@code fromPretrained})
 * need not care how a model was published.
 *
 * <p>For a directory, the first match wins, in the order {@code transformers} prefers:
 * {@code model.safetensors}, {@code model.safetensors.index.json}, {@code pytorch_model.bin},
 * then a TensorFlow checkpoint ({@code variables/variables.index} or a single {@code *.index}).
 * A file is recognised by its name ({@code .safetensors}, {@code .index.json}, {@code .index})
 * or, failing that, by its first bytes (a zip is a PyTorch archive).
 *
 * <pre>{@code
 * try (WeightSet w = Checkpoints.read(snapshotDir)) {
 *     System.out.println(w.format() + ": " + w.size() + " tensors");
 * }
 * }</pre>
 */
public final class Checkpoints {
    private Checkpoints() {}

    /** Reads the checkpoint at {@code path} (a file, a TF checkpoint prefix, or a model directory). */
    public static WeightSet read(Path path) throws IOException {
        if (Files.isDirectory(path)) {
            for (String name : List.of(SafetensorsReader.SINGLE_FILE, SafetensorsReader.INDEX_FILE)) {
                if (Files.isRegularFile(path.resolve(name))) {
                    return SafetensorsReader.read(path.resolve(name));
                }
            }
            if (Files.isRegularFile(path.resolve("pytorch_model.bin"))) {
                return PyTorchCheckpointReader.read(path.resolve("pytorch_model.bin"));
            }
            if (Files.isRegularFile(path.resolve("variables/variables.index")) || countIndexFiles(path) == 1) {
                return TfCheckpointReader.read(path);
            }
            throw new WeightFormatException(path, "directory holds no model weights (looked for "
                    + SafetensorsReader.SINGLE_FILE + ", " + SafetensorsReader.INDEX_FILE
                    + ", pytorch_model.bin, variables/variables.index, *.index)");
        }
        String name = path.getFileName() == null ? "" : path.getFileName().toString();
        if (name.endsWith(".safetensors") || name.endsWith(".index.json")) {
            return SafetensorsReader.read(path);
        }
        if (name.endsWith(".index") || (!Files.exists(path) && Files.isRegularFile(Path.of(path + ".index")))) {
            return TfCheckpointReader.read(path);
        }
        if (!Files.isRegularFile(path)) {
            throw new WeightFormatException(path, "no such file (nor a TensorFlow checkpoint prefix)");
        }
        byte[] head;
        try (InputStream in = Files.newInputStream(path)) {
            head = in.readNBytes(9);
        }
        if (head.length >= 2 && head[0] == 'P' && head[1] == 'K' || head.length >= 1 && (head[0] & 0xff) == 0x80) {
            return PyTorchCheckpointReader.read(path); // zip archive, or a legacy pickle it reports
        }
        if (head.length == 9 && head[8] == '{') {
            return SafetensorsReader.read(path); // u64 header length, then the JSON object
        }
        throw new WeightFormatException(path, "unrecognised weight format (expected safetensors, a PyTorch zip "
                + "archive or a TensorFlow checkpoint)");
    }

    private static long countIndexFiles(Path dir) throws IOException {
        try (Stream<Path> s = Files.list(dir)) {
            return s.filter(p -> p.getFileName().toString().endsWith(".index")).count();
        }
    }
}
