package dev.solder.data;

import dev.solder.tokenizer.BertTokenizer;
import dev.solder.tokenizer.EncodeOptions;
import dev.solder.tokenizer.Encoding;
import dev.solder.tokenizer.TextPair;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.Objects;

/**
 * An in-memory, ordered list of {@link Example}s with its {@link TaskLabels}, optionally bound to a
 * tokenizer so that the {@link dev.solder.train.Trainer} can ask for {@link Features}.
 *
 * <p>Like a Hugging Face {@code datasets.Dataset}: {@link #take(int)} is
 * {@code select(range(n))} (the first rows in file order), {@link #tokenized} is the
 * {@code map(tokenize)} step with {@code truncation=True, max_length=...} and no padding (padding
 * happens per batch in {@link DataCollatorWithPadding}). Tokenization is lazy and cached: nothing
 * is encoded until {@link #features(int)} or {@link #encodeAll()} is called, so taking 1,000 rows
 * of MNLI's 392,702 encodes 1,000.
 *
 * <pre>{@code
 * Dataset train = Glue.read(GlueTask.RTE, Path.of("RTE/train.tsv"), ReadOptions.all())
 *         .take(1000).tokenized(tokenizer, 128);
 * Features f = train.features(0);     // ids of [CLS] premise [SEP] hypothesis [SEP]
 * }</pre>
 */
public final class Dataset {
    private final String name;
    private final List<Example> examples;
    private final TaskLabels labels;
    private final int skippedRows;
    private final List<String> skippedMessages;
    private final BertTokenizer tokenizer;
    private final int maxSeqLength;
    private Features[] encoded;

    public Dataset(String name, List<Example> examples, TaskLabels labels) {
        this(name, examples, labels, 0, List.of(), null, 0);
    }

    Dataset(String name, List<Example> examples, TaskLabels labels, int skippedRows, List<String> skippedMessages,
            BertTokenizer tokenizer, int maxSeqLength) {
        this.name = Objects.requireNonNull(name, "name");
        this.examples = Collections.unmodifiableList(new ArrayList<>(examples));
        this.labels = Objects.requireNonNull(labels, "labels");
        this.skippedRows = skippedRows;
        this.skippedMessages = List.copyOf(skippedMessages);
        this.tokenizer = tokenizer;
        this.maxSeqLength = maxSeqLength;
        for (Example e : this.examples) {
            if (labels.regression() ? Float.isNaN(e.score()) : e.label() < 0 || e.label() >= labels.numLabels()) {
                throw new IllegalArgumentException(name + ": example " + e + " does not fit labels " + labels);
            }
        }
    }

    /** A name for messages, e.g. {@code rte/train}. */
    public String name() {
        return name;
    }

    public int size() {
        return examples.size();
    }

    public Example get(int i) {
        return examples.get(i);
    }

    /** The examples, in file order (unmodifiable). */
    public List<Example> examples() {
        return examples;
    }

    public TaskLabels labels() {
        return labels;
    }

    /** Rows skipped as bad while reading ({@code --skip-bad-rows}). */
    public int skippedRows() {
        return skippedRows;
    }

    /** The messages of the first few skipped rows ({@code file:line: what was wrong}). */
    public List<String> skippedMessages() {
        return skippedMessages;
    }

    /** The first {@code n} examples ({@code select(range(n))}); all when {@code n <= 0} or {@code n >= size()}. */
    public Dataset take(int n) {
        if (n <= 0 || n >= examples.size()) {
            return this;
        }
        return new Dataset(name, examples.subList(0, n), labels, skippedRows, skippedMessages, tokenizer, maxSeqLength);
    }

    /**
     * This dataset bound to {@code tokenizer}: pairs become {@code [CLS] a [SEP] b [SEP]}, truncated
     * longest-first to {@code maxSeqLength} tokens ({@code tokenizer(a, b, truncation=True,
     * max_length=maxSeqLength)}).
     */
    public Dataset tokenized(BertTokenizer tokenizer, int maxSeqLength) {
        Objects.requireNonNull(tokenizer, "tokenizer");
        if (maxSeqLength < 3) {
            throw new IllegalArgumentException("maxSeqLength must be at least 3, got " + maxSeqLength);
        }
        return new Dataset(name, examples, labels, skippedRows, skippedMessages, tokenizer, maxSeqLength);
    }

    /** The tokenizer bound by {@link #tokenized}, or null. */
    public BertTokenizer tokenizer() {
        return tokenizer;
    }

    public int maxSeqLength() {
        return maxSeqLength;
    }

    /** True once bound to a tokenizer. */
    public boolean isTokenized() {
        return tokenizer != null;
    }

    /** The padding id of the bound tokenizer. */
    public int padId() {
        requireTokenizer();
        return tokenizer.padId();
    }

    /** Example {@code i} tokenized (encoding every example on first use, on all cores). */
    public Features features(int i) {
        encodeAll();
        return encoded[i];
    }

    /** Encodes every example now (done once; later calls return at once). */
    public synchronized void encodeAll() {
        requireTokenizer();
        if (encoded != null) {
            return;
        }
        List<TextPair> pairs = new ArrayList<>(examples.size());
        for (Example e : examples) {
            pairs.add(e.textB() == null ? TextPair.of(e.textA()) : TextPair.of(e.textA(), e.textB()));
        }
        EncodeOptions opts = EncodeOptions.defaults().withTruncation(true).withMaxLength(maxSeqLength);
        List<Encoding> enc = tokenizer.encodeBatchPairs(pairs, opts);
        Features[] out = new Features[enc.size()];
        for (int i = 0; i < out.length; i++) {
            Example e = examples.get(i);
            out[i] = new Features(enc.get(i).inputIds(), enc.get(i).tokenTypeIds(), e.label(), e.score());
        }
        encoded = out;
    }

    /** Token counts of every example (for length grouping). */
    public int[] lengths() {
        encodeAll();
        int[] l = new int[encoded.length];
        for (int i = 0; i < l.length; i++) {
            l[i] = encoded[i].length();
        }
        return l;
    }

    /** How many examples carry each label (classification only). */
    public int[] labelCounts() {
        int[] c = new int[labels.regression() ? 0 : labels.numLabels()];
        if (!labels.regression()) {
            for (Example e : examples) {
                c[e.label()]++;
            }
        }
        return c;
    }

    private void requireTokenizer() {
        if (tokenizer == null) {
            throw new IllegalStateException(name + ": not tokenized; call tokenized(tokenizer, maxSeqLength) first");
        }
    }

    @Override
    public String toString() {
        return "Dataset[" + name + ", " + examples.size() + " examples, labels " + (labels.regression() ? "regression" : labels.names())
                + (skippedRows > 0 ? ", " + skippedRows + " bad rows skipped" : "") + "]";
    }
}
