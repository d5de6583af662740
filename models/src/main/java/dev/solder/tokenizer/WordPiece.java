package dev.solder.tokenizer;

import java.util.ArrayList;
import java.util.Collections;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;

/**
 * The WordPiece model: splits one pre-tokenized word into vocabulary pieces, greedily taking the
 * longest piece that matches at each position; pieces after the first carry the continuation
 * prefix ({@code ##}). As in Hugging Face's {@code tokenizers}, a word becomes a single unknown
 * token when it has more than {@code maxInputCharsPerWord} code points (Rust counts
 * {@code chars()}, i.e. Unicode scalar values, not UTF-16 units or bytes) or when some position
 * has no matching piece at all; partial matches are discarded.
 *
 * <p>Instances are immutable and thread-safe.
 */
public final class WordPiece {
    private final Map<String, Integer> vocab;
    private final String[] idToToken;
    private final VocabTable initial;
    private final VocabTable continuation;
    private final String unkToken;
    private final int unkId;
    private final String continuingSubwordPrefix;
    private final int maxInputCharsPerWord;

    /**
     * Creates a WordPiece model.
     *
     * @param vocab token to id; ids need not be dense
     * @param unkToken the token emitted for unknown words; must be in {@code vocab}
     * @param continuingSubwordPrefix prefix marking non-initial pieces, {@code "##"} for BERT
     * @param maxInputCharsPerWord words longer than this many code points become {@code unkToken}
     */
    public WordPiece(Map<String, Integer> vocab, String unkToken, String continuingSubwordPrefix,
            int maxInputCharsPerWord) {
        this.vocab = Collections.unmodifiableMap(new HashMap<>(vocab));
        this.unkToken = Objects.requireNonNull(unkToken, "unkToken");
        this.continuingSubwordPrefix = Objects.requireNonNull(continuingSubwordPrefix, "continuingSubwordPrefix");
        this.maxInputCharsPerWord = maxInputCharsPerWord;
        Integer unk = vocab.get(unkToken);
        if (unk == null) {
            throw new IllegalArgumentException("unknown token " + unkToken + " is not in the vocabulary");
        }
        this.unkId = unk;
        int maxId = -1;
        Map<String, Integer> cont = new HashMap<>();
        for (Map.Entry<String, Integer> e : vocab.entrySet()) {
            if (e.getValue() < 0) {
                throw new IllegalArgumentException("negative id for token " + e.getKey());
            }
            maxId = Math.max(maxId, e.getValue());
            // Continuation pieces are looked up without their prefix so the probe needs no copy.
            if (!continuingSubwordPrefix.isEmpty() && e.getKey().startsWith(continuingSubwordPrefix)) {
                cont.put(e.getKey().substring(continuingSubwordPrefix.length()), e.getValue());
            }
        }
        this.idToToken = new String[maxId + 1];
        vocab.forEach((token, id) -> idToToken[id] = token);
        this.initial = new VocabTable(vocab);
        // With an empty prefix a continuation piece is just any vocabulary entry.
        this.continuation = continuingSubwordPrefix.isEmpty() ? initial : new VocabTable(cont);
    }

    /** The vocabulary, token to id (unmodifiable). */
    public Map<String, Integer> vocab() {
        return vocab;
    }

    /** The unknown token. */
    public String unkToken() {
        return unkToken;
    }

    /** The continuation prefix, {@code "##"} for BERT. */
    public String continuingSubwordPrefix() {
        return continuingSubwordPrefix;
    }

    /** Words with more code points than this become the unknown token (100 for BERT). */
    public int maxInputCharsPerWord() {
        return maxInputCharsPerWord;
    }

    /** One more than the largest id of the model vocabulary. */
    int idSpace() {
        return idToToken.length;
    }

    /** The token of {@code id}, or null when the model has none. */
    String token(int id) {
        return id >= 0 && id < idToToken.length ? idToToken[id] : null;
    }

    /** The id of {@code token}, or -1. */
    int id(String token) {
        Integer id = vocab.get(token);
        return id == null ? -1 : id;
    }

    /**
     * Splits one word (already normalized and pre-tokenized) into pieces.
     *
     * <pre>{@code
     * // vocab contains "un", "##aff", "##able"
     * wordPiece.tokenize("unaffable")  // [un, ##aff, ##able]
     * }</pre>
     */
    public List<String> tokenize(String word) {
        char[] chars = word.toCharArray();
        IntList ids = new IntList(8);
        tokenizeInto(chars, 0, chars.length, ids, new int[chars.length + 1]);
        List<String> out = new ArrayList<>(ids.size);
        for (int i = 0; i < ids.size; i++) {
            out.add(idToToken[ids.data[i]]);
        }
        return out;
    }

    /**
     * Appends the piece ids of the word {@code a[from, to)} to {@code out}.
     *
     * @param hashScratch at least {@code to - from + 1} ints, reused across calls
     */
    void tokenizeInto(char[] a, int from, int to, IntList out, int[] hashScratch) {
        int len = to - from;
        if (len > maxInputCharsPerWord && Character.codePointCount(a, from, len) > maxInputCharsPerWord) {
            out.add(unkId);
            return;
        }
        if (len == 0) {
            return;
        }
        int mark = out.size;
        int start = from;
        while (start < to) {
            VocabTable table = start == from ? initial : continuation;
            // Entries longer than the longest vocabulary key cannot match: start the search there.
            int end = Math.min(to, start + table.maxLength());
            VocabTable.prefixHashes(a, start, end - start, hashScratch);
            int found = -1;
            while (end > start) {
                found = table.getHashed(a, start, end, hashScratch[end - start]);
                if (found >= 0) {
                    break;
                }
                // Step back one code point, as Rust steps back one char (never inside a pair).
                if (end - 2 >= start && Character.isLowSurrogate(a[end - 1]) && Character.isHighSurrogate(a[end - 2])) {
                    end -= 2;
                } else {
                    end -= 1;
                }
            }
            if (found < 0) {
                out.size = mark;
                out.add(unkId);
                return;
            }
            out.add(found);
            start = end;
        }
    }
}
