package dev.solder.optim;

import dev.solder.Tensor;

/**
 * Global-norm gradient clipping, {@code torch.nn.utils.clip_grad_norm_} with
 * {@code norm_type = 2}.
 *
 * <pre>{@code
 * double norm = GradClip.clipGradNorm(model.parameters(), 1.0);  // HF max_grad_norm
 * }</pre>
 */
public final class GradClip {
    private GradClip() {
    }

    /**
     * The 2-norm over all gradients together, {@code sqrt(Σ_p Σ g²)}, accumulated in
     * float64 on each gradient's backend. Parameters without a gradient are skipped.
     */
    public static double totalNorm(Iterable<Tensor> params) {
        double sum = 0;
        for (Tensor p : params) {
            Tensor g = p.grad();
            if (g != null) {
                g.checkOpen("clipGradNorm");
                sum += g.backend().sumSquares(g);
            }
        }
        return Math.sqrt(sum);
    }

    /**
     * Scales every gradient in place by {@code clip_coef = maxNorm / (total + 1e-6)} clamped
     * to 1 — exactly torch's rule, so a norm a hair under {@code maxNorm} is still nudged by
     * the 1e-6, and a non-finite norm propagates into the gradients as it does there
     * ({@code error_if_nonfinite=False}). Returns the norm before clipping.
     */
    public static double clipGradNorm(Iterable<Tensor> params, double maxNorm) {
        if (!(maxNorm >= 0)) {
            throw new IllegalArgumentException("clipGradNorm: maxNorm must be >= 0, got " + maxNorm);
        }
        double total = totalNorm(params);
        double coef = Math.min(maxNorm / (total + 1e-6), 1.0);
        // torch multiplies unconditionally by the clamped coefficient; multiplying by exactly
        // 1.0 changes nothing, so skip that work (NaN still goes through, as in torch).
        if (!(coef >= 1.0)) {
            float c = (float) coef;
            for (Tensor p : params) {
                Tensor g = p.grad();
                if (g != null) {
                    g.backend().scale(g, c, g);
                }
            }
        }
        return total;
    }
}
