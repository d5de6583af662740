package dev.solder.cli;

import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.solder.bert.Bert;
import dev.solder.tokenizer.BertTokenizer;
import dev.solder.tokenizer.EncodeOptions;
import dev.solder.tokenizer.Encoding;
import java.io.IOException;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;
import picocli.CommandLine.Model.CommandSpec;

/**
 * {@code solder tokenize}: adds {@code input_ids}, {@code token_type_ids} and
 * {@code attention_mask} — what {@code tokenizer(text_a, text_b)} returns in {@code transformers}
 * — to each JSONL record, keeping its other fields. No truncation or padding unless
 * {@code --max-length} asks for truncation.
 *
 * <pre>
 * $ ./solder tokenize --model bert-base-uncased --input pairs.jsonl --output pairs.tok.jsonl
 * {"text_a":"A man sleeps.","text_b":"Nobody sleeps.","input_ids":[101,1037,...],...}
 * </pre>
 */
@Command(name = "tokenize", mixinStandardHelpOptions = true,
        description = "Add input_ids, token_type_ids and attention_mask to each JSONL record.")
final class TokenizeCommand implements Callable<Integer> {
    @Spec
    CommandSpec spec;

    @Option(names = {"-m", "--model"}, required = true, paramLabel = "M",
            description = "model directory or Hugging Face repo id (its tokenizer is used)")
    String model;

    @Option(names = {"-i", "--input"}, required = true, paramLabel = "F", description = "JSONL with \"text_a\" (or \"text\") and optional \"text_b\"")
    Path input;

    @Option(names = {"-o", "--output"}, required = true, paramLabel = "G", description = "JSONL file to write")
    Path output;

    @Option(names = "--max-length", defaultValue = "0", paramLabel = "N",
            description = "truncate to N tokens, special tokens included (default: no truncation)")
    int maxLength;

    @Override
    public Integer call() throws IOException {
        if (maxLength < 0) {
            throw new CliException("--max-length must be positive, got " + maxLength);
        }
        List<InputRecords.Record> records = InputRecords.read(input, true);
        BertTokenizer tok = Bert.tokenizer(model);
        EncodeOptions opts = maxLength > 0 ? EncodeOptions.defaults().withTruncation(true).withMaxLength(maxLength)
                : EncodeOptions.defaults();
        List<Encoding> enc;
        try {
            enc = InputRecords.encode(tok, records, opts);
        } catch (IllegalArgumentException e) {
            throw new CliException(input + ": " + e.getMessage(), e);
        }
        AtomicOutput.write(output, w -> {
            for (int i = 0; i < records.size(); i++) {
                ObjectNode o = records.get(i).json();
                Encoding e = enc.get(i);
                array(o.putArray("input_ids"), e.inputIds());
                array(o.putArray("token_type_ids"), e.tokenTypeIds());
                array(o.putArray("attention_mask"), e.attentionMask());
                w.write(InputRecords.JSON.writeValueAsString(o));
                w.write('\n');
            }
        });
        spec.commandLine().getErr().printf("tokenize: %d records -> %s%n", records.size(), output);
        spec.commandLine().getErr().flush();
        return 0;
    }

    private static void array(ArrayNode a, int[] values) {
        for (int v : values) {
            a.add(v);
        }
    }
}
