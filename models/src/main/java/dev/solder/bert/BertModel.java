package dev.solder.bert;

import dev.solder.Generator;
import dev.solder.Ops;
import dev.solder.Tensor;
import dev.solder.nn.Module;
import dev.solder.nn.ModuleList;
import dev.solder.tokenizer.BertTokenizer;
import java.io.IOException;
import java.nio.file.Path;

/**
 * The BERT encoder (HF {@code BertModel}): embeddings, {@code num_hidden_layers} layers
 * and the pooler {@code tanh(dense(h[:, 0]))}. Parameter names match HF's without the
 * {@code bert.} prefix, which the task heads add.
 *
 * <pre>{@code
 * var config = BertConfig.builder().vocabSize(100).hiddenSize(32).numHiddenLayers(2)
 *         .numAttentionHeads(4).intermediateSize(64).build();
 * try (var bert = new BertModel(config, new Generator(42), true); var s = Scope.open()) {
 *     bert.eval();
 *     Tensor ids = Tensor.ofLongs(new long[] {2, 17, 3, 0}, 1, 4);
 *     Tensor mask = Tensor.ofLongs(new long[] {1, 1, 1, 0}, 1, 4);
 *     BertModel.Output out = bert.forward(ids, null, mask);
 *     System.out.println(out.lastHiddenState());   // [1, 4, 32]
 * }
 * }</pre>
 *
 * <p>Pretrained (a checkpoint of any BERT task model loads; its head is ignored):
 *
 * <pre>{@code
 * try (var bert = BertModel.fromPretrained("bert-base-uncased")) {
 *     bert.eval();
 *     // bert.forward(ids, types, mask).lastHiddenState() is [B, S, 768]
 * }
 * }</pre>
 */
public final class BertModel extends Module {
    private final BertConfig config;
    private final BertEmbeddings embeddings;
    private final ModuleList<BertLayer> layers;
    private final Dense pooler;

    /** Hidden states of the last layer and the pooled [CLS] vector (null without pooler). */
    public record Output(Tensor lastHiddenState, Tensor pooled) {
    }

    /**
     * A freshly initialised encoder (normal(0, initializer_range) weights, zero biases,
     * LayerNorm 1/0). {@code init} draws the weights; dropout seeds come from a fork of it.
     */
    public BertModel(BertConfig config, Generator init, boolean addPooler) {
        this(config, init, init.fork(), addPooler);
    }

    /** {@code init == null}: uninitialised (zeros) for loading; {@code rng} seeds dropout. */
    BertModel(BertConfig config, Generator init, Generator rng, boolean addPooler) {
        this.config = config.validate();
        embeddings = registerModule("embeddings", new BertEmbeddings(config, init, rng));
        Module encoder = registerModule("encoder", new BertLayer.Holder());
        layers = encoder.registerModule("layer", new ModuleList<>());
        for (int i = 0; i < config.numHiddenLayers; i++) {
            layers.add(new BertLayer(config, init, rng));
        }
        if (addPooler) {
            Module p = registerModule("pooler", new BertLayer.Holder());
            pooler = p.registerModule("dense", new Dense(config.hiddenSize, config.hiddenSize, init, config.initializerRange));
        } else {
            pooler = null;
        }
    }

    /** The encoder and pooler of {@code nameOrPath}; a pooler the checkpoint lacks is initialised (seed 42). */
    public static BertModel fromPretrained(String nameOrPath) throws IOException {
        return fromPretrained(nameOrPath, Bert.Options.defaults());
    }

    /** Like {@link #fromPretrained(String)} with explicit options. */
    public static BertModel fromPretrained(String nameOrPath, Bert.Options options) throws IOException {
        return fromPretrained(nameOrPath, true, options);
    }

    /**
     * The encoder of {@code nameOrPath}, with or without the pooler (HF's {@code add_pooling_layer};
     * without it, a checkpoint's pooler weights are ignored and nothing is initialised for it —
     * what embedding extraction wants).
     */
    public static BertModel fromPretrained(String nameOrPath, boolean addPoolingLayer, Bert.Options options)
            throws IOException {
        return Bert.load(nameOrPath, options, c -> c, (c, rng) -> new BertModel(c, null, rng, addPoolingLayer));
    }

    /**
     * Writes {@code model.safetensors} (names without the {@code bert.} prefix, as HF's
     * {@code BertModel.save_pretrained}) and {@code config.json} into {@code dir}, atomically.
     */
    public void save(Path dir) throws IOException {
        save(dir, null);
    }

    /** Like {@link #save(Path)}, also writing the tokenizer's files (may be null). */
    public void save(Path dir, BertTokenizer tokenizer) throws IOException {
        ModelDirectory.save(this, config, "BertModel", dir, tokenizer);
    }

    public BertConfig config() {
        return config;
    }

    /** True when the model has the pooler ({@code tanh(dense(h[:, 0]))}). */
    public boolean hasPooler() {
        return pooler != null;
    }

    /**
     * {@code inputIds [B, S]} (int32/int64), {@code tokenTypeIds [B, S]} or null,
     * {@code attentionMask [B, S]} (1 = token, 0 = padding) or null.
     */
    public Output forward(Tensor inputIds, Tensor tokenTypeIds, Tensor attentionMask) {
        if (inputIds.rank() != 2) {
            throw new IllegalArgumentException("BERT: input_ids must be [batch, seq], got " + inputIds.describe());
        }
        Tensor h = embeddings.forward(inputIds, tokenTypeIds);
        for (BertLayer layer : layers) {
            h = nextLayer(h, layer.forward(h, attentionMask));
        }
        Tensor pooled = null;
        if (pooler != null) {
            Tensor cls = h.narrow(1, 0, 1).reshape(h.dim(0), h.dim(2));
            pooled = Ops.tanh(pooler.forward(cls));
        }
        return new Output(h, pooled);
    }

    /**
     * The pooled {@code [CLS]} vector {@code [B, H]} — what {@code forward(...).pooled()}
     * returns, computed on the real tokens only where it can ({@link PackedTokens}: CPU
     * batches whose sequences start with a token), with the last layer reduced to the
     * {@code [CLS]} rows. Throws without a pooler.
     */
    public Tensor pooled(Tensor inputIds, Tensor tokenTypeIds, Tensor attentionMask) {
        if (pooler == null) {
            throw new IllegalStateException("BERT: this encoder was built without a pooler (add_pooling_layer=False)");
        }
        PackedTokens packed = PackedTokens.of(inputIds, attentionMask);
        if (packed == null) {
            return forward(inputIds, tokenTypeIds, attentionMask).pooled();
        }
        Tensor h = embeddings.forward(inputIds, tokenTypeIds);
        h = nextLayer(h, packed.pack(h));
        for (int i = 0; i < layers.size(); i++) {
            h = nextLayer(h, layers.get(i).forward(h, attentionMask, packed, i == layers.size() - 1));
        }
        if (layers.size() == 0) {
            h = nextLayer(h, packed.firstTokens(h));
        }
        Tensor pooled = Ops.tanh(pooler.forward(h));
        h.close();
        return pooled;
    }

    /**
     * {@code next}, closing the hidden states {@code h} it was computed from: nothing reads
     * them again — the ops that consumed them keep what their backward needs ({@link BertLayer}
     * explains why that is safe) — so the step's peak does not hold every layer's output.
     */
    private static Tensor nextLayer(Tensor h, Tensor next) {
        if (next != h) {
            h.close();
        }
        return next;
    }

    BertEmbeddings embeddings() {
        return embeddings;
    }
}
