package dev.solder.data;

import java.util.ArrayList;
import java.util.List;

/** Bad rows met while reading a file: thrown at once, or (with skipping on) counted with the first few messages kept. */
final class BadRows {
    private static final int KEEP = 5;
    private final boolean skip;
    private int count;
    private final List<String> first = new ArrayList<>();

    BadRows(boolean skip) {
        this.skip = skip;
    }

    void report(DataException e) {
        if (!skip) {
            throw e;
        }
        count++;
        if (first.size() < KEEP) {
            first.add(e.getMessage());
        }
    }

    int count() {
        return count;
    }

    List<String> firstMessages() {
        return List.copyOf(first);
    }
}
