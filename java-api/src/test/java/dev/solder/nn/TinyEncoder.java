package dev.solder.nn;

import dev.solder.DType;
import dev.solder.Device;
import dev.solder.Generator;
import dev.solder.Ops;
import dev.solder.Tensor;
import java.lang.foreign.MemorySegment;

/**
 * A one-layer BERT-shaped encoder classifier assembled from nn pieces, with HF's module
 * names (embeddings.word_embeddings, encoder.layer.0.attention.self.query, ...), so the
 * tests exercise naming, weight-decay grouping and state dicts on a realistic tree.
 *
 * <p>embeddings (word + position, LayerNorm, dropout) → self-attention (q, k, v,
 * {@link Ops#attention} with the padding mask) → dense + LayerNorm(residual) → GELU FFN
 * → LayerNorm(residual) → hidden state of position 0 → classifier.
 */
final class TinyEncoder extends Module {
    final int hidden;
    final int heads;
    final Embeddings embeddings;
    final ModuleList<Layer> layers;
    final Linear classifier;

    TinyEncoder(int vocab, int maxLen, int hidden, int heads, int labels, float dropout, Generator g) {
        this.hidden = hidden;
        this.heads = heads;
        embeddings = registerModule("embeddings", new Embeddings(vocab, maxLen, hidden, dropout, g));
        Container encoder = registerModule("encoder", new Container());
        layers = encoder.registerModule("layer", new ModuleList<>());
        layers.add(new Layer(hidden, dropout, g));
        classifier = registerModule("classifier", new Linear(hidden, labels, true, g));
    }

    /** ids, mask: int32 [B, S] (mask 1 = token, 0 = padding); returns logits [B, labels]. */
    Tensor forward(Tensor ids, Tensor mask) {
        Tensor h = embeddings.forward(ids);
        for (Layer l : layers) {
            h = l.forward(h, mask, heads);
        }
        int b = ids.dim(0);
        Tensor first = h.narrow(1, 0, 1).reshape(b, hidden);
        return classifier.forward(first);
    }

    /** A module that only groups children (HF's BertEncoder holding "layer"). */
    static final class Container extends Module {
    }

    static final class Embeddings extends Module {
        final Embedding word;
        final Embedding position;
        final LayerNorm norm;
        final Dropout dropout;

        Embeddings(int vocab, int maxLen, int hidden, float p, Generator g) {
            word = registerModule("word_embeddings", new Embedding(vocab, hidden, MajorityTask.PAD, g));
            position = registerModule("position_embeddings", new Embedding(maxLen, hidden, -1, g));
            norm = registerModule("LayerNorm", new LayerNorm(hidden, 1e-12f));
            dropout = registerModule("dropout", new Dropout(p, g.fork()));
            // HF keeps position_ids as a non-persistent buffer: moved with the model, not saved.
            Tensor pos = Tensor.emptyUnscoped(new int[] {maxLen}, DType.INT32, Device.cpu());
            int[] v = new int[maxLen];
            for (int i = 0; i < maxLen; i++) {
                v[i] = i;
            }
            pos.backend().copyFromHost(MemorySegment.ofArray(v), 0, pos);
            registerBuffer("position_ids", pos, false);
        }

        Tensor forward(Tensor ids) {
            int s = ids.dim(1);
            Tensor pos = position.forward(buffer("position_ids").narrow(0, 0, s));   // [S, H]
            return dropout.forward(norm.forward(word.forward(ids).add(pos)));
        }
    }

    static final class Layer extends Module {
        final Linear query;
        final Linear key;
        final Linear value;
        final Linear attnOut;
        final LayerNorm attnNorm;
        final Linear intermediate;
        final Linear output;
        final LayerNorm outNorm;
        final Dropout dropout;

        Layer(int hidden, float p, Generator g) {
            Container attention = registerModule("attention", new Container());
            Container self = attention.registerModule("self", new Container());
            query = self.registerModule("query", new Linear(hidden, hidden, true, g));
            key = self.registerModule("key", new Linear(hidden, hidden, true, g));
            value = self.registerModule("value", new Linear(hidden, hidden, true, g));
            Container selfOut = attention.registerModule("output", new Container());
            attnOut = selfOut.registerModule("dense", new Linear(hidden, hidden, true, g));
            attnNorm = selfOut.registerModule("LayerNorm", new LayerNorm(hidden, 1e-12f));
            Container inter = registerModule("intermediate", new Container());
            intermediate = inter.registerModule("dense", new Linear(hidden, 4 * hidden, true, g));
            Container out = registerModule("output", new Container());
            output = out.registerModule("dense", new Linear(4 * hidden, hidden, true, g));
            outNorm = out.registerModule("LayerNorm", new LayerNorm(hidden, 1e-12f));
            dropout = registerModule("dropout", new Dropout(p, g.fork()));
        }

        Tensor forward(Tensor h, Tensor mask, int heads) {
            Tensor ctx = Ops.attention(query.forward(h), key.forward(h), value.forward(h), mask, heads, 0f, 0L);
            Tensor h1 = attnNorm.forward(dropout.forward(attnOut.forward(ctx)), h);
            Tensor f = output.forward(intermediate.forward(h1).gelu());
            return outNorm.forward(dropout.forward(f), h1);
        }
    }
}
