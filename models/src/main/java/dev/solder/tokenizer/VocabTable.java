package dev.solder.tokenizer;

import java.util.Map;

/**
 * An open-addressing hash map from a range of chars to a token id.
 *
 * <p>WordPiece probes many candidate substrings per word (longest first). With a
 * {@code HashMap<String, Integer>} every probe would allocate a substring; here a probe hashes the
 * range in place and compares against one shared char pool, so a lookup allocates nothing. The
 * hash is polynomial (like {@link String#hashCode}) so that {@link #prefixHashes} can hash all
 * prefixes of a word in one pass and each probe then costs O(1) plus the final comparison.
 */
final class VocabTable {
    private final char[] pool;
    private final int[] offsets;
    private final int[] lengths;
    private final int[] ids;
    private final int[] slots; // entry index + 1; 0 = empty
    private final int mask;
    private final int maxLength;

    VocabTable(Map<String, Integer> entries) {
        int n = entries.size();
        int totalChars = 0;
        for (String k : entries.keySet()) {
            totalChars += k.length();
        }
        pool = new char[totalChars];
        offsets = new int[n];
        lengths = new int[n];
        ids = new int[n];
        int capacity = Integer.highestOneBit(Math.max(4, n * 2) - 1) << 1;
        slots = new int[capacity];
        mask = capacity - 1;
        int e = 0;
        int at = 0;
        int longest = 0;
        for (Map.Entry<String, Integer> entry : entries.entrySet()) {
            String key = entry.getKey();
            key.getChars(0, key.length(), pool, at);
            offsets[e] = at;
            lengths[e] = key.length();
            ids[e] = entry.getValue();
            at += key.length();
            longest = Math.max(longest, key.length());
            int slot = mix(rawHash(pool, offsets[e], offsets[e] + lengths[e])) & mask;
            while (slots[slot] != 0) {
                slot = (slot + 1) & mask;
            }
            slots[slot] = e + 1;
            e++;
        }
        maxLength = longest;
    }

    /** Length in chars of the longest key: longer candidates cannot match and are skipped. */
    int maxLength() {
        return maxLength;
    }

    static int rawHash(char[] a, int from, int to) {
        int h = 0;
        for (int i = from; i < to; i++) {
            h = 31 * h + a[i];
        }
        return h;
    }

    /** Fills {@code out[k]} with the raw hash of {@code a[from, from + k)} for k = 0..n. */
    static void prefixHashes(char[] a, int from, int n, int[] out) {
        int h = 0;
        out[0] = 0;
        for (int k = 0; k < n; k++) {
            h = 31 * h + a[from + k];
            out[k + 1] = h;
        }
    }

    private static int mix(int h) {
        h *= 0x9E3779B9;
        return h ^ (h >>> 16);
    }

    /** The id of {@code a[from, to)} or -1. */
    int get(char[] a, int from, int to) {
        return getHashed(a, from, to, rawHash(a, from, to));
    }

    /** Like {@link #get(char[], int, int)} with the raw hash of the range already known. */
    int getHashed(char[] a, int from, int to, int rawHash) {
        int len = to - from;
        if (len > maxLength) {
            return -1;
        }
        int slot = mix(rawHash) & mask;
        while (true) {
            int e = slots[slot] - 1;
            if (e < 0) {
                return -1;
            }
            if (lengths[e] == len && regionEquals(offsets[e], a, from, len)) {
                return ids[e];
            }
            slot = (slot + 1) & mask;
        }
    }

    int get(String s) {
        char[] a = s.toCharArray();
        return get(a, 0, a.length);
    }

    private boolean regionEquals(int poolOffset, char[] a, int from, int len) {
        return java.util.Arrays.equals(pool, poolOffset, poolOffset + len, a, from, from + len);
    }
}
