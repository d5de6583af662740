package dev.solder.tokenizer;

import java.util.Objects;

/**
 * A token matched in the input text before WordPiece runs, like Hugging Face's
 * {@code AddedToken}. BERT's special tokens ({@code [PAD] [UNK] [CLS] [SEP] [MASK]}) are added
 * tokens: a literal {@code [MASK]} in the input becomes the mask id, even inside a word.
 *
 * @param id the token id
 * @param content the exact text to match
 * @param singleWord match only when not preceded or followed by a word character
 * @param lstrip also swallow whitespace on the left of the match
 * @param rstrip also swallow whitespace on the right of the match
 * @param normalized match against the normalized text (and the normalized content) instead of the raw text
 * @param special skipped by {@code decode(..., skipSpecialTokens = true)}
 */
public record AddedToken(int id, String content, boolean singleWord, boolean lstrip, boolean rstrip,
        boolean normalized, boolean special) {

    /** Validates the content (non-empty). */
    public AddedToken {
        Objects.requireNonNull(content, "content");
        if (content.isEmpty()) {
            throw new IllegalArgumentException("empty added token");
        }
    }

    /** A special token as BERT has them: raw-text match, no stripping, not normalized. */
    public static AddedToken special(int id, String content) {
        return new AddedToken(id, content, false, false, false, false, true);
    }
}
