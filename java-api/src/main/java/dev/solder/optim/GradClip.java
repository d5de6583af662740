package dev.solder.optim;

import dev.solder.Tensor;
import dev.solder.spi.Backend;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

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
        return Math.sqrt(sumSquares(gradsByBackend(params, "clipGradNorm")));
    }

    /** The gradients of {@code params} (those that have one), grouped by backend in order. */
    static Map<Backend, List<Tensor>> gradsByBackend(Iterable<Tensor> params, String op) {
        Map<Backend, List<Tensor>> byBackend = new LinkedHashMap<>();
        for (Tensor p : params) {
            Tensor g = p.grad();
            if (g != null) {
                g.checkOpen(op);
                byBackend.computeIfAbsent(g.backend(), b -> new ArrayList<>()).add(g);
            }
        }
        return byBackend;
    }

    /** {@code Σ g²} over every gradient, float64: one call per backend, so a GPU is waited for once, not once per gradient. */
    static double sumSquares(Map<Backend, List<Tensor>> grads) {
        double sum = 0;
        for (var e : grads.entrySet()) {
            sum += e.getKey().sumSquares(e.getValue());
        }
        return sum;
    }

    /**
     * torch's clipping coefficient for a total norm: {@code maxNorm / (total + 1e-6)} clamped
     * to 1, as a float32 gradient multiplier (NaN for a NaN norm, which then spreads into the
     * update as it does in torch). {@link #clipGradNorm} scales by it in place;
     * {@link AdamW#step(float)} takes it to fuse the scaling into the update.
     */
    public static float coefficient(double totalNorm, double maxNorm) {
        if (!(maxNorm >= 0)) {
            throw new IllegalArgumentException("clipGradNorm: maxNorm must be >= 0, got " + maxNorm);
        }
        double coef = Math.min(maxNorm / (totalNorm + 1e-6), 1.0);
        // Exactly 1.0 multiplies by one, which changes nothing; NaN stays NaN.
        return coef >= 1.0 ? 1f : (float) coef;
    }

    /**
     * Scales every gradient in place by {@code clip_coef = maxNorm / (total + 1e-6)} clamped
     * to 1 — exactly torch's rule, so a norm a hair under {@code maxNorm} is still nudged by
     * the 1e-6, and a non-finite norm propagates into the gradients as it does there
     * ({@code error_if_nonfinite=False}). Returns the norm before clipping.
     */
    public static double clipGradNorm(Iterable<Tensor> params, double maxNorm) {
        double total = totalNorm(params);
        float c = coefficient(total, maxNorm);     // rejects a negative or NaN maxNorm
        // torch multiplies unconditionally by the clamped coefficient; multiplying by exactly
        // 1.0 changes nothing, so skip that work (NaN still goes through, as in torch).
        if (c != 1f) {
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
