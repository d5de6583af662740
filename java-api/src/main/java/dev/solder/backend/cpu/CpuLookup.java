package dev.solder.backend.cpu;

import dev.solder.Tensor;
import java.lang.foreign.MemorySegment;
import java.util.Arrays;

/**
 * Embedding lookup ({@code out[n] = table[ids[n]]}) and its backward, the scatter-add of
 * output-gradient rows into the rows of the table they came from.
 *
 * <p>The backward sorts the positions by id and lets one task own each distinct id: a row
 * is summed in float64 over its occurrences in position order and written once. That is
 * parallel without atomics, deterministic, and exact to float64 for the many repeats a
 * token like {@code [CLS]} or {@code [PAD]} gets in a batch.
 */
final class CpuLookup {
    private CpuLookup() {
    }

    static void embedding(Tensor ids, Tensor table, Tensor out) {
        int n = Math.toIntExact(ids.numel());
        int vocab = table.dim(0);
        int hidden = table.dim(1);
        int[] rows = checkedIds("embedding", ids, vocab);
        if (hidden == 0) {
            return;
        }
        if (table.dtype() == out.dtype()) {
            MemorySegment st = CpuBackend.seg(table);
            MemorySegment so = CpuBackend.seg(out);
            long es = table.dtype().byteSize();
            long rowBytes = hidden * es;
            CpuParallel.forRange(n, CpuNorm.grain(hidden), (lo, hi) -> {
                for (int i = lo; i < hi; i++) {
                    MemorySegment.copy(st, (table.offset() + (long) rows[i] * hidden) * es,
                            so, (out.offset() + (long) i * hidden) * es, rowBytes);
                }
            });
            return;
        }
        CpuParallel.forRange(n, CpuNorm.grain(hidden), (lo, hi) -> {
            float[] buf = new float[hidden];
            for (int i = lo; i < hi; i++) {
                CpuFloats.load(table, (long) rows[i] * hidden, buf, 0, hidden);
                CpuFloats.store(out, (long) i * hidden, buf, 0, hidden);
            }
        });
    }

    static void embeddingBackward(Tensor ids, Tensor dy, int paddingIdx, Tensor dtable) {
        int n = Math.toIntExact(ids.numel());
        int vocab = dtable.dim(0);
        int hidden = dtable.dim(1);
        int[] rows = checkedIds("embeddingBackward", ids, vocab);
        CpuCopy.fill(dtable, 0);
        if (n == 0 || hidden == 0) {
            return;
        }
        // Positions sorted by (id, position): each id's occurrences form one run.
        long[] keys = new long[n];
        for (int i = 0; i < n; i++) {
            keys[i] = ((long) rows[i] << 32) | i;
        }
        Arrays.sort(keys);
        int[] runStart = new int[n + 1];
        int runs = 0;
        for (int i = 0; i < n; i++) {
            if (i == 0 || (keys[i] >>> 32) != (keys[i - 1] >>> 32)) {
                runStart[runs++] = i;
            }
        }
        runStart[runs] = n;
        int[] starts = runStart;
        CpuParallel.forRange(runs, Math.max(1, CpuNorm.grain(hidden) / 4), (lo, hi) -> {
            float[] buf = new float[hidden];
            double[] acc = new double[hidden];
            for (int run = lo; run < hi; run++) {
                int id = (int) (keys[starts[run]] >>> 32);
                if (id == paddingIdx) {
                    continue; // HF/PyTorch padding_idx: that row never learns.
                }
                Arrays.fill(acc, 0);
                for (int k = starts[run]; k < starts[run + 1]; k++) {
                    int pos = (int) keys[k];
                    CpuFloats.load(dy, (long) pos * hidden, buf, 0, hidden);
                    for (int j = 0; j < hidden; j++) {
                        acc[j] += buf[j];
                    }
                }
                for (int j = 0; j < hidden; j++) {
                    buf[j] = (float) acc[j];
                }
                CpuFloats.store(dtable, (long) id * hidden, buf, 0, hidden);
            }
        });
    }

    /** The ids as ints, every one checked to address a row of a {@code vocab}-row table. */
    private static int[] checkedIds(String op, Tensor ids, int vocab) {
        int n = Math.toIntExact(ids.numel());
        int[] rows = new int[n];
        for (int i = 0; i < n; i++) {
            long id = CpuFloats.getLong(ids, i);
            if (id < 0 || id >= vocab) {
                throw new IllegalArgumentException(op + ": id " + id + " at position " + i
                        + position(ids.shape(), i) + " of ids " + Arrays.toString(ids.shape())
                        + " is outside the table's " + vocab + " rows (vocab size " + vocab + ")");
            }
            rows[i] = (int) id;
        }
        return rows;
    }

    /** {@code " [b, s]"}: a flat index as a multi-index, for error messages (empty for 1-D). */
    static String position(int[] shape, long flat) {
        if (shape.length <= 1) {
            return "";
        }
        int[] idx = new int[shape.length];
        long rem = flat;
        for (int d = shape.length - 1; d >= 0; d--) {
            idx[d] = (int) (rem % shape[d]);
            rem /= shape[d];
        }
        return " " + Arrays.toString(idx);
    }
}
