package dev.solder.bert;

import dev.solder.DType;
import dev.solder.Generator;
import dev.solder.Ops;
import dev.solder.Tensor;
import dev.solder.nn.Dropout;
import dev.solder.nn.Linear;
import dev.solder.nn.Module;

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
 */
public final class BertForSequenceClassification extends Module {
    private final BertModel bert;
    private final Dropout dropout;
    private final Linear classifier;
    private final BertConfig config;

    public BertForSequenceClassification(BertConfig config, Generator init) {
        this.config = config.validate();
        Generator rng = init.fork();
        bert = registerModule("bert", new BertModel(config, init, rng, true));
        float p = config.classifierDropout != null ? config.classifierDropout : config.hiddenDropoutProb;
        dropout = registerModule("dropout", new Dropout(p, rng));
        classifier = registerModule("classifier", new Linear(config.hiddenSize, config.numLabels(), true, init, config.initializerRange));
        if (config.architectures.isEmpty() || !config.architectures.contains("BertForSequenceClassification")) {
            config.architectures = new java.util.ArrayList<>(java.util.List.of("BertForSequenceClassification"));
        }
    }

    public BertConfig config() {
        return config;
    }

    public BertModel bert() {
        return bert;
    }

    /** Logits {@code [B, num_labels]}. */
    public Tensor forward(Tensor inputIds, Tensor tokenTypeIds, Tensor attentionMask) {
        Tensor pooled = bert.forward(inputIds, tokenTypeIds, attentionMask).pooled();
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
