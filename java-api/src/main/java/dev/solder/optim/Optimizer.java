package dev.solder.optim;

/**
 * What a learning-rate schedule or a training loop needs from an optimizer. Optimizers
 * own their state tensors, hence {@link AutoCloseable}.
 */
public interface Optimizer extends AutoCloseable {
    /** Applies one update to every parameter that has a gradient. */
    void step();

    /** Frees every parameter's gradient. */
    void zeroGrad();

    /** The current learning rate. */
    double lr();

    /** Sets the learning rate used by the next {@link #step()}. */
    void setLr(double lr);

    /** Frees the optimizer's state. */
    @Override
    void close();
}
