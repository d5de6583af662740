package dev.solder;

/**
 * One low-precision copy of an activation for every product that reads it in an autocast
 * region, instead of one copy per product.
 *
 * <p>BERT's query, key and value projections all read the same float32 hidden states. Under
 * autocast each of them lowers its input to bfloat16 (PyTorch's autocast does the same:
 * three casts, three copies saved for the backward). Here the first product casts as usual;
 * the next ones, while that copy is still alive, get a view of it. Each view is recorded as a
 * cast of the activation of its own, so the graph — and every gradient, bit for bit — is the
 * one the three separate casts make: three "cast" nodes whose gradients meet at the
 * activation. What changes is that the copy is made once (for BERT-Base: 24 cast launches a
 * step fewer) and stored once; each product owns its view and closes it after its backward,
 * and the storage goes when the last view closes.
 *
 * <p>A copy is shared only while one of its views is still open and the activation's storage
 * has not been written since ({@link dev.solder.spi.Storage#version()}). With no graph the
 * first product closes its view as soon as it returns, so nothing is shared and nothing is
 * kept longer than before. Trainable parameters are not handled here but in {@link CastCache},
 * which keeps their copies from one step to the next.
 */
final class SharedCasts {
    private SharedCasts() {
    }

    /**
     * Offers {@code copy}, holding {@code t}'s values converted as {@link Ops#cast} converts, as
     * the copy the next products share: an op that made {@code t} and wrote its low-precision copy
     * in the same pass ({@code dropoutLayerNorm}) saves the first product's conversion. The op
     * keeps {@code copy} for as long as its graph may need it; the products hold views.
     */
    static void offer(Tensor t, Tensor copy) {
        synchronized (t) {
            t.sharedCast = copy;
            t.sharedCastVersion = t.storage().version();
        }
    }

    /** {@code t} (a float32 activation) cast to {@code to}, sharing a copy made earlier in the region when it is live. */
    static Tensor cast(Tensor t, DType to) {
        t.checkOpen("cast");
        synchronized (t) {
            Tensor last = t.sharedCast;
            if (last != null && !last.isClosed() && last.dtype() == to
                    && t.sharedCastVersion == t.storage().version()) {
                Tensor v = last.view(last.shape(), last.strides(), last.offset());
                t.sharedCast = v;
                return Ops.recordCast(v, t);
            }
            Tensor c = Ops.cast(t, to);
            t.sharedCast = c;
            t.sharedCastVersion = t.storage().version();
            return c;
        }
    }
}
