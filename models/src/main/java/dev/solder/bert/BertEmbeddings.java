package dev.solder.bert;

import dev.solder.DType;
import dev.solder.Generator;
import dev.solder.Ops;
import dev.solder.Tensor;
import dev.solder.nn.Dropout;
import dev.solder.nn.Embedding;
import dev.solder.nn.LayerNorm;
import dev.solder.nn.Module;

/** word + position + token-type embeddings, then LayerNorm and dropout (HF {@code BertEmbeddings}). */
public final class BertEmbeddings extends Module {
    private final Embedding word;
    private final Embedding position;
    private final Embedding tokenType;
    private final LayerNorm norm;
    private final Dropout dropout;
    private final int maxPositions;

    BertEmbeddings(BertConfig c, Generator init, Generator rng) {
        word = registerModule("word_embeddings", new Embedding(c.vocabSize, c.hiddenSize, c.padTokenId, init, c.initializerRange));
        position = registerModule("position_embeddings", new Embedding(c.maxPositionEmbeddings, c.hiddenSize, -1, init, c.initializerRange));
        tokenType = registerModule("token_type_embeddings", new Embedding(c.typeVocabSize, c.hiddenSize, -1, init, c.initializerRange));
        norm = registerModule("LayerNorm", new LayerNorm(c.hiddenSize, c.layerNormEps));
        dropout = registerModule("dropout", new Dropout(c.hiddenDropoutProb, rng));
        maxPositions = c.maxPositionEmbeddings;
    }

    /** {@code inputIds [B, S]}, {@code tokenTypeIds [B, S]} or null (all zero) → {@code [B, S, H]}. */
    public Tensor forward(Tensor inputIds, Tensor tokenTypeIds) {
        int b = inputIds.dim(0);
        int s = inputIds.dim(1);
        if (s > maxPositions) {
            throw new IllegalArgumentException("BERT embeddings: sequence length " + s + " exceeds max_position_embeddings "
                    + maxPositions);
        }
        Tensor positions = Tensor.arange(0, s, DType.INT64, inputIds.device());
        Tensor types = tokenTypeIds != null ? tokenTypeIds : Tensor.zeros(DType.INT64, inputIds.device(), b, s);
        Tensor sum = Ops.add(Ops.add(word.forward(inputIds), tokenType.forward(types)), position.forward(positions));
        return dropout.forward(norm.forward(sum));
    }

    /** The word embedding table (tied to the MLM decoder). */
    public Tensor wordEmbeddings() {
        return word.weight();
    }
}
