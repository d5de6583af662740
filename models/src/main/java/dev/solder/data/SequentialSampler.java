package dev.solder.data;

/** Rows in file order every epoch (evaluation, or training without shuffling). */
public final class SequentialSampler implements Sampler {
    private final int size;

    public SequentialSampler(int size) {
        this.size = size;
    }

    @Override
    public int[] order(int epoch) {
        int[] o = new int[size];
        for (int i = 0; i < size; i++) {
            o[i] = i;
        }
        return o;
    }
}
