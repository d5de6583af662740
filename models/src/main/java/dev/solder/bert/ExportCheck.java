package dev.solder.bert;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.SerializationFeature;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.solder.Autograd;
import dev.solder.Generator;
import dev.solder.Scope;
import dev.solder.Tensor;
import dev.solder.nn.Module;
import dev.solder.tokenizer.BertTokenizer;
import dev.solder.tokenizer.EncodeOptions;
import dev.solder.tokenizer.Encoding;
import dev.solder.tokenizer.TextPair;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

/**
 * Writes small random BERT models the way {@code save} does, each with an {@code expected.json}
 * holding fixed inputs and Solder's outputs for them, so that
 * {@code bench/python/check_hf_load.py} can load each directory with {@code transformers}, run
 * the same inputs and compare — the end-to-end proof that a saved model "loads in transformers
 * unchanged".
 *
 * <p>Three directories under the output folder: {@code sequence-classification}
 * (BertForSequenceClassification, 3 named labels), {@code masked-lm} (BertForMaskedLM, tied
 * decoder) and {@code base} (BertModel). Each holds {@code model.safetensors}, {@code config.json},
 * the tokenizer files of a 100-token vocabulary, and {@code expected.json}:
 *
 * <pre>{@code
 * {"architecture": "BertForSequenceClassification", "seed": 42,
 *  "texts": [["the cat sat.", null], ["a dog ran", "the dog sat on a mat!"], ...],
 *  "input_ids": [[2, ...]], "token_type_ids": [[...]], "attention_mask": [[...]],
 *  "output_name": "logits", "output": [[...]], "pooler_output": [[...]] (base only),
 *  "id2label": {"0": "negative", ...} (classifier only)}
 * }</pre>
 *
 * <pre>{@code
 * // java -cp ... dev.solder.bert.ExportCheck /tmp/hf-check [seed]
 * // python bench/python/check_hf_load.py /tmp/hf-check/*
 * }</pre>
 */
public final class ExportCheck {
    private static final ObjectMapper JSON = new ObjectMapper().enable(SerializationFeature.INDENT_OUTPUT);

    /** The texts of the check: singles and pairs, with unknown words, punctuation and padding. */
    static final List<TextPair> TEXTS = List.of(
            new TextPair("the cat sat.", null),
            new TextPair("a dog ran fast", "the dog sat on a mat!"),
            new TextPair("Hello, world! jumping dogs walked", null),
            new TextPair("zebra", "the quick cat"));

    private ExportCheck() {
    }

    /** {@code ExportCheck OUTDIR [SEED]}. */
    public static void main(String[] args) throws IOException {
        if (args.length < 1 || args.length > 2) {
            System.err.println("usage: ExportCheck OUTDIR [SEED]");
            System.exit(2);
        }
        long seed = args.length > 1 ? Long.parseLong(args[1]) : 42;
        for (Path dir : export(Path.of(args[0]), seed)) {
            System.out.println("wrote " + dir);
        }
    }

    /** Writes the three model directories under {@code out}; returns them. */
    public static List<Path> export(Path out, long seed) throws IOException {
        Files.createDirectories(out);
        Path vocab = out.resolve("vocab.txt");
        Files.write(vocab, vocabulary(), StandardCharsets.UTF_8);
        BertTokenizer tok = BertTokenizer.fromVocab(vocab, true);
        List<Encoding> enc = tok.encodeBatchPairs(TEXTS, EncodeOptions.defaults().withPadding(EncodeOptions.Padding.LONGEST));
        List<Path> dirs = new ArrayList<>();

        BertConfig c = smallConfig(tok.vocabSize()).withLabels(List.of("negative", "neutral", "positive"));
        try (var m = randomizeConstants(new BertForSequenceClassification(c, new Generator(seed)), new Generator(seed + 10))) {
            Path d = out.resolve("sequence-classification");
            m.save(d, tok);
            ObjectNode e = expected("BertForSequenceClassification", seed, enc);
            try (var ng = Autograd.noGrad(); var s = Scope.open()) {
                m.eval();
                Tensor[] in = inputs(enc);
                e.put("output_name", "logits");
                e.set("output", nested(m.forward(in[0], in[1], in[2])));
            }
            ObjectNode i2l = e.putObject("id2label");
            for (int i = 0; i < c.id2label.size(); i++) {
                i2l.put(Integer.toString(i), c.id2label.get(i));
            }
            write(d, e);
            dirs.add(d);
        }
        // With a non-zero decoder bias the check also sees whether HF ties it to cls.predictions.bias.
        try (var m = randomizeConstants(new BertForMaskedLM(smallConfig(tok.vocabSize()), new Generator(seed + 1)),
                new Generator(seed + 2))) {
            Path d = out.resolve("masked-lm");
            m.save(d, tok);
            ObjectNode e = expected("BertForMaskedLM", seed, enc);
            try (var ng = Autograd.noGrad(); var s = Scope.open()) {
                m.eval();
                Tensor[] in = inputs(enc);
                e.put("output_name", "logits");
                e.set("output", nested(m.forward(in[0], in[1], in[2])));
            }
            write(d, e);
            dirs.add(d);
        }
        try (var m = randomizeConstants(new BertModel(smallConfig(tok.vocabSize()), new Generator(seed + 3), true),
                new Generator(seed + 4))) {
            Path d = out.resolve("base");
            m.save(d, tok);
            ObjectNode e = expected("BertModel", seed, enc);
            try (var ng = Autograd.noGrad(); var s = Scope.open()) {
                m.eval();
                Tensor[] in = inputs(enc);
                BertModel.Output o = m.forward(in[0], in[1], in[2]);
                e.put("output_name", "last_hidden_state");
                e.set("output", nested(o.lastHiddenState()));
                e.set("pooler_output", nested(o.pooled()));
            }
            write(d, e);
            dirs.add(d);
        }
        Files.delete(vocab);
        return dirs;
    }

    /** hidden 32, 2 layers, 4 heads, intermediate 64, 64 positions; LayerNorm eps as BERT's. */
    static BertConfig smallConfig(int vocab) {
        return BertConfig.builder().vocabSize(vocab).hiddenSize(32).numHiddenLayers(2).numAttentionHeads(4)
                .intermediateSize(64).maxPositionEmbeddings(64).build();
    }

    /** A 100-token WordPiece vocabulary: specials at 0–4 ([PAD] [UNK] [CLS] [SEP] [MASK]), words, pieces. */
    static List<String> vocabulary() {
        List<String> v = new ArrayList<>(List.of("[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", ".", ",", "!", "?", "'",
                "the", "a", "cat", "dog", "sat", "on", "mat", "ran", "fast", "hello", "world", "quick", "jump", "walk",
                "play", "is", "was", "of", "and", "to", "in", "it", "paris", "france", "capital", "##s", "##ing", "##ed",
                "##er", "##ly"));
        for (int i = 0; v.size() < 100; i++) {
            v.add("w" + i);
        }
        return v;
    }

    private static ObjectNode expected(String arch, long seed, List<Encoding> enc) {
        ObjectNode e = JSON.createObjectNode();
        e.put("architecture", arch);
        e.put("seed", seed);
        putInputs(e, TEXTS, enc);
        return e;
    }

    /** {@code [input_ids, token_type_ids, attention_mask]} as int64 {@code [B, S]}, in the open scope. */
    static Tensor[] inputs(List<Encoding> enc) {
        int b = enc.size();
        int s = enc.getFirst().length();
        long[][] a = new long[3][b * s];
        for (int i = 0; i < b; i++) {
            Encoding e = enc.get(i);
            for (int j = 0; j < s; j++) {
                a[0][i * s + j] = e.inputIds()[j];
                a[1][i * s + j] = e.tokenTypeIds()[j];
                a[2][i * s + j] = e.attentionMask()[j];
            }
        }
        return new Tensor[] {Tensor.ofLongs(a[0], b, s), Tensor.ofLongs(a[1], b, s), Tensor.ofLongs(a[2], b, s)};
    }

    /** A tensor as nested JSON arrays, values as float32 decimals. */
    static ArrayNode nested(Tensor t) {
        float[] v = t.toFloatArray();
        int[] shape = t.shape();
        ArrayNode root = JSON.createArrayNode();
        fill(root, v, shape, 0, 0);
        return root;
    }

    private static int fill(ArrayNode node, float[] v, int[] shape, int dim, int at) {
        if (dim == shape.length - 1) {
            for (int i = 0; i < shape[dim]; i++) {
                node.add(v[at++]);
            }
            return at;
        }
        for (int i = 0; i < shape[dim]; i++) {
            at = fill(node.addArray(), v, shape, dim + 1, at);
        }
        return at;
    }

    /**
     * Draws every bias and LayerNorm parameter afresh (biases ~ 0.1·N(0,1), LayerNorm weights
     * 1 + 0.1·N(0,1)). Initialisation leaves them all 0 or 1, and then a reader that mixed two
     * of them up — the two LayerNorms of a layer, query's bias for key's, the decoder's bias
     * for the MLM head's — would give Hugging Face's outputs anyway. The weight round-trip
     * tests use it for the same reason.
     */
    static <M extends Module> M randomizeConstants(M m, Generator g) {
        for (var e : m.stateDict().entrySet()) {
            String name = e.getKey();
            boolean norm = name.contains("LayerNorm.");
            if (!name.endsWith(".bias") && !norm) {
                continue;
            }
            Tensor t = e.getValue();
            float center = norm && name.endsWith(".weight") ? 1f : 0f;
            float[] v = new float[Math.toIntExact(t.numel())];
            for (int i = 0; i < v.length; i++) {
                v[i] = center + (float) (g.nextGaussian() * 0.1);
            }
            try (var s = Scope.open()) {
                dev.solder.nn.Params.copyInto(Tensor.of(v, t.shape()), t);
            }
        }
        return m;
    }

    private static void write(Path dir, ObjectNode e) throws IOException {
        Files.writeString(dir.resolve("expected.json"), JSON.writeValueAsString(e) + "\n", StandardCharsets.UTF_8);
    }

    /**
     * Writes {@code texts} (pairs as {@code [a, b]}, singles as {@code [a, null]}) and the
     * encodings' {@code input_ids}, {@code token_type_ids}, {@code attention_mask} rows into
     * {@code node}: the inputs a Python check feeds to {@code transformers}.
     */
    static void putInputs(ObjectNode node, List<TextPair> pairs, List<Encoding> enc) {
        ArrayNode texts = node.putArray("texts");
        for (TextPair p : pairs) {
            ArrayNode t = texts.addArray();
            t.add(p.first());
            if (p.second() == null) {
                t.addNull();
            } else {
                t.add(p.second());
            }
        }
        for (String field : List.of("input_ids", "token_type_ids", "attention_mask")) {
            ArrayNode rows = node.putArray(field);
            for (Encoding x : enc) {
                ArrayNode r = rows.addArray();
                int[] a = switch (field) {
                    case "input_ids" -> x.inputIds();
                    case "token_type_ids" -> x.tokenTypeIds();
                    default -> x.attentionMask();
                };
                for (int v : a) {
                    r.add(v);
                }
            }
        }
    }
}
