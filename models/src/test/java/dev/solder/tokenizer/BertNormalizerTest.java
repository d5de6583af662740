package dev.solder.tokenizer;

import static org.junit.jupiter.api.Assertions.assertEquals;

import java.util.List;
import org.junit.jupiter.api.Test;

/** Normalization and pre-tokenization, with expectations from Hugging Face's Rust BertNormalizer/BertPreTokenizer. */
class BertNormalizerTest {
    private static final BertNormalizer UNCASED = BertNormalizer.UNCASED;

    @Test
    void lowercasesAndStripsAccents() {
        assertEquals("hello", UNCASED.normalize("Héllo"));
        assertEquals("naive cafe resume", UNCASED.normalize("naïve CAFÉ RÉSUMÉ"));
        // Precomposed or already decomposed: both end up without the mark.
        assertEquals("e", UNCASED.normalize("e\u0301"));
        // ø and ß have no canonical decomposition: they stay.
        assertEquals("ø ß", UNCASED.normalize("Ø ß"));
    }

    @Test
    void stripAccentsFollowsLowercaseUnlessSet() {
        assertEquals("Héllo", BertNormalizer.CASED.normalize("Héllo"));
        assertEquals("héllo", new BertNormalizer(true, true, false, true).normalize("Héllo"));
        assertEquals("Hello", new BertNormalizer(true, true, true, false).normalize("Héllo"));
        assertEquals(true, UNCASED.stripsAccents());
        assertEquals(false, BertNormalizer.CASED.stripsAccents());
    }

    @Test
    void lowercasesPerCodePointLikeRust() {
        // U+0130: NFD gives I + U+0307, the mark is stripped, then I -> i.
        assertEquals("istanbul", UNCASED.normalize("İstanbul"));
        // Without stripping, Rust's full lowercase mapping of U+0130 is "i" + U+0307.
        assertEquals("i\u0307stanbul", new BertNormalizer(true, true, false, true).normalize("İstanbul"));
        // No final-sigma rule: every Σ becomes σ.
        assertEquals("σοσ", UNCASED.normalize("ΣΟΣ"));
    }

    @Test
    void padsCjkIdeographsWithSpaces() {
        assertEquals(" 中  文  字 ", UNCASED.normalize("中文字"));
        assertEquals("a 中 b", UNCASED.normalize("a中b"));
        // Supplementary ideographs (surrogate pairs) too: U+20000 in Extension B.
        assertEquals(" \uD840\uDC00 ", UNCASED.normalize("\uD840\uDC00"));
        // The Rust ranges start Extension E at U+2B920, not U+2B820: U+2B820 is not padded.
        assertEquals(new String(Character.toChars(0x2B820)), UNCASED.normalize(new String(Character.toChars(0x2B820))));
        assertEquals(" " + new String(Character.toChars(0x2B920)) + " ",
                UNCASED.normalize(new String(Character.toChars(0x2B920))));
        // Hiragana and Hangul are not "Chinese characters".
        assertEquals("ひら", new BertNormalizer(true, true, false, false).normalize("ひら"));
        assertEquals("中文", new BertNormalizer(true, false, null, true).normalize("中文"));
    }

    @Test
    void cleanTextRemovesControlAndFormatCharacters() {
        // NUL, U+FFFD, BEL (Cc), ZERO WIDTH SPACE (Cf), BOM (Cf), SOFT HYPHEN (Cf), private use (Co).
        assertEquals("abcdefgh", UNCASED.normalize("a\u0000b\uFFFDc\u0007d\u200Be\uFEFFf\u00ADg\uE000h"));
        // \v, \f, U+0085 are Unicode whitespace but also Cc: removal wins, no space.
        assertEquals("abcd", UNCASED.normalize("a\u000Bb\u000Cc\u0085d"));
        // An unassigned code point (Cn) is kept, unlike Python's slow tokenizer.
        assertEquals("a\u0378b", UNCASED.normalize("a\u0378b"));
        // Without clean_text nothing is removed.
        assertEquals("a\u200Bb", new BertNormalizer(false, true, null, true).normalize("a\u200Bb"));
    }

    @Test
    void cleanTextMapsEveryUnicodeWhitespaceToSpace() {
        assertEquals("a b c d e f g h", UNCASED.normalize("a\tb\nc\rd\u00A0e\u3000f\u2028g\u2003h"));
    }

    @Test
    void preTokenizerSplitsWhitespaceAndIsolatesPunctuation() {
        assertEquals(List.of("don", "'", "t"), BertPreTokenizer.preTokenize("don't"));
        assertEquals(List.of("u", ".", "s", ".", "a", "."), BertPreTokenizer.preTokenize("u.s.a."));
        assertEquals(List.of(".", ".", "."), BertPreTokenizer.preTokenize("..."));
        // ASCII symbols count as punctuation, Unicode P* too (em dash, inverted question mark).
        assertEquals(List.of("$", "5", "+", "3", "=", "8", "`", "|", "~"), BertPreTokenizer.preTokenize("$5+3=8`|~"));
        assertEquals(List.of("¿", "que", "?", "a", "—", "b"), BertPreTokenizer.preTokenize("¿que? a—b"));
        // Symbols that are not punctuation (emoji, math, currency outside ASCII) stay in the word.
        assertEquals(List.of("hi😀there", "2×3", "5€"), BertPreTokenizer.preTokenize("hi😀there 2×3 5€"));
        assertEquals(List.of("a", "b", "c"), BertPreTokenizer.preTokenize("  a \u2028b\u3000c  "));
        assertEquals(List.of(), BertPreTokenizer.preTokenize(" \t\n"));
    }

    @Test
    void followsHuggingFacesOlderUnicodeTables() {
        // U+061D became punctuation in Unicode 14; Hugging Face's tables predate that.
        assertEquals(List.of("a\u061Db"), BertPreTokenizer.preTokenize("a\u061Db"));
        // U+166D was punctuation (Po) in Hugging Face's tables, a symbol (So) in Java's.
        assertEquals(List.of("a", "\u166D", "b"), BertPreTokenizer.preTokenize("a\u166Db"));
        // U+0890 (Cf since Unicode 14) is not removed by Hugging Face's clean_text.
        assertEquals("a\u0890b", UNCASED.normalize("a\u0890b"));
        // U+07FD (Mn since Unicode 11) is not stripped.
        assertEquals("a\u07FD", UNCASED.normalize("a\u07FD"));
    }
}
