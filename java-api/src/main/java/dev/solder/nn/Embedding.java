package dev.solder.nn;

import dev.solder.Generator;
import dev.solder.Ops;
import dev.solder.Tensor;

/**
 * A lookup table {@code weight [vocab, dim]}: integer ids {@code [...]} to rows
 * {@code [..., dim]}.
 *
 * <p>Initialised as HF BERT does: normal(0, {@code initializer_range}), then the
 * {@code padding_idx} row set to zero. That row also never receives a gradient, as with
 * PyTorch's {@code nn.Embedding(padding_idx=...)}, so it stays zero through training.
 *
 * <pre>{@code
 * var words = new Embedding(30522, 768, 0, new Generator(42));   // [PAD] = 0
 * Tensor h = words.forward(inputIds);                             // [B, S] -> [B, S, 768]
 * }</pre>
 */
public final class Embedding extends Module {
    private final int numEmbeddings;
    private final int dim;
    private final int paddingIdx;

    /** Std {@link Linear#DEFAULT_INITIALIZER_RANGE}; {@code paddingIdx} −1 for none. */
    public Embedding(int numEmbeddings, int dim, int paddingIdx, Generator init) {
        this(numEmbeddings, dim, paddingIdx, init, Linear.DEFAULT_INITIALIZER_RANGE);
    }

    /** Weight from normal(0, {@code initializerRange}); {@code paddingIdx} −1 for none. */
    public Embedding(int numEmbeddings, int dim, int paddingIdx, Generator init, double initializerRange) {
        if (numEmbeddings <= 0 || dim <= 0) {
            throw new IllegalArgumentException("Embedding: sizes must be positive, got " + numEmbeddings + " x " + dim);
        }
        if (paddingIdx < -1 || paddingIdx >= numEmbeddings) {
            throw new IllegalArgumentException("Embedding: paddingIdx " + paddingIdx + " outside [0, " + numEmbeddings
                    + ") (use -1 for none)");
        }
        if (!(initializerRange >= 0)) {
            throw new IllegalArgumentException("Embedding: initializerRange must be >= 0, got " + initializerRange);
        }
        this.numEmbeddings = numEmbeddings;
        this.dim = dim;
        this.paddingIdx = paddingIdx;
        Tensor w = Params.normal(init, initializerRange, numEmbeddings, dim);
        if (paddingIdx >= 0) {
            Tensor row = w.view(new int[] {dim}, new long[] {1}, (long) paddingIdx * dim);
            row.backend().fill(row, 0);
            row.close();
        }
        registerParameter("weight", w);
    }

    /** {@code ids [...]} (int32/int64) to {@code [..., dim]}. */
    public Tensor forward(Tensor ids) {
        return Ops.embedding(ids, weight(), paddingIdx);
    }

    /** {@code [vocab, dim]}. */
    public Tensor weight() {
        return param("weight");
    }

    public int numEmbeddings() {
        return numEmbeddings;
    }

    public int dim() {
        return dim;
    }

    /** The padding row, or −1. */
    public int paddingIdx() {
        return paddingIdx;
    }
}
