package dev.solder;

import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.List;

/**
 * Owns the tensors created while it is open on this thread, and frees them when it
 * closes — memory is never left to the garbage collector (DJL's NDManager idea).
 *
 * <pre>{@code
 * Tensor kept;
 * try (var step = Scope.open()) {
 *     Tensor a = Tensor.ones(4, 4);          // owned by step
 *     Tensor b = a.add(a);                   // owned by step
 *     kept = step.keep(b.sum());             // moved to the enclosing scope
 * }                                          // a and b are freed here
 * System.out.println(kept.item());           // 32.0
 * kept.close();                              // no enclosing scope: the caller owns it
 * }</pre>
 *
 * <p>Tensors created with no scope open belong to the caller, who closes them (model
 * parameters, optimizer state). Scopes nest; each thread has its own stack.
 */
public final class Scope implements AutoCloseable {
    private static final ThreadLocal<ArrayDeque<Scope>> STACK = ThreadLocal.withInitial(ArrayDeque::new);

    private final Thread owner = Thread.currentThread();
    private List<Tensor> owned = new ArrayList<>();
    private boolean closed;

    private Scope() {
    }

    /** Opens a scope on this thread; tensors created until it closes belong to it. */
    public static Scope open() {
        Scope s = new Scope();
        STACK.get().push(s);
        return s;
    }

    /** The innermost open scope of this thread, or null. */
    public static Scope current() {
        return STACK.get().peek();
    }

    void adopt(Tensor t) {
        t.ownerSlot = owned.size();
        owned.add(t);
        t.owner = this;
    }

    void disown(Tensor t) {
        // adopt() noted where t sits: a backward closes tensors from all over a step's list,
        // and searching for each made that quadratic in the step's tensor count.
        int i = t.ownerSlot;
        if (i < owned.size() && owned.get(i) == t) {
            owned.set(i, null);
        }
        t.owner = null;
    }

    /**
     * Moves {@code t} out of this scope into the enclosing one (or, with none, to the
     * caller, who must close it). Returns {@code t} for chaining.
     */
    public Tensor keep(Tensor t) {
        if (t.owner != this) {
            throw new IllegalArgumentException("keep: " + t.describe() + " is not owned by this scope");
        }
        disown(t);
        Scope parent = parentOf(this);
        if (parent != null) {
            parent.adopt(t);
        }
        return t;
    }

    /** Number of tensors this scope still owns (live ones). */
    public int size() {
        int n = 0;
        for (Tensor t : owned) {
            if (t != null && !t.isClosed()) {
                n++;
            }
        }
        return n;
    }

    private static Scope parentOf(Scope s) {
        boolean seen = false;
        for (Scope x : STACK.get()) {
            if (seen) {
                return x;
            }
            if (x == s) {
                seen = true;
            }
        }
        return null;
    }

    /** Frees every tensor still owned. Scopes must close in LIFO order on their own thread. */
    @Override
    public void close() {
        if (closed) {
            return;
        }
        if (Thread.currentThread() != owner) {
            throw new IllegalStateException("scope opened on thread " + owner.getName()
                    + " closed on " + Thread.currentThread().getName());
        }
        ArrayDeque<Scope> stack = STACK.get();
        if (stack.peek() != this) {
            throw new IllegalStateException("scopes must close innermost first: this scope is not the innermost open one");
        }
        stack.pop();
        closed = true;
        RuntimeException first = null;
        List<Tensor> list = owned;
        owned = List.of();
        for (int i = list.size() - 1; i >= 0; i--) {
            Tensor t = list.get(i);
            if (t != null && t.owner == this) {
                t.owner = null;
                try {
                    t.close();
                } catch (RuntimeException e) {
                    if (first == null) {
                        first = e;
                    }
                }
            }
        }
        if (first != null) {
            throw first;
        }
    }
}
