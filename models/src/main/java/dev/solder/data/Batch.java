package dev.solder.data;

import dev.solder.Tensor;

/**
 * One collated batch: {@code [B, S]} int64 ids, token types and attention mask, padded to the
 * longest row, and {@code [B]} labels (int64 classes, or float32 regression targets). The tensors
 * belong to the scope open when it was collated.
 *
 * @param tokens the number of real (unpadded) tokens
 */
public record Batch(Tensor inputIds, Tensor tokenTypeIds, Tensor attentionMask, Tensor labels, int size, long tokens) {
    /** The padded sequence length. */
    public int seqLength() {
        return inputIds.dim(1);
    }
}
