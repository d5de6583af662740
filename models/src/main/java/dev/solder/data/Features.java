package dev.solder.data;

/**
 * One tokenized example, unpadded: {@code [CLS] a [SEP] (b [SEP])} ids and token types, and its
 * target. The attention mask is all ones until the collator pads.
 *
 * @param inputIds token ids, special tokens included
 * @param tokenTypeIds 0 for the first text, 1 for the second
 * @param label class index, -1 for regression
 * @param score regression target, NaN for classification
 */
public record Features(int[] inputIds, int[] tokenTypeIds, int label, float score) {
    public int length() {
        return inputIds.length;
    }
}
