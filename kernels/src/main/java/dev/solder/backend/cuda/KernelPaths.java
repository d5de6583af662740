package dev.solder.backend.cuda;

import java.util.Collections;
import java.util.EnumSet;
import java.util.Locale;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.logging.Logger;

/**
 * Which of the two CUDA paths an op takes (DESIGN.md §2): the <b>fused</b> kernels when they
 * support the case, else the <b>cuBLAS-only</b> path (cuBLAS GEMMs plus the generic kernels),
 * which is always correct and is the reference the fused kernels are tested against.
 *
 * <p>{@code -Dsolder.kernels=auto|fused|cublas} (default {@code auto}):
 * <ul>
 *   <li>{@code cublas} — the cuBLAS-only path for every op;
 *   <li>{@code fused} — a fused kernel wherever it supports the case (width, dtype, alignment),
 *       validated on a GPU or not: this is how the GPU tests exercise new kernels;
 *   <li>{@code auto} — a fused kernel only where it supports the case <em>and</em> is in
 *       {@link #VALIDATED} (passed the GPU parity tests); so a kernel that has not yet run on a
 *       GPU is never picked by default.
 * </ul>
 * Every decision that does not pick the fused kernel, and the first fused pick of each op, is
 * logged once per (op, reason) on the {@code dev.solder.backend.cuda} logger.
 *
 * <p>The decision is a pure function of the mode, the op and the case ({@link #choose}), so it
 * is unit-tested without a GPU.
 */
final class KernelPaths {
    /** The system property that forces a path. */
    static final String PROPERTY = "solder.kernels";

    /** The value of {@link #PROPERTY}. */
    enum Mode {
        AUTO, FUSED, CUBLAS;

        static Mode parse(String s) {
            if (s == null || s.isBlank()) {
                return AUTO;
            }
            return switch (s.trim().toLowerCase(Locale.ROOT)) {
                case "auto" -> AUTO;
                case "fused" -> FUSED;
                case "cublas", "cublas-only" -> CUBLAS;
                default -> throw new IllegalArgumentException("-D" + PROPERTY + "=" + s
                        + " is not one of auto, fused, cublas");
            };
        }
    }

    /** The ops that have a fused kernel. */
    enum FusedOp {
        LAYER_NORM("layerNorm"),
        LAYER_NORM_BACKWARD("layerNormBackward"),
        LINEAR_GELU("linearGelu"),
        LINEAR_GELU_BACKWARD("linearGeluBackward"),
        /** Flash attention forward (flash_attention.cu); saves the log-sum-exp instead of P. */
        ATTENTION("attention"),
        /**
         * Flash attention backward. Not chosen by {@link #choose}: the backward follows the
         * forward, whose {@code saved} tensor says which path ran ({@link #follow}).
         */
        ATTENTION_BACKWARD("attentionBackward"),
        /**
         * AdamW over every parameter in one launch, the clip coefficient fused in (adamw.cu's
         * solder_adamw_multi); the other path is one scale and one solder_adamw launch per parameter.
         */
        ADAMW_ALL("adamwAll"),
        /**
         * Σ x² over many tensors (the global gradient norm) in two launches (reduce.cu's
         * solder_sumsq_multi_partial/finish); the other path is two launches per tensor. Same bits.
         */
        SUM_SQUARES_ALL("sumSquaresAll"),
        /**
         * Cross-entropy whose forward also writes the gradient for dloss = 1 (loss.cu's
         * solder_cross_entropy_fused_forward), taken by {@code crossEntropyWithGrad} in training.
         */
        CROSS_ENTROPY("crossEntropyWithGrad"),
        /**
         * BERT's embeddings: gather, sum and LayerNorm in one launch (layernorm.cu's
         * solder_embeddings_layernorm_fused_forward).
         */
        EMBEDDINGS("embeddingsLayerNorm"),
        /**
         * Their backward: the fused LayerNorm backward, then the three tables' scatter-adds in one
         * launch (embedding.cu's solder_embeddings_backward_fused).
         */
        EMBEDDINGS_BACKWARD("embeddingsLayerNormBackward"),
        /**
         * LayerNorm(dropout(x) + residual) with the dropout applied as x is loaded (layernorm.cu's
         * solder_dropout_layernorm_fused_forward); the other path is a dropout launch, a widening
         * copy under autocast, and the LayerNorm.
         */
        DROPOUT_LAYER_NORM("dropoutLayerNorm"),
        /**
         * Its backward in one pass: the fused LayerNorm backward also writing dx = dropout'(dh)
         * (layernorm.cu's solder_dropout_layernorm_fused_backward); the other path is the LayerNorm
         * backward, then a dropout launch that reads dh back.
         */
        DROPOUT_LAYER_NORM_BACKWARD("dropoutLayerNormBackward"),
        /** A linear layer's bias added in the GEMM's epilogue (cuBLASLt BIAS) instead of an add launch. */
        LINEAR_BIAS("linear"),
        /** dW and the bias gradient from one cuBLASLt call (BGRADB) instead of a GEMM and a column sum. */
        LINEAR_BIAS_BACKWARD("linearBackward");

        final String opName;

        FusedOp(String opName) {
            this.opName = opName;
        }
    }

    /** The path taken and why. */
    record Choice(boolean fused, String reason) {
    }

    /**
     * Fused kernels that passed the GPU parity tests ({@code FusedKernelsGpuTest}) on real
     * hardware; only these are picked under {@code auto}. Add an op here only with a GPU run
     * that shows it passing (date, card, commit in kernels/README.md).
     */
    // 2026-11-27, H100 80GB HBM3 (driver 580.159.04, CUDA 13.0): all four passed
    // FusedKernelsGpuTest. Only bias+GELU is enabled by default because only it was faster
    // than its cuBLAS-only twin in the same run (bf16 fwd 1.35x, bwd 1.04x); the fused
    // LayerNorm was correct but slower in bfloat16 (fwd 0.82x, bwd 0.75x) — see
    // bench/results/2026-11-27-h100-fused-kernels.md. It stays reachable with -Dsolder.kernels=fused.
    static final Set<FusedOp> VALIDATED = Collections.unmodifiableSet(
            EnumSet.of(FusedOp.LINEAR_GELU, FusedOp.LINEAR_GELU_BACKWARD));

    private static final Logger LOG = Logger.getLogger("dev.solder.backend.cuda");
    private static final Set<String> LOGGED = ConcurrentHashMap.newKeySet();

    /** Set by tests (and benchmarks) to override the property; null: read the property. */
    private static volatile Mode override;

    private KernelPaths() {
    }

    /** The mode in force: the test override, else {@code -Dsolder.kernels}. */
    static Mode mode() {
        Mode m = override;
        return m != null ? m : Mode.parse(System.getProperty(PROPERTY));
    }

    /** Forces {@code mode} until the returned handle is closed (tests and benchmarks). */
    static AutoCloseable force(Mode mode) {
        Mode old = override;
        override = mode;
        return () -> override = old;
    }

    /**
     * The decision: {@code unsupported} is null when the fused kernel can run this case, else
     * the reason it cannot (width, dtype, alignment, ...).
     */
    static Choice choose(Mode mode, Set<FusedOp> validated, FusedOp op, String unsupported) {
        if (mode == Mode.CUBLAS) {
            return new Choice(false, "-D" + PROPERTY + "=cublas");
        }
        if (unsupported != null) {
            return new Choice(false, "fused kernel does not support " + unsupported);
        }
        if (mode == Mode.FUSED) {
            return new Choice(true, "-D" + PROPERTY + "=fused");
        }
        if (!validated.contains(op)) {
            return new Choice(false, "fused kernel not yet validated on a GPU (-D" + PROPERTY + "=fused forces it)");
        }
        return new Choice(true, "supported and validated");
    }

    /** {@link #choose} with the mode in force and {@link #VALIDATED}, logged once per (op, reason). */
    static boolean useFused(FusedOp op, String unsupported) {
        Choice c = choose(mode(), VALIDATED, op, unsupported);
        String key = op.opName + (c.fused() ? " -> fused: " : " -> cuBLAS-only path: ") + c.reason();
        if (LOGGED.add(key)) {
            LOG.info("solder kernels: " + key);
        }
        return c.fused();
    }

    /**
     * Logs (once per op and reason) a path that is not chosen but dictated, e.g. the attention
     * backward, which must read what its forward saved; returns {@code fused}.
     */
    static boolean follow(FusedOp op, boolean fused, String reason) {
        String key = op.opName + (fused ? " -> fused: " : " -> cuBLAS-only path: ") + reason;
        if (LOGGED.add(key)) {
            LOG.info("solder kernels: " + key);
        }
        return fused;
    }

    /** Forgets what was logged (tests). */
    static void resetLog() {
        LOGGED.clear();
    }

    /** Whether {@code key} was logged (tests). */
    static boolean logged(String key) {
        return LOGGED.contains(key);
    }
}
