package dev.solder.cli;

import dev.solder.bert.Bert;
import dev.solder.tokenizer.BertTokenizer;
import dev.solder.tokenizer.EncodeOptions;
import dev.solder.tokenizer.Encoding;
import java.io.IOException;
import java.io.PrintWriter;
import java.nio.file.Path;
import java.util.List;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;

/**
 * The options that {@code embed} and {@code predict} share (the {@link ModelOptions},
 * {@code --input}, {@code --batch-size}, {@code --max-length}) and the steps that use them:
 * checking the options, reading the input records, loading the tokenizer and encoding the records
 * truncated to the model's limit.
 */
final class BatchedInputOptions {
    @Mixin
    ModelOptions model;

    @Option(names = "--batch-size", defaultValue = "32", paramLabel = "N",
            description = "sequences per forward pass (default ${DEFAULT-VALUE})")
    int batchSize;

    @Option(names = {"-i", "--input"}, required = true, paramLabel = "F",
            description = "text file (one input per line) or JSONL with \"text_a\" and optional \"text_b\"")
    Path input;

    @Option(names = "--max-length", defaultValue = "0", paramLabel = "N",
            description = "truncate inputs to N tokens (default: the model's maximum)")
    int maxLength;

    /** What is ready before the model loads: its name, load options and tokenizer, and the input records. */
    record Loaded(String model, Bert.Options bertOptions, List<InputRecords.Record> records, BertTokenizer tokenizer) {
    }

    /**
     * Checks {@code --batch-size} and the model options, reads {@code --input} and loads the model's
     * tokenizer, in that order (so the first problem reported is the same whatever else is wrong).
     */
    Loaded load(PrintWriter err) throws IOException {
        if (batchSize < 1) {
            throw new CliException("--batch-size must be at least 1, got " + batchSize);
        }
        Bert.Options opts = model.bertOptions(err);
        List<InputRecords.Record> records = InputRecords.read(input, false);
        BertTokenizer tok = Bert.tokenizer(model.model, opts);
        return new Loaded(model.model, opts, records, tok);
    }

    /** The loaded records encoded, truncated to {@link #limit} for a model of {@code maxPositions}. */
    List<Encoding> encode(Loaded in, int maxPositions) {
        int limit = limit(maxLength, in.tokenizer(), maxPositions);
        return InputRecords.encode(in.tokenizer(), in.records(),
                EncodeOptions.defaults().withTruncation(true).withMaxLength(limit));
    }

    /** The truncation length: the option, else the smaller of the tokenizer's and the model's limits. */
    static int limit(int option, BertTokenizer tok, int maxPositions) {
        if (option < 0) {
            throw new CliException("--max-length must be positive, got " + option);
        }
        if (option > maxPositions) {
            throw new CliException("--max-length " + option + " exceeds the model's max_position_embeddings " + maxPositions);
        }
        return option > 0 ? option : Math.min(tok.modelMaxLength(), maxPositions);
    }
}
