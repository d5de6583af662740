package dev.solder.data;

import dev.solder.Device;
import dev.solder.Tensor;
import java.util.List;

/**
 * HF's {@code DataCollatorWithPadding}: stacks tokenized rows into a {@link Batch}, padding each to
 * the longest row of the batch (rounded up to {@code padToMultipleOf} when set) with the pad id,
 * token type 0 and attention 0, on the right.
 *
 * <pre>{@code
 * var collator = new DataCollatorWithPadding(tokenizer.padId());
 * try (var step = Scope.open()) {
 *     Batch b = collator.collate(rows, Device.cpu());
 * }
 * }</pre>
 */
public final class DataCollatorWithPadding {
    private final int padId;
    private final int padToMultipleOf;

    public DataCollatorWithPadding(int padId) {
        this(padId, 0);
    }

    public DataCollatorWithPadding(int padId, int padToMultipleOf) {
        if (padId < 0 || padToMultipleOf < 0) {
            throw new IllegalArgumentException("padId and padToMultipleOf must be >= 0");
        }
        this.padId = padId;
        this.padToMultipleOf = padToMultipleOf;
    }

    /** Collates {@code rows} onto {@code device}. Labels are int64 unless the rows are regression targets. */
    public Batch collate(List<Features> rows, Device device) {
        int n = rows.size();
        if (n == 0) {
            throw new IllegalArgumentException("collate: empty batch");
        }
        int longest = 0;
        long tokens = 0;
        for (Features f : rows) {
            longest = Math.max(longest, f.length());
            tokens += f.length();
        }
        if (padToMultipleOf > 0 && longest % padToMultipleOf != 0) {
            longest += padToMultipleOf - longest % padToMultipleOf;
        }
        long[] ids = new long[n * longest];
        long[] types = new long[n * longest];
        long[] mask = new long[n * longest];
        boolean regression = rows.get(0).label() < 0;
        long[] labels = new long[n];
        float[] scores = new float[n];
        for (int r = 0; r < n; r++) {
            Features f = rows.get(r);
            int[] fi = f.inputIds();
            int[] ft = f.tokenTypeIds();
            int base = r * longest;
            for (int j = 0; j < longest; j++) {
                if (j < fi.length) {
                    ids[base + j] = fi[j];
                    types[base + j] = ft[j];
                    mask[base + j] = 1;
                } else {
                    ids[base + j] = padId;
                }
            }
            if (regression != (f.label() < 0)) {
                throw new IllegalArgumentException("collate: a batch mixes classification and regression rows");
            }
            labels[r] = f.label();
            scores[r] = f.score();
        }
        Tensor tIds = Tensor.ofLongs(ids, n, longest);
        Tensor tTypes = Tensor.ofLongs(types, n, longest);
        Tensor tMask = Tensor.ofLongs(mask, n, longest);
        Tensor tLabels = regression ? Tensor.of(scores, n) : Tensor.ofLongs(labels, n);
        if (!device.isCpu()) {
            tIds = tIds.to(device);
            tTypes = tTypes.to(device);
            tMask = tMask.to(device);
            tLabels = tLabels.to(device);
        }
        return new Batch(tIds, tTypes, tMask, tLabels, n, tokens);
    }
}
