package dev.solder.tokenizer;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

/**
 * A small BERT-style vocabulary the tests write themselves: special tokens first (as in
 * bert-base-uncased, but at ids 0-4), ASCII punctuation, digits, single letters with their
 * {@code ##} forms, and a few words and pieces chosen to exercise WordPiece.
 */
final class TestVocab {
    static final List<String> TOKENS = build();

    private TestVocab() {}

    private static List<String> build() {
        List<String> v = new ArrayList<>(List.of("[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"));
        for (char c = '!'; c <= '~'; c++) {
            if (!Character.isLetterOrDigit(c)) {
                v.add(String.valueOf(c));
            }
        }
        v.add("¿");
        v.add("—");
        for (char c = '0'; c <= '9'; c++) {
            v.add(String.valueOf(c));
        }
        for (char c = 'a'; c <= 'z'; c++) {
            v.add(String.valueOf(c));
        }
        for (char c = 'a'; c <= 'z'; c++) {
            v.add("##" + c);
        }
        v.addAll(List.of("the", "cat", "sat", "it", "was", "tired", "hello", "world", "naive", "cafe", "resume",
                "don", "run", "##ning", "un", "##aff", "##able", "mask", "abc", "ab", "##cd", "que", "is",
                "中", "文", "字", "😀", "##😀", "istanbul"));
        if (v.size() != new java.util.HashSet<>(v).size()) {
            throw new AssertionError("duplicate token in the test vocabulary");
        }
        return List.copyOf(v);
    }

    static int id(String token) {
        int i = TOKENS.indexOf(token);
        if (i < 0) {
            throw new IllegalArgumentException("not in the test vocabulary: " + token);
        }
        return i;
    }

    static Path write(Path dir) throws IOException {
        Path file = dir.resolve("vocab.txt");
        Files.writeString(file, String.join("\n", TOKENS) + "\n", StandardCharsets.UTF_8);
        return file;
    }
}
