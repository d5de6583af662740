package dev.solder.bert;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.SerializationFeature;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.ArrayList;
import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * A BERT {@code config.json}, with Hugging Face's field names and defaults.
 *
 * <p>Fields Solder does not use are kept and written back unchanged, so a config read and
 * saved again still loads in {@code transformers}.
 *
 * <pre>{@code
 * BertConfig c = BertConfig.read(Path.of("bert-base-uncased/config.json"));
 * BertConfig tiny = BertConfig.builder().hiddenSize(64).numHiddenLayers(2)
 *         .numAttentionHeads(4).intermediateSize(128).vocabSize(1000).build();
 * }</pre>
 */
public final class BertConfig {
    private static final ObjectMapper JSON = new ObjectMapper().enable(SerializationFeature.INDENT_OUTPUT);

    public int vocabSize = 30522;
    public int hiddenSize = 768;
    public int numHiddenLayers = 12;
    public int numAttentionHeads = 12;
    public int intermediateSize = 3072;
    public String hiddenAct = "gelu";
    public float hiddenDropoutProb = 0.1f;
    public float attentionProbsDropoutProb = 0.1f;
    public int maxPositionEmbeddings = 512;
    public int typeVocabSize = 2;
    public float initializerRange = 0.02f;
    public float layerNormEps = 1e-12f;
    public int padTokenId = 0;
    public String positionEmbeddingType = "absolute";
    /** Null means "use hiddenDropoutProb", as HF. */
    public Float classifierDropout;
    public String problemType;
    public List<String> architectures = new ArrayList<>();
    /** Label names by index; its size is {@code num_labels}. */
    public List<String> id2label = new ArrayList<>(List.of("LABEL_0", "LABEL_1"));
    private ObjectNode extra = JSON.createObjectNode();

    /** The number of labels of a classification head. */
    public int numLabels() {
        return id2label.size();
    }

    /** Sets {@code num_labels}, naming labels {@code LABEL_i} unless names are given later. */
    public BertConfig withNumLabels(int n) {
        if (n < 1) {
            throw new IllegalArgumentException("num_labels must be ≥ 1, got " + n);
        }
        id2label = new ArrayList<>();
        for (int i = 0; i < n; i++) {
            id2label.add("LABEL_" + i);
        }
        return this;
    }

    /** Sets the label names (their count becomes {@code num_labels}). */
    public BertConfig withLabels(List<String> names) {
        id2label = new ArrayList<>(names);
        return this;
    }

    /** Head size {@code hidden / heads}. */
    public int headDim() {
        return hiddenSize / numAttentionHeads;
    }

    /** Checks the fields fit together; throws naming the field. */
    public BertConfig validate() {
        if (hiddenSize <= 0 || numAttentionHeads <= 0 || hiddenSize % numAttentionHeads != 0) {
            throw new IllegalArgumentException("config: hidden_size " + hiddenSize + " is not divisible by num_attention_heads "
                    + numAttentionHeads);
        }
        if (!hiddenAct.equals("gelu") && !hiddenAct.equals("gelu_new") && !hiddenAct.equals("gelu_pytorch_tanh")) {
            throw new IllegalArgumentException("config: hidden_act '" + hiddenAct + "' is not supported (gelu, gelu_new)");
        }
        if (!"absolute".equals(positionEmbeddingType)) {
            throw new IllegalArgumentException("config: position_embedding_type '" + positionEmbeddingType
                    + "' is not supported (absolute)");
        }
        if (vocabSize <= 0 || numHiddenLayers < 0 || intermediateSize <= 0 || maxPositionEmbeddings <= 0 || typeVocabSize <= 0) {
            throw new IllegalArgumentException("config: sizes must be positive: " + this);
        }
        return this;
    }

    /** Reads {@code config.json}. */
    public static BertConfig read(Path file) throws IOException {
        JsonNode root;
        try {
            root = JSON.readTree(file.toFile());
        } catch (JsonProcessingException e) {
            throw new IOException(file + ": not valid JSON: " + e.getOriginalMessage(), e);
        }
        if (root == null || !root.isObject()) {
            throw new IOException(file + ": expected a JSON object");
        }
        return fromJson((ObjectNode) root, file.toString());
    }

    /** Parses a config from a JSON object; {@code where} names it in errors. */
    public static BertConfig fromJson(ObjectNode root, String where) {
        BertConfig c = new BertConfig();
        ObjectNode rest = root.deepCopy();
        c.vocabSize = intField(rest, "vocab_size", c.vocabSize, where);
        c.hiddenSize = intField(rest, "hidden_size", c.hiddenSize, where);
        c.numHiddenLayers = intField(rest, "num_hidden_layers", c.numHiddenLayers, where);
        c.numAttentionHeads = intField(rest, "num_attention_heads", c.numAttentionHeads, where);
        c.intermediateSize = intField(rest, "intermediate_size", c.intermediateSize, where);
        c.hiddenAct = textField(rest, "hidden_act", c.hiddenAct);
        c.hiddenDropoutProb = (float) doubleField(rest, "hidden_dropout_prob", c.hiddenDropoutProb, where);
        c.attentionProbsDropoutProb = (float) doubleField(rest, "attention_probs_dropout_prob", c.attentionProbsDropoutProb, where);
        c.maxPositionEmbeddings = intField(rest, "max_position_embeddings", c.maxPositionEmbeddings, where);
        c.typeVocabSize = intField(rest, "type_vocab_size", c.typeVocabSize, where);
        c.initializerRange = (float) doubleField(rest, "initializer_range", c.initializerRange, where);
        c.layerNormEps = (float) doubleField(rest, "layer_norm_eps", c.layerNormEps, where);
        c.padTokenId = intField(rest, "pad_token_id", c.padTokenId, where);
        c.positionEmbeddingType = textField(rest, "position_embedding_type", c.positionEmbeddingType);
        JsonNode cd = rest.remove("classifier_dropout");
        c.classifierDropout = cd == null || cd.isNull() ? null : (float) cd.asDouble();
        JsonNode pt = rest.remove("problem_type");
        c.problemType = pt == null || pt.isNull() ? null : pt.asText();
        JsonNode arch = rest.remove("architectures");
        if (arch != null && arch.isArray()) {
            c.architectures = new ArrayList<>();
            arch.forEach(a -> c.architectures.add(a.asText()));
        }
        JsonNode id2label = rest.remove("id2label");
        JsonNode numLabels = rest.remove("num_labels");
        rest.remove("label2id");
        if (id2label != null && id2label.isObject() && id2label.size() > 0) {
            int n = id2label.size();
            String[] names = new String[n];
            for (Iterator<Map.Entry<String, JsonNode>> it = id2label.fields(); it.hasNext(); ) {
                var e = it.next();
                int idx;
                try {
                    idx = Integer.parseInt(e.getKey());
                } catch (NumberFormatException ex) {
                    throw new IllegalArgumentException(where + ": id2label key '" + e.getKey() + "' is not an integer");
                }
                if (idx < 0 || idx >= n) {
                    throw new IllegalArgumentException(where + ": id2label index " + idx + " outside 0.." + (n - 1));
                }
                names[idx] = e.getValue().asText();
            }
            c.id2label = new ArrayList<>(List.of(names));
        } else if (numLabels != null && numLabels.canConvertToInt()) {
            c.withNumLabels(numLabels.asInt());
        }
        c.extra = rest;
        return c;
    }

    /** The config as HF writes it (with {@code id2label}, {@code label2id}, {@code model_type}). */
    public ObjectNode toJson() {
        ObjectNode o = JSON.createObjectNode();
        if (!architectures.isEmpty()) {
            var arr = o.putArray("architectures");
            architectures.forEach(arr::add);
        }
        o.put("attention_probs_dropout_prob", attentionProbsDropoutProb);
        if (classifierDropout == null) {
            o.putNull("classifier_dropout");
        } else {
            o.put("classifier_dropout", classifierDropout);
        }
        o.put("hidden_act", hiddenAct);
        o.put("hidden_dropout_prob", hiddenDropoutProb);
        o.put("hidden_size", hiddenSize);
        ObjectNode i2l = o.putObject("id2label");
        ObjectNode l2i = JSON.createObjectNode();
        for (int i = 0; i < id2label.size(); i++) {
            i2l.put(Integer.toString(i), id2label.get(i));
            l2i.put(id2label.get(i), i);
        }
        o.put("initializer_range", initializerRange);
        o.put("intermediate_size", intermediateSize);
        o.set("label2id", l2i);
        o.put("layer_norm_eps", layerNormEps);
        o.put("max_position_embeddings", maxPositionEmbeddings);
        o.put("model_type", "bert");
        o.put("num_attention_heads", numAttentionHeads);
        o.put("num_hidden_layers", numHiddenLayers);
        o.put("pad_token_id", padTokenId);
        o.put("position_embedding_type", positionEmbeddingType);
        if (problemType != null) {
            o.put("problem_type", problemType);
        }
        o.put("type_vocab_size", typeVocabSize);
        o.put("vocab_size", vocabSize);
        for (Iterator<Map.Entry<String, JsonNode>> it = extra.fields(); it.hasNext(); ) {
            var e = it.next();
            if (!o.has(e.getKey())) {
                o.set(e.getKey(), e.getValue());
            }
        }
        return o;
    }

    /** Writes {@code config.json} atomically. */
    public void write(Path file) throws IOException {
        Path tmp = file.resolveSibling(file.getFileName() + ".tmp");
        Files.writeString(tmp, JSON.writeValueAsString(toJson()) + "\n");
        Files.move(tmp, file, StandardCopyOption.REPLACE_EXISTING, StandardCopyOption.ATOMIC_MOVE);
    }

    /** A builder starting from bert-base-uncased's values. */
    public static Builder builder() {
        return new Builder();
    }

    /** Copy of this config. */
    public BertConfig copy() {
        return fromJson(toJson(), "copy");
    }

    @Override
    public String toString() {
        return "BertConfig{hidden=" + hiddenSize + ", layers=" + numHiddenLayers + ", heads=" + numAttentionHeads
                + ", intermediate=" + intermediateSize + ", vocab=" + vocabSize + ", labels=" + numLabels() + "}";
    }

    private static int intField(ObjectNode o, String k, int def, String where) {
        JsonNode n = o.remove(k);
        if (n == null || n.isNull()) {
            return def;
        }
        if (!n.canConvertToInt()) {
            throw new IllegalArgumentException(where + ": " + k + " must be an integer, got " + n);
        }
        return n.asInt();
    }

    private static double doubleField(ObjectNode o, String k, double def, String where) {
        JsonNode n = o.remove(k);
        if (n == null || n.isNull()) {
            return def;
        }
        if (!n.isNumber()) {
            throw new IllegalArgumentException(where + ": " + k + " must be a number, got " + n);
        }
        return n.asDouble();
    }

    private static String textField(ObjectNode o, String k, String def) {
        JsonNode n = o.remove(k);
        return n == null || n.isNull() ? def : n.asText();
    }

    /** Fluent construction for tests and small models. */
    public static final class Builder {
        private final BertConfig c = new BertConfig();

        public Builder vocabSize(int v) {
            c.vocabSize = v;
            return this;
        }

        public Builder hiddenSize(int v) {
            c.hiddenSize = v;
            return this;
        }

        public Builder numHiddenLayers(int v) {
            c.numHiddenLayers = v;
            return this;
        }

        public Builder numAttentionHeads(int v) {
            c.numAttentionHeads = v;
            return this;
        }

        public Builder intermediateSize(int v) {
            c.intermediateSize = v;
            return this;
        }

        public Builder maxPositionEmbeddings(int v) {
            c.maxPositionEmbeddings = v;
            return this;
        }

        public Builder hiddenAct(String v) {
            c.hiddenAct = v;
            return this;
        }

        public Builder dropout(float hidden, float attention) {
            c.hiddenDropoutProb = hidden;
            c.attentionProbsDropoutProb = attention;
            return this;
        }

        public Builder numLabels(int n) {
            c.withNumLabels(n);
            return this;
        }

        public Builder labels(List<String> names) {
            c.withLabels(names);
            return this;
        }

        public BertConfig build() {
            return c.validate();
        }
    }

    /** Label name → index. */
    public Map<String, Integer> label2id() {
        Map<String, Integer> m = new LinkedHashMap<>();
        for (int i = 0; i < id2label.size(); i++) {
            m.put(id2label.get(i), i);
        }
        return m;
    }
}
