package dev.solder.tokenizer;

import java.util.AbstractList;
import java.util.Arrays;
import java.util.List;
import java.util.Objects;
import java.util.RandomAccess;

/**
 * Model inputs for one sequence or pair: what a Hugging Face tokenizer returns as
 * {@code input_ids}, {@code token_type_ids} and {@code attention_mask}, plus the token strings.
 * All arrays have the same length. Equality compares contents.
 *
 * @param inputIds vocabulary ids, with special and padding tokens
 * @param tokenTypeIds 0 for the first sequence (and its {@code [CLS]}/{@code [SEP]}), 1 for the second
 * @param attentionMask 1 for real tokens, 0 for padding
 * @param tokens the token string of each id (a view over the vocabulary, not copied per token)
 */
public record Encoding(int[] inputIds, int[] tokenTypeIds, int[] attentionMask, List<String> tokens) {

    /** Validates that all parts have the same length. */
    public Encoding {
        Objects.requireNonNull(inputIds, "inputIds");
        Objects.requireNonNull(tokenTypeIds, "tokenTypeIds");
        Objects.requireNonNull(attentionMask, "attentionMask");
        Objects.requireNonNull(tokens, "tokens");
        if (tokenTypeIds.length != inputIds.length || attentionMask.length != inputIds.length
                || tokens.size() != inputIds.length) {
            throw new IllegalArgumentException("arrays of an Encoding must have equal lengths");
        }
    }

    /** The number of tokens, padding included. */
    public int length() {
        return inputIds.length;
    }

    @Override
    public boolean equals(Object o) {
        return o instanceof Encoding e && Arrays.equals(inputIds, e.inputIds)
                && Arrays.equals(tokenTypeIds, e.tokenTypeIds) && Arrays.equals(attentionMask, e.attentionMask);
    }

    @Override
    public int hashCode() {
        return 31 * (31 * Arrays.hashCode(inputIds) + Arrays.hashCode(tokenTypeIds)) + Arrays.hashCode(attentionMask);
    }

    @Override
    public String toString() {
        return "Encoding[tokens=" + tokens + ", inputIds=" + Arrays.toString(inputIds) + ", tokenTypeIds="
                + Arrays.toString(tokenTypeIds) + ", attentionMask=" + Arrays.toString(attentionMask) + "]";
    }

    /** Token strings looked up lazily from the ids, so an Encoding costs no String per token. */
    static final class TokenView extends AbstractList<String> implements RandomAccess {
        private final int[] ids;
        private final String[] idToToken;

        TokenView(int[] ids, String[] idToToken) {
            this.ids = ids;
            this.idToToken = idToToken;
        }

        @Override
        public String get(int index) {
            int id = ids[index];
            return id >= 0 && id < idToToken.length ? idToToken[id] : null;
        }

        @Override
        public int size() {
            return ids.length;
        }
    }
}
