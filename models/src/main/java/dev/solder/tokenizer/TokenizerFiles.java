package dev.solder.tokenizer;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.SerializationFeature;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.JsonNodeFactory;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.io.BufferedReader;
import java.io.BufferedWriter;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/** Reading and writing the Hugging Face tokenizer files. */
final class TokenizerFiles {
    private static final ObjectMapper JSON = new ObjectMapper().enable(SerializationFeature.INDENT_OUTPUT);
    /** transformers' VERY_LARGE_INTEGER: "no limit" in tokenizer_config.json. */
    private static final double NO_LIMIT = 1e29;

    private TokenizerFiles() {}

    /** Reads vocab.txt as transformers' {@code load_vocab}: line i is token i; a repeated token keeps its last id. */
    static Map<String, Integer> readVocab(Path vocabTxt) throws IOException {
        Map<String, Integer> vocab = new LinkedHashMap<>();
        try (BufferedReader r = Files.newBufferedReader(vocabTxt, StandardCharsets.UTF_8)) {
            int index = 0;
            // readLine splits on \n, \r\n and \r, like Python's universal newlines; only the line
            // break is removed (tokens keep other trailing whitespace, as rstrip("\n") does).
            for (String line; (line = r.readLine()) != null; index++) {
                vocab.put(line, index);
            }
        }
        return vocab;
    }

    static BertTokenizer fromVocab(Path vocabTxt, BertNormalizer normalizer, BertTokenizer.SpecialTokens specials,
            int modelMaxLength, boolean cleanUp) throws IOException {
        Map<String, Integer> vocab = readVocab(vocabTxt);
        WordPiece model = new WordPiece(vocab, specials.unk(), "##", 100);
        PostProcessor post = null;
        Integer cls = vocab.get(specials.cls());
        Integer sep = vocab.get(specials.sep());
        if (cls != null && sep != null) {
            post = PostProcessor.bert(specials.cls(), cls, specials.sep(), sep);
        }
        return new BertTokenizer(model, normalizer, List.of(), post, "##", true, specials, modelMaxLength, cleanUp);
    }

    /**
     * Parses tokenizer.json. {@code config} is the tokenizer_config.json merged with
     * special_tokens_map.json when loading a directory, null for a lone file.
     */
    static BertTokenizer fromTokenizerJson(Path file, JsonNode config) throws IOException {
        JsonNode root = JSON.readTree(file.toFile());
        JsonNode m = root.path("model");
        String modelType = m.path("type").asText("WordPiece");
        if (!modelType.equals("WordPiece") || !m.has("vocab")) {
            throw new UnsupportedOperationException("tokenizer.json model is " + modelType + ", not WordPiece");
        }
        Map<String, Integer> vocab = new LinkedHashMap<>();
        for (Map.Entry<String, JsonNode> e : m.get("vocab").properties()) {
            vocab.put(e.getKey(), e.getValue().asInt());
        }
        String unk = m.path("unk_token").asText("[UNK]");
        WordPiece model = new WordPiece(vocab, unk, m.path("continuing_subword_prefix").asText("##"),
                m.path("max_input_chars_per_word").asInt(100));

        BertNormalizer normalizer = null;
        JsonNode n = root.path("normalizer");
        if (!n.isMissingNode() && !n.isNull()) {
            if (!"BertNormalizer".equals(n.path("type").asText())) {
                throw new UnsupportedOperationException("normalizer " + n.path("type").asText() + " is not supported");
            }
            normalizer = new BertNormalizer(n.path("clean_text").asBoolean(true),
                    n.path("handle_chinese_chars").asBoolean(true), optionalBoolean(n.path("strip_accents")),
                    n.path("lowercase").asBoolean(true));
        }
        JsonNode pre = root.path("pre_tokenizer");
        if (!"BertPreTokenizer".equals(pre.path("type").asText())) {
            throw new UnsupportedOperationException("pre_tokenizer " + pre + " is not supported, only BertPreTokenizer");
        }

        List<AddedToken> added = new ArrayList<>();
        for (JsonNode t : root.path("added_tokens")) {
            added.add(new AddedToken(t.path("id").asInt(), t.path("content").asText(),
                    t.path("single_word").asBoolean(false), t.path("lstrip").asBoolean(false),
                    t.path("rstrip").asBoolean(false), t.path("normalized").asBoolean(true),
                    t.path("special").asBoolean(false)));
        }

        String cls = "[CLS]";
        String sep = "[SEP]";
        PostProcessor post = null;
        JsonNode p = root.path("post_processor");
        if (!p.isMissingNode() && !p.isNull()) {
            switch (p.path("type").asText()) {
                case "BertProcessing" -> {
                    sep = p.path("sep").get(0).asText();
                    cls = p.path("cls").get(0).asText();
                    post = PostProcessor.bert(cls, p.path("cls").get(1).asInt(), sep, p.path("sep").get(1).asInt());
                }
                case "TemplateProcessing" -> post = parseTemplate(p);
                default -> throw new UnsupportedOperationException(
                        "post_processor " + p.path("type").asText() + " is not supported");
            }
        }
        String decoderPrefix = null;
        boolean decoderCleanup = false;
        JsonNode d = root.path("decoder");
        if (!d.isMissingNode() && !d.isNull()) {
            if (!"WordPiece".equals(d.path("type").asText())) {
                throw new UnsupportedOperationException("decoder " + d.path("type").asText() + " is not supported");
            }
            decoderPrefix = d.path("prefix").asText("##");
            decoderCleanup = d.path("cleanup").asBoolean(true);
        }

        int maxLength = BertTokenizer.DEFAULT_MODEL_MAX_LENGTH;
        boolean cleanUp = true;
        BertTokenizer.SpecialTokens specials = new BertTokenizer.SpecialTokens(unk, sep, "[PAD]", cls, "[MASK]");
        if (config != null) {
            specials = specialsFrom(config, specials);
            maxLength = modelMaxLength(config, maxLength);
            cleanUp = config.path("clean_up_tokenization_spaces").asBoolean(true);
            if (normalizer != null) {
                // BertTokenizerFast.__init__: its do_lower_case / strip_accents / tokenize_chinese_chars
                // arguments (defaults True / None / True) win over the tokenizer.json normalizer.
                boolean lower = config.path("do_lower_case").asBoolean(true);
                Boolean strip = optionalBoolean(config.path("strip_accents"));
                boolean chinese = config.path("tokenize_chinese_chars").asBoolean(true);
                normalizer = new BertNormalizer(normalizer.cleanText(), chinese, strip, lower);
            }
        }
        return new BertTokenizer(model, normalizer, added, post, decoderPrefix, decoderCleanup, specials, maxLength,
                cleanUp);
    }

    private static PostProcessor parseTemplate(JsonNode p) {
        Map<String, int[]> specials = new LinkedHashMap<>();
        for (Map.Entry<String, JsonNode> e : p.path("special_tokens").properties()) {
            JsonNode ids = e.getValue().path("ids");
            int[] arr = new int[ids.size()];
            for (int i = 0; i < arr.length; i++) {
                arr[i] = ids.get(i).asInt();
            }
            specials.put(e.getKey(), arr);
        }
        return new PostProcessor(pieces(p.path("single")), pieces(p.path("pair")), specials);
    }

    private static List<PostProcessor.Piece> pieces(JsonNode arr) {
        List<PostProcessor.Piece> out = new ArrayList<>();
        for (JsonNode piece : arr) {
            if (piece.has("SpecialToken")) {
                JsonNode s = piece.get("SpecialToken");
                out.add(new PostProcessor.Piece(true, s.path("id").asText(), s.path("type_id").asInt(0)));
            } else if (piece.has("Sequence")) {
                JsonNode s = piece.get("Sequence");
                out.add(new PostProcessor.Piece(false, s.path("id").asText("A"), s.path("type_id").asInt(0)));
            } else {
                throw new UnsupportedOperationException("template piece " + piece + " is not supported");
            }
        }
        return out;
    }

    static BertTokenizer fromDirectory(Path dir) throws IOException {
        JsonNode config = null;
        Path configFile = dir.resolve("tokenizer_config.json");
        if (Files.exists(configFile)) {
            config = JSON.readTree(configFile.toFile());
        }
        Path specialMap = dir.resolve("special_tokens_map.json");
        if (Files.exists(specialMap)) {
            ObjectNode merged = config != null ? ((ObjectNode) config).deepCopy() : JsonNodeFactory.instance.objectNode();
            // special_tokens_map.json is read after tokenizer_config.json and wins.
            for (Map.Entry<String, JsonNode> e : JSON.readTree(specialMap.toFile()).properties()) {
                merged.set(e.getKey(), e.getValue());
            }
            config = merged;
        }
        Path json = dir.resolve("tokenizer.json");
        if (Files.exists(json)) {
            return fromTokenizerJson(json, config != null ? config : JsonNodeFactory.instance.objectNode());
        }
        Path vocab = dir.resolve("vocab.txt");
        if (!Files.exists(vocab)) {
            throw new NoSuchFileException(dir + " has neither tokenizer.json nor vocab.txt");
        }
        JsonNode c = config != null ? config : JsonNodeFactory.instance.objectNode();
        BertNormalizer normalizer = new BertNormalizer(true, c.path("tokenize_chinese_chars").asBoolean(true),
                optionalBoolean(c.path("strip_accents")), c.path("do_lower_case").asBoolean(true));
        return fromVocab(vocab, normalizer, specialsFrom(c, BertTokenizer.SpecialTokens.BERT),
                modelMaxLength(c, BertTokenizer.DEFAULT_MODEL_MAX_LENGTH),
                c.path("clean_up_tokenization_spaces").asBoolean(true));
    }

    private static Boolean optionalBoolean(JsonNode n) {
        return n.isBoolean() ? n.asBoolean() : null;
    }

    private static int modelMaxLength(JsonNode config, int fallback) {
        JsonNode n = config.path("model_max_length");
        if (!n.isNumber()) {
            return fallback;
        }
        double v = n.asDouble();
        return v >= NO_LIMIT || v >= Integer.MAX_VALUE ? Integer.MAX_VALUE : (int) v;
    }

    private static BertTokenizer.SpecialTokens specialsFrom(JsonNode c, BertTokenizer.SpecialTokens d) {
        return new BertTokenizer.SpecialTokens(special(c, "unk_token", d.unk()), special(c, "sep_token", d.sep()),
                special(c, "pad_token", d.pad()), special(c, "cls_token", d.cls()), special(c, "mask_token", d.mask()));
    }

    /** A special token entry is a string or an AddedToken object with "content". */
    private static String special(JsonNode c, String key, String fallback) {
        JsonNode n = c.path(key);
        if (n.isTextual()) {
            return n.asText();
        }
        if (n.isObject() && n.path("content").isTextual()) {
            return n.path("content").asText();
        }
        return fallback;
    }

    // ------------------------------------------------------------------ saving

    static void save(BertTokenizer tok, Path dir) throws IOException {
        Files.createDirectories(dir);
        WordPiece model = tok.wordPiece();
        String[] byId = new String[model.idSpace()];
        model.vocab().forEach((t, id) -> byId[id] = t);
        try (BufferedWriter w = Files.newBufferedWriter(dir.resolve("vocab.txt"), StandardCharsets.UTF_8)) {
            for (int id = 0; id < byId.length; id++) {
                // vocab.txt cannot express a gap in the ids; fill it with a token nobody will type.
                w.write(byId[id] != null ? byId[id] : "[unused_gap_" + id + "]");
                w.write('\n');
            }
        }
        JSON.writeValue(dir.resolve("tokenizer.json").toFile(), tokenizerJson(tok, byId));

        BertTokenizer.SpecialTokens s = tok.specialTokens();
        BertNormalizer n = tok.normalizer();
        ObjectNode config = JsonNodeFactory.instance.objectNode();
        config.put("clean_up_tokenization_spaces", tok.cleanUpTokenizationSpaces());
        config.put("cls_token", s.cls());
        config.put("do_lower_case", n != null && n.lowercase());
        config.put("mask_token", s.mask());
        config.put("model_max_length", tok.modelMaxLength());
        config.put("pad_token", s.pad());
        config.put("sep_token", s.sep());
        if (n == null || n.stripAccents() == null) {
            config.putNull("strip_accents");
        } else {
            config.put("strip_accents", n.stripAccents());
        }
        config.put("tokenize_chinese_chars", n != null && n.handleChineseChars());
        config.put("tokenizer_class", "BertTokenizer");
        config.put("unk_token", s.unk());
        JSON.writeValue(dir.resolve("tokenizer_config.json").toFile(), config);

        ObjectNode map = JsonNodeFactory.instance.objectNode();
        map.put("cls_token", s.cls());
        map.put("mask_token", s.mask());
        map.put("pad_token", s.pad());
        map.put("sep_token", s.sep());
        map.put("unk_token", s.unk());
        JSON.writeValue(dir.resolve("special_tokens_map.json").toFile(), map);
    }

    private static ObjectNode tokenizerJson(BertTokenizer tok, String[] byId) {
        JsonNodeFactory f = JsonNodeFactory.instance;
        ObjectNode root = f.objectNode();
        root.put("version", "1.0");
        root.putNull("truncation");
        root.putNull("padding");
        ArrayNode added = root.putArray("added_tokens");
        for (AddedToken t : tok.addedTokens()) {
            ObjectNode o = added.addObject();
            o.put("id", t.id());
            o.put("content", t.content());
            o.put("single_word", t.singleWord());
            o.put("lstrip", t.lstrip());
            o.put("rstrip", t.rstrip());
            o.put("normalized", t.normalized());
            o.put("special", t.special());
        }
        BertNormalizer n = tok.normalizer();
        if (n == null) {
            root.putNull("normalizer");
        } else {
            ObjectNode o = root.putObject("normalizer");
            o.put("type", "BertNormalizer");
            o.put("clean_text", n.cleanText());
            o.put("handle_chinese_chars", n.handleChineseChars());
            if (n.stripAccents() == null) {
                o.putNull("strip_accents");
            } else {
                o.put("strip_accents", n.stripAccents());
            }
            o.put("lowercase", n.lowercase());
        }
        root.putObject("pre_tokenizer").put("type", "BertPreTokenizer");
        PostProcessor post = tok.postProcessor();
        if (post == null) {
            root.putNull("post_processor");
        } else {
            ObjectNode o = root.putObject("post_processor");
            o.put("type", "TemplateProcessing");
            o.set("single", templateJson(post.single()));
            o.set("pair", templateJson(post.pair()));
            ObjectNode specials = o.putObject("special_tokens");
            post.specialTokens().forEach((name, ids) -> {
                ObjectNode st = specials.putObject(name);
                st.put("id", name);
                ArrayNode idArr = st.putArray("ids");
                ArrayNode tokArr = st.putArray("tokens");
                for (int id : ids) {
                    idArr.add(id);
                    tokArr.add(tok.idToToken(id));
                }
            });
        }
        if (tok.decoderPrefix() == null) {
            root.putNull("decoder");
        } else {
            ObjectNode o = root.putObject("decoder");
            o.put("type", "WordPiece");
            o.put("prefix", tok.decoderPrefix());
            o.put("cleanup", tok.decoderCleanup());
        }
        WordPiece model = tok.wordPiece();
        ObjectNode m = root.putObject("model");
        m.put("type", "WordPiece");
        m.put("unk_token", model.unkToken());
        m.put("continuing_subword_prefix", model.continuingSubwordPrefix());
        m.put("max_input_chars_per_word", model.maxInputCharsPerWord());
        ObjectNode vocab = m.putObject("vocab");
        for (int id = 0; id < byId.length; id++) {
            if (byId[id] != null) {
                vocab.put(byId[id], id);
            }
        }
        return root;
    }

    private static ArrayNode templateJson(List<PostProcessor.Piece> pieces) {
        ArrayNode arr = JsonNodeFactory.instance.arrayNode();
        for (PostProcessor.Piece p : pieces) {
            ObjectNode inner = arr.addObject().putObject(p.special() ? "SpecialToken" : "Sequence");
            inner.put("id", p.name());
            inner.put("type_id", p.typeId());
        }
        return arr;
    }
}
