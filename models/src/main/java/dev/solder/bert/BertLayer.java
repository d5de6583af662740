package dev.solder.bert;

import dev.solder.Generator;
import dev.solder.Ops;
import dev.solder.Tensor;
import dev.solder.nn.Dropout;
import dev.solder.nn.LayerNorm;
import dev.solder.nn.Module;

/**
 * One encoder layer: self-attention then the feed-forward block, each followed by
 * {@code LayerNorm(dropout(dense(x)) + residual)} — HF's {@code BertLayer}, with HF's
 * parameter names ({@code attention.self.query}, {@code attention.output.dense},
 * {@code intermediate.dense}, {@code output.dense}, and the two {@code LayerNorm}s).
 *
 * <p>The layer closes the activations it made as soon as it has no further use for them —
 * the two dense outputs, the attention block's output, the packed path's gathers — instead of
 * leaving them to the step's scope, as PyTorch frees a tensor nothing refers to any more:
 * 36 MiB a layer at BERT-Base's batch 32 × 128 in bfloat16, 432 MiB of a training step's peak.
 * That is safe because every op consuming them that needs their values in its backward keeps
 * a reference of its own: a product a view of its input (or autocast's cast of it), a row
 * gather only its indices, {@code dropoutLayerNorm} only what it saved. A backend asked to
 * read a freed tensor throws rather than reading a reused block. The layer's input belongs
 * to the caller ({@link BertModel} closes it after the layer).
 */
public final class BertLayer extends Module {
    private final SelfAttention attention;
    private final Dense intermediate;
    private final Dense outputDense;
    private final LayerNorm outputNorm;
    private final Dropout outputDropout;
    private final boolean tanhGelu;

    /** {@code init == null} builds the layer uninitialised, for loading (see {@link Dense}). */
    BertLayer(BertConfig c, Generator init, Generator rng) {
        attention = registerModule("attention", new SelfAttention(c, init, rng));
        Module inter = registerModule("intermediate", new Holder());
        intermediate = inter.registerModule("dense", new Dense(c.hiddenSize, c.intermediateSize, init, c.initializerRange));
        Module out = registerModule("output", new Holder());
        outputDense = out.registerModule("dense", new Dense(c.intermediateSize, c.hiddenSize, init, c.initializerRange));
        outputNorm = out.registerModule("LayerNorm", new LayerNorm(c.hiddenSize, c.layerNormEps));
        outputDropout = out.registerModule("dropout", new Dropout(c.hiddenDropoutProb, rng));
        tanhGelu = !c.hiddenAct.equals("gelu");
    }

    /** {@code x [B, S, H]}, {@code mask [B, S]} (1 = token, 0 = padding) or null. */
    public Tensor forward(Tensor x, Tensor mask) {
        return forward(x, mask, null, false);
    }

    /**
     * With {@code packed} non-null, {@code x} is the packed {@code [T, H]} of the real tokens
     * ({@link PackedTokens}) and so is the result, or only each sequence's first token
     * ({@code [B, H]}) when {@code firstOnly}: all a classification head reads of the last layer.
     */
    Tensor forward(Tensor x, Tensor mask, PackedTokens packed, boolean firstOnly) {
        Tensor a = attention.forward(x, mask, packed, firstOnly);
        // Exact-erf GELU goes through the fused up-projection op (one kernel for bias + GELU
        // on the GPU); the tanh form (gelu_new) keeps the plain pair.
        Tensor act = tanhGelu ? Ops.geluTanh(intermediate.forward(a))
                : Ops.linearGelu(a, intermediate.weight(), intermediate.bias());
        Tensor out = dropoutAddNorm(outputNorm, outputDropout, outputDense.forward(act), a);
        if (!tanhGelu) {
            act.close();   // the down-projection's backward reads its own view of it; linearGelu's reads the pre-activation
        }
        a.close();
        return out;
    }

    /**
     * {@code norm(dropout(x) + residual)} as one op (a backend may fuse the dropout into the
     * LayerNorm); the dropout's seed is drawn exactly where {@code dropout.forward} would draw it.
     *
     * <p>{@code x}, a dense layer's output, is closed here: the op's backward reads only what it
     * kept (the sum it normalised, mean and rstd), never x.
     */
    static Tensor dropoutAddNorm(LayerNorm norm, Dropout dropout, Tensor x, Tensor residual) {
        Tensor out = Ops.dropoutLayerNorm(x, dropout.activeP(), dropout.nextSeed(), residual, norm.weight(), norm.bias(),
                norm.eps());
        x.close();
        return out;
    }

    /** A named level of the module tree with no parameters of its own. */
    static final class Holder extends Module {
    }

    /** {@code attention.self.{query,key,value}} + {@code attention.output.{dense,LayerNorm}}. */
    static final class SelfAttention extends Module {
        private final Dense query;
        private final Dense key;
        private final Dense value;
        private final Dense dense;
        private final LayerNorm norm;
        private final Dropout dropout;
        private final int heads;
        private final float attentionDropout;
        private final Generator rng;

        SelfAttention(BertConfig c, Generator init, Generator rng) {
            Module self = registerModule("self", new Holder());
            query = self.registerModule("query", new Dense(c.hiddenSize, c.hiddenSize, init, c.initializerRange));
            key = self.registerModule("key", new Dense(c.hiddenSize, c.hiddenSize, init, c.initializerRange));
            value = self.registerModule("value", new Dense(c.hiddenSize, c.hiddenSize, init, c.initializerRange));
            Module out = registerModule("output", new Holder());
            dense = out.registerModule("dense", new Dense(c.hiddenSize, c.hiddenSize, init, c.initializerRange));
            norm = out.registerModule("LayerNorm", new LayerNorm(c.hiddenSize, c.layerNormEps));
            dropout = out.registerModule("dropout", new Dropout(c.hiddenDropoutProb, rng));
            heads = c.numAttentionHeads;
            attentionDropout = c.attentionProbsDropoutProb;
            this.rng = rng == null ? null : registerGenerator("rng", rng);
        }

        Tensor forward(Tensor x, Tensor mask, PackedTokens packed, boolean firstOnly) {
            float p = isTraining() ? attentionDropout : 0f;
            long seed = p > 0 ? rng.nextLong() : 0L;
            Tensor q = query.forward(x);
            Tensor k = key.forward(x);
            Tensor v = value.forward(x);
            if (packed == null) {
                Tensor ctx = Ops.attention(q, k, v, mask, heads, p, seed);
                return dropoutAddNorm(norm, dropout, dense.forward(ctx), x);
            }
            // Attention is the one op that needs the sequence layout; everything else runs on rows.
            Tensor qs = packed.spread(q);
            Tensor ks = packed.spread(k);
            Tensor vs = packed.spread(v);
            q.close();
            k.close();
            v.close();
            Tensor ctx = packed.pack(Ops.attention(qs, ks, vs, mask, heads, p, seed));
            Tensor residual = x;
            if (firstOnly) {
                Tensor all = ctx;
                ctx = packed.firstTokens(all);
                all.close();
                residual = packed.firstTokens(x);
            }
            Tensor out = dropoutAddNorm(norm, dropout, dense.forward(ctx), residual);
            ctx.close();
            if (residual != x) {
                residual.close();
            }
            return out;
        }
    }
}
