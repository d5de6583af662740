package dev.solder.data;

/**
 * The order in which a training loop visits a dataset's rows, epoch by epoch. Implementations are
 * pure functions of their seed and the epoch, so a resumed run can rebuild the order of the epoch
 * it stopped in.
 */
public interface Sampler {
    /** The row indices of {@code epoch} (0-based), each row once. */
    int[] order(int epoch);

    /** The seed this epoch's order was drawn from (recorded in checkpoints); 0 when not random. */
    default long epochSeed(int epoch) {
        return 0;
    }
}
