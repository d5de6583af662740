package dev.solder.bert;

import dev.solder.DType;
import dev.solder.Generator;
import dev.solder.Ops;
import dev.solder.Tensor;
import dev.solder.nn.Dropout;
import dev.solder.nn.LayerNorm;
import dev.solder.nn.Module;

/** word + position + token-type embeddings, then LayerNorm and dropout (HF {@code BertEmbeddings}). */
public final class BertEmbeddings extends Module {
    private final EmbeddingTable word;
    private final EmbeddingTable position;
    private final EmbeddingTable tokenType;
    private final LayerNorm norm;
    private final Dropout dropout;
    private final int maxPositions;

    /** {@code init == null} builds the tables uninitialised (zeros), for loading (see {@link Dense}). */
    BertEmbeddings(BertConfig c, Generator init, Generator rng) {
        // HF passes padding_idx=pad_token_id to the word table only.
        int pad = c.padTokenId >= 0 && c.padTokenId < c.vocabSize ? c.padTokenId : -1;
        word = registerModule("word_embeddings", new EmbeddingTable(c.vocabSize, c.hiddenSize, pad, init, c.initializerRange));
        position = registerModule("position_embeddings", new EmbeddingTable(c.maxPositionEmbeddings, c.hiddenSize, -1, init,
                c.initializerRange));
        tokenType = registerModule("token_type_embeddings", new EmbeddingTable(c.typeVocabSize, c.hiddenSize, -1, init,
                c.initializerRange));
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
        // One op for gather, sum and LayerNorm: a backend may fuse it (the CUDA fused path does).
        Tensor h = Ops.embeddingsLayerNorm(inputIds, types, positions, word.weight(), tokenType.weight(),
                position.weight(), norm.weight(), norm.bias(), norm.eps(), word.paddingIdx());
        Tensor out = dropout.forward(h);
        if (out != h) {
            h.close();   // the dropout's backward regenerates its mask; it never reads h
        }
        return out;
    }

    /** The word embedding table (tied to the MLM decoder). */
    public Tensor wordEmbeddings() {
        return word.weight();
    }
}
