package dev.solder.train;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.solder.Generator;
import dev.solder.Tensor;
import dev.solder.bert.BertForSequenceClassification;
import dev.solder.optim.AdamW;
import dev.solder.optim.LinearSchedule;
import dev.solder.tokenizer.BertTokenizer;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.AtomicMoveNotSupportedException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.Stream;

/**
 * A {@code checkpoint-STEP/} folder, HF's layout with Solder's file formats:
 * <pre>
 *   model.safetensors        weights (float32, HF names; loads in transformers)
 *   config.json              the model config (with id2label)
 *   optimizer.safetensors    AdamW state: NAME.exp_avg, NAME.exp_avg_sq, NAME.step; lr in the metadata
 *   scheduler.json           schedule type, step, base lr, warmup and total steps
 *   rng_state.json           states of the model's dropout generators
 *   trainer_state.json       HF's TrainerState (+ the data position: epoch, batch in epoch, shuffle seed)
 *   training_args.json       the TrainingArguments with HF's names
 *   vocab.txt, tokenizer.json, ...   the tokenizer, when the Trainer has one
 * </pre>
 * Written atomically: everything goes into a hidden {@code .tmp-checkpoint-STEP-*} sibling, each
 * file synced, and the folder is renamed to {@code checkpoint-STEP} only when complete. A crash
 * leaves at worst a temporary folder, which {@link #latest} never picks and {@link #removeStale}
 * deletes.
 */
final class TrainerCheckpoint {
    static final Pattern NAME = Pattern.compile("checkpoint-(\\d+)");
    static final String TMP_PREFIX = ".tmp-checkpoint-";
    static final String TRASH_PREFIX = ".trash-checkpoint-";

    private TrainerCheckpoint() {
    }

    record Parts(BertForSequenceClassification model, AdamW optimizer, LinearSchedule schedule, String scheduleType,
                 Map<String, Generator> generators, TrainerState state, TrainingArguments args, BertTokenizer tokenizer) {
    }

    /** Writes {@code checkpoint-STEP} under {@code outputDir} atomically and returns its path. */
    static Path save(Path outputDir, Parts p) throws IOException {
        long step = p.state().globalStep;
        Files.createDirectories(outputDir);
        Path tmp = Files.createTempDirectory(outputDir, TMP_PREFIX + step + "-");
        boolean done = false;
        try {
            p.model().save(tmp, p.tokenizer());   // model.safetensors, config.json (+ tokenizer files), as save_pretrained
            saveOptimizer(tmp.resolve("optimizer.safetensors"), p.optimizer());
            ObjectNode sch = TrainerState.JSON.createObjectNode();
            sch.put("type", p.scheduleType());
            if (p.schedule() != null) {
                sch.put("step", p.schedule().currentStep());
                sch.put("base_lr", p.schedule().baseLr());
                sch.put("warmup_steps", p.schedule().warmupSteps());
                sch.put("total_steps", p.schedule().totalSteps());
            }
            sch.put("last_lr", p.optimizer().lr());
            writeText(tmp.resolve("scheduler.json"), TrainerState.pythonJson(sch, 2));
            ObjectNode rng = TrainerState.JSON.createObjectNode();
            ObjectNode gens = rng.putObject("generators");
            for (Map.Entry<String, Generator> e : p.generators().entrySet()) {
                gens.put(e.getKey(), e.getValue().state());
            }
            writeText(tmp.resolve("rng_state.json"), TrainerState.pythonJson(rng, 2));
            writeText(tmp.resolve("trainer_state.json"), p.state().toJsonString());
            writeText(tmp.resolve("training_args.json"), TrainerState.pythonJson(p.args().toJson(), 2));
            syncDir(tmp);
            try {
                // Temporary folders are created owner-only; a checkpoint is ordinary data.
                Files.setPosixFilePermissions(tmp, java.nio.file.attribute.PosixFilePermissions.fromString("rwxr-xr-x"));
            } catch (UnsupportedOperationException | IOException ignored) {
                // not a POSIX file system
            }
            Path target = outputDir.resolve("checkpoint-" + step);
            if (Files.exists(target)) {
                // A checkpoint of this step from an earlier run: move it aside first (renaming onto a
                // non-empty folder fails), then drop it once the new one is in place.
                Path trash = Files.createTempDirectory(outputDir, TRASH_PREFIX + step + "-");
                Files.delete(trash);
                move(target, trash);
                move(tmp, target);
                deleteTree(trash);
            } else {
                move(tmp, target);
            }
            syncDir(outputDir);
            done = true;
            return target;
        } finally {
            if (!done) {
                deleteTree(tmp);
            }
        }
    }

    /** Restores weights, optimizer, schedule and generators from {@code dir}; returns its trainer state. */
    static TrainerState load(Path dir, Parts p) throws IOException {
        for (String f : List.of("model.safetensors", "optimizer.safetensors", "scheduler.json", "rng_state.json",
                "trainer_state.json")) {
            if (!Files.isRegularFile(dir.resolve(f))) {
                throw new IOException("checkpoint " + dir + " has no " + f + " (not a Solder checkpoint, or damaged)");
            }
        }
        TensorFiles.read(dir.resolve("model.safetensors"), (Map<String, Tensor> sd) -> p.model().loadStateDict(sd, true));
        loadOptimizer(dir.resolve("optimizer.safetensors"), p.optimizer());
        JsonNode sch = TrainerState.JSON.readTree(dir.resolve("scheduler.json").toFile());
        if (p.schedule() != null) {
            if (sch.path("total_steps").asLong() != p.schedule().totalSteps()
                    || sch.path("warmup_steps").asLong() != p.schedule().warmupSteps()) {
                throw new IllegalStateException("checkpoint " + dir + " was trained for " + sch.path("total_steps").asLong()
                        + " steps with " + sch.path("warmup_steps").asLong() + " warmup steps; this run has "
                        + p.schedule().totalSteps() + " and " + p.schedule().warmupSteps()
                        + " — resume with the arguments of the interrupted run");
            }
            p.schedule().loadState(new LinearSchedule.State(sch.path("step").asLong(), sch.path("base_lr").asDouble()));
        }
        p.optimizer().setLr(sch.path("last_lr").asDouble(p.optimizer().lr()));
        JsonNode gens = TrainerState.JSON.readTree(dir.resolve("rng_state.json").toFile()).path("generators");
        for (Map.Entry<String, Generator> e : p.generators().entrySet()) {
            JsonNode v = gens.get(e.getKey());
            if (v == null) {
                throw new IllegalStateException("checkpoint " + dir + " has no state for generator " + e.getKey());
            }
            e.getValue().setState(v.asLong());
        }
        return TrainerState.fromJson(TrainerState.JSON.readTree(dir.resolve("trainer_state.json").toFile()));
    }

    private static void saveOptimizer(Path file, AdamW opt) throws IOException {
        AdamW.State st = opt.stateDict();
        Map<String, Tensor> tensors = new LinkedHashMap<>();
        List<Tensor> temps = new ArrayList<>();
        try {
            for (Map.Entry<String, AdamW.ParamState> e : st.params().entrySet()) {
                tensors.put(e.getKey() + ".exp_avg", e.getValue().expAvg());
                tensors.put(e.getKey() + ".exp_avg_sq", e.getValue().expAvgSq());
                Tensor step = dev.solder.nn.Params.full(e.getValue().step(), dev.solder.DType.INT64, dev.solder.Device.cpu(), 1);
                temps.add(step);
                tensors.put(e.getKey() + ".step", step);
            }
            Map<String, String> meta = new LinkedHashMap<>();
            meta.put("format", "solder-adamw");
            meta.put("lr", Double.toString(st.lr()));
            TensorFiles.write(file, tensors, meta);
        } finally {
            temps.forEach(Tensor::close);
        }
    }

    private static void loadOptimizer(Path file, AdamW opt) throws IOException {
        TensorFiles.read(file, (Map<String, Tensor> t, Map<String, String> meta) -> {
            Map<String, AdamW.ParamState> params = new LinkedHashMap<>();
            for (String k : t.keySet()) {
                if (k.endsWith(".exp_avg")) {
                    String name = k.substring(0, k.length() - ".exp_avg".length());
                    Tensor m = t.get(name + ".exp_avg");
                    Tensor v = t.get(name + ".exp_avg_sq");
                    Tensor s = t.get(name + ".step");
                    if (v == null || s == null) {
                        throw new IllegalStateException(file + ": optimizer state of '" + name + "' is incomplete");
                    }
                    params.put(name, new AdamW.ParamState(s.toLongArray()[0], m, v));
                }
            }
            opt.loadStateDict(new AdamW.State(Double.parseDouble(meta.getOrDefault("lr", Double.toString(opt.lr()))), params));
        });
    }

    /** The {@code checkpoint-N} folder with the largest N holding a {@code trainer_state.json}, or null. */
    static Path latest(Path outputDir) {
        List<Path> all = list(outputDir);
        return all.isEmpty() ? null : all.get(all.size() - 1);
    }

    /** Complete checkpoints, oldest (smallest step) first. */
    static List<Path> list(Path outputDir) {
        if (!Files.isDirectory(outputDir)) {
            return List.of();
        }
        try (Stream<Path> s = Files.list(outputDir)) {
            return s.filter(Files::isDirectory)
                    .filter(d -> NAME.matcher(d.getFileName().toString()).matches())
                    .filter(d -> Files.isRegularFile(d.resolve("trainer_state.json")))
                    .sorted(Comparator.comparingLong(TrainerCheckpoint::stepOf))
                    .toList();
        } catch (IOException e) {
            throw new UncheckedIOException("cannot list " + outputDir + ": " + e.getMessage(), e);
        }
    }

    static long stepOf(Path checkpoint) {
        Matcher m = NAME.matcher(checkpoint.getFileName().toString());
        return m.matches() ? Long.parseLong(m.group(1)) : -1;
    }

    /** Deletes leftovers of interrupted saves; returns their names. */
    static List<String> removeStale(Path outputDir) {
        List<String> removed = new ArrayList<>();
        if (!Files.isDirectory(outputDir)) {
            return removed;
        }
        try (Stream<Path> s = Files.list(outputDir)) {
            for (Path d : s.toList()) {
                String n = d.getFileName().toString();
                // "..tmp-checkpoint-*": the model writer's own temporary sibling of one of ours.
                if (Files.isDirectory(d) && (n.startsWith(TMP_PREFIX) || n.startsWith(TRASH_PREFIX) || n.startsWith("." + TMP_PREFIX))) {
                    deleteTree(d);
                    removed.add(n);
                }
            }
        } catch (IOException e) {
            throw new UncheckedIOException("cannot list " + outputDir + ": " + e.getMessage(), e);
        }
        return removed;
    }

    /** Keeps the newest {@code limit} checkpoints (0: all), deleting older ones (renamed away first, so none is ever half there). */
    static void rotate(Path outputDir, int limit) throws IOException {
        if (limit <= 0) {
            return;
        }
        List<Path> all = list(outputDir);
        for (int i = 0; i < all.size() - limit; i++) {
            Path trash = Files.createTempDirectory(outputDir, TRASH_PREFIX + stepOf(all.get(i)) + "-");
            Files.delete(trash);
            move(all.get(i), trash);
            deleteTree(trash);
        }
    }

    static void writeText(Path file, String text) throws IOException {
        try (FileChannel ch = FileChannel.open(file, StandardOpenOption.CREATE, StandardOpenOption.WRITE,
                StandardOpenOption.TRUNCATE_EXISTING)) {
            ByteBuffer b = ByteBuffer.wrap(text.getBytes(StandardCharsets.UTF_8));
            while (b.hasRemaining()) {
                ch.write(b);
            }
            ch.force(true);
        }
    }

    /** Writes {@code file} through a synced temporary sibling and an atomic rename. */
    static void writeTextAtomically(Path file, String text) throws IOException {
        Path tmp = file.resolveSibling("." + file.getFileName() + ".tmp");
        writeText(tmp, text);
        move(tmp, file);
    }

    private static void move(Path from, Path to) throws IOException {
        try {
            Files.move(from, to, StandardCopyOption.ATOMIC_MOVE);
        } catch (AtomicMoveNotSupportedException e) {
            throw new IOException("cannot rename " + from + " to " + to + " atomically", e);
        }
    }

    private static void syncDir(Path dir) {
        try (FileChannel ch = FileChannel.open(dir, StandardOpenOption.READ)) {
            ch.force(true);
        } catch (IOException | UnsupportedOperationException ignored) {
            // Not every file system lets a directory be opened for syncing; the rename is still atomic.
        }
    }

    static void deleteTree(Path p) {
        if (!Files.exists(p)) {
            return;
        }
        try (Stream<Path> s = Files.walk(p)) {
            for (Path q : s.sorted(Comparator.reverseOrder()).toList()) {
                Files.deleteIfExists(q);
            }
        } catch (IOException e) {
            throw new UncheckedIOException("cannot delete " + p + ": " + e.getMessage(), e);
        }
    }
}
