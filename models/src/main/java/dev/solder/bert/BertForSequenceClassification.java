package dev.solder.bert;

import dev.solder.DType;
import dev.solder.Generator;
import dev.solder.Ops;
import dev.solder.Tensor;
import dev.solder.nn.Dropout;
import dev.solder.nn.Module;
import dev.solder.tokenizer.BertTokenizer;
import java.io.IOException;
import java.nio.file.Path;
import java.util.List;

/**
 * BERT with a classification head (HF {@code BertForSequenceClassification}):
 * {@code classifier(dropout(pooled))}; loss is mean cross-entropy, or MSE when
 * {@code num_labels == 1} (regression, e.g. STS-B).
 *
 * <pre>{@code
 * var config = BertConfig.builder().vocabSize(100).hiddenSize(32).numHiddenLayers(1)
 *         .numAttentionHeads(2).intermediateSize(64).numLabels(3).build();
 * try (var model = new BertForSequenceClassification(config, new Generator(42)); var s = Scope.open()) {
 *     Tensor ids = Tensor.ofLongs(new long[] {2, 17, 3}, 1, 3);
 *     Tensor logits = model.forward(ids, null, null);          // [1, 3]
 *     Tensor loss = model.loss(logits, Tensor.ofLongs(new long[] {1}));
 *     loss.backward();
 * }
 * }</pre>
 *
 * <p>Pretrained, fine-tuned and saved so that {@code transformers} loads it:
 *
 * <pre>{@code
 * try (var model = BertForSequenceClassification.fromPretrained("bert-base-uncased", List.of("neg", "pos"))) {
 *     // ... train ...
 *     model.save(Path.of("out/sst2"), Bert.tokenizer("bert-base-uncased"));
 * }
 * // Python: AutoModelForSequenceClassification.from_pretrained("out/sst2")
 * }</pre>
 */
public final class BertForSequenceClassification extends Module {
    private final BertModel bert;
    private final Dropout dropout;
    private final Dense classifier;
    private final BertConfig config;

    /** A freshly initialised model: weights drawn from {@code init}, dropout seeds from a fork of it. */
    public BertForSequenceClassification(BertConfig config, Generator init) {
        this(config, init, init.fork());
    }

    /** {@code init == null}: uninitialised (zeros), for loading (see {@link Dense}). */
    BertForSequenceClassification(BertConfig config, Generator init, Generator rng) {
        this.config = config.validate();
        bert = registerModule("bert", new BertModel(config, init, rng, true));
        float p = config.classifierDropout != null ? config.classifierDropout : config.hiddenDropoutProb;
        dropout = registerModule("dropout", new Dropout(p, rng));
        classifier = registerModule("classifier", new Dense(config.hiddenSize, config.numLabels(), init, config.initializerRange));
        if (config.architectures.isEmpty() || !config.architectures.contains("BertForSequenceClassification")) {
            config.architectures = new java.util.ArrayList<>(java.util.List.of("BertForSequenceClassification"));
        }
    }

    // ------------------------------------------------------------------ pretrained

    /**
     * The model at {@code nameOrPath} with the labels its {@code config.json} names (a fine-tuned
     * classifier; for a base checkpoint that is HF's default of two labels).
     */
    public static BertForSequenceClassification fromPretrained(String nameOrPath) throws IOException {
        return fromPretrained(nameOrPath, Bert.Options.defaults());
    }

    /** Like {@link #fromPretrained(String)} with explicit options. */
    public static BertForSequenceClassification fromPretrained(String nameOrPath, Bert.Options options) throws IOException {
        return Bert.load(nameOrPath, options, c -> c, (c, rng) -> new BertForSequenceClassification(c, null, rng));
    }

    /**
     * The encoder (and pooler) of {@code nameOrPath} under a classifier of {@code numLabels}
     * classes; a classifier the checkpoint lacks is initialised from seed 42 with a warning.
     *
     * <pre>{@code
     * var model = BertForSequenceClassification.fromPretrained("bert-base-uncased", 3);   // MNLI
     * }</pre>
     */
    public static BertForSequenceClassification fromPretrained(String nameOrPath, int numLabels) throws IOException {
        return fromPretrained(nameOrPath, numLabels, Bert.Options.defaults());
    }

    /** Like {@link #fromPretrained(String, int)} with explicit options (seed, device, ...). */
    public static BertForSequenceClassification fromPretrained(String nameOrPath, int numLabels, Bert.Options options)
            throws IOException {
        return Bert.load(nameOrPath, options, c -> Bert.withNumLabels(c, numLabels),
                (c, rng) -> new BertForSequenceClassification(c, null, rng));
    }

    /** With label names: {@code id2label} / {@code label2id} are saved with the model. */
    public static BertForSequenceClassification fromPretrained(String nameOrPath, List<String> labels) throws IOException {
        return fromPretrained(nameOrPath, labels, Bert.Options.defaults());
    }

    /** Like {@link #fromPretrained(String, List)} with explicit options. */
    public static BertForSequenceClassification fromPretrained(String nameOrPath, List<String> labels, Bert.Options options)
            throws IOException {
        return Bert.load(nameOrPath, options, c -> Bert.withLabels(c, labels),
                (c, rng) -> new BertForSequenceClassification(c, null, rng));
    }

    // ------------------------------------------------------------------ saving

    /**
     * Writes {@code model.safetensors} and {@code config.json} into {@code dir} (created if
     * needed, atomically) so that {@code AutoModelForSequenceClassification.from_pretrained(dir)}
     * loads this model unchanged.
     */
    public void save(Path dir) throws IOException {
        save(dir, null);
    }

    /** Like {@link #save(Path)}, also writing the tokenizer's files (may be null). */
    public void save(Path dir, BertTokenizer tokenizer) throws IOException {
        ModelDirectory.save(this, config, "BertForSequenceClassification", dir, tokenizer);
    }

    // ------------------------------------------------------------------ model

    public BertConfig config() {
        return config;
    }

    public BertModel bert() {
        return bert;
    }

    /** The label names, by index ({@code id2label}). */
    public List<String> labels() {
        return List.copyOf(config.id2label);
    }

    /** Logits {@code [B, num_labels]}. */
    public Tensor forward(Tensor inputIds, Tensor tokenTypeIds, Tensor attentionMask) {
        Tensor pooled = bert.pooled(inputIds, tokenTypeIds, attentionMask);
        return classifier.forward(dropout.forward(pooled));
    }

    /** HF's loss for this head: cross-entropy, or MSE for one label. */
    public Tensor loss(Tensor logits, Tensor labels) {
        if (config.numLabels() == 1 || "regression".equals(config.problemType)) {
            Tensor target = labels.dtype().isFloating() ? labels : labels.to(DType.FLOAT32);
            return Ops.mse(logits.reshape(-1), target.reshape(-1));
        }
        return Ops.crossEntropy(logits, labels);
    }
}
