package dev.solder.cli;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.solder.Autograd;
import dev.solder.DType;
import dev.solder.Generator;
import dev.solder.Scope;
import dev.solder.Tensor;
import dev.solder.bert.Bert;
import dev.solder.bert.BertConfig;
import dev.solder.bert.BertForMaskedLM;
import dev.solder.bert.BertForSequenceClassification;
import dev.solder.bert.BertModel;
import dev.solder.io.RawTensor;
import dev.solder.io.SafetensorsReader;
import dev.solder.io.WeightSet;
import dev.solder.tokenizer.BertTokenizer;
import dev.solder.tokenizer.EncodeOptions;
import dev.solder.tokenizer.Encoding;
import java.io.IOException;
import java.io.PrintWriter;
import java.io.StringWriter;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import picocli.CommandLine;

/**
 * {@code fill-mask}, {@code embed}, {@code tokenize} and {@code predict} run in process, as
 * {@code ./solder} runs them, on small random models saved to a temporary directory with a
 * vocabulary the test writes. Outputs are checked against the library computing the same thing
 * one input at a time.
 */
class ModelCommandsTest {
    @TempDir
    static Path dir;

    static Path mlmDir;
    static Path clfDir;
    static long seed;

    private static final ObjectMapper JSON = new ObjectMapper();

    /** What a run printed and returned. */
    record Run(int code, String out, String err) {
    }

    @BeforeAll
    static void models() throws IOException {
        seed = Long.getLong("solder.test.seed", System.nanoTime());
        System.out.println("ModelCommandsTest: seed " + seed);
        List<String> vocab = new ArrayList<>(List.of("[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", ".", ",", "!", "the", "a",
                "cat", "dog", "sat", "on", "mat", "ran", "big", "small", "red", "house", "##s", "##ed", "is", "was"));
        for (int i = 0; vocab.size() < 60; i++) {
            vocab.add("w" + i);
        }
        Files.write(dir.resolve("vocab.txt"), vocab);
        BertTokenizer tok = BertTokenizer.fromVocab(dir.resolve("vocab.txt"), true);
        BertConfig c = BertConfig.builder().vocabSize(60).hiddenSize(32).numHiddenLayers(2).numAttentionHeads(4)
                .intermediateSize(64).maxPositionEmbeddings(32).build();
        mlmDir = dir.resolve("mlm");
        try (var mlm = new BertForMaskedLM(c, new Generator(seed))) {
            mlm.save(mlmDir, tok);
        }
        clfDir = dir.resolve("clf");
        try (var clf = new BertForSequenceClassification(c.copy().withLabels(List.of("no", "maybe", "yes")),
                new Generator(seed + 1))) {
            clf.save(clfDir, tok);
        }
    }

    static Run run(String... args) {
        StringWriter out = new StringWriter();
        StringWriter err = new StringWriter();
        // The handler SolderCli.main installs: a failure is one line on stderr and status 1.
        int code = new CommandLine(new SolderCli()).setOut(new PrintWriter(out)).setErr(new PrintWriter(err))
                .setExecutionExceptionHandler((ex, cmd, parsed) -> {
                    cmd.getErr().println("solder " + cmd.getCommandName() + ": " + ex.getMessage());
                    cmd.getErr().flush();
                    return 1;
                })
                .execute(args);
        return new Run(code, out.toString(), err.toString());
    }

    private static Bert.Options quiet() {
        return Bert.Options.defaults().warnings(w -> { });
    }

    // ------------------------------------------------------------------ fill-mask

    @Test
    void fillMaskPrintsTheMostLikelyTokensWithTheirProbabilities() throws IOException {
        String text = "the cat [MASK] on the mat.";
        Run r = run("fill-mask", "--model", mlmDir.toString(), "--top-k", "4", text);
        assertEquals(0, r.code(), r.err());
        String[] lines = r.out().strip().split("\n");
        assertEquals(4, lines.length, r.out());

        BertTokenizer tok = Bert.tokenizer(mlmDir.toString());
        Encoding e = tok.encode(text);
        int at = java.util.Arrays.stream(e.inputIds()).boxed().toList().indexOf(tok.maskId());
        double[] p;
        try (var mlm = BertForMaskedLM.fromPretrained(mlmDir.toString(), quiet()); var ng = Autograd.noGrad();
             var s = Scope.open()) {
            mlm.eval();
            float[] logits = mlm.forward(Tensor.ofInts(e.inputIds(), 1, e.length()), null, null)
                    .narrow(1, at, 1).toFloatArray();
            p = probabilities(logits);
        }
        Integer[] order = new Integer[p.length];
        for (int i = 0; i < order.length; i++) {
            order[i] = i;
        }
        java.util.Arrays.sort(order, (a, b) -> Double.compare(p[b], p[a]));
        for (int k = 0; k < 4; k++) {
            String[] f = lines[k].trim().split("\\s+");
            assertEquals(tok.idToToken(order[k]), f[0], r.out() + " seed " + seed);
            assertEquals(p[order[k]], Double.parseDouble(f[1]), 6e-5, r.out() + " seed " + seed);
        }
    }

    @Test
    void fillMaskWithTwoMasksPrintsEach() {
        Run r = run("fill-mask", "-m", mlmDir.toString(), "--top-k", "2", "the", "[MASK]", "sat", "on", "[MASK]");
        assertEquals(0, r.code(), r.err());
        String[] lines = r.out().strip().split("\n");
        assertEquals(6, lines.length, r.out());
        assertTrue(lines[0].startsWith("[MASK] 1 of 2 (token 2):"), r.out());
        assertTrue(lines[3].startsWith("[MASK] 2 of 2 (token 5):"), r.out());
    }

    @Test
    void fillMaskWithoutMaskFails() {
        Run r = run("fill-mask", "--model", mlmDir.toString(), "no mask here");
        assertEquals(1, r.code());
        assertTrue(r.err().contains("no [MASK] token in the text"), r.err());
    }

    // ------------------------------------------------------------------ embed

    @Test
    void embedPoolsLikeTheModelRunOnEachInputAlone() throws IOException {
        List<String> texts = List.of("the cat sat on the mat.", "a dog", "the big red house was small , the dog ran .",
                "cat", "the mat is red");
        Path in = dir.resolve("texts.txt");
        List<String> lines = new ArrayList<>(texts);
        lines.add(2, "");   // blank lines are skipped
        Files.write(in, lines);
        BertTokenizer tok = Bert.tokenizer(mlmDir.toString());
        List<float[]> states = new ArrayList<>();   // [S_i, H] per text, computed alone
        try (var bert = BertModel.fromPretrained(mlmDir.toString(), false, quiet()); var ng = Autograd.noGrad()) {
            bert.eval();
            for (String t : texts) {
                Encoding e = tok.encode(t);
                try (var s = Scope.open()) {
                    states.add(bert.forward(Tensor.ofInts(e.inputIds(), 1, e.length()), null, null).lastHiddenState()
                            .toFloatArray());
                }
            }
        }
        int maxLen = texts.stream().mapToInt(t -> tok.encode(t).length()).max().orElseThrow();
        for (String pooling : List.of("cls", "mean", "none")) {
            Path out = dir.resolve("emb-" + pooling + ".safetensors");
            Run r = run("embed", "--model", mlmDir.toString(), "--input", in.toString(), "--output", out.toString(),
                    "--pooling", pooling, "--batch-size", "2");
            assertEquals(0, r.code(), r.err());
            try (WeightSet w = SafetensorsReader.read(out)) {
                RawTensor emb = w.get("embeddings");
                RawTensor mask = w.get("attention_mask");
                assertEquals(DType.FLOAT32, emb.dtype());
                assertEquals(DType.INT64, mask.dtype());
                assertArrayEquals(new long[] {5, maxLen}, mask.shape());
                assertArrayEquals(pooling.equals("none") ? new long[] {5, maxLen, 32} : new long[] {5, 32}, emb.shape());
                assertEquals(pooling, w.metadata().get("pooling"));
                float[] got = emb.toFloatArray();
                long[] m = mask.toLongArray();
                for (int i = 0; i < texts.size(); i++) {
                    float[] h = states.get(i);
                    int len = h.length / 32;
                    for (int j = 0; j < maxLen; j++) {
                        assertEquals(j < len ? 1 : 0, m[i * maxLen + j], "mask row " + i);
                    }
                    for (int k = 0; k < 32; k++) {
                        switch (pooling) {
                            case "cls" -> assertEquals(h[k], got[i * 32 + k], 1e-5f, "row " + i + " seed " + seed);
                            case "mean" -> {
                                double sum = 0;
                                for (int j = 0; j < len; j++) {
                                    sum += h[j * 32 + k];
                                }
                                assertEquals(sum / len, got[i * 32 + k], 1e-5, "row " + i + " seed " + seed);
                            }
                            default -> {
                                for (int j = 0; j < maxLen; j++) {
                                    float want = j < len ? h[j * 32 + k] : 0f;
                                    assertEquals(want, got[(i * maxLen + j) * 32 + k], 1e-5f, "row " + i + " token " + j);
                                }
                            }
                        }
                    }
                }
            }
        }
    }

    @Test
    void embedReadsJsonlPairs() throws IOException {
        Path in = dir.resolve("pairs.txt");   // recognised by its first character, not the extension
        Files.writeString(in, "{\"text_a\": \"the cat\", \"text_b\": \"sat on the mat\"}\n{\"text\": \"a dog\"}\n");
        Path out = dir.resolve("pairs.safetensors");
        Run r = run("embed", "--model", mlmDir.toString(), "--input", in.toString(), "--output", out.toString(),
                "--pooling", "cls", "--max-length", "6");
        assertEquals(0, r.code(), r.err());
        try (WeightSet w = SafetensorsReader.read(out)) {
            assertArrayEquals(new long[] {2, 6}, w.get("attention_mask").shape(), "pair truncated to 6 tokens");
            assertArrayEquals(new long[] {2, 32}, w.get("embeddings").shape());
        }
    }

    // ------------------------------------------------------------------ tokenize

    @Test
    void tokenizeAddsModelInputsAndKeepsOtherFields() throws IOException {
        Path in = dir.resolve("tok-in.jsonl");
        Files.writeString(in, "{\"id\": 7, \"text_a\": \"The cat sat.\", \"text_b\": \"A dog ran!\", \"score\": 1.10}\n"
                + "\n{\"text_a\": \"big red houses\", \"meta\": {\"x\": [1, 2]}}\n");
        Path out = dir.resolve("tok-out.jsonl");
        Run r = run("tokenize", "--model", mlmDir.toString(), "--input", in.toString(), "--output", out.toString());
        assertEquals(0, r.code(), r.err());
        List<String> lines = Files.readAllLines(out);
        assertEquals(2, lines.size());
        assertTrue(lines.get(0).startsWith("{\"id\":7,\"text_a\":\"The cat sat.\",\"text_b\":\"A dog ran!\",\"score\":1.10,"
                + "\"input_ids\":["), lines.get(0));
        BertTokenizer tok = Bert.tokenizer(mlmDir.toString());
        JsonNode first = JSON.readTree(lines.get(0));
        Encoding e = tok.encode("The cat sat.", "A dog ran!");
        assertArrayEquals(e.inputIds(), ints(first.get("input_ids")));
        assertArrayEquals(e.tokenTypeIds(), ints(first.get("token_type_ids")));
        assertArrayEquals(e.attentionMask(), ints(first.get("attention_mask")));
        JsonNode second = JSON.readTree(lines.get(1));
        assertEquals(JSON.readTree("{\"x\": [1, 2]}"), second.get("meta"));
        assertArrayEquals(tok.encode("big red houses").inputIds(), ints(second.get("input_ids")));

        Run t = run("tokenize", "--model", mlmDir.toString(), "--input", in.toString(), "--output", out.toString(),
                "--max-length", "5");
        assertEquals(0, t.code(), t.err());
        JsonNode cut = JSON.readTree(Files.readAllLines(out).getFirst());
        assertArrayEquals(tok.encode("The cat sat.", "A dog ran!", EncodeOptions.defaults().withTruncation(true)
                .withMaxLength(5)).inputIds(), ints(cut.get("input_ids")));
    }

    @Test
    void tokenizeNamesTheBadLine() throws IOException {
        Path in = dir.resolve("bad.jsonl");
        Files.writeString(in, "{\"text_a\": \"fine\"}\n{\"text_a\": \"oops\",}\n");
        Run r = run("tokenize", "--model", mlmDir.toString(), "--input", in.toString(), "--output",
                dir.resolve("never.jsonl").toString());
        assertEquals(1, r.code());
        assertTrue(r.err().contains(in + ":2: not valid JSON"), r.err());
        assertTrue(r.err().contains("expected one JSON object per line"), r.err());
        assertTrue(Files.notExists(dir.resolve("never.jsonl")), "no partial output");

        Files.writeString(in, "{\"text_a\": \"fine\"}\n{\"sentence\": \"wrong field\"}\n");
        Run f = run("tokenize", "--model", mlmDir.toString(), "--input", in.toString(), "--output",
                dir.resolve("never.jsonl").toString());
        assertEquals(1, f.code());
        assertTrue(f.err().contains(in + ":2: expected a string field \"text_a\" (or \"text\"), the object has [sentence]"),
                f.err());

        Files.writeString(in, "[1, 2]\n");
        Run a = run("tokenize", "--model", mlmDir.toString(), "--input", in.toString(), "--output",
                dir.resolve("never.jsonl").toString());
        assertEquals(1, a.code());
        assertTrue(a.err().contains(in + ":1: expected a JSON object"), a.err());
    }

    @Test
    void missingInputFileAndModelAreClearErrors() {
        Path nope = dir.resolve("does-not-exist.txt");
        Run r = run("embed", "--model", mlmDir.toString(), "--input", nope.toString(), "--output",
                dir.resolve("x.safetensors").toString());
        assertEquals(1, r.code());
        assertTrue(r.err().contains(nope + ": no such input file"), r.err());

        Run m = run("predict", "--model", dir.resolve("no/such/model").toString(), "--input", nope.toString());
        assertEquals(1, m.code());
        assertTrue(m.err().contains("no such input file") || m.err().contains("no such local directory"), m.err());

        Run o = run("fill-mask", "--model", mlmDir.toString(), "--top-k", "0", "[MASK]");
        assertEquals(1, o.code());
        assertTrue(o.err().contains("--top-k must be at least 1"), o.err());
    }

    // ------------------------------------------------------------------ predict

    @Test
    void predictPrintsLabelAndProbabilitiesPerInput() throws IOException {
        List<String> texts = List.of("the cat sat", "a big red house", "dog", "the mat was small", "ran");
        Path in = dir.resolve("predict.txt");
        Files.write(in, texts);
        Path out = dir.resolve("predictions.jsonl");
        Run r = run("predict", "--model", clfDir.toString(), "--input", in.toString(), "--batch-size", "2",
                "--output", out.toString());
        assertEquals(0, r.code(), r.err());
        List<String> lines = Files.readAllLines(out);
        assertEquals(texts.size(), lines.size());
        BertTokenizer tok = Bert.tokenizer(clfDir.toString());
        try (var clf = BertForSequenceClassification.fromPretrained(clfDir.toString(), quiet());
             var ng = Autograd.noGrad()) {
            clf.eval();
            for (int i = 0; i < texts.size(); i++) {
                JsonNode o = JSON.readTree(lines.get(i));
                assertEquals(i + 1, o.get("line").asInt());
                Encoding e = tok.encode(texts.get(i));
                double[] p;
                try (var s = Scope.open()) {
                    p = probabilities(clf.forward(Tensor.ofInts(e.inputIds(), 1, e.length()), null, null)
                            .toFloatArray());
                }
                List<String> labels = List.of("no", "maybe", "yes");
                int best = 0;
                for (int k = 0; k < 3; k++) {
                    assertEquals(p[k], o.get("probabilities").get(labels.get(k)).asDouble(), 1e-5, lines.get(i));
                    best = p[k] > p[best] ? k : best;
                }
                assertEquals(labels.get(best), o.get("label").asText());
            }
        }
        // Standard output when no --output is given.
        Run s = run("predict", "--model", clfDir.toString(), "--input", in.toString());
        assertEquals(0, s.code(), s.err());
        assertEquals(lines, List.of(s.out().strip().split("\n")));
    }

    private static int[] ints(JsonNode a) {
        int[] v = new int[a.size()];
        for (int i = 0; i < v.length; i++) {
            v[i] = a.get(i).asInt();
        }
        return v;
    }

    /**
     * The test's own softmax (not the commands' helper it checks), in float64 straight from the
     * definition: exp(l_i) / Σ exp(l_j), shifted by the maximum only to stay finite.
     */
    private static double[] probabilities(float[] logits) {
        double max = Double.NEGATIVE_INFINITY;
        for (float l : logits) {
            max = Math.max(max, l);
        }
        double[] e = new double[logits.length];
        double sum = 0;
        for (int i = 0; i < e.length; i++) {
            e[i] = Math.exp((double) logits[i] - max);
            sum += e[i];
        }
        for (int i = 0; i < e.length; i++) {
            e[i] /= sum;
        }
        return e;
    }

    @Test
    void theCommandsSoftmaxGivesHandComputedProbabilities() {
        // logits {0, ln 3}: 1 / (1 + 3) and 3 / (1 + 3); a large common offset changes nothing.
        double[] p = FillMaskCommand.softmax(new float[] {0f, (float) Math.log(3)});
        assertEquals(0.25, p[0], 1e-7);
        assertEquals(0.75, p[1], 1e-7);
        double[] shifted = FillMaskCommand.softmax(new float[] {1000f, 1000f + (float) Math.log(3)});
        assertEquals(0.25, shifted[0], 1e-4);
        assertEquals(0.75, shifted[1], 1e-4);
    }
}
