package dev.solder.cli;

import dev.solder.Autograd;
import dev.solder.Scope;
import dev.solder.Tensor;
import dev.solder.bert.Bert;
import dev.solder.bert.BertForMaskedLM;
import dev.solder.tokenizer.BertTokenizer;
import dev.solder.tokenizer.EncodeOptions;
import dev.solder.tokenizer.Encoding;
import java.io.IOException;
import java.io.PrintWriter;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;
import picocli.CommandLine.Spec;

/**
 * {@code solder fill-mask}: the {@code fill-mask} pipeline of {@code transformers}. For each
 * {@code [MASK]} in the text, the {@code top-k} vocabulary tokens by probability (softmax over
 * the vocabulary at that position).
 *
 * <pre>
 * $ ./solder fill-mask --model bert-base-uncased "The capital of France is [MASK]."
 * paris     0.4161
 * lille     0.0714
 * ...
 * </pre>
 */
@Command(name = "fill-mask", mixinStandardHelpOptions = true,
        description = "Predict the tokens hidden by [MASK] with a masked language model.")
final class FillMaskCommand implements Callable<Integer> {
    @Spec
    CommandSpec spec;

    @Mixin
    ModelOptions model;

    @Option(names = "--top-k", defaultValue = "5", paramLabel = "K", description = "tokens shown per mask (default ${DEFAULT-VALUE})")
    int topK;

    @Parameters(arity = "1..*", paramLabel = "TEXT", description = "text with one or more [MASK] tokens (words are joined by spaces)")
    List<String> words;

    /** One prediction: token and probability. */
    record Prediction(int id, String token, double probability) {
    }

    @Override
    public Integer call() throws IOException {
        PrintWriter out = spec.commandLine().getOut();
        PrintWriter err = spec.commandLine().getErr();
        if (topK < 1) {
            throw new CliException("--top-k must be at least 1, got " + topK);
        }
        String text = String.join(" ", words);
        Bert.Options opts = model.bertOptions(err);
        BertTokenizer tok = Bert.tokenizer(model.model, opts);
        Encoding e = tok.encode(text, EncodeOptions.defaults().withTruncation(true));
        List<Integer> masks = new ArrayList<>();
        for (int i = 0; i < e.length(); i++) {
            if (e.inputIds()[i] == tok.maskId()) {
                masks.add(i);
            }
        }
        if (masks.isEmpty()) {
            throw new CliException("no " + tok.specialTokens().mask() + " token in the text: \"" + text + "\"");
        }
        List<List<Prediction>> all;
        try (BertForMaskedLM mlm = BertForMaskedLM.fromPretrained(model.model, opts)) {
            all = predict(mlm, tok, e, masks, topK);
        }
        for (int m = 0; m < masks.size(); m++) {
            if (masks.size() > 1) {
                out.printf(Locale.ROOT, "%s %d of %d (token %d):%n", tok.specialTokens().mask(), m + 1, masks.size(),
                        masks.get(m));
            }
            for (Prediction p : all.get(m)) {
                out.printf(Locale.ROOT, "%-15s %.4f%n", p.token(), p.probability());
            }
        }
        out.flush();
        return 0;
    }

    /** Top-k predictions at each position of {@code masks}, in eval mode without autograd. */
    static List<List<Prediction>> predict(BertForMaskedLM mlm, BertTokenizer tok, Encoding e, List<Integer> masks, int k) {
        mlm.eval();
        int s = e.length();
        int vocab = mlm.config().vocabSize;
        List<List<Prediction>> result = new ArrayList<>();
        try (var ng = Autograd.noGrad(); Scope scope = Scope.open()) {
            EncodedBatch b = EncodedBatch.of(List.of(e), 0, 1, tok.padId(), ModelDevice.of(mlm));
            Tensor logits = mlm.forward(b.inputIds(), b.tokenTypeIds(), b.attentionMask());   // [1, S, V]
            for (int pos : masks) {
                float[] row = logits.narrow(1, pos, 1).toFloatArray();
                result.add(topK(softmax(row), k, tok));
            }
            if (logits.dim(1) != s || logits.dim(2) != vocab) {
                throw new IllegalStateException("unexpected logits shape " + logits.describe());
            }
        }
        return result;
    }

    /** Softmax in double precision: probabilities of the whole vocabulary. */
    static double[] softmax(float[] logits) {
        double max = Double.NEGATIVE_INFINITY;
        for (float v : logits) {
            max = Math.max(max, v);
        }
        double sum = 0;
        double[] p = new double[logits.length];
        for (int i = 0; i < p.length; i++) {
            p[i] = Math.exp(logits[i] - max);
            sum += p[i];
        }
        for (int i = 0; i < p.length; i++) {
            p[i] /= sum;
        }
        return p;
    }

    private static List<Prediction> topK(double[] p, int k, BertTokenizer tok) {
        // k is small: a partial selection beats sorting 30k entries.
        int n = Math.min(k, p.length);
        int[] best = new int[n];
        boolean[] taken = new boolean[p.length];
        for (int r = 0; r < n; r++) {
            int arg = -1;
            for (int i = 0; i < p.length; i++) {
                if (!taken[i] && (arg < 0 || p[i] > p[arg])) {
                    arg = i;
                }
            }
            taken[arg] = true;
            best[r] = arg;
        }
        List<Prediction> out = new ArrayList<>(n);
        for (int id : best) {
            String token = id < tok.vocabSize() ? tok.idToToken(id) : "[" + id + "]";
            out.add(new Prediction(id, token, p[id]));
        }
        return out;
    }
}
