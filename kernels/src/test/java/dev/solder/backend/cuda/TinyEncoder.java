package dev.solder.backend.cuda;

import dev.solder.Backends;
import dev.solder.DType;
import dev.solder.Device;
import dev.solder.Generator;
import dev.solder.Ops;
import dev.solder.Scope;
import dev.solder.Tensor;
import dev.solder.spi.Backend;
import java.util.ArrayList;
import java.util.List;

/**
 * A one-layer BERT-style encoder classifier written directly with {@link Ops} and parameter
 * tensors (no nn package): embeddings + positions, LayerNorm, dropout, multi-head attention
 * with a padding mask and attention dropout, output projection, residual LayerNorm, GELU FFN,
 * residual LayerNorm, tanh pooler on the first token, classifier, cross-entropy, AdamW.
 * Everything is seeded, so the same run on two devices can be compared step by step.
 */
final class TinyEncoder implements AutoCloseable {
    static final int VOCAB = 50;
    static final int SEQ = 12;
    static final int HIDDEN = 32;
    static final int HEADS = 4;
    static final int FFN = 64;
    static final int CLASSES = 3;
    static final int BATCH = 8;
    static final int EXAMPLES = 64;

    private final Device device;
    private final Backend backend;
    private final List<Tensor> params = new ArrayList<>();
    private final List<Tensor> m = new ArrayList<>();
    private final List<Tensor> v = new ArrayList<>();
    private final int[][] ids = new int[EXAMPLES][SEQ];
    private final int[][] mask = new int[EXAMPLES][SEQ];
    private final int[] labels = new int[EXAMPLES];
    private int step;

    // parameter indices
    private static final int WORD = 0;
    private static final int POS = 1;
    private static final int LN0 = 2;
    private static final int WQ = 4;
    private static final int WK = 6;
    private static final int WV = 8;
    private static final int WO = 10;
    private static final int LN1 = 12;
    private static final int W1 = 14;
    private static final int W2 = 16;
    private static final int LN2 = 18;
    private static final int WP = 20;
    private static final int WC = 22;

    TinyEncoder(Device device, long seed) {
        this.device = device;
        this.backend = Backends.forDevice(device);
        Generator g = new Generator(seed);
        add(normal(g, 0.1f, VOCAB, HIDDEN));
        add(normal(g, 0.1f, SEQ, HIDDEN));
        layerNorm();
        for (int i = 0; i < 4; i++) { // q, k, v, o
            add(normal(g, 0.1f, HIDDEN, HIDDEN));
            add(Tensor.zeros(HIDDEN));
        }
        layerNorm();
        add(normal(g, 0.1f, FFN, HIDDEN));
        add(Tensor.zeros(FFN));
        add(normal(g, 0.1f, HIDDEN, FFN));
        add(Tensor.zeros(HIDDEN));
        layerNorm();
        add(normal(g, 0.1f, HIDDEN, HIDDEN)); // pooler
        add(Tensor.zeros(HIDDEN));
        add(normal(g, 0.1f, CLASSES, HIDDEN));
        add(Tensor.zeros(CLASSES));
        // data: the label is a function of tokens 1 and 2; a padded tail is masked out
        for (int e = 0; e < EXAMPLES; e++) {
            int len = SEQ - g.nextInt(4);
            for (int s = 0; s < SEQ; s++) {
                ids[e][s] = s < len ? 1 + g.nextInt(VOCAB - 1) : 0;
                mask[e][s] = s < len ? 1 : 0;
            }
            labels[e] = (ids[e][1] + ids[e][2]) % CLASSES;
        }
    }

    private static Tensor normal(Generator g, float std, int... shape) {
        Tensor t = Tensor.randn(g, shape);
        t.backend().scale(t, std, t);
        return t;
    }

    private void layerNorm() {
        add(Tensor.ones(HIDDEN));
        add(Tensor.zeros(HIDDEN));
    }

    private void add(Tensor cpuInit) {
        Tensor p = cpuInit.to(device);
        if (p != cpuInit) {
            cpuInit.close();
        }
        p.requiresGrad(true);
        params.add(p);
        m.add(Tensor.zeros(DType.FLOAT32, device, p.shape()));
        v.add(Tensor.zeros(DType.FLOAT32, device, p.shape()));
    }

    private Tensor p(int i) {
        return params.get(i);
    }

    /** One training step on the next batch; returns the loss before the update. */
    @SuppressWarnings("try") // the scope frees the step's activations; its body never names it
    float step() {
        int first = (step * BATCH) % EXAMPLES;
        long seed = 1000L + step;
        step++;
        try (Scope s = Scope.open()) {
            int[] bIds = new int[BATCH * SEQ];
            int[] bMask = new int[BATCH * SEQ];
            int[] bLabels = new int[BATCH];
            for (int b = 0; b < BATCH; b++) {
                System.arraycopy(ids[first + b], 0, bIds, b * SEQ, SEQ);
                System.arraycopy(mask[first + b], 0, bMask, b * SEQ, SEQ);
                bLabels[b] = labels[first + b];
            }
            Tensor idT = Tensor.ofInts(bIds, BATCH, SEQ).to(device);
            Tensor maskT = Tensor.ofInts(bMask, BATCH, SEQ).to(device);
            Tensor labelT = Tensor.ofLongs(java.util.Arrays.stream(bLabels).asLongStream().toArray()).to(device);

            Tensor x = Ops.add(Ops.embedding(idT, p(WORD), 0), p(POS));
            x = Ops.layerNorm(x, null, p(LN0), p(LN0 + 1), 1e-12f);
            x = Ops.dropout(x, 0.1f, seed * 31 + 1);
            Tensor q = Ops.linear(x, p(WQ), p(WQ + 1));
            Tensor k = Ops.linear(x, p(WK), p(WK + 1));
            Tensor vv = Ops.linear(x, p(WV), p(WV + 1));
            Tensor a = Ops.attention(q, k, vv, maskT, HEADS, 0.1f, seed * 31 + 2);
            Tensor ao = Ops.dropout(Ops.linear(a, p(WO), p(WO + 1)), 0.1f, seed * 31 + 3);
            Tensor h1 = Ops.layerNorm(ao, x, p(LN1), p(LN1 + 1), 1e-12f);
            Tensor f = Ops.linear(Ops.gelu(Ops.linear(h1, p(W1), p(W1 + 1))), p(W2), p(W2 + 1));
            Tensor h2 = Ops.layerNorm(Ops.dropout(f, 0.1f, seed * 31 + 4), h1, p(LN2), p(LN2 + 1), 1e-12f);
            Tensor cls = h2.narrow(1, 0, 1).reshape(BATCH, HIDDEN);
            Tensor pooled = Ops.tanh(Ops.linear(cls, p(WP), p(WP + 1)));
            Tensor logits = Ops.linear(Ops.dropout(pooled, 0.1f, seed * 31 + 5), p(WC), p(WC + 1));
            Tensor loss = Ops.crossEntropy(logits, labelT);
            float value = loss.item();
            loss.backward();
            float lr = 3e-3f;
            float bc1 = (float) (1 - Math.pow(0.9, step));
            float bc2 = (float) (1 - Math.pow(0.999, step));
            for (int i = 0; i < params.size(); i++) {
                Tensor pi = params.get(i);
                float wd = pi.rank() == 2 ? 0.01f : 0f;
                backend.adamw(pi, pi.grad(), m.get(i), v.get(i), lr, 0.9f, 0.999f, 1e-8f, wd, bc1, bc2);
                pi.zeroGrad();
            }
            return value;
        }
    }

    /** Parameter values (for comparisons after training). */
    float[] param(int i) {
        return params.get(i).toFloatArray();
    }

    int paramCount() {
        return params.size();
    }

    @Override
    public void close() {
        for (List<Tensor> l : List.of(params, m, v)) {
            for (Tensor t : l) {
                t.close();
            }
            l.clear();
        }
    }
}
