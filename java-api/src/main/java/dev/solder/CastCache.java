package dev.solder;

/**
 * The low-precision copies of the weights that autocast computes with, kept from one step to
 * the next instead of being converted again every time a weight is used.
 *
 * <p>Inside an {@link Autocast} region each product casts its float32 weight to bfloat16 or
 * float16. For a trainable parameter — a float32 leaf that requires grad and belongs to no
 * {@link Scope} — the cast's result is kept beside the parameter, stamped with the version of
 * the parameter's storage ({@link dev.solder.spi.Storage#version()}), and later casts return
 * it as long as the storage has not been written since. The optimizer keeps it current
 * without a conversion pass: {@link dev.solder.optim.AdamW} hands the copy to
 * {@link dev.solder.spi.Backend#adamwAll}, whose update writes the rounded new value beside
 * the float32 one (on a GPU, in the same launch), and then {@link #markCurrent} re-stamps it.
 * Anything else that writes a parameter — a checkpoint loaded for {@code --resume}, a user's
 * {@code Params.copyInto} — goes through a backend call that bumps the version, and the next
 * cast makes a fresh copy. So a kept copy always holds what a fresh cast would give, bit for
 * bit, and training is the same with the cache or without it
 * ({@code -Dsolder.autocast.cacheWeights=false}).
 *
 * <p>PyTorch's autocast keeps such copies only until its region exits and converts every
 * weight again on the next forward; Solder keeps them for the parameter's life (freed with
 * the parameter), which costs the copies' memory between steps — half the float32 weights for
 * bfloat16 — and saves one read of every weight and one write of its copy per step.
 *
 * <pre>{@code
 * try (var opt = AdamW.builder(model.namedParameters()).build()) {
 *     for (int step = 0; step < 3; step++) {
 *         try (var s = Scope.open()) {
 *             Tensor loss;
 *             try (var ac = Autocast.enable(DType.BFLOAT16)) {   // step 0 casts the weights,
 *                 loss = Ops.crossEntropy(model.forward(x), labels);   // later steps reuse the copies
 *             }
 *             loss.backward();
 *             opt.step();                                       // updates weights and copies
 *             opt.zeroGrad();
 *         }
 *     }
 * }
 * }</pre>
 */
public final class CastCache {
    private static final boolean ENABLED = !"false".equals(System.getProperty("solder.autocast.cacheWeights"));

    private CastCache() {
    }

    /** True for the tensors whose casts are kept: trainable float32 leaves owned by no scope. */
    static boolean keeps(Tensor t) {
        return ENABLED && t.dtype() == DType.FLOAT32 && t.requiresGrad() && t.gradFn() == null && !t.isScoped();
    }

    /**
     * {@code t} cast to {@code to} (differentiable, as {@link Ops#cast}): a scoped view of the
     * kept copy when it is current, else a new copy, kept. Only for tensors {@link #keeps} accepts.
     */
    static Tensor cast(Tensor t, DType to) {
        t.checkOpen("cast");
        Tensor copy;
        synchronized (t) {
            copy = current(t);
            if (copy == null || copy.dtype() != to) {
                drop(t);
                copy = Tensor.emptyUnscoped(t.shape(), to, t.device());
                t.backend().copy(t, copy);
                t.castCopy = copy;
                t.castCopyVersion = t.storage().version();
            }
        }
        return Ops.recordCast(copy.view(copy.shape(), copy.strides(), copy.offset()), t);
    }

    /**
     * The low-precision copy kept for {@code master} if it still holds {@code master}'s current
     * values, else null (a stale copy is freed here). For optimizers: pass it to
     * {@link dev.solder.spi.Backend.AdamWParam} and call {@link #markCurrent} after the update.
     */
    public static Tensor current(Tensor master) {
        synchronized (master) {
            Tensor c = master.castCopy;
            if (c == null) {
                return null;
            }
            if (c.isClosed() || master.isClosed() || master.castCopyVersion != master.storage().version()) {
                drop(master);
                return null;
            }
            return c;
        }
    }

    /**
     * Records that the kept copy of {@code master} holds its current values again: call it
     * right after a backend call that wrote both (an update given the copy as
     * {@link dev.solder.spi.Backend.AdamWParam#lowCopy()}), and only then.
     */
    public static void markCurrent(Tensor master) {
        synchronized (master) {
            if (master.castCopy == null) {
                throw new IllegalStateException("CastCache.markCurrent: " + master.describe() + " has no kept copy");
            }
            master.castCopyVersion = master.storage().version();
        }
    }

    /**
     * Frees the copy kept for {@code master}, if any (also done when {@code master} closes); the
     * next cast under autocast makes a new one. To give back the copies' memory after mixed-
     * precision training, before the model is used without autocast:
     * {@code model.parameters().forEach(CastCache::drop)}.
     */
    public static void drop(Tensor master) {
        synchronized (master) {
            if (master.castCopy != null) {
                master.castCopy.close();
                master.castCopy = null;
            }
        }
    }
}
