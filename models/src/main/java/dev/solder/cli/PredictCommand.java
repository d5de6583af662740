package dev.solder.cli;

import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.solder.Autograd;
import dev.solder.Device;
import dev.solder.Scope;
import dev.solder.Tensor;
import dev.solder.bert.Bert;
import dev.solder.bert.BertForSequenceClassification;
import dev.solder.tokenizer.BertTokenizer;
import dev.solder.tokenizer.EncodeOptions;
import dev.solder.tokenizer.Encoding;
import dev.solder.tokenizer.TextPair;
import java.io.BufferedWriter;
import java.io.IOException;
import java.io.PrintWriter;
import java.io.Writer;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.List;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;

/**
 * {@code solder predict}: runs a fine-tuned sequence classifier (a directory saved by Solder or
 * {@code transformers}) over text lines or JSONL pairs and prints one JSON object per input, in
 * input order:
 *
 * <pre>
 * $ ./solder predict --model out/sst2 --input reviews.txt
 * {"line":1,"label":"pos","probabilities":{"neg":0.0213,"pos":0.9787}}
 * </pre>
 *
 * A regression head ({@code num_labels == 1}) prints {@code "score"} instead of probabilities.
 */
@Command(name = "predict", mixinStandardHelpOptions = true,
        description = "Classify text lines or JSONL records with a fine-tuned model.")
final class PredictCommand implements Callable<Integer> {
    @Spec
    CommandSpec spec;

    @Mixin
    ModelOptions model;

    @Option(names = "--batch-size", defaultValue = "32", paramLabel = "N",
            description = "sequences per forward pass (default ${DEFAULT-VALUE})")
    int batchSize;

    @Option(names = {"-i", "--input"}, required = true, paramLabel = "F",
            description = "text file (one input per line) or JSONL with \"text_a\" and optional \"text_b\"")
    Path input;

    @Option(names = {"-o", "--output"}, paramLabel = "OUT", description = "JSONL file to write (default: standard output)")
    Path output;

    @Option(names = "--max-length", defaultValue = "0", paramLabel = "N",
            description = "truncate inputs to N tokens (default: the model's maximum)")
    int maxLength;

    @Override
    public Integer call() throws IOException {
        PrintWriter err = spec.commandLine().getErr();
        if (batchSize < 1) {
            throw new CliException("--batch-size must be at least 1, got " + batchSize);
        }
        Bert.Options opts = model.bertOptions(err);
        List<InputRecords.Record> records = InputRecords.read(input, false);
        BertTokenizer tok = Bert.tokenizer(model.model, opts);
        try (BertForSequenceClassification clf = BertForSequenceClassification.fromPretrained(model.model, opts)) {
            int limit = EmbedCommand.limit(maxLength, tok, clf.config().maxPositionEmbeddings);
            List<TextPair> pairs = records.stream().map(InputRecords.Record::pair).toList();
            List<Encoding> enc = tok.encodeBatchPairs(pairs, EncodeOptions.defaults().withTruncation(true).withMaxLength(limit));
            if (output == null) {
                PrintWriter out = spec.commandLine().getOut();
                run(clf, enc, records, tok.padId(), out);
                out.flush();
            } else {
                Path abs = output.toAbsolutePath();
                Files.createDirectories(abs.getParent());
                Path tmp = Files.createTempFile(abs.getParent(), "." + abs.getFileName(), ".tmp");
                try {
                    try (BufferedWriter w = Files.newBufferedWriter(tmp, StandardCharsets.UTF_8)) {
                        run(clf, enc, records, tok.padId(), w);
                    }
                    Files.move(tmp, abs, StandardCopyOption.REPLACE_EXISTING, StandardCopyOption.ATOMIC_MOVE);
                } finally {
                    Files.deleteIfExists(tmp);
                }
            }
        }
        return 0;
    }

    private void run(BertForSequenceClassification clf, List<Encoding> enc, List<InputRecords.Record> records, int padId,
            Writer out) throws IOException {
        List<String> labels = clf.labels();
        Device device = ModelDevice.of(clf);
        clf.eval();
        try (var ng = Autograd.noGrad()) {
            for (int from = 0; from < enc.size(); from += batchSize) {
                int to = Math.min(enc.size(), from + batchSize);
                float[] logits;
                try (Scope scope = Scope.open()) {
                    EncodedBatch b = EncodedBatch.of(enc, from, to, padId, device);
                    logits = clf.forward(b.inputIds(), b.tokenTypeIds(), b.attentionMask()).toFloatArray();
                }
                int c = labels.size();
                for (int r = 0; r < to - from; r++) {
                    ObjectNode o = InputRecords.JSON.createObjectNode();
                    o.put("line", records.get(from + r).line());
                    if (c == 1) {
                        o.put("label", labels.getFirst());
                        o.put("score", logits[r]);
                    } else {
                        float[] row = java.util.Arrays.copyOfRange(logits, r * c, (r + 1) * c);
                        double[] p = FillMaskCommand.softmax(row);
                        int best = 0;
                        for (int k = 1; k < c; k++) {
                            if (p[k] > p[best]) {
                                best = k;
                            }
                        }
                        o.put("label", labels.get(best));
                        ObjectNode probs = o.putObject("probabilities");
                        for (int k = 0; k < c; k++) {
                            probs.put(labels.get(k), p[k]);
                        }
                    }
                    out.write(InputRecords.JSON.writeValueAsString(o));
                    out.write('\n');
                }
            }
        }
    }
}
