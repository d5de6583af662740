package dev.solder.train;

import dev.solder.Generator;
import dev.solder.bert.BertConfig;
import dev.solder.bert.BertForSequenceClassification;
import dev.solder.data.Dataset;
import dev.solder.data.Example;
import dev.solder.data.TaskLabels;
import dev.solder.tokenizer.BertTokenizer;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

/** A tiny random BERT (hidden 32, 2 layers) with a small vocabulary, and a tiny sentiment task it can learn. */
public final class TinyBert {
    static final String[] POSITIVE = {"good", "great", "happy", "nice", "fine", "lovely"};
    static final String[] NEGATIVE = {"bad", "awful", "sad", "poor", "ugly", "boring"};
    static final String[] FILLER = {"the", "movie", "was", "a", "day", "it", "very", "and", "film", "plot"};

    private TinyBert() {
    }

    /** A lowercase WordPiece tokenizer over the task's words (written to {@code dir/vocab.txt}). */
    public static BertTokenizer tokenizer(Path dir) throws IOException {
        List<String> vocab = new ArrayList<>(List.of("[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", ".", ","));
        vocab.addAll(List.of(POSITIVE));
        vocab.addAll(List.of(NEGATIVE));
        vocab.addAll(List.of(FILLER));
        Files.createDirectories(dir);
        Path v = dir.resolve("vocab.txt");
        Files.write(v, vocab);
        return BertTokenizer.fromVocab(v, true);
    }

    public static BertForSequenceClassification model(int vocabSize, int numLabels, long seed, float dropout) {
        BertConfig c = BertConfig.builder().vocabSize(vocabSize).hiddenSize(32).numHiddenLayers(2).numAttentionHeads(2)
                .intermediateSize(64).maxPositionEmbeddings(64).dropout(dropout, dropout).numLabels(numLabels).build();
        return new BertForSequenceClassification(c, new Generator(seed));
    }

    /** Sentences of 3–8 words: filler plus sentiment words of one polarity, which is the label (1 = positive). */
    public static Dataset sentiment(String name, int n, long seed) {
        Generator g = new Generator(seed);
        List<Example> out = new ArrayList<>();
        for (int e = 0; e < n; e++) {
            int label = g.nextInt(2);
            String[] words = label == 1 ? POSITIVE : NEGATIVE;
            int len = 3 + g.nextInt(6);
            int at = g.nextInt(len);
            StringBuilder sb = new StringBuilder();
            for (int i = 0; i < len; i++) {
                String w = i == at || g.nextInt(3) == 0 ? words[g.nextInt(words.length)] : FILLER[g.nextInt(FILLER.length)];
                sb.append(i == 0 ? "" : " ").append(w);
            }
            out.add(Example.of(sb.toString(), null, label));
        }
        return new Dataset(name, out, TaskLabels.of("negative", "positive"));
    }

    /** Saves a fresh tiny 2-label model with its tokenizer under {@code dir} (a model folder for {@code --model}). */
    static Path savedModel(Path dir, Path tokenizerDir) throws IOException {
        BertTokenizer tok = tokenizer(tokenizerDir);
        try (var model = model(tok.vocabSize(), 2, 5, 0.1f)) {
            model.save(dir, tok);
        }
        return dir;
    }

    /** {@code n} rows of {@link #sentiment} as a {@code sentence,label} CSV with labels pos / neg. */
    static String sentimentCsv(int n, long seed) {
        StringBuilder csv = new StringBuilder("sentence,label\n");
        for (var e : sentiment("t", n, seed).examples()) {
            csv.append('"').append(e.textA()).append("\",").append(e.label() == 1 ? "pos" : "neg").append('\n');
        }
        return csv.toString();
    }
}
