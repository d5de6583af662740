package dev.solder.cli;

import dev.solder.Autograd;
import dev.solder.Generator;
import dev.solder.Scope;
import dev.solder.Tensor;
import dev.solder.bert.BertConfig;
import dev.solder.bert.BertForSequenceClassification;
import dev.solder.optim.AdamW;
import dev.solder.optim.LinearSchedule;
import java.util.Locale;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/**
 * {@code solder demo}: trains a small BERT from scratch on a generated task, end to end on
 * Solder's spine (tensors, autograd, AdamW, linear schedule), and reports held-out accuracy.
 *
 * <p>The task: a sequence of tokens from a 64-word vocabulary, where words 10–29 are
 * "positive" and 30–49 "negative"; the label says which kind occurs more often. Lengths
 * vary, so padding and the attention mask matter.
 */
@Command(name = "demo", mixinStandardHelpOptions = true, description = "Train a small BERT on a generated task (runs anywhere, no downloads).")
final class DemoCommand implements Callable<Integer> {
    private static final int VOCAB = 64;
    private static final int PAD = 0;
    private static final int CLS = 1;

    @Option(names = "--steps", defaultValue = "300", description = "training steps (default ${DEFAULT-VALUE})")
    int steps;

    @Option(names = "--batch-size", defaultValue = "32", description = "batch size (default ${DEFAULT-VALUE})")
    int batch;

    @Option(names = "--seed", defaultValue = "42", description = "random seed (default ${DEFAULT-VALUE})")
    long seed;

    @Option(names = "--max-length", defaultValue = "24", description = "longest sequence (default ${DEFAULT-VALUE})")
    int maxLen;

    @Override
    public Integer call() {
        var config = BertConfig.builder().vocabSize(VOCAB).hiddenSize(64).numHiddenLayers(2).numAttentionHeads(4)
                .intermediateSize(128).maxPositionEmbeddings(maxLen).numLabels(2).build();
        var init = new Generator(seed);
        var data = new Generator(seed + 1);
        long t0 = System.nanoTime();
        try (var model = new BertForSequenceClassification(config, init)) {
            var opt = AdamW.builder(model.namedParameters()).lr(1e-3).weightDecay(0.01).build();
            var schedule = new LinearSchedule(opt, steps / 10, steps);
            System.out.printf(Locale.ROOT, "demo: BERT %s, %,d parameters, %d steps of %d sequences%n",
                    config, model.numParameters(), steps, batch);
            model.train();
            double running = 0;
            for (int step = 1; step <= steps; step++) {
                try (var s = Scope.open()) {
                    Batch b = Batch.generate(data, batch, maxLen);
                    Tensor loss = model.loss(model.forward(b.ids, null, b.mask), b.labels);
                    loss.backward();
                    opt.clipGradNorm(1.0);
                    opt.step();
                    opt.zeroGrad();
                    schedule.step();
                    running = step == 1 ? loss.item() : 0.9 * running + 0.1 * loss.item();
                }
                if (step % 50 == 0 || step == steps) {
                    System.out.printf(Locale.ROOT, "step %4d  loss %.4f  lr %.2e%n", step, running, opt.lr());
                }
            }
            model.eval();
            int correct = 0;
            int total = 0;
            var held = new Generator(seed + 2);
            try (var ng = Autograd.noGrad()) {
                for (int i = 0; i < 8; i++) {
                    try (var s = Scope.open()) {
                        Batch b = Batch.generate(held, 64, maxLen);
                        float[] logits = model.forward(b.ids, null, b.mask).toFloatArray();
                        int[] y = b.labels.toIntArray();
                        for (int r = 0; r < y.length; r++) {
                            int pred = logits[2 * r + 1] > logits[2 * r] ? 1 : 0;
                            correct += pred == y[r] ? 1 : 0;
                            total++;
                        }
                    }
                }
            }
            double secs = (System.nanoTime() - t0) / 1e9;
            System.out.printf(Locale.ROOT, "held-out accuracy %.3f on %d sequences (chance 0.5); %.1f s%n",
                    (double) correct / total, total, secs);
            opt.close();
        }
        return 0;
    }

    /** One generated batch. */
    private record Batch(Tensor ids, Tensor mask, Tensor labels) {
        static Batch generate(Generator g, int n, int maxLen) {
            long[] ids = new long[n * maxLen];
            long[] mask = new long[n * maxLen];
            long[] labels = new long[n];
            for (int r = 0; r < n; r++) {
                int len;
                int pos;
                int neg;
                long[] row = new long[maxLen];
                do {
                    len = 4 + g.nextInt(maxLen - 4);
                    pos = 0;
                    neg = 0;
                    row[0] = CLS;
                    for (int i = 1; i < len; i++) {
                        int w = 2 + g.nextInt(VOCAB - 2);
                        row[i] = w;
                        if (w >= 10 && w < 30) {
                            pos++;
                        } else if (w >= 30 && w < 50) {
                            neg++;
                        }
                    }
                } while (pos == neg);
                for (int i = 0; i < maxLen; i++) {
                    ids[r * maxLen + i] = i < len ? row[i] : PAD;
                    mask[r * maxLen + i] = i < len ? 1 : 0;
                }
                labels[r] = pos > neg ? 1 : 0;
            }
            return new Batch(Tensor.ofLongs(ids, n, maxLen), Tensor.ofLongs(mask, n, maxLen), Tensor.ofLongs(labels));
        }
    }
}
