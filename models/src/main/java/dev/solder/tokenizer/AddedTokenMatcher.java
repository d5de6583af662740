package dev.solder.tokenizer;

import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;

/**
 * Finds added tokens in text with the semantics of Hugging Face's {@code AddedVocabulary}: an
 * Aho-Corasick search with leftmost-longest matches, non-overlapping, then per token the
 * {@code single_word} filter and the {@code lstrip}/{@code rstrip} extensions.
 *
 * <p>There are only a handful of added tokens, so instead of an automaton each position is tested
 * against the tokens that start with its character; a bitset of first characters makes the common
 * case (no candidate at this position) a single lookup.
 */
final class AddedTokenMatcher {
    private final long[] firstChars = new long[1024];
    /** Patterns sorted longest first, so the first hit at a position is the longest. */
    private final String[] patterns;
    private final AddedToken[] tokens;

    private AddedTokenMatcher(List<String> patterns, List<AddedToken> tokens) {
        Integer[] order = new Integer[patterns.size()];
        for (int i = 0; i < order.length; i++) {
            order[i] = i;
        }
        java.util.Arrays.sort(order, Comparator.comparingInt((Integer i) -> -patterns.get(i).length()));
        this.patterns = new String[order.length];
        this.tokens = new AddedToken[order.length];
        for (int k = 0; k < order.length; k++) {
            this.patterns[k] = patterns.get(order[k]);
            this.tokens[k] = tokens.get(order[k]);
            char c = this.patterns[k].charAt(0);
            firstChars[c >>> 6] |= 1L << c;
        }
    }

    /** A matcher over {@code patterns[i]} standing for {@code tokens[i]}, or null when there are none. */
    static AddedTokenMatcher of(List<String> patterns, List<AddedToken> tokens) {
        List<String> p = new ArrayList<>();
        List<AddedToken> t = new ArrayList<>();
        for (int i = 0; i < patterns.size(); i++) {
            if (!patterns.get(i).isEmpty()) {
                p.add(patterns.get(i));
                t.add(tokens.get(i));
            }
        }
        return p.isEmpty() ? null : new AddedTokenMatcher(p, t);
    }

    /**
     * Finds the next match in {@code s[from, to)}, searching from {@code searchFrom}.
     * {@code previousEnd} is where the last emitted split ended (an lstrip never reaches before it).
     * On success fills {@code out} with {start, end, id, rawEnd} and returns true; {@code rawEnd} is
     * where the search resumes (the match end before any rstrip, as the automaton's iterator does).
     */
    boolean next(CharSequence s, int from, int to, int searchFrom, int previousEnd, int[] out) {
        int i = searchFrom;
        while (i < to) {
            char c = s.charAt(i);
            if ((firstChars[c >>> 6] & (1L << c)) == 0) {
                i++;
                continue;
            }
            int hit = -1;
            for (int k = 0; k < patterns.length; k++) {
                String p = patterns[k];
                if (p.charAt(0) == c && i + p.length() <= to && regionMatches(s, i, p)) {
                    hit = k;
                    break;
                }
            }
            if (hit < 0) {
                i++;
                continue;
            }
            int start = i;
            int stop = i + patterns[hit].length();
            AddedToken token = tokens[hit];
            if (token.singleWord()) {
                boolean startOk = start == from || !isWordChar(codePointBefore(s, start, from));
                boolean stopOk = stop == to || !isWordChar(codePointAt(s, stop, to));
                if (!startOk || !stopOk) {
                    i = stop; // the automaton's iterator has moved past this match
                    continue;
                }
            }
            if (token.lstrip()) {
                int ns = start;
                while (ns > from) {
                    int cp = codePointBefore(s, ns, from);
                    if (!CharClass.isWhitespace(cp)) {
                        break;
                    }
                    ns -= Character.charCount(cp);
                }
                start = Math.max(ns, previousEnd);
            }
            int rawEnd = stop;
            if (token.rstrip()) {
                while (stop < to) {
                    int cp = codePointAt(s, stop, to);
                    if (!CharClass.isWhitespace(cp)) {
                        break;
                    }
                    stop += Character.charCount(cp);
                }
            }
            out[0] = start;
            out[1] = stop;
            out[2] = token.id();
            out[3] = rawEnd;
            return true;
        }
        return false;
    }

    private static boolean regionMatches(CharSequence s, int at, String p) {
        for (int j = 1; j < p.length(); j++) {
            if (s.charAt(at + j) != p.charAt(j)) {
                return false;
            }
        }
        return true;
    }

    private static int codePointAt(CharSequence s, int i, int to) {
        char c = s.charAt(i);
        if (Character.isHighSurrogate(c) && i + 1 < to && Character.isLowSurrogate(s.charAt(i + 1))) {
            return Character.toCodePoint(c, s.charAt(i + 1));
        }
        return c;
    }

    private static int codePointBefore(CharSequence s, int i, int from) {
        char c = s.charAt(i - 1);
        if (Character.isLowSurrogate(c) && i - 2 >= from && Character.isHighSurrogate(s.charAt(i - 2))) {
            return Character.toCodePoint(s.charAt(i - 2), c);
        }
        return c;
    }

    /** Rust regex {@code \w}: alphabetic, marks, decimal digits, connector punctuation, joiners. */
    private static boolean isWordChar(int cp) {
        if (Character.isAlphabetic(cp) || cp == 0x200C || cp == 0x200D) {
            return true;
        }
        int type = Character.getType(cp);
        return type == Character.NON_SPACING_MARK || type == Character.COMBINING_SPACING_MARK
                || type == Character.ENCLOSING_MARK || type == Character.DECIMAL_DIGIT_NUMBER
                || type == Character.CONNECTOR_PUNCTUATION;
    }
}
