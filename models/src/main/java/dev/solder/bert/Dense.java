package dev.solder.bert;

import dev.solder.Generator;
import dev.solder.Ops;
import dev.solder.Tensor;
import dev.solder.nn.Module;
import dev.solder.nn.Params;

/**
 * BERT's dense layer {@code y = x·Wᵀ + b}, {@code W [out, in]}, parameters {@code weight} and
 * {@code bias} — {@link dev.solder.nn.Linear} with one addition: it can be built
 * <em>uninitialised</em>.
 *
 * <p>Why a copy: drawing normal(0, 0.02) for BERT-Base's 110M weights costs seconds on the
 * CPU, and {@code fromPretrained} overwrites almost all of them straight away. Hugging Face
 * skips that initialisation for weights the checkpoint supplies (its "fast init"); Solder does
 * the same by building the model with {@code init == null} (zeros, a memset) and letting
 * {@link BertWeights} initialise only what the checkpoint lacks. With a generator the draws
 * are exactly {@code nn.Linear}'s (weight from {@code init}, bias zeros), so a model built
 * from a seed is the same as before.
 */
final class Dense extends Module {
    private final int inFeatures;
    private final int outFeatures;

    /** {@code init == null}: zeros, to be loaded or initialised by {@link BertWeights}. */
    Dense(int inFeatures, int outFeatures, Generator init, double initializerRange) {
        if (inFeatures <= 0 || outFeatures <= 0) {
            throw new IllegalArgumentException("Dense: sizes must be positive, got in=" + inFeatures + ", out=" + outFeatures);
        }
        this.inFeatures = inFeatures;
        this.outFeatures = outFeatures;
        registerParameter("weight", init == null ? Params.zeros(outFeatures, inFeatures)
                : Params.normal(init, initializerRange, outFeatures, inFeatures));
        registerParameter("bias", Params.zeros(outFeatures));
    }

    /** {@code x [..., in]} to {@code [..., out]}. */
    Tensor forward(Tensor x) {
        return Ops.linear(x, weight(), bias());
    }

    Tensor weight() {
        return param("weight");
    }

    Tensor bias() {
        return param("bias");
    }

    int inFeatures() {
        return inFeatures;
    }

    int outFeatures() {
        return outFeatures;
    }
}
