package dev.solder.bert;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.solder.Autograd;
import dev.solder.Scope;
import dev.solder.Tensor;
import dev.solder.io.RawTensor;
import dev.solder.io.SafetensorsWriter;
import dev.solder.tokenizer.BertTokenizer;
import dev.solder.tokenizer.EncodeOptions;
import dev.solder.tokenizer.Encoding;
import dev.solder.tokenizer.TextPair;
import java.io.IOException;
import java.lang.foreign.Arena;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

/**
 * Exists for the reference check of {@code docs/reference-checks.md}: runs a pretrained BERT
 * encoder (by default Google's real {@code bert-base-uncased}) on a fixed padded batch and writes
 * everything an independent implementation needs to recompute the hidden states, so that
 * {@code bench/python/bert_reference.py} (plain numpy, float64) can compare against Solder.
 *
 * <p>Writes into the output directory:
 *
 * <ul>
 *   <li>{@code model.safetensors} and {@code config.json} — the model via {@link BertModel#save(Path)}
 *       (Hugging Face names without the {@code bert.} prefix);
 *   <li>{@code inputs.json} — {@code input_ids}, {@code token_type_ids}, {@code attention_mask}
 *       ({@code [B][S]}) and the texts;
 *   <li>{@code solder_hidden.safetensors} — {@code last_hidden_state [B, S, H]} and
 *       {@code pooled [B, H]}, float32, from Solder's eval-mode, no-grad forward.
 * </ul>
 *
 * <pre>{@code
 * // java -cp ... dev.solder.bert.HiddenStateExport /tmp/bert-ref [bert-base-uncased]
 * // python bench/python/bert_reference.py /tmp/bert-ref
 * }</pre>
 */
public final class HiddenStateExport {
    /** The batch: singles of different lengths (so there is padding), a pair, unknown-ish words, punctuation. */
    static final List<TextPair> TEXTS = List.of(
            new TextPair("The capital of France is Paris.", null),
            new TextPair("Hello, world!", null),
            new TextPair("How old are you?", "I am six years old and I like jumping in puddles."),
            new TextPair("Unbelievably, the xylophonist's performance was extraordinary.", null),
            new TextPair("a", null),
            new TextPair("BERT uses WordPiece tokenization; résumé naïve café 東京.", null));

    private HiddenStateExport() {
    }

    /** {@code HiddenStateExport OUTDIR [MODEL]}. */
    public static void main(String[] args) throws IOException {
        if (args.length < 1 || args.length > 2) {
            System.err.println("usage: HiddenStateExport OUTDIR [MODEL (default bert-base-uncased)]");
            System.exit(2);
        }
        Path out = Path.of(args[0]);
        String model = args.length > 1 ? args[1] : "bert-base-uncased";
        Files.createDirectories(out);

        List<String> warnings = new ArrayList<>();
        Bert.Options opts = Bert.Options.defaults().warnings(warnings::add);
        BertTokenizer tok = Bert.tokenizer(model, opts);
        List<Encoding> enc = tok.encodeBatchPairs(TEXTS,
                EncodeOptions.defaults().withPadding(EncodeOptions.Padding.LONGEST));
        int b = enc.size();
        int s = enc.getFirst().length();

        long t0 = System.nanoTime();
        try (BertModel bert = BertModel.fromPretrained(model, opts)) {
            System.out.printf("loaded %s in %.0f ms%n", model, (System.nanoTime() - t0) / 1e6);
            for (String w : warnings) {
                System.out.println("warning: " + w);
            }
            bert.eval();
            bert.save(out);

            float[] hidden;
            float[] pooled;
            int h = bert.config().hiddenSize;
            long t1 = System.nanoTime();
            try (var ng = Autograd.noGrad(); Scope sc = Scope.open()) {
                Tensor[] in = ExportCheck.inputs(enc);
                BertModel.Output o = bert.forward(in[0], in[1], in[2]);
                hidden = o.lastHiddenState().toFloatArray();
                pooled = o.pooled().toFloatArray();
            }
            System.out.printf("forward [%d, %d] in %.0f ms%n", b, s, (System.nanoTime() - t1) / 1e6);

            try (Arena arena = Arena.ofConfined()) {
                SafetensorsWriter.write(out.resolve("solder_hidden.safetensors"), List.of(
                        RawTensor.ofFloats(arena, "last_hidden_state", hidden, b, s, h),
                        RawTensor.ofFloats(arena, "pooled", pooled, b, h)));
            }
        }

        ObjectMapper json = new ObjectMapper();
        ObjectNode root = json.createObjectNode();
        root.put("model", model);
        ExportCheck.putInputs(root, TEXTS, enc);
        ArrayNode tokens = root.putArray("tokens");
        for (Encoding e : enc) {
            ArrayNode r = tokens.addArray();
            e.tokens().forEach(r::add);
        }
        json.writerWithDefaultPrettyPrinter().writeValue(out.resolve("inputs.json").toFile(), root);
        System.out.println("wrote " + out + " (batch " + b + " x " + s + ")");
    }
}
