package dev.solder.tokenizer;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import java.util.Collections;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

class WordPieceTest {
    private static final WordPiece MODEL = model(TestVocab.TOKENS);

    private static WordPiece model(List<String> tokens) {
        Map<String, Integer> vocab = new HashMap<>();
        for (int i = 0; i < tokens.size(); i++) {
            vocab.put(tokens.get(i), i);
        }
        return new WordPiece(vocab, "[UNK]", "##", 100);
    }

    @Test
    void greedyLongestMatchFirst() {
        assertEquals(List.of("un", "##aff", "##able"), MODEL.tokenize("unaffable"));
        assertEquals(List.of("run", "##ning"), MODEL.tokenize("running"));
        assertEquals(List.of("cat", "##s"), MODEL.tokenize("cats"));
        // Falls back to single letters when nothing longer matches.
        assertEquals(List.of("x", "##y", "##z"), MODEL.tokenize("xyz"));
        assertEquals(List.of("hello"), MODEL.tokenize("hello"));
    }

    @Test
    void wholeWordIsUnknownWhenGreedyPathFails() {
        // Greedy takes "abc", then needs "##d", which does not exist. "ab" + "##cd" would have
        // worked, but WordPiece never backtracks: the whole word becomes [UNK].
        assertEquals(List.of("[UNK]"), model(List.of("[UNK]", "ab", "##cd", "abc")).tokenize("abcd"));
        assertEquals(List.of("ab", "##cd"), model(List.of("[UNK]", "ab", "##cd")).tokenize("abcd"));
        // With "##d" available (the test vocabulary has every ##letter) the greedy path works.
        assertEquals(List.of("abc", "##d"), MODEL.tokenize("abcd"));
        // No piece at all for a later position: partial pieces are dropped too.
        assertEquals(List.of("[UNK]"), MODEL.tokenize("helloß"));
        // No piece for the first position.
        assertEquals(List.of("[UNK]"), MODEL.tokenize("ßa"));
    }

    @Test
    void wordsLongerThan100CodePointsAreUnknown() {
        assertEquals(100, MODEL.tokenize("a".repeat(100)).size());
        assertEquals(List.of("[UNK]"), MODEL.tokenize("a".repeat(101)));
        // The limit counts code points, not UTF-16 units: 100 emoji are 200 chars but fit.
        List<String> emoji = MODEL.tokenize("😀".repeat(100));
        assertEquals(100, emoji.size());
        assertEquals("😀", emoji.get(0));
        assertEquals("##😀", emoji.get(99));
        assertEquals(List.of("[UNK]"), MODEL.tokenize("😀".repeat(101)));
    }

    @Test
    void surrogatePairsAreNeverSplit() {
        assertEquals(List.of("😀", "##😀", "##a"), MODEL.tokenize("😀😀a"));
        // A supplementary character without a piece makes the word unknown.
        assertEquals(List.of("[UNK]"), MODEL.tokenize("a😃"));
    }

    @Test
    void exposesConfiguration() {
        assertEquals("[UNK]", MODEL.unkToken());
        assertEquals("##", MODEL.continuingSubwordPrefix());
        assertEquals(100, MODEL.maxInputCharsPerWord());
        assertEquals(TestVocab.TOKENS.size(), MODEL.vocab().size());
        assertEquals(List.of(), MODEL.tokenize(""));
    }

    @Test
    void rejectsVocabularyWithoutUnknownToken() {
        assertThrows(IllegalArgumentException.class,
                () -> new WordPiece(Collections.singletonMap("a", 0), "[UNK]", "##", 100));
    }
}
