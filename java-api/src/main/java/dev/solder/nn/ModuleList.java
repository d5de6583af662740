package dev.solder.nn;

import java.util.ArrayList;
import java.util.Collections;
import java.util.Iterator;
import java.util.List;

/**
 * An indexed list of sub-modules, registered under {@code 0}, {@code 1}, ... so that
 * their parameters get HF's names ({@code encoder.layer.3.output.dense.weight}).
 *
 * <pre>{@code
 * ModuleList<Linear> layers = registerModule("layer", new ModuleList<>());
 * for (int i = 0; i < 4; i++) {
 *     layers.add(new Linear(64, 64, true, g));
 * }
 * }</pre>
 */
public final class ModuleList<M extends Module> extends Module implements Iterable<M> {
    private final List<M> items = new ArrayList<>();

    public ModuleList() {
    }

    public ModuleList(List<? extends M> modules) {
        for (M m : modules) {
            add(m);
        }
    }

    /** Appends {@code m} under the next index. Returns {@code m}. */
    public M add(M m) {
        registerModule(Integer.toString(items.size()), m);
        items.add(m);
        return m;
    }

    public M get(int i) {
        return items.get(i);
    }

    public int size() {
        return items.size();
    }

    @Override
    public Iterator<M> iterator() {
        return Collections.unmodifiableList(items).iterator();
    }
}
