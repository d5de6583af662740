package dev.solder.tokenizer;

import java.nio.CharBuffer;
import java.text.Normalizer;

/**
 * BERT text normalization, step for step as Hugging Face's Rust {@code BertNormalizer} (the one a
 * {@code BertTokenizerFast} runs), in this order:
 * <ol>
 *   <li>{@code cleanText}: drop NUL, U+FFFD and control/format/private-use characters (categories
 *       Cc, Cf, Co; so the zero-width space U+200B and the BOM vanish), then map every Unicode
 *       White_Space character (including \t \n \r, U+00A0, U+3000, U+2028) to a plain space;</li>
 *   <li>{@code handleChineseChars}: put a space on both sides of every CJK ideograph, so each
 *       becomes its own word;</li>
 *   <li>strip accents: Unicode NFD, then drop category Mn;</li>
 *   <li>{@code lowercase}: per code point, with Unicode's full mapping (U+0130 becomes
 *       {@code i} + U+0307, as Rust's {@code char::to_lowercase}; there is no final-sigma rule).</li>
 * </ol>
 * Stripping runs before lowercasing, like Rust (the slow Python tokenizer does it the other way).
 *
 * @param cleanText remove control characters and normalize whitespace
 * @param handleChineseChars isolate CJK ideographs
 * @param stripAccents strip accents; {@code null} means "same as {@code lowercase}", the BERT default
 * @param lowercase lowercase the text
 */
public record BertNormalizer(boolean cleanText, boolean handleChineseChars, Boolean stripAccents, boolean lowercase) {

    /** The normalizer of uncased BERT checkpoints such as {@code bert-base-uncased}. */
    public static final BertNormalizer UNCASED = new BertNormalizer(true, true, null, true);
    /** The normalizer of cased BERT checkpoints such as {@code bert-base-cased}. */
    public static final BertNormalizer CASED = new BertNormalizer(true, true, null, false);

    /** Whether accents are stripped, resolving {@code stripAccents == null} to {@code lowercase}. */
    public boolean stripsAccents() {
        return stripAccents != null ? stripAccents : lowercase;
    }

    /**
     * Normalizes {@code text}.
     *
     * <pre>{@code
     * BertNormalizer.UNCASED.normalize("Héllo\u00a0中文")  // "hello  中  文 "
     * }</pre>
     */
    public String normalize(String text) {
        CharBuf out = new CharBuf(text.length() + 8);
        normalize(text, 0, text.length(), out, new CharBuf(16));
        return out.toString();
    }

    /** Appends the normalization of {@code in[from, to)} to {@code out}; {@code tmp} is scratch. */
    void normalize(CharSequence in, int from, int to, CharBuf out, CharBuf tmp) {
        boolean strip = stripsAccents();
        // NFD leaves every code point below U+00C0 alone and no such code point is Mn, so for
        // ASCII-heavy text the accent step is skipped and everything runs in one fused pass.
        boolean needNfd = false;
        if (strip) {
            for (int i = from; i < to; i++) {
                if (in.charAt(i) >= 0xC0) {
                    needNfd = true;
                    break;
                }
            }
        }
        if (!needNfd) {
            cleanAndPad(in, from, to, out, lowercase);
            return;
        }
        tmp.clear();
        cleanAndPad(in, from, to, tmp, false);
        String nfd = nfd(tmp);
        int n = nfd.length();
        out.ensure(n);
        for (int i = 0; i < n; ) {
            int cp = nfd.codePointAt(i);
            i += Character.charCount(cp);
            if ((CharClass.of(cp) & CharClass.NONSPACING_MARK) != 0) {
                continue;
            }
            if (lowercase) {
                appendLower(cp, out);
            } else {
                out.appendCodePoint(cp);
            }
        }
    }

    /**
     * NFD as Hugging Face's (older) tables do it: the few characters Java decomposes but they do
     * not are kept whole. Those are starters to both, so decomposing the runs between them
     * separately gives the same result as one pass would.
     */
    private static String nfd(CharBuf s) {
        int protectedAt = -1;
        for (int i = 0; i < s.length; i++) {
            if (Character.isHighSurrogate(s.chars[i])
                    && LegacyUnicode.in(LegacyUnicode.NO_DECOMPOSITION, Character.codePointAt(s.chars, i, s.length))) {
                protectedAt = i;
                break;
            }
        }
        if (protectedAt < 0) {
            return Normalizer.normalize(s, Normalizer.Form.NFD);
        }
        StringBuilder out = new StringBuilder(s.length + 16);
        int runStart = 0;
        for (int i = protectedAt; i < s.length; ) {
            int cp = Character.codePointAt(s.chars, i, s.length);
            int n = Character.charCount(cp);
            if (n == 2 && LegacyUnicode.in(LegacyUnicode.NO_DECOMPOSITION, cp)) {
                out.append(Normalizer.normalize(CharBuffer.wrap(s.chars, runStart, i - runStart), Normalizer.Form.NFD));
                out.appendCodePoint(cp);
                runStart = i + n;
            }
            i += n;
        }
        out.append(Normalizer.normalize(CharBuffer.wrap(s.chars, runStart, s.length - runStart), Normalizer.Form.NFD));
        return out.toString();
    }

    /** clean_text and handle_chinese_chars (and optionally lowercase) in one pass. */
    private void cleanAndPad(CharSequence in, int from, int to, CharBuf out, boolean lower) {
        out.ensure(to - from);
        for (int i = from; i < to; ) {
            char c = in.charAt(i);
            int cp;
            if (Character.isHighSurrogate(c) && i + 1 < to && Character.isLowSurrogate(in.charAt(i + 1))) {
                cp = Character.toCodePoint(c, in.charAt(i + 1));
                i += 2;
            } else {
                cp = c;
                i++;
            }
            int cls = CharClass.of(cp);
            if (cleanText) {
                if ((cls & CharClass.REMOVED) != 0) {
                    continue;
                }
                if ((cls & CharClass.WHITESPACE) != 0) {
                    out.append(' ');
                    continue;
                }
            }
            if (handleChineseChars && (cls & CharClass.CJK) != 0) {
                out.append(' ');
                out.appendCodePoint(cp);
                out.append(' ');
                continue;
            }
            if (lower) {
                appendLower(cp, out);
            } else {
                out.appendCodePoint(cp);
            }
        }
    }

    private static void appendLower(int cp, CharBuf out) {
        if (cp < 0x80) {
            out.append((char) (cp >= 'A' && cp <= 'Z' ? cp + 32 : cp));
        } else if (cp == 0x130) {
            // The only unconditional multi-char lowercase mapping in SpecialCasing.txt; Java's
            // Character.toLowerCase(int) gives the simple mapping 'i' instead.
            out.append('i');
            out.append('\u0307');
        } else {
            int lower = Character.toLowerCase(cp);
            out.appendCodePoint(lower != cp ? lower : LegacyUnicode.newerLowercase(cp));
        }
    }
}
