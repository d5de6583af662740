package dev.solder;

import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.IdentityHashMap;
import java.util.List;
import java.util.Map;

/**
 * Define-by-run reverse-mode differentiation over Solder's coarse ops.
 *
 * <p>Every op run with gradients enabled, on an input that requires a gradient, records
 * a {@link Node} holding what its backward needs. {@link Tensor#backward()} walks the
 * recorded graph once in reverse topological order, accumulates gradients into the
 * leaves' {@code grad()} (so several micro-batches can add up before an optimizer step),
 * then releases the graph: a second backward through it fails and says so.
 *
 * <pre>{@code
 * try (var ng = Autograd.noGrad()) {   // evaluation: nothing recorded
 *     Tensor logits = model.forward(batch);
 * }
 * }</pre>
 */
public final class Autograd {
    private static final ThreadLocal<int[]> NO_GRAD_DEPTH = ThreadLocal.withInitial(() -> new int[1]);

    private Autograd() {
    }

    /** Computes the gradients of one node's inputs from the gradient of its output. */
    @FunctionalInterface
    public interface BackwardFn {
        /** Returns one gradient per input, null where that input needs none. */
        Tensor[] apply(Tensor gradOutput);
    }

    /**
     * A backward that can add an input's gradient into the gradient the engine already holds
     * for that input, instead of returning a new tensor for the engine to sum.
     *
     * <p>{@code into[i]}, when not null, is a contiguous tensor of input {@code i}'s shape
     * holding the sum of that input's gradients so far, which nothing else reads or holds. The
     * backward may add its gradient for input {@code i} into it in place and return that very
     * tensor as {@code grads[i]}; or ignore it and return a new gradient, which the engine adds
     * as usual. Folding the sum into the op's own write saves a pass over the gradient and,
     * on a GPU, a launch: BERT's query, key and value projections each add their input's
     * gradient into the one the residual connection already gave (a GEMM with beta 1).
     *
     * <pre>{@code
     * Autograd.record("twice", out, (Autograd.AccumulatingBackwardFn) (g, into) -> {
     *     Tensor acc = into.length > 0 ? into[0] : null;
     *     if (acc == null) {
     *         return new Tensor[] {Ops.scale(g, 2f)};
     *     }
     *     acc.backend().add(acc, g, 1f, 2f, acc);    // acc += 2·g
     *     return new Tensor[] {acc};
     * }, x);
     * }</pre>
     */
    @FunctionalInterface
    public interface AccumulatingBackwardFn extends BackwardFn {
        /** As {@link BackwardFn#apply}, with {@code into} empty or one slot per input (see the class). */
        Tensor[] apply(Tensor gradOutput, Tensor[] into);

        @Override
        default Tensor[] apply(Tensor gradOutput) {
            return apply(gradOutput, NO_TARGETS);
        }
    }

    private static final Tensor[] NO_TARGETS = new Tensor[0];

    /**
     * {@code -Dsolder.autograd.sumsInPlace=false} (read at every backward): offer no
     * {@link AccumulatingBackwardFn} a sum to add into, so every gradient is summed by a separate
     * add. On the CPU backend the results are the same bits either way; on a GPU the in-place
     * sums round once instead of twice. For narrowing down a numerical difference.
     */
    public static final String SUMS_IN_PLACE = "solder.autograd.sumsInPlace";

    /** One recorded op. */
    public static final class Node {
        final String op;
        final Tensor[] inputs;
        BackwardFn fn;
        final String shapes;
        /** Tensors the op made for itself, closed once this node's backward ran ({@link #own}). */
        private List<Tensor> owned;

        Node(String op, Tensor[] inputs, BackwardFn fn) {
            this.op = op;
            this.inputs = inputs;
            this.fn = fn;
            StringBuilder sb = new StringBuilder();
            for (Tensor t : inputs) {
                if (sb.length() > 0) {
                    sb.append(", ");
                }
                sb.append(t == null ? "null" : java.util.Arrays.toString(t.shape()));
            }
            this.shapes = sb.toString();
        }

        /** The op's name. */
        public String op() {
            return op;
        }

        /** True once backward ran through it and released what it saved. */
        public boolean isReleased() {
            return fn == null;
        }

        void closeOwned() {
            if (owned != null) {
                for (Tensor t : owned) {
                    t.close();
                }
                owned = null;
            }
        }
    }

    /** A region with gradient recording off; close it to restore. */
    public static final class NoGrad implements AutoCloseable {
        private boolean closed;

        private NoGrad() {
            NO_GRAD_DEPTH.get()[0]++;
        }

        @Override
        public void close() {
            if (!closed) {
                closed = true;
                NO_GRAD_DEPTH.get()[0]--;
            }
        }
    }

    /** Turns gradient recording off on this thread until the returned handle closes. */
    public static NoGrad noGrad() {
        return new NoGrad();
    }

    /** True when ops on this thread record gradients. */
    public static boolean isEnabled() {
        return NO_GRAD_DEPTH.get()[0] == 0;
    }

    /** True when recording is on and any input requires a gradient. */
    public static boolean needsGraph(Tensor... inputs) {
        if (!isEnabled()) {
            return false;
        }
        for (Tensor t : inputs) {
            if (t != null && t.requiresGrad()) {
                return true;
            }
        }
        return false;
    }

    /**
     * Records {@code out} as produced by {@code op} from {@code inputs} (when
     * {@link #needsGraph}); returns {@code out}. For backend authors writing new ops.
     */
    public static Tensor record(String op, Tensor out, BackwardFn fn, Tensor... inputs) {
        if (needsGraph(inputs)) {
            out.gradFn = new Node(op, inputs.clone(), fn);
        }
        return out;
    }

    /**
     * Ties tensors an op made for its own use — autocast's casts of its inputs, contiguous
     * copies, what it keeps for its backward — to the node that produced {@code out}: they are
     * closed as soon as that node's backward has run, or when its graph is released. With no
     * node (nothing needs a gradient), nothing will read them again and they are closed now.
     * Nulls are skipped; never pass a tensor the caller handed in. Returns {@code out}.
     */
    static Tensor own(Tensor out, Tensor... internals) {
        Node node = out.gradFn;
        for (Tensor t : internals) {
            if (t == null || t == out || t.isClosed()) {
                continue;
            }
            if (node == null || node.fn == null) {
                t.close();
            } else {
                if (node.owned == null) {
                    node.owned = new ArrayList<>(4);
                }
                node.owned.add(t);
            }
        }
        return out;
    }

    static void backward(Tensor root, Tensor seed) {
        Node rootNode = root.gradFn;
        if (rootNode == null) {
            if (!root.requiresGrad()) {
                throw new IllegalStateException("backward: " + root.describe()
                        + " does not require grad and has no graph (was it computed under noGrad, or from inputs without requiresGrad?)");
            }
            accumulateLeaf(root, seed, false);
            return;
        }
        boolean sumsInPlace = !"false".equals(System.getProperty(SUMS_IN_PLACE));
        Map<Node, int[]> uses = new IdentityHashMap<>();
        List<Node> order = topologicalOrder(rootNode, uses);
        Map<Node, Tensor> pending = new IdentityHashMap<>();
        pending.put(rootNode, seed);
        Holds holds = new Holds(seed);
        holds.take(seed);
        try (var ng = noGrad()) {
            for (Node node : order) {
                Tensor g = pending.remove(node);
                if (g == null) {
                    // No consumer gave it a gradient (they all ran, or took its path: see targets).
                    node.closeOwned();
                    continue;
                }
                Tensor[] into = sumsInPlace && node.fn instanceof AccumulatingBackwardFn
                        ? targets(node, pending, holds, uses) : null;
                Tensor[] grads = gradientsOf(node, g, into);
                for (int i = 0; i < node.inputs.length; i++) {
                    Tensor in = node.inputs[i];
                    if (in == null || grads == null || i >= grads.length || grads[i] == null || !in.requiresGrad()) {
                        continue;
                    }
                    Tensor gi = grads[i];
                    if (into != null && i < into.length && into[i] != null && gi == into[i]) {
                        continue;   // added in place into the sum the engine holds
                    }
                    if (!java.util.Arrays.equals(gi.shape(), in.shape())) {
                        throw new IllegalStateException("backward of " + node.op + ": gradient for input " + i
                                + " has shape " + java.util.Arrays.toString(gi.shape()) + ", input has "
                                + java.util.Arrays.toString(in.shape()));
                    }
                    if (in.gradFn != null) {
                        Tensor before = pending.get(in.gradFn);
                        if (before == null) {
                            pending.put(in.gradFn, gi);
                            holds.take(gi);
                        } else {
                            // Out-of-place sum: the same gradient tensor may be handed to several inputs.
                            Tensor sum = Ops.add(before, gi);
                            sum.freshGradient = true;   // the engine's own: later terms may add into it
                            pending.put(in.gradFn, sum);
                            holds.take(sum);
                            holds.drop(before);
                        }
                    } else if (accumulateLeaf(in, gi, once(grads, gi) && (gi != g || holds.heldOnce(g)))) {
                        holds.keepForever(gi);
                    }
                }
                node.closeOwned();
                holds.drop(g);
                if (grads != null) {
                    for (Tensor gi : grads) {
                        holds.closeIfFree(gi);
                    }
                }
            }
        } finally {
            for (Node node : order) {
                node.fn = null;
                node.closeOwned();
            }
        }
    }

    /**
     * Runs one node's backward in a scope of its own, so that what it allocates for itself
     * (casts, contiguous copies) is freed as soon as it returns; the gradients it returns move
     * to the caller's scope.
     */
    private static Tensor[] gradientsOf(Node node, Tensor g, Tensor[] into) {
        try (Scope s = Scope.open()) {
            Tensor[] grads = into == null ? node.fn.apply(g) : ((AccumulatingBackwardFn) node.fn).apply(g, into);
            if (grads != null) {
                for (Tensor gi : grads) {
                    if (gi != null && gi.owner == s) {
                        s.keep(gi);
                    }
                }
            }
            return grads;
        }
    }

    /**
     * What an {@link AccumulatingBackwardFn} may add its inputs' gradients into: for input
     * {@code i}, the sum the engine holds for it, when nothing else reads or holds that tensor.
     *
     * <p>Also through a cast from float32 (autocast's lowering of an activation) that this node
     * alone consumes: the cast hands a float32 gradient on unchanged, so adding into the sum of
     * the cast's float32 input gives what the cast's backward and the engine's add would give —
     * in the same order too where the cast runs right after its one consumer, as autocast's casts
     * in BERT do — and the cast then receives nothing and is skipped. Each target is offered
     * once per node.
     */
    private static Tensor[] targets(Node node, Map<Node, Tensor> pending, Holds holds, Map<Node, int[]> uses) {
        Tensor[] into = null;
        for (int i = 0; i < node.inputs.length; i++) {
            Tensor in = node.inputs[i];
            if (in == null || in.gradFn == null || !in.requiresGrad()) {
                continue;
            }
            Node at = in.gradFn;
            Tensor t = pending.get(at);
            if (t == null && isCastOfFloat32(at) && at.inputs[0].requiresGrad() && uses.get(at)[0] == 1) {
                Node below = at.inputs[0].gradFn;
                t = below == null ? null : pending.get(below);
            }
            if (t == null || !holds.isExclusive(t) || !java.util.Arrays.equals(t.shape(), in.shape())) {
                continue;
            }
            if (into == null) {
                into = new Tensor[node.inputs.length];
            }
            boolean offered = false;
            for (int j = 0; j < i; j++) {
                offered |= into[j] == t;
            }
            if (!offered) {
                into[i] = t;
            }
        }
        return into == null ? NO_TARGETS : into;
    }

    /**
     * Whether {@code n} (may be null) is a recorded cast ({@code Ops.recordCast}) of a float32
     * tensor: its backward hands a float32 gradient on as it is.
     */
    static boolean isCastOfFloat32(Node n) {
        return n != null && "cast".equals(n.op) && n.inputs.length == 1 && n.inputs[0] != null
                && n.inputs[0].dtype() == DType.FLOAT32;
    }

    /**
     * The gradients in flight during one backward and how many pending sums still need each.
     * A gradient the engine made (not the seed, not one a leaf adopted as its {@code grad}) is
     * closed once nothing needs it: a graph's intermediate gradients are freed as the walk
     * passes them, as in PyTorch, instead of all living until the caller's scope closes.
     */
    private static final class Holds {
        private final Map<Tensor, int[]> counts = new IdentityHashMap<>();
        private final Map<Tensor, Boolean> kept = new IdentityHashMap<>();

        Holds(Tensor seed) {
            kept.put(seed, Boolean.TRUE);
        }

        void take(Tensor t) {
            counts.computeIfAbsent(t, k -> new int[1])[0]++;
        }

        void keepForever(Tensor t) {
            kept.put(t, Boolean.TRUE);
        }

        /** True when one pending sum (or node) alone holds {@code t}. */
        boolean heldOnce(Tensor t) {
            int[] c = counts.get(t);
            return c != null && c[0] == 1;
        }

        /**
         * True when {@code t} may be written in place: a gradient an op or the engine made for
         * one input ({@link Tensor#freshGradient}), held once, by the engine alone, with no
         * other view of its memory.
         */
        boolean isExclusive(Tensor t) {
            int[] c = counts.get(t);
            return c != null && c[0] == 1 && !kept.containsKey(t) && t.freshGradient && !t.isClosed()
                    && t.isContiguous() && !t.storage().isShared();
        }

        void drop(Tensor t) {
            int[] c = counts.get(t);
            if (c != null && --c[0] == 0) {
                counts.remove(t);
            }
            closeIfFree(t);
        }

        void closeIfFree(Tensor t) {
            if (t != null && !counts.containsKey(t) && !kept.containsKey(t) && !t.isClosed()) {
                t.close();
            }
        }
    }

    /** Whether {@code t} is one element of {@code grads} only. */
    private static boolean once(Tensor[] grads, Tensor t) {
        int n = 0;
        for (Tensor x : grads) {
            n += x == t ? 1 : 0;
        }
        return n == 1;
    }

    /**
     * Adds {@code g} into {@code leaf.grad}; true when {@code g} itself became that gradient.
     * {@code adoptable}: the op returned {@code g} for this input alone, and no other pending
     * sum holds it (an op may hand on the gradient it received, as a cast does) — else another
     * input may still read it, and the leaf's next gradient would be added into it in place.
     */
    private static boolean accumulateLeaf(Tensor leaf, Tensor g, boolean adoptable) {
        if (adoptable && leaf.grad == null && g.freshGradient && !g.isClosed() && g.dtype() == DType.FLOAT32
                && g.device().equals(leaf.device())) {
            // Made for this input alone by its op: take it out of its scope instead of copying it.
            g.freshGradient = false;
            if (g.owner != null) {
                g.owner.disown(g);
            }
            leaf.grad = g;
            return true;
        }
        if (leaf.grad == null) {
            Tensor copy = Tensor.emptyUnscoped(g.shape(), DType.FLOAT32, leaf.device());
            copy.backend().copy(g, copy);
            leaf.grad = copy;
        } else {
            leaf.grad.checkOpen("grad accumulation");
            Tensor gc = g.contiguousNoGrad();
            leaf.backend().add(leaf.grad, gc, 1f, 1f, leaf.grad);
            if (gc != g) {
                gc.close();
            }
        }
        return false;
    }

    /**
     * The nodes reachable from {@code root}, each after every node that consumes it; counts
     * into {@code uses} how many inputs of those nodes each node produced.
     */
    private static List<Node> topologicalOrder(Node root, Map<Node, int[]> uses) {
        // Iterative DFS post-order, reversed: a node comes after every node that consumes it.
        List<Node> post = new ArrayList<>();
        Map<Node, Boolean> visited = new IdentityHashMap<>();
        ArrayDeque<Object[]> stack = new ArrayDeque<>();
        checkLive(root);
        stack.push(new Object[] {root, 0});
        visited.put(root, Boolean.TRUE);
        while (!stack.isEmpty()) {
            Object[] frame = stack.peek();
            Node n = (Node) frame[0];
            int i = (Integer) frame[1];
            if (i < n.inputs.length) {
                frame[1] = i + 1;
                Tensor in = n.inputs[i];
                if (in != null && in.gradFn != null) {
                    uses.computeIfAbsent(in.gradFn, k -> new int[1])[0]++;
                }
                if (in != null && in.gradFn != null && !visited.containsKey(in.gradFn)) {
                    checkLive(in.gradFn);
                    visited.put(in.gradFn, Boolean.TRUE);
                    stack.push(new Object[] {in.gradFn, 0});
                }
            } else {
                stack.pop();
                post.add(n);
            }
        }
        java.util.Collections.reverse(post);
        return post;
    }

    private static void checkLive(Node n) {
        if (n.fn == null) {
            throw new IllegalStateException("backward through " + n.op + " (inputs " + n.shapes
                    + "): its graph was already released by an earlier backward(); run the forward again");
        }
    }
}
