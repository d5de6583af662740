package dev.solder.cli;

import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.solder.Device;
import dev.solder.bert.BertForSequenceClassification;
import dev.solder.tokenizer.Encoding;
import java.io.IOException;
import java.io.PrintWriter;
import java.io.Writer;
import java.nio.file.Path;
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
    BatchedInputOptions inputs;

    @Option(names = {"-o", "--output"}, paramLabel = "OUT", description = "JSONL file to write (default: standard output)")
    Path output;

    @Override
    public Integer call() throws IOException {
        PrintWriter err = spec.commandLine().getErr();
        BatchedInputOptions.Loaded in = inputs.load(err);
        List<InputRecords.Record> records = in.records();
        int padId = in.tokenizer().padId();
        try (BertForSequenceClassification clf = BertForSequenceClassification.fromPretrained(in.model(), in.bertOptions())) {
            List<Encoding> enc = inputs.encode(in, clf.config().maxPositionEmbeddings);
            if (output == null) {
                PrintWriter out = spec.commandLine().getOut();
                run(clf, enc, records, padId, out);
                out.flush();
            } else {
                AtomicOutput.write(output, w -> run(clf, enc, records, padId, w));
            }
        }
        return 0;
    }

    private void run(BertForSequenceClassification clf, List<Encoding> enc, List<InputRecords.Record> records, int padId,
            Writer out) throws IOException {
        List<String> labels = clf.labels();
        Device device = ModelDevice.of(clf);
        clf.eval();
        EncodedBatch.forEach(enc, inputs.batchSize, padId, device, (from, b) -> {
            float[] logits = clf.forward(b.inputIds(), b.tokenTypeIds(), b.attentionMask()).toFloatArray();
            int c = labels.size();
            for (int r = 0; r < b.size(); r++) {
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
        });
    }
}
