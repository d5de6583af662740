package dev.solder.nn;

import dev.solder.Generator;
import dev.solder.Ops;
import dev.solder.Tensor;

/**
 * HF's (and PyTorch's) dense layer {@code y = x·Wᵀ + b} with {@code W [out, in]}.
 *
 * <p>Initialised as {@code BertPreTrainedModel._init_weights} does, not as a bare
 * {@code nn.Linear}: weight ~ normal(0, {@code initializer_range}) (0.02 for BERT), bias
 * zeros. Parameters are named {@code weight} and {@code bias}.
 *
 * <pre>{@code
 * var dense = new Linear(768, 3072, true, new Generator(42));
 * Tensor h = dense.forward(x);                 // x [..., 768] -> [..., 3072]
 * }</pre>
 */
public final class Linear extends Module {
    /** BERT's {@code initializer_range}. */
    public static final double DEFAULT_INITIALIZER_RANGE = 0.02;

    private final int inFeatures;
    private final int outFeatures;
    private final boolean hasBias;

    /** A layer initialised with std {@link #DEFAULT_INITIALIZER_RANGE} drawn from {@code init}. */
    public Linear(int inFeatures, int outFeatures, boolean bias, Generator init) {
        this(inFeatures, outFeatures, bias, init, DEFAULT_INITIALIZER_RANGE);
    }

    /** A layer whose weight is drawn from normal(0, {@code initializerRange}). */
    public Linear(int inFeatures, int outFeatures, boolean bias, Generator init, double initializerRange) {
        if (inFeatures <= 0 || outFeatures <= 0) {
            throw new IllegalArgumentException("Linear: sizes must be positive, got in=" + inFeatures + ", out=" + outFeatures);
        }
        if (!(initializerRange >= 0)) {
            throw new IllegalArgumentException("Linear: initializerRange must be >= 0, got " + initializerRange);
        }
        this.inFeatures = inFeatures;
        this.outFeatures = outFeatures;
        this.hasBias = bias;
        registerParameter("weight", Params.normal(init, initializerRange, outFeatures, inFeatures));
        if (bias) {
            registerParameter("bias", Params.zeros(outFeatures));
        }
    }

    /** {@code x [..., in]} to {@code [..., out]}. */
    public Tensor forward(Tensor x) {
        return Ops.linear(x, weight(), bias());
    }

    /** {@code [out, in]}. */
    public Tensor weight() {
        return param("weight");
    }

    /** {@code [out]}, or null for a layer built without bias. */
    public Tensor bias() {
        return hasBias ? param("bias") : null;
    }

    public int inFeatures() {
        return inFeatures;
    }

    public int outFeatures() {
        return outFeatures;
    }
}
