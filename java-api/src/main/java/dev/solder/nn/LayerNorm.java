package dev.solder.nn;

import dev.solder.Ops;
import dev.solder.Tensor;

/**
 * LayerNorm over the last dimension with learned scale ({@code weight}, ones) and shift
 * ({@code bias}, zeros), biased variance as PyTorch. BERT uses {@code eps = 1e-12}
 * ({@code layer_norm_eps}); PyTorch's default would be 1e-5, so it is always explicit.
 *
 * <p>{@link #forward(Tensor, Tensor)} adds a residual inside the same op, which is how
 * every BERT sub-layer ends: {@code LayerNorm(dropout(dense(x)) + x)}.
 *
 * <pre>{@code
 * var ln = new LayerNorm(768, 1e-12f);
 * Tensor out = ln.forward(dropout.forward(dense.forward(h)), h);
 * }</pre>
 */
public final class LayerNorm extends Module {
    private final int width;
    private final float eps;

    public LayerNorm(int width, float eps) {
        if (width <= 0) {
            throw new IllegalArgumentException("LayerNorm: width must be positive, got " + width);
        }
        if (!(eps > 0)) {
            throw new IllegalArgumentException("LayerNorm: eps must be > 0, got " + eps);
        }
        this.width = width;
        this.eps = eps;
        registerParameter("weight", Params.ones(width));
        registerParameter("bias", Params.zeros(width));
    }

    /** {@code LayerNorm(x)} over the last dim. */
    public Tensor forward(Tensor x) {
        return Ops.layerNorm(x, null, weight(), bias(), eps);
    }

    /** {@code LayerNorm(x + residual)}, fused. */
    public Tensor forward(Tensor x, Tensor residual) {
        return Ops.layerNorm(x, residual, weight(), bias(), eps);
    }

    public Tensor weight() {
        return param("weight");
    }

    public Tensor bias() {
        return param("bias");
    }

    public int width() {
        return width;
    }

    public float eps() {
        return eps;
    }
}
