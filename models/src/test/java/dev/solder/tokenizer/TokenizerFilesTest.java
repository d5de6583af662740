package dev.solder.tokenizer;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Loading vocab.txt / tokenizer.json / directories and saving in the Hugging Face layout. */
class TokenizerFilesTest {
    private static final ObjectMapper JSON = new ObjectMapper();

    @TempDir
    Path dir;

    /** A tokenizer.json as transformers writes one for BERT, built over the test vocabulary. */
    private static ObjectNode tokenizerJson(boolean lowercase) {
        ObjectNode root = JSON.createObjectNode();
        root.put("version", "1.0");
        root.putNull("truncation");
        root.putNull("padding");
        ArrayNode added = root.putArray("added_tokens");
        for (String s : List.of("[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]")) {
            ObjectNode t = added.addObject();
            t.put("id", TestVocab.id(s));
            t.put("content", s);
            t.put("single_word", false);
            t.put("lstrip", false);
            t.put("rstrip", false);
            t.put("normalized", false);
            t.put("special", true);
        }
        ObjectNode n = root.putObject("normalizer");
        n.put("type", "BertNormalizer");
        n.put("clean_text", true);
        n.put("handle_chinese_chars", true);
        n.putNull("strip_accents");
        n.put("lowercase", lowercase);
        root.putObject("pre_tokenizer").put("type", "BertPreTokenizer");
        ObjectNode post = root.putObject("post_processor");
        post.put("type", "TemplateProcessing");
        ArrayNode single = post.putArray("single");
        single.addObject().putObject("SpecialToken").put("id", "[CLS]").put("type_id", 0);
        single.addObject().putObject("Sequence").put("id", "A").put("type_id", 0);
        single.addObject().putObject("SpecialToken").put("id", "[SEP]").put("type_id", 0);
        ArrayNode pair = post.putArray("pair");
        pair.addObject().putObject("SpecialToken").put("id", "[CLS]").put("type_id", 0);
        pair.addObject().putObject("Sequence").put("id", "A").put("type_id", 0);
        pair.addObject().putObject("SpecialToken").put("id", "[SEP]").put("type_id", 0);
        pair.addObject().putObject("Sequence").put("id", "B").put("type_id", 1);
        pair.addObject().putObject("SpecialToken").put("id", "[SEP]").put("type_id", 1);
        ObjectNode specials = post.putObject("special_tokens");
        for (String s : List.of("[CLS]", "[SEP]")) {
            ObjectNode st = specials.putObject(s);
            st.put("id", s);
            st.putArray("ids").add(TestVocab.id(s));
            st.putArray("tokens").add(s);
        }
        ObjectNode dec = root.putObject("decoder");
        dec.put("type", "WordPiece");
        dec.put("prefix", "##");
        dec.put("cleanup", true);
        ObjectNode model = root.putObject("model");
        model.put("type", "WordPiece");
        model.put("unk_token", "[UNK]");
        model.put("continuing_subword_prefix", "##");
        model.put("max_input_chars_per_word", 100);
        ObjectNode vocab = model.putObject("vocab");
        for (int i = 0; i < TestVocab.TOKENS.size(); i++) {
            vocab.put(TestVocab.TOKENS.get(i), i);
        }
        return root;
    }

    private Path write(String name, JsonNode node) throws IOException {
        Path p = dir.resolve(name);
        JSON.writeValue(p.toFile(), node);
        return p;
    }

    @Test
    void tokenizerJsonMatchesVocabTxt() throws IOException {
        BertTokenizer fromJson = BertTokenizer.fromTokenizerJson(write("tokenizer.json", tokenizerJson(true)));
        BertTokenizer fromVocab = BertTokenizer.fromVocab(TestVocab.write(dir), true);
        for (String s : List.of("Héllo, naïve WORLD!", "中文 [MASK] don't", "", "unaffable 😀😀")) {
            assertEquals(fromVocab.encode(s, "It was tired."), fromJson.encode(s, "It was tired."), s);
        }
        assertEquals(TestVocab.TOKENS.size(), fromJson.vocabSize());
        assertEquals(2, fromJson.clsId());
        assertEquals("hello, world!", fromJson.decode(fromJson.encode("Hello , world !").inputIds(), true));
    }

    @Test
    void tokenizerJsonNormalizerSettingsAreRead() throws IOException {
        BertTokenizer cased = BertTokenizer.fromTokenizerJson(write("tokenizer.json", tokenizerJson(false)));
        // No lowercasing, and strip_accents null follows lowercase=false: "Héllo" is not "hello".
        assertEquals(List.of("[UNK]", "world"), cased.tokenize("Héllo world"));
        assertEquals(List.of("[UNK]"), cased.tokenize("World"));
        ObjectNode json = tokenizerJson(true);
        ((ObjectNode) json.get("normalizer")).put("strip_accents", false).put("clean_text", false)
                .put("handle_chinese_chars", false);
        BertTokenizer t = BertTokenizer.fromTokenizerJson(write("tokenizer.json", json));
        assertEquals(new BertNormalizer(false, false, false, true), t.normalizer());
        assertEquals(List.of("[UNK]"), t.tokenize("中文"));
        assertEquals(List.of("[UNK]"), t.tokenize("hel\u200Blo"));
    }

    @Test
    void addedTokensFromTokenizerJson() throws IOException {
        ObjectNode json = tokenizerJson(true);
        int next = TestVocab.TOKENS.size();
        ArrayNode added = (ArrayNode) json.get("added_tokens");
        // A normalized, non-special token with a space: matched in the lowercased text.
        added.addObject().put("id", next).put("content", "Hello World").put("single_word", false)
                .put("lstrip", false).put("rstrip", false).put("normalized", true).put("special", false);
        // A raw-text token that must stand alone as a word.
        added.addObject().put("id", next + 1).put("content", "<m>").put("single_word", true)
                .put("lstrip", false).put("rstrip", false).put("normalized", false).put("special", false);
        BertTokenizer t = BertTokenizer.fromTokenizerJson(write("tokenizer.json", json));
        assertEquals(next + 2, t.vocabSize());
        // Its token string is the normalized form that was matched.
        assertEquals(List.of("a", "hello world", "!"), t.tokenize("a HELLO world!"));
        assertEquals(List.of("a", "<m>", "b"), t.tokenize("a <m> b"));
        // Inside a word single_word refuses the match, so < m > are plain punctuation and letters.
        assertEquals(List.of("a", "<", "m", ">", "b"), t.tokenize("a<m>b"));
        // Non-special added tokens survive skipSpecialTokens.
        assertEquals("a hello world", t.decode(t.encode("a hello world").inputIds(), true));
        assertEquals(next, t.tokenToId("Hello World"));
    }

    @Test
    void bertProcessingAndMissingPostProcessor() throws IOException {
        ObjectNode json = tokenizerJson(true);
        ObjectNode post = json.putObject("post_processor");
        post.put("type", "BertProcessing");
        post.putArray("sep").add("[SEP]").add(3);
        post.putArray("cls").add("[CLS]").add(2);
        BertTokenizer bert = BertTokenizer.fromTokenizerJson(write("tokenizer.json", json));
        assertArrayEquals(new int[] {2, TestVocab.id("hello"), 3, TestVocab.id("world"), 3},
                bert.encode("hello", "world").inputIds());
        json.putNull("post_processor");
        BertTokenizer none = BertTokenizer.fromTokenizerJson(write("tokenizer.json", json));
        Encoding e = none.encode("hello", "world");
        assertArrayEquals(new int[] {TestVocab.id("hello"), TestVocab.id("world")}, e.inputIds());
        assertArrayEquals(new int[] {0, 1}, e.tokenTypeIds());
    }

    @Test
    void rejectsOtherModels() throws IOException {
        ObjectNode json = tokenizerJson(true);
        ((ObjectNode) json.get("model")).put("type", "BPE");
        Path p = write("tokenizer.json", json);
        assertThrows(UnsupportedOperationException.class, () -> BertTokenizer.fromTokenizerJson(p));
        ObjectNode other = tokenizerJson(true);
        other.putObject("pre_tokenizer").put("type", "Whitespace");
        Path q = write("other.json", other);
        assertThrows(UnsupportedOperationException.class, () -> BertTokenizer.fromTokenizerJson(q));
    }

    @Test
    void directoryWithVocabAndConfig() throws IOException {
        TestVocab.write(dir);
        assertTrue(BertTokenizer.fromDirectory(dir).normalizer().lowercase(), "do_lower_case defaults to true");
        Files.writeString(dir.resolve("tokenizer_config.json"),
                "{\"do_lower_case\": false, \"model_max_length\": 128, \"clean_up_tokenization_spaces\": false}",
                StandardCharsets.UTF_8);
        BertTokenizer cased = BertTokenizer.fromDirectory(dir);
        assertFalse(cased.normalizer().lowercase());
        assertEquals(128, cased.modelMaxLength());
        assertFalse(cased.cleanUpTokenizationSpaces());
        assertEquals(List.of("[UNK]"), cased.tokenize("World"));
        int[] ids = cased.encode("don't").inputIds();
        assertEquals("[CLS] don ' t [SEP]", cased.decode(ids));
        assertEquals(128, cased.encode("a ".repeat(300), EncodeOptions.defaults().withTruncation(true)).length());
    }

    @Test
    void directoryPrefersTokenizerJsonAndAppliesConfigLikeBertTokenizerFast() throws IOException {
        TestVocab.write(dir);
        write("tokenizer.json", tokenizerJson(true));
        write("tokenizer_config.json", JSON.createObjectNode().put("do_lower_case", false)
                .put("model_max_length", 1e30));
        BertTokenizer t = BertTokenizer.fromDirectory(dir);
        // do_lower_case=false from the config overrides the json normalizer, as BertTokenizerFast does.
        assertFalse(t.normalizer().lowercase());
        assertEquals(Integer.MAX_VALUE, t.modelMaxLength());
    }

    @Test
    void missingFilesAreReported() {
        assertThrows(NoSuchFileException.class, () -> BertTokenizer.fromDirectory(dir));
    }

    @Test
    void saveWritesHuggingFaceLayoutAndReadsBack() throws IOException {
        BertTokenizer original = BertTokenizer.fromVocab(TestVocab.write(dir), true).withModelMaxLength(256);
        Path out = dir.resolve("saved");
        original.save(out);
        for (String f : List.of("vocab.txt", "tokenizer.json", "tokenizer_config.json", "special_tokens_map.json")) {
            assertTrue(Files.exists(out.resolve(f)), f);
        }
        assertEquals(TestVocab.TOKENS, Files.readAllLines(out.resolve("vocab.txt"), StandardCharsets.UTF_8));
        JsonNode config = JSON.readTree(out.resolve("tokenizer_config.json").toFile());
        assertTrue(config.get("do_lower_case").asBoolean());
        assertTrue(config.get("strip_accents").isNull());
        assertTrue(config.get("tokenize_chinese_chars").asBoolean());
        assertEquals("BertTokenizer", config.get("tokenizer_class").asText());
        assertEquals(256, config.get("model_max_length").asInt());
        assertEquals("[MASK]", JSON.readTree(out.resolve("special_tokens_map.json").toFile()).get("mask_token").asText());
        JsonNode json = JSON.readTree(out.resolve("tokenizer.json").toFile());
        assertEquals("WordPiece", json.get("model").get("type").asText());
        assertEquals(5, json.get("added_tokens").size());

        BertTokenizer back = BertTokenizer.fromDirectory(out);
        assertEquals(256, back.modelMaxLength());
        for (String s : List.of("Héllo, naïve WORLD!", "中文 [MASK] don't", "", "a".repeat(120))) {
            assertEquals(original.encode(s, "cats"), back.encode(s, "cats"), s);
        }
        // The tokenizer.json alone reads back the same way.
        assertEquals(original.encode("Running cats"), BertTokenizer.fromTokenizerJson(out.resolve("tokenizer.json"))
                .encode("Running cats"));
    }

    @Test
    void vocabTxtDuplicatesKeepTheLastIdLikeTransformers() throws IOException {
        Path v = dir.resolve("dup.txt");
        Files.writeString(v, "[PAD]\n[UNK]\n[CLS]\n[SEP]\n[MASK]\nhello\nhello\nworld\n", StandardCharsets.UTF_8);
        BertTokenizer t = BertTokenizer.fromVocab(v, true);
        assertEquals(6, t.tokenToId("hello"));
        assertNull(t.idToToken(5));
        assertEquals(8, t.vocabSize());
    }
}
