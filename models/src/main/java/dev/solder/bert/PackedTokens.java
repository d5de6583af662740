package dev.solder.bert;

import dev.solder.Ops;
import dev.solder.Tensor;

/**
 * Where the real tokens of a padded batch sit, so that the encoder can run its per-token
 * work (the four projections, the feed-forward block, both LayerNorms, dropout) on the
 * {@code T} real tokens only, as a packed {@code [T, H]} matrix, and spread them back to
 * {@code [B, S, H]} just for the attention op, which needs the sequence layout.
 *
 * <p>Why this computes the same function as the padded encoder: every per-token op is
 * row-independent, so a real token's row does not depend on what the padding rows hold; and
 * attention gives a padded key the score {@code −Float.MAX_VALUE}, whose probability is
 * exactly 0, so whatever finite values the spread-out padding positions hold (here: a copy
 * of their sequence's first token) never reach a real token. In the backward the padding
 * positions receive exactly-zero gradients. What differs is only the hidden-dropout masks,
 * which are a function of the element index and so are drawn for different positions.
 *
 * <p>For sequence classification only the first token of each sequence reaches the pooler,
 * so the last layer can also drop every other row right after its attention op:
 * {@link #firstTokens(Tensor)} picks them.
 *
 * <p>The index tensors belong to the current scope, like the activations they index: the
 * backward reads them.
 *
 * <p>Packing applies when every sequence's first position is a real token (right padding,
 * as the collator and HF tokenizers produce); a mask that starts a sequence with padding
 * gets the padded path ({@link #of} returns null).
 */
final class PackedTokens {
    /** {@code -Dsolder.bert.pack=false} forces the padded path, for A/B timing. */
    private static final boolean ENABLED = !"false".equals(System.getProperty("solder.bert.pack"));

    private final int batch;
    private final int seq;
    private final int tokens;
    private final Tensor rows;          // [T]: flat padded index b·S + s of each real token, in order
    private final Tensor spread;        // [B·S]: packed row of each padded position (padding → its sequence's first token)
    private final Tensor first;         // [B]: packed row of each sequence's first token

    private PackedTokens(int batch, int seq, int[] rows, int[] spread, int[] first) {
        this.batch = batch;
        this.seq = seq;
        this.tokens = rows.length;
        this.rows = rows.length == batch * seq ? null : Tensor.ofInts(rows, rows.length);
        this.spread = this.rows == null ? null : Tensor.ofInts(spread, spread.length);
        this.first = Tensor.ofInts(first, batch);
    }

    /**
     * The packing of a CPU batch of {@code batch × seq} positions with HF's
     * {@code attention_mask [B, S]} (1 = token, 0 = padding; null = no padding), or null
     * when the padded path must run: {@code -Dsolder.bert.pack=false}, the batch is on a GPU (the row gather there is not
     * yet validated on a device), or some sequence starts with padding.
     */
    static PackedTokens of(Tensor inputIds, Tensor attentionMask) {
        if (!ENABLED || !inputIds.device().isCpu() || inputIds.rank() != 2) {
            return null;
        }
        int batch = inputIds.dim(0);
        int seq = inputIds.dim(1);
        if (batch == 0 || seq == 0) {
            return null;
        }
        if (attentionMask == null) {
            return new PackedTokens(batch, seq, new int[batch * seq], null, firstOfFull(batch, seq));
        }
        if (!attentionMask.device().isCpu() || attentionMask.rank() != 2 || attentionMask.dim(0) != batch
                || attentionMask.dim(1) != seq) {
            return null;    // the padded path reports the shape error
        }
        boolean[] mask = tokens(attentionMask);
        int real = 0;
        for (int b = 0; b < batch; b++) {
            if (!mask[b * seq]) {
                return null;
            }
            for (int s = 0; s < seq; s++) {
                real += mask[b * seq + s] ? 1 : 0;
            }
        }
        if (real == batch * seq) {
            return new PackedTokens(batch, seq, new int[real], null, firstOfFull(batch, seq));
        }
        int[] rows = new int[real];
        int[] spread = new int[batch * seq];
        int[] first = new int[batch];
        int t = 0;
        for (int b = 0; b < batch; b++) {
            first[b] = t;
            for (int s = 0; s < seq; s++) {
                int flat = b * seq + s;
                if (mask[flat]) {
                    rows[t] = flat;
                    spread[flat] = t++;
                } else {
                    spread[flat] = first[b];
                }
            }
        }
        return new PackedTokens(batch, seq, rows, spread, first);
    }

    /** Which positions are tokens: nonzero, as the attention op reads any mask dtype. */
    private static boolean[] tokens(Tensor mask) {
        boolean[] t = new boolean[Math.toIntExact(mask.numel())];
        if (mask.dtype().isFloating()) {
            float[] v = mask.toFloatArray();
            for (int i = 0; i < t.length; i++) {
                t[i] = v[i] != 0f;
            }
        } else {
            long[] v = mask.toLongArray();
            for (int i = 0; i < t.length; i++) {
                t[i] = v[i] != 0;
            }
        }
        return t;
    }

    private static int[] firstOfFull(int batch, int seq) {
        int[] first = new int[batch];
        for (int b = 0; b < batch; b++) {
            first[b] = b * seq;
        }
        return first;
    }

    /** Number of real tokens, the rows of the packed matrix. */
    int tokens() {
        return tokens;
    }

    /** {@code [B, S, H]} → the packed {@code [T, H]}. */
    Tensor pack(Tensor padded) {
        Tensor flat = padded.reshape(batch * seq, padded.dim(2));
        return rows == null ? flat : Ops.gatherRows(flat, rows);
    }

    /** The packed {@code [T, H]} → {@code [B, S, H]}, padding positions holding a copy of a real row. */
    Tensor spread(Tensor packed) {
        Tensor full = spread == null ? packed : Ops.gatherRows(packed, spread);
        return full.reshape(batch, seq, packed.dim(1));
    }

    /** The first token of each sequence from the packed {@code [T, H]}: {@code [B, H]}. */
    Tensor firstTokens(Tensor packed) {
        return Ops.gatherRows(packed, first);
    }
}
