package dev.solder.bert;

import dev.solder.Generator;
import dev.solder.Ops;
import dev.solder.Tensor;
import dev.solder.nn.LayerNorm;
import dev.solder.nn.Linear;
import dev.solder.nn.Module;
import dev.solder.nn.Params;

/**
 * BERT with the masked-language-model head (HF {@code BertForMaskedLM}):
 * {@code cls.predictions.transform} (dense → GELU → LayerNorm), then a decoder whose
 * weight is the word-embedding table (tied, as HF) plus {@code cls.predictions.bias}.
 *
 * <pre>{@code
 * // with real weights: Bert.fromPretrained("bert-base-uncased") — see dev.solder.bert.Bert
 * try (var mlm = new BertForMaskedLM(BertConfig.builder().vocabSize(50).hiddenSize(16)
 *         .numHiddenLayers(1).numAttentionHeads(2).intermediateSize(32).build(), new Generator(1));
 *      var s = Scope.open()) {
 *     Tensor logits = mlm.forward(Tensor.ofLongs(new long[] {2, 4, 3}, 1, 3), null, null);  // [1, 3, 50]
 * }
 * }</pre>
 */
public final class BertForMaskedLM extends Module {
    private final BertModel bert;
    private final Linear transform;
    private final LayerNorm transformNorm;
    private final BertConfig config;

    public BertForMaskedLM(BertConfig config, Generator init) {
        this.config = config.validate();
        bert = registerModule("bert", new BertModel(config, init, init.fork(), false));
        Module cls = registerModule("cls", new BertLayer.Holder());
        Module predictions = cls.registerModule("predictions", new BertLayer.Holder());
        Module t = predictions.registerModule("transform", new BertLayer.Holder());
        transform = t.registerModule("dense", new Linear(config.hiddenSize, config.hiddenSize, true, init, config.initializerRange));
        transformNorm = t.registerModule("LayerNorm", new LayerNorm(config.hiddenSize, config.layerNormEps));
        predictions.registerParameter("bias", Params.zeros(config.vocabSize));
        if (config.architectures.isEmpty()) {
            config.architectures = new java.util.ArrayList<>(java.util.List.of("BertForMaskedLM"));
        }
        predictionsModule = predictions;
    }

    private final Module predictionsModule;

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
        Tensor bias = predictionsModule.namedParameters().get("bias");
        return Ops.linear(norm, bert.embeddings().wordEmbeddings(), bias);
    }
}
