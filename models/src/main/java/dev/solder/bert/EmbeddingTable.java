package dev.solder.bert;

import dev.solder.Generator;
import dev.solder.Ops;
import dev.solder.Tensor;
import dev.solder.nn.Module;
import dev.solder.nn.Params;

/**
 * A lookup table {@code weight [vocab, dim]} — {@link dev.solder.nn.Embedding} that can also be
 * built uninitialised (see {@link Dense} for why). With a generator it draws exactly what
 * {@code nn.Embedding} draws: normal(0, {@code initializer_range}), then the padding row zeroed;
 * the padding row never receives a gradient (PyTorch's {@code padding_idx}).
 */
final class EmbeddingTable extends Module {
    private final int paddingIdx;

    /** {@code paddingIdx} −1 for none; {@code init == null}: zeros, to be loaded. */
    EmbeddingTable(int numEmbeddings, int dim, int paddingIdx, Generator init, double initializerRange) {
        if (numEmbeddings <= 0 || dim <= 0) {
            throw new IllegalArgumentException("Embedding: sizes must be positive, got " + numEmbeddings + " x " + dim);
        }
        if (paddingIdx < -1 || paddingIdx >= numEmbeddings) {
            throw new IllegalArgumentException("Embedding: paddingIdx " + paddingIdx + " outside [0, " + numEmbeddings
                    + ") (use -1 for none)");
        }
        this.paddingIdx = paddingIdx;
        Tensor w;
        if (init == null) {
            w = Params.zeros(numEmbeddings, dim);
        } else {
            w = Params.normal(init, initializerRange, numEmbeddings, dim);
            zeroRow(w, paddingIdx);
        }
        registerParameter("weight", w);
    }

    /** Sets row {@code row} of a {@code [n, dim]} table to zero (HF zeroes the padding row at init). */
    static void zeroRow(Tensor table, int row) {
        if (row < 0) {
            return;
        }
        int dim = table.dim(1);
        Tensor r = table.view(new int[] {dim}, new long[] {1}, (long) row * dim);
        r.backend().fill(r, 0);
        r.close();
    }

    /** {@code ids [...]} (int32/int64) to {@code [..., dim]}. */
    Tensor forward(Tensor ids) {
        return Ops.embedding(ids, weight(), paddingIdx);
    }

    Tensor weight() {
        return param("weight");
    }

    int paddingIdx() {
        return paddingIdx;
    }
}
