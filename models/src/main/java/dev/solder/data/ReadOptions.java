package dev.solder.data;

/**
 * How a reader treats a file: how many good rows to keep at most (the first ones in file order,
 * as {@code dataset.select(range(n))}) and whether bad rows stop the read or are skipped and
 * counted.
 *
 * @param maxRows keep at most this many rows; 0 or negative for all
 * @param skipBadRows skip (and count) ragged rows and unknown labels instead of failing
 */
public record ReadOptions(int maxRows, boolean skipBadRows) {
    /** Every row, failing on the first bad one. */
    public static ReadOptions all() {
        return new ReadOptions(0, false);
    }

    /** The first {@code n} rows, failing on a bad one ({@code select(range(n))}). */
    public static ReadOptions firstRows(int n) {
        return new ReadOptions(n, false);
    }

    public ReadOptions withMaxRows(int n) {
        return new ReadOptions(n, skipBadRows);
    }

    public ReadOptions withSkipBadRows(boolean on) {
        return new ReadOptions(maxRows, on);
    }

    boolean full(int have) {
        return maxRows > 0 && have >= maxRows;
    }
}
