package dev.solder.bert;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.SerializationFeature;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.solder.DType;
import dev.solder.Tensor;
import dev.solder.io.SafetensorsWriter;
import dev.solder.nn.Module;
import dev.solder.tokenizer.BertTokenizer;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.AtomicMoveNotSupportedException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.ArrayList;
import java.util.Collections;
import java.util.Comparator;
import java.util.IdentityHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.stream.Stream;

/**
 * Writes a model directory that {@code transformers} loads unchanged ({@code save_pretrained}'s
 * layout): {@code model.safetensors} (float32, HF names, each tensor once), {@code config.json}
 * with {@code architectures}, {@code id2label}/{@code label2id}, {@code model_type},
 * {@code torch_dtype} and {@code transformers_version}, and the tokenizer files when a tokenizer is
 * given.
 *
 * <p>Atomic: everything is written into a temporary sibling directory first. A new directory is
 * then renamed into place in one step; into an existing one each file is renamed over its old
 * version (one atomic step per file), so a reader sees complete files only and a failed save
 * leaves the old files as they were.
 */
final class ModelDirectory {
    private static final ObjectMapper JSON = new ObjectMapper().enable(SerializationFeature.INDENT_OUTPUT);

    private ModelDirectory() {
    }

    static void save(Module model, BertConfig config, String architecture, Path dir, BertTokenizer tokenizer)
            throws IOException {
        Path target = dir.toAbsolutePath().normalize();
        if (Files.exists(target) && !Files.isDirectory(target)) {
            throw new IOException(target + " exists and is not a directory");
        }
        Path parent = target.getParent();
        Files.createDirectories(parent);
        Path tmp = Files.createTempDirectory(parent, "." + target.getFileName() + ".tmp-");
        boolean done = false;
        try {
            writeWeights(model, tmp.resolve("model.safetensors"));
            Files.writeString(tmp.resolve("config.json"), JSON.writeValueAsString(configJson(config, architecture)) + "\n",
                    StandardCharsets.UTF_8);
            if (tokenizer != null) {
                tokenizer.save(tmp);
            }
            publish(tmp, target);
            done = true;
        } finally {
            if (!done) {
                deleteTree(tmp);
            }
        }
    }

    /** The config as {@code save_pretrained} writes it for {@code architecture}. */
    static ObjectNode configJson(BertConfig config, String architecture) {
        BertConfig c = config.copy();
        c.architectures = new ArrayList<>(List.of(architecture));
        ObjectNode o = c.toJson();
        o.put("torch_dtype", "float32");
        o.put("transformers_version", Bert.TRANSFORMERS_VERSION);
        return o;
    }

    /**
     * The state dict as float32 safetensors. A tensor registered under several names (tied) is
     * written once, under its first name, as HF's {@code save_pretrained} drops tied duplicates.
     */
    static void writeWeights(Module model, Path file) throws IOException {
        Map<String, Tensor> sd = model.stateDict();
        Set<Tensor> seen = Collections.newSetFromMap(new IdentityHashMap<>());
        List<SafetensorsWriter.Pending> pending = new ArrayList<>(sd.size());
        for (Map.Entry<String, Tensor> e : sd.entrySet()) {
            Tensor t = e.getValue();
            if (!seen.add(t)) {
                continue;
            }
            long[] shape = java.util.Arrays.stream(t.shape()).asLongStream().toArray();
            // Copied down one tensor at a time, as the file is written (not all 440 MB up front).
            pending.add(new SafetensorsWriter.Pending(e.getKey(), DType.FLOAT32, shape, dst -> {
                if (t.dtype() == DType.FLOAT32) {
                    t.copyTo(dst);
                } else {
                    try (Tensor f = t.to(DType.FLOAT32)) {
                        f.copyTo(dst);
                    }
                }
            }));
        }
        SafetensorsWriter.writePending(file, pending, SafetensorsWriter.PT_METADATA);
    }

    private static void publish(Path tmp, Path target) throws IOException {
        if (!Files.exists(target)) {
            try {
                Files.move(tmp, target, StandardCopyOption.ATOMIC_MOVE);
                relaxPermissions(target);
                return;
            } catch (AtomicMoveNotSupportedException | java.nio.file.FileAlreadyExistsException e) {
                Files.createDirectories(target);   // raced with another writer: fall through, file by file
            }
        }
        List<Path> files;
        try (Stream<Path> s = Files.list(tmp)) {
            files = s.sorted(Comparator.comparing((Path p) -> p.getFileName().toString().equals("config.json"))).toList();
        }
        // config.json last: a reader that waits for it finds the weights in place.
        for (Path f : files) {
            Files.move(f, target.resolve(f.getFileName()), StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING);
        }
        Files.delete(tmp);
    }

    /** Temporary directories are created owner-only; a saved model is ordinary data. */
    private static void relaxPermissions(Path dir) {
        try {
            Files.setPosixFilePermissions(dir, java.nio.file.attribute.PosixFilePermissions.fromString("rwxr-xr-x"));
        } catch (UnsupportedOperationException | IOException ignored) {
            // not a POSIX file system
        }
    }

    private static void deleteTree(Path p) {
        try (Stream<Path> s = Files.walk(p)) {
            for (Path q : s.sorted(Comparator.reverseOrder()).toList()) {
                Files.deleteIfExists(q);
            }
        } catch (IOException ignored) {
            // best effort: a leftover hidden temp directory is harmless
        }
    }
}
