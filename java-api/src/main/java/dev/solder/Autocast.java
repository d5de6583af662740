package dev.solder;

/**
 * Mixed precision as PyTorch's {@code torch.autocast} does it: inside an autocast region the
 * products ({@link Ops#linear}, {@link Ops#linearGelu}, {@link Ops#matmul},
 * {@link Ops#attention}) run on bfloat16 or float16 copies of their float32 inputs, while
 * the ops that need range or accurate sums ({@link Ops#layerNorm}, {@link Ops#softmax},
 * {@link Ops#crossEntropy}, {@link Ops#mse}) run in float32, widening low-precision inputs
 * first; {@link Ops#add}, {@link Ops#sub} and {@link Ops#mul} of mixed types widen to float32.
 * Everything else keeps its input's type. The weights stay float32 (the "master" copy the
 * optimizer updates); the casts are ordinary differentiable ops, so gradients flow back to
 * them in float32. A weight's low-precision copy is kept from step to step and updated by the
 * optimizer rather than converted again ({@link CastCache}).
 *
 * <p>A product lowered by autocast also rounds the gradient it receives to its low-precision
 * type before its backward GEMMs, as PyTorch does (there the gradient of a bfloat16 tensor is
 * bfloat16); the parameter gradients it produces stay float32.
 *
 * <p>The region is per thread and nests; {@link #disable()} opens a full-precision region
 * inside a mixed one. float16 needs loss scaling against gradient underflow
 * ({@link dev.solder.optim.GradScaler}); bfloat16 has float32's range and does not.
 *
 * <pre>{@code
 * try (Autocast ac = Autocast.enable(DType.BFLOAT16)) {
 *     Tensor logits = model.forward(ids, types, mask);   // GEMMs in bf16, LayerNorm in fp32
 *     loss = Ops.crossEntropy(logits, labels);           // float32
 * }
 * loss.backward();                                       // outside the region, as in PyTorch
 * }</pre>
 */
public final class Autocast implements AutoCloseable {
    private static final ThreadLocal<DType> CURRENT = new ThreadLocal<>();

    private final DType previous;
    private final Thread owner = Thread.currentThread();
    private boolean closed;

    private Autocast(DType now) {
        previous = CURRENT.get();
        if (now == null) {
            CURRENT.remove();
        } else {
            CURRENT.set(now);
        }
    }

    /** Opens a region whose products run in {@code lowPrecision} (bfloat16 or float16). */
    public static Autocast enable(DType lowPrecision) {
        if (lowPrecision != DType.BFLOAT16 && lowPrecision != DType.FLOAT16) {
            throw new IllegalArgumentException("autocast: " + lowPrecision + " is not a low-precision type (bfloat16, float16)");
        }
        return new Autocast(lowPrecision);
    }

    /** Opens a full-precision region (inside a mixed-precision one). */
    public static Autocast disable() {
        return new Autocast(null);
    }

    /** The low-precision type of this thread's innermost region, or null outside autocast. */
    public static DType current() {
        return CURRENT.get();
    }

    /** Ends the region, restoring the enclosing one. */
    @Override
    public void close() {
        if (closed) {
            return;
        }
        if (Thread.currentThread() != owner) {
            throw new IllegalStateException("autocast: a region must be closed by the thread that opened it");
        }
        closed = true;
        if (previous == null) {
            CURRENT.remove();
        } else {
            CURRENT.set(previous);
        }
    }

    /**
     * {@code t} cast to the region's type when it is float32 (null stays null); a trainable
     * parameter's cast is kept between steps ({@link CastCache}), an activation's is shared by
     * the products that read it ({@link SharedCasts}).
     */
    static Tensor lower(Tensor t, DType to) {
        if (t == null || t.dtype() != DType.FLOAT32) {
            return t;
        }
        return CastCache.keeps(t) ? CastCache.cast(t, to) : SharedCasts.cast(t, to);
    }

    /** {@code t} cast to float32 when it is bfloat16 or float16 (null stays null). */
    static Tensor widen(Tensor t) {
        return t == null || !isLow(t.dtype()) ? t : t.to(DType.FLOAT32);
    }

    static boolean isLow(DType t) {
        return t == DType.BFLOAT16 || t == DType.FLOAT16;
    }
}
