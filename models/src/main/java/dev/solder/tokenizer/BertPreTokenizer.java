package dev.solder.tokenizer;

import java.util.ArrayList;
import java.util.List;

/**
 * BERT pre-tokenization, as Hugging Face's Rust {@code BertPreTokenizer}: split on Unicode
 * White_Space (removed), then isolate every punctuation character as its own word. Punctuation is
 * ASCII 33-47, 58-64, 91-96, 123-126 (so {@code $ + < = > ^ ` | ~} count although Unicode calls
 * them symbols) or any Unicode P* category. Symbols such as emoji are not punctuation and stay
 * inside their word.
 */
public final class BertPreTokenizer {
    private BertPreTokenizer() {}

    /** Receives each word as a range of a char array; returns false to stop the split early. */
    interface WordSink {
        boolean word(char[] a, int from, int to);
    }

    /**
     * Splits already normalized text into words.
     *
     * <pre>{@code
     * BertPreTokenizer.preTokenize("don't stop...")  // [don, ', t, stop, ., ., .]
     * }</pre>
     */
    public static List<String> preTokenize(String text) {
        List<String> words = new ArrayList<>();
        char[] a = text.toCharArray();
        split(a, 0, a.length, (arr, from, to) -> words.add(new String(arr, from, to - from)));
        return words;
    }

    /** Splits {@code a[from, to)}; returns false if the sink stopped it. */
    static boolean split(char[] a, int from, int to, WordSink sink) {
        int wordStart = -1;
        int i = from;
        while (i < to) {
            char c = a[i];
            int cp;
            int n;
            if (Character.isHighSurrogate(c) && i + 1 < to && Character.isLowSurrogate(a[i + 1])) {
                cp = Character.toCodePoint(c, a[i + 1]);
                n = 2;
            } else {
                cp = c;
                n = 1;
            }
            int cls = CharClass.of(cp);
            if ((cls & CharClass.WHITESPACE) != 0) {
                if (wordStart >= 0) {
                    if (!sink.word(a, wordStart, i)) {
                        return false;
                    }
                    wordStart = -1;
                }
            } else if ((cls & CharClass.PUNCT) != 0) {
                if (wordStart >= 0 && !sink.word(a, wordStart, i)) {
                    return false;
                }
                wordStart = -1;
                if (!sink.word(a, i, i + n)) {
                    return false;
                }
            } else if (wordStart < 0) {
                wordStart = i;
            }
            i += n;
        }
        return wordStart < 0 || sink.word(a, wordStart, to);
    }
}
