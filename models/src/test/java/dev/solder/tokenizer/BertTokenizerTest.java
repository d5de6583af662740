package dev.solder.tokenizer;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.solder.tokenizer.EncodeOptions.Padding;
import dev.solder.tokenizer.EncodeOptions.TruncationStrategy;
import java.io.IOException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The tokenizer against the test vocabulary. Expected tokens follow from the Hugging Face
 * pipeline step by step (normalize, split, WordPiece, template, truncate, pad).
 */
class BertTokenizerTest {
    @TempDir
    static Path dir;

    static BertTokenizer tok;

    @BeforeAll
    static void load() throws IOException {
        tok = BertTokenizer.fromVocab(TestVocab.write(dir), true);
    }

    private static int[] ids(String... tokens) {
        int[] out = new int[tokens.length];
        for (int i = 0; i < tokens.length; i++) {
            out[i] = TestVocab.id(tokens[i]);
        }
        return out;
    }

    /** "a b c ..." with n single-letter tokens starting at {@code first}. */
    private static String letters(char first, int n) {
        StringBuilder sb = new StringBuilder();
        for (int i = 0; i < n; i++) {
            sb.append(i == 0 ? "" : " ").append((char) (first + i));
        }
        return sb.toString();
    }

    @Test
    void specialIdsAndVocabulary() {
        assertEquals(0, tok.padId());
        assertEquals(1, tok.unkId());
        assertEquals(2, tok.clsId());
        assertEquals(3, tok.sepId());
        assertEquals(4, tok.maskId());
        assertEquals(TestVocab.TOKENS.size(), tok.vocabSize());
        assertEquals(TestVocab.id("hello"), tok.tokenToId("hello"));
        assertEquals("hello", tok.idToToken(TestVocab.id("hello")));
        assertEquals(-1, tok.tokenToId("nope"));
        assertNull(tok.idToToken(-1));
        assertNull(tok.idToToken(tok.vocabSize()));
        assertEquals(5, tok.addedTokens().size());
    }

    @Test
    void tokenizesAccentsPunctuationAndCjk() {
        assertEquals(List.of("hello", ",", "naive", "world", "!"), tok.tokenize("Héllo, naïve WORLD!"));
        assertEquals(List.of("don", "'", "t"), tok.tokenize("don't"));
        assertEquals(List.of("u", ".", "s", ".", "a", "."), tok.tokenize("U.S.A."));
        assertEquals(List.of(".", ".", "."), tok.tokenize("..."));
        assertEquals(List.of("中", "文", "字"), tok.tokenize("中文字"));
        assertEquals(List.of("a", "中", "[UNK]"), tok.tokenize("a中国"));
        assertEquals(List.of("istanbul"), tok.tokenize("İSTANBUL"));
        assertEquals(List.of("¿", "que", "?"), tok.tokenize("¿Qué?"));
    }

    @Test
    void dropsControlAndZeroWidthCharactersAndSplitsOddWhitespace() {
        assertEquals(List.of("hello"), tok.tokenize("hel\u200Blo"));
        assertEquals(List.of("hello"), tok.tokenize("hel\u0000lo\u0007"));
        assertEquals(List.of("a", "b", "c", "d"), tok.tokenize("a\u00A0b\u3000c\u2028d"));
        assertEquals(List.of("a", "b"), tok.tokenize("\uFEFFa\r\n\tb "));
    }

    @Test
    void emojiAndSurrogatePairs() {
        assertEquals(List.of("😀", "##😀"), tok.tokenize("😀😀"));
        // Emoji are symbols, not punctuation: they stick to their word.
        assertEquals(List.of("hello", "##😀"), tok.tokenize("hello😀"));
        assertEquals(List.of("[UNK]"), tok.tokenize("hello😃"));
        assertEquals(List.of("[UNK]", "!"), tok.tokenize("🤗!"));
    }

    @Test
    void longWordsBecomeUnknown() {
        assertEquals(List.of("[UNK]", "a"), tok.tokenize("b".repeat(101) + " a"));
        assertEquals(100, tok.tokenize("b".repeat(100)).size());
    }

    @Test
    void literalSpecialTokensAreMatchedInTheRawText() {
        assertEquals(List.of("the", "[MASK]", "is", "hello"), tok.tokenize("the [MASK] is hello"));
        assertEquals(List.of("x", "[MASK]", "y"), tok.tokenize("x[MASK]y"));
        // Matching is case-sensitive and happens before lowercasing: "[mask]" is plain text.
        assertEquals(List.of("[", "mask", "]"), tok.tokenize("[mask]"));
        Encoding e = tok.encode("[CLS] it");
        assertArrayEquals(ids("[CLS]", "[CLS]", "it", "[SEP]"), e.inputIds());
    }

    @Test
    void encodesSingleSequence() {
        Encoding e = tok.encode("Hello, world!");
        assertArrayEquals(ids("[CLS]", "hello", ",", "world", "!", "[SEP]"), e.inputIds());
        assertArrayEquals(new int[] {0, 0, 0, 0, 0, 0}, e.tokenTypeIds());
        assertArrayEquals(new int[] {1, 1, 1, 1, 1, 1}, e.attentionMask());
        assertEquals(List.of("[CLS]", "hello", ",", "world", "!", "[SEP]"), e.tokens());
        assertEquals(6, e.length());
    }

    @Test
    void encodesEmptyText() {
        assertArrayEquals(new int[] {2, 3}, tok.encode("").inputIds());
        assertArrayEquals(new int[] {2, 3}, tok.encode(" \u200B\t").inputIds());
        // transformers' single call treats an empty second text as none ...
        assertArrayEquals(new int[] {2, 3}, tok.encode("", "").inputIds());
        assertArrayEquals(new int[] {2, TestVocab.id("a"), 3}, tok.encode("a", "").inputIds());
        // ... while its batch call keeps the pair and its second [SEP].
        Encoding pair = tok.encodeBatchPairs(List.of(TextPair.of("", "")), EncodeOptions.defaults()).get(0);
        assertArrayEquals(new int[] {2, 3, 3}, pair.inputIds());
        assertArrayEquals(new int[] {0, 0, 1}, pair.tokenTypeIds());
    }

    @Test
    void encodesPairWithTokenTypes() {
        Encoding e = tok.encode("The cat sat.", "It was tired.");
        assertArrayEquals(ids("[CLS]", "the", "cat", "sat", ".", "[SEP]", "it", "was", "tired", ".", "[SEP]"),
                e.inputIds());
        assertArrayEquals(new int[] {0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 1}, e.tokenTypeIds());
        assertArrayEquals(new int[] {1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1}, e.attentionMask());
    }

    @Test
    void withoutSpecialTokens() {
        EncodeOptions o = EncodeOptions.defaults().withAddSpecialTokens(false);
        assertArrayEquals(ids("hello", "world"), tok.encode("hello world", o).inputIds());
        Encoding pair = tok.encode("hello", "world", o);
        assertArrayEquals(ids("hello", "world"), pair.inputIds());
        assertArrayEquals(new int[] {0, 1}, pair.tokenTypeIds());
    }

    private static int[] truncatedLengths(int lenA, int lenB, int maxLength, TruncationStrategy s) {
        Encoding e = tok.encode(letters('a', lenA), letters('a', lenB),
                EncodeOptions.defaults().withTruncation(true).withMaxLength(maxLength).withTruncationStrategy(s));
        int a = 0;
        int b = 0;
        for (int t : e.tokenTypeIds()) {
            if (t == 0) {
                a++;
            } else {
                b++;
            }
        }
        return new int[] {a - 2, b - 1}; // minus [CLS] [SEP] and the second [SEP]
    }

    @Test
    void longestFirstTruncationOfPairs() {
        TruncationStrategy lf = TruncationStrategy.LONGEST_FIRST;
        // budget = maxLength - 3 special tokens.
        // Shorter side fits in half the budget: only the longer side is cut, to what is left.
        assertArrayEquals(new int[] {2, 5}, truncatedLengths(2, 10, 10, lf));
        assertArrayEquals(new int[] {5, 2}, truncatedLengths(10, 2, 10, lf));
        // Both sides over half the budget (5): halves 2 and 3, the longer side gets the 3.
        assertArrayEquals(new int[] {3, 2}, truncatedLengths(7, 3, 8, lf));
        assertArrayEquals(new int[] {2, 3}, truncatedLengths(6, 7, 8, lf));
        // Equal lengths: the second sequence gets the odd token.
        assertArrayEquals(new int[] {3, 4}, truncatedLengths(6, 6, 10, lf));
        // Even budget: equal halves.
        assertArrayEquals(new int[] {3, 3}, truncatedLengths(9, 12, 9, lf));
        // Fits exactly: untouched.
        assertArrayEquals(new int[] {2, 3}, truncatedLengths(2, 3, 8, lf));
        // The shorter side exactly half the budget: kept whole.
        assertArrayEquals(new int[] {3, 3}, truncatedLengths(3, 9, 9, lf));
        // Only the special tokens fit.
        assertArrayEquals(new int[] {0, 0}, truncatedLengths(4, 4, 3, lf));
    }

    @Test
    void truncatedPairKeepsTheFirstTokens() {
        Encoding e = tok.encode(letters('a', 7), letters('h', 3), EncodeOptions.defaults().withTruncation(true).withMaxLength(8));
        assertArrayEquals(ids("[CLS]", "a", "b", "c", "[SEP]", "h", "i", "[SEP]"), e.inputIds());
        assertArrayEquals(new int[] {0, 0, 0, 0, 0, 1, 1, 1}, e.tokenTypeIds());
    }

    @Test
    void longestFirstComparesLengthsUpToTheWordCrossingMaxLength() {
        // maxLength 8, budget 5: both sides are cut to 2 + 3. Which one gets 3? tokenizers 0.23
        // stops tokenizing a sequence after the word that brings it to >= 8 tokens:
        // a: "a b c d e f unaffable x" -> 6 tokens, then un ##aff ##able -> stops at 9;
        // b: "a b c d e f g h i j"     -> stops at 8. So a counts as longer and gets 3.
        String a = "a b c d e f unaffable x";
        String b = letters('a', 10);
        EncodeOptions o = EncodeOptions.defaults().withTruncation(true).withMaxLength(8);
        Encoding current = tok.encode(a, b, o);
        assertArrayEquals(ids("[CLS]", "a", "b", "c", "[SEP]", "a", "b", "[SEP]"), current.inputIds());
        // tokenizers <= 0.22 compare the full lengths, 10 and 10: a tie, so b gets 3.
        Encoding legacy = tok.encode(a, b, o.withTruncationStrategy(TruncationStrategy.LONGEST_FIRST_FULL_LENGTHS));
        assertArrayEquals(ids("[CLS]", "a", "b", "[SEP]", "a", "b", "c", "[SEP]"), legacy.inputIds());
        // An added token counts towards the length but never ends the count: in
        // "a b c d e f g [MASK] unaffable" the [MASK] is token 8, the count goes on to 11.
        Encoding masked = tok.encode("a b c d e f g [MASK] unaffable", letters('a', 10), o);
        assertArrayEquals(ids("[CLS]", "a", "b", "c", "[SEP]", "a", "b", "[SEP]"), masked.inputIds());
    }

    @Test
    void truncatesSingleSequence() {
        Encoding e = tok.encode(letters('a', 10), EncodeOptions.defaults().withTruncation(true).withMaxLength(5));
        assertArrayEquals(ids("[CLS]", "a", "b", "c", "[SEP]"), e.inputIds());
        // Truncation without maxLength uses modelMaxLength (512).
        Encoding full = tok.encode("a ".repeat(600), EncodeOptions.defaults().withTruncation(true));
        assertEquals(512, full.length());
        assertEquals(tok.sepId(), full.inputIds()[511]);
    }

    @Test
    void onlyFirstAndOnlySecond() {
        assertArrayEquals(new int[] {2, 3}, truncatedLengths(6, 3, 8, TruncationStrategy.ONLY_FIRST));
        assertArrayEquals(new int[] {2, 3}, truncatedLengths(2, 6, 8, TruncationStrategy.ONLY_SECOND));
        // The chosen side cannot absorb the excess: an error, as in Hugging Face.
        assertThrows(IllegalArgumentException.class, () -> truncatedLengths(2, 9, 8, TruncationStrategy.ONLY_FIRST));
        assertThrows(IllegalArgumentException.class, () -> truncatedLengths(9, 2, 8, TruncationStrategy.ONLY_SECOND));
    }

    @Test
    void rejectsMaxLengthBelowSpecialTokens() {
        EncodeOptions o = EncodeOptions.defaults().withTruncation(true).withMaxLength(2);
        assertThrows(IllegalArgumentException.class, () -> tok.encode("a", "b", o));
        assertArrayEquals(new int[] {2, 3}, tok.encode("a b", o).inputIds());
        assertThrows(IllegalArgumentException.class, () -> EncodeOptions.defaults().withMaxLength(-1));
    }

    @Test
    void padsToMaxLength() {
        Encoding e = tok.encode("hello world", EncodeOptions.fixedLength(8));
        assertArrayEquals(ids("[CLS]", "hello", "world", "[SEP]", "[PAD]", "[PAD]", "[PAD]", "[PAD]"), e.inputIds());
        assertArrayEquals(new int[] {0, 0, 0, 0, 0, 0, 0, 0}, e.tokenTypeIds());
        assertArrayEquals(new int[] {1, 1, 1, 1, 0, 0, 0, 0}, e.attentionMask());
        assertEquals("[PAD]", e.tokens().get(7));
        Encoding pair = tok.encode("hello", "world", EncodeOptions.fixedLength(7));
        assertArrayEquals(new int[] {0, 0, 0, 1, 1, 0, 0}, pair.tokenTypeIds());
        assertArrayEquals(new int[] {1, 1, 1, 1, 1, 0, 0}, pair.attentionMask());
        // Without truncation a longer sequence is left alone.
        Encoding longer = tok.encode(letters('a', 9), EncodeOptions.defaults().withMaxLength(8).withPadding(Padding.MAX_LENGTH));
        assertEquals(11, longer.length());
        assertTrue(java.util.Arrays.stream(longer.attentionMask()).allMatch(m -> m == 1));
    }

    @Test
    void padsToMultiple() {
        EncodeOptions o = EncodeOptions.defaults().withPadding(Padding.LONGEST).withPadToMultipleOf(4);
        assertEquals(4, tok.encode("hello world", o).length());
        assertEquals(8, tok.encode("hello world !", o).length());
        // transformers refuses a truncation length that is not a multiple.
        assertThrows(IllegalArgumentException.class,
                () -> tok.encode("a", EncodeOptions.fixedLength(10).withPadToMultipleOf(4)));
        assertEquals(12, tok.encode("a", EncodeOptions.fixedLength(12).withPadToMultipleOf(4)).length());
    }

    @Test
    void batchPadsToLongestAndKeepsOrder() {
        List<Encoding> batch = tok.encodeBatch(List.of("hello", "hello world !", ""),
                EncodeOptions.defaults().withPadding(Padding.LONGEST));
        assertArrayEquals(ids("[CLS]", "hello", "[SEP]", "[PAD]", "[PAD]"), batch.get(0).inputIds());
        assertArrayEquals(ids("[CLS]", "hello", "world", "!", "[SEP]"), batch.get(1).inputIds());
        assertArrayEquals(ids("[CLS]", "[SEP]", "[PAD]", "[PAD]", "[PAD]"), batch.get(2).inputIds());
        assertArrayEquals(new int[] {1, 1, 0, 0, 0}, batch.get(2).attentionMask());
    }

    @Test
    void parallelBatchEqualsOneByOne() {
        Random r = new Random(7);
        String[] words = {"hello", "world", "naïve", "Café", "don't", "unaffable", "running", "中文", "😀", "[MASK]", "x", "..."};
        List<TextPair> inputs = new ArrayList<>();
        for (int i = 0; i < 2000; i++) {
            StringBuilder a = new StringBuilder();
            StringBuilder b = new StringBuilder();
            for (int k = r.nextInt(40); k > 0; k--) {
                a.append(words[r.nextInt(words.length)]).append(' ');
            }
            // At least one word: an empty second text is a pair in a batch but none in encode().
            for (int k = 1 + r.nextInt(40); k > 0; k--) {
                b.append(words[r.nextInt(words.length)]).append(' ');
            }
            inputs.add(i % 3 == 0 ? TextPair.of(a.toString()) : TextPair.of(a.toString(), b.toString()));
        }
        EncodeOptions o = EncodeOptions.defaults().withTruncation(true).withMaxLength(32);
        List<Encoding> batch = tok.encodeBatchPairs(inputs, o);
        assertEquals(inputs.size(), batch.size());
        for (int i = 0; i < inputs.size(); i++) {
            TextPair p = inputs.get(i);
            assertEquals(tok.encode(p.first(), p.second(), o), batch.get(i), "input " + i);
        }
    }

    @Test
    void decodesLikeHuggingFace() {
        int[] ids = tok.encode("Hello, world! Don't stop running...").inputIds();
        // The WordPiece decoder glues ## pieces and drops the space before . , ! ?; the
        // clean-up (clean_up_tokenization_spaces=True) also turns " ' " into "'".
        assertEquals("[CLS] hello, world! don't stop running... [SEP]", tok.decode(ids));
        assertEquals("hello, world! don't stop running...", tok.decode(ids, true));
        assertEquals("hello, world! don ' t stop running...", tok.decode(ids, true, false));
        assertEquals("unaffable cats", tok.decode(tok.encode("unaffable cats").inputIds(), true));
        // A leading continuation piece keeps its ##; unknown ids are skipped.
        assertEquals("##s cat", tok.decode(new int[] {TestVocab.id("##s"), 9999, TestVocab.id("cat")}));
        // [UNK] and [PAD] are special tokens too.
        assertEquals("hello", tok.decode(tok.encode("hello 🤗", EncodeOptions.fixedLength(8)).inputIds(), true));
    }

    @Test
    void encodingEqualityIsByContent() {
        assertEquals(tok.encode("hello"), tok.encode("Hello"));
        assertEquals(tok.encode("hello").hashCode(), tok.encode("HELLO").hashCode());
        assertTrue(tok.encode("hello").toString().contains("hello"));
    }
}
