package dev.solder.tokenizer;

import java.util.Objects;

/**
 * How {@link BertTokenizer#encode(String, EncodeOptions)} builds model inputs; the names follow the
 * keyword arguments of a Hugging Face tokenizer call.
 *
 * <pre>{@code
 * // tokenizer(a, b, truncation=True, max_length=128, padding="max_length")
 * var opts = EncodeOptions.defaults().withTruncation(true).withMaxLength(128)
 *         .withPadding(EncodeOptions.Padding.MAX_LENGTH);
 * }</pre>
 *
 * @param addSpecialTokens add {@code [CLS] ... [SEP]} (and the second {@code [SEP]} for pairs)
 * @param truncation truncate to {@code maxLength} (special tokens included)
 * @param truncationStrategy which sequence of a pair loses tokens
 * @param maxLength the length limit; 0 means the tokenizer's {@link BertTokenizer#modelMaxLength()}
 * @param padding whether and to what length to pad
 * @param padToMultipleOf round the padded length up to a multiple of this; 0 for none
 */
public record EncodeOptions(boolean addSpecialTokens, boolean truncation, TruncationStrategy truncationStrategy,
        int maxLength, Padding padding, int padToMultipleOf) {

    /** Padding, applied on the right with the pad id, token type 0 and attention 0. */
    public enum Padding {
        /** No padding ({@code padding=False}). */
        NONE,
        /** Pad every sequence of a batch to the longest one ({@code padding=True} / {@code "longest"}); a no-op for one sequence. */
        LONGEST,
        /** Pad to {@code maxLength} ({@code padding="max_length"}); longer sequences are left as they are. */
        MAX_LENGTH
    }

    /** Truncation strategies of Hugging Face's {@code tokenizers}. */
    public enum TruncationStrategy {
        /**
         * {@code "longest_first"} as current Hugging Face does it (tokenizers 0.23, transformers 5).
         * Not one token at a time: each sequence is tokenized word by word only until a word
         * brings it to at least {@code maxLength} tokens (an added token such as a literal
         * {@code [MASK]} counts but never ends the count), and the lengths so far,
         * {@code n1 <= n2}, decide: if
         * {@code 2 * n1 <= budget} (budget = {@code maxLength} minus special tokens) only the longer
         * sequence is cut, to {@code budget - n1}; otherwise both are cut to half the budget and
         * the longer one gets the odd token, the second one on a tie. Because the counts stop at a
         * word boundary, two sequences that are both longer than {@code maxLength} compare by
         * where their word crossing {@code maxLength} ends, not by their full lengths.
         */
        LONGEST_FIRST,
        /**
         * {@code "longest_first"} as tokenizers 0.22 and earlier (transformers 4.x) do it: the same
         * rule with the full lengths compared. Differs from {@link #LONGEST_FIRST} only when both
         * sequences have at least {@code maxLength} tokens and the budget is odd.
         */
        LONGEST_FIRST_FULL_LENGTHS,
        /** {@code "only_first"}: cut only the first sequence; fails if that is not enough. */
        ONLY_FIRST,
        /** {@code "only_second"}: cut only the second sequence; fails if that is not enough. */
        ONLY_SECOND
    }

    private static final EncodeOptions DEFAULTS =
            new EncodeOptions(true, false, TruncationStrategy.LONGEST_FIRST, 0, Padding.NONE, 0);

    /** Validates the options (no negative lengths, no null enums). */
    public EncodeOptions {
        Objects.requireNonNull(truncationStrategy, "truncationStrategy");
        Objects.requireNonNull(padding, "padding");
        if (maxLength < 0) {
            throw new IllegalArgumentException("maxLength must be >= 0, got " + maxLength);
        }
        if (padToMultipleOf < 0) {
            throw new IllegalArgumentException("padToMultipleOf must be >= 0, got " + padToMultipleOf);
        }
    }

    /** Special tokens on, no truncation, no padding: what {@code tokenizer(text)} does. */
    public static EncodeOptions defaults() {
        return DEFAULTS;
    }

    /** Truncate and pad to exactly {@code maxLength}: the usual fine-tuning setting. */
    public static EncodeOptions fixedLength(int maxLength) {
        return DEFAULTS.withTruncation(true).withMaxLength(maxLength).withPadding(Padding.MAX_LENGTH);
    }

    /** A copy with {@code addSpecialTokens} set. */
    public EncodeOptions withAddSpecialTokens(boolean v) {
        return new EncodeOptions(v, truncation, truncationStrategy, maxLength, padding, padToMultipleOf);
    }

    /** A copy with {@code truncation} set. */
    public EncodeOptions withTruncation(boolean v) {
        return new EncodeOptions(addSpecialTokens, v, truncationStrategy, maxLength, padding, padToMultipleOf);
    }

    /** A copy with {@code truncationStrategy} set. */
    public EncodeOptions withTruncationStrategy(TruncationStrategy v) {
        return new EncodeOptions(addSpecialTokens, truncation, v, maxLength, padding, padToMultipleOf);
    }

    /** A copy with {@code maxLength} set (0: the tokenizer's {@code modelMaxLength}). */
    public EncodeOptions withMaxLength(int v) {
        return new EncodeOptions(addSpecialTokens, truncation, truncationStrategy, v, padding, padToMultipleOf);
    }

    /** A copy with {@code padding} set. */
    public EncodeOptions withPadding(Padding v) {
        return new EncodeOptions(addSpecialTokens, truncation, truncationStrategy, maxLength, v, padToMultipleOf);
    }

    /** A copy with {@code padToMultipleOf} set (0: none). */
    public EncodeOptions withPadToMultipleOf(int v) {
        return new EncodeOptions(addSpecialTokens, truncation, truncationStrategy, maxLength, padding, v);
    }
}
