package dev.solder.tokenizer;

/**
 * Character classes exactly as Hugging Face's Rust {@code tokenizers} crate sees them for BERT.
 *
 * <p>The fast tokenizer does not use Python's definitions (those live in the slow
 * {@code BertTokenizer}); it uses Rust's {@code char::is_whitespace} (the Unicode
 * {@code White_Space} property) and the {@code unicode_categories} crate, whose
 * {@code is_other()} is {@code Cc | Cf | Co} only: unassigned ({@code Cn}) code points are
 * <em>kept</em>, unlike the slow tokenizer's {@code category.startswith("C")}. Matching the fast
 * tokenizer bit for bit means using these definitions, so they are spelled out here rather than
 * taken from {@link Character#isWhitespace}, which disagrees on U+00A0, U+2007, U+202F, U+001C..1F
 * and U+0085. Where the crate's old Unicode tables disagree with Java's, {@link LegacyUnicode}
 * adjusts the result.
 *
 * <p>Classes of BMP code points are precomputed into a 64 KiB table so the hot loops do one array
 * read per character; supplementary code points (emoji, CJK extensions) are rare and computed on
 * the fly.
 */
final class CharClass {
    /** Unicode White_Space: split point for the pre-tokenizer, mapped to ' ' by clean_text. */
    static final int WHITESPACE = 1;
    /** Removed by clean_text: NUL, U+FFFD and categories Cc, Cf, Co except \t \n \r. */
    static final int REMOVED = 2;
    /** BERT punctuation: ASCII 33-47, 58-64, 91-96, 123-126, or any P* category. */
    static final int PUNCT = 4;
    /** CJK ideograph: padded with spaces by handle_chinese_chars. */
    static final int CJK = 8;
    /** Category Mn: dropped by strip_accents after NFD. */
    static final int NONSPACING_MARK = 16;

    private static final byte[] BMP = new byte[0x10000];

    static {
        for (int c = 0; c < BMP.length; c++) {
            BMP[c] = (byte) compute(c);
        }
    }

    private CharClass() {}

    static int of(int cp) {
        return cp < 0x10000 ? BMP[cp] : compute(cp);
    }

    static boolean isWhitespace(int cp) {
        return (of(cp) & WHITESPACE) != 0;
    }

    static boolean isPunctuation(int cp) {
        return (of(cp) & PUNCT) != 0;
    }

    static boolean isChinese(int cp) {
        return (of(cp) & CJK) != 0;
    }

    private static int compute(int cp) {
        int flags = 0;
        if (isUnicodeWhiteSpace(cp)) {
            flags |= WHITESPACE;
        }
        int type = Character.getType(cp);
        boolean other = type == Character.CONTROL || type == Character.FORMAT || type == Character.PRIVATE_USE;
        // \t \n \r are technically Cc but BERT treats them as whitespace, never removes them.
        if (cp == 0 || cp == 0xFFFD || (other && cp != '\t' && cp != '\n' && cp != '\r')) {
            flags |= REMOVED;
        }
        if ((cp >= 33 && cp <= 47) || (cp >= 58 && cp <= 64) || (cp >= 91 && cp <= 96) || (cp >= 123 && cp <= 126)) {
            flags |= PUNCT;
        }
        switch (type) {
            case Character.CONNECTOR_PUNCTUATION, Character.DASH_PUNCTUATION, Character.START_PUNCTUATION,
                    Character.END_PUNCTUATION, Character.INITIAL_QUOTE_PUNCTUATION,
                    Character.FINAL_QUOTE_PUNCTUATION, Character.OTHER_PUNCTUATION -> flags |= PUNCT;
            case Character.NON_SPACING_MARK -> flags |= NONSPACING_MARK;
            default -> { }
        }
        if (isCjkIdeograph(cp)) {
            flags |= CJK;
        }
        return LegacyUnicode.adjust(cp, flags);
    }

    /** The Unicode White_Space property, which is what Rust's {@code char::is_whitespace} tests. */
    private static boolean isUnicodeWhiteSpace(int cp) {
        return (cp >= 0x09 && cp <= 0x0D) || cp == 0x20 || cp == 0x85 || cp == 0xA0 || cp == 0x1680
                || (cp >= 0x2000 && cp <= 0x200A) || cp == 0x2028 || cp == 0x2029 || cp == 0x202F
                || cp == 0x205F || cp == 0x3000;
    }

    /**
     * The CJK ranges of the Rust normalizer. Note 0x2B920 (not 0x2B820 as in the Python slow
     * tokenizer): the fast tokenizer does not pad the first 256 ideographs of CJK Extension E, and
     * neither do we.
     */
    private static boolean isCjkIdeograph(int cp) {
        return (cp >= 0x4E00 && cp <= 0x9FFF)
                || (cp >= 0x3400 && cp <= 0x4DBF)
                || (cp >= 0x20000 && cp <= 0x2A6DF)
                || (cp >= 0x2A700 && cp <= 0x2B73F)
                || (cp >= 0x2B740 && cp <= 0x2B81F)
                || (cp >= 0x2B920 && cp <= 0x2CEAF)
                || (cp >= 0xF900 && cp <= 0xFAFF)
                || (cp >= 0x2F800 && cp <= 0x2FA1F);
    }
}
