package dev.solder.nn;

import dev.solder.DType;
import dev.solder.Device;
import dev.solder.Generator;
import dev.solder.Tensor;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Collections;
import java.util.HashSet;
import java.util.IdentityHashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * A tree of named parameters, buffers and sub-modules, named the way Hugging Face
 * checkpoints name them ({@code encoder.layer.0.attention.self.query.weight}), so a
 * state dict moves between Solder and {@code transformers} without renaming.
 *
 * <p>A module owns its parameters: they are float32 leaf tensors with
 * {@code requiresGrad(true)}, owned by no {@link dev.solder.Scope} (create them with
 * {@link Params} or with no scope open) and freed by {@link #close()}. Activations made
 * in {@code forward} belong to whatever scope is open, as usual.
 *
 * <p>Sub-classes declare their pieces in the constructor. Child modules may be kept in
 * fields; a module's own tensors are read back in {@code forward} through
 * {@link #param(String)} / {@link #buffer(String)}, not cached: {@link #to(Device)}
 * replaces them, and a field would keep pointing at the closed old tensor.
 *
 * <pre>{@code
 * final class Mlp extends Module {
 *     private final Linear fc1;
 *     private final Linear fc2;
 *
 *     Mlp(Generator g) {
 *         fc1 = registerModule("fc1", new Linear(2, 16, true, g, 0.5));   // std 0.5, not BERT's 0.02
 *         fc2 = registerModule("fc2", new Linear(16, 2, true, g, 0.5));
 *     }
 *
 *     Tensor forward(Tensor x) {
 *         return fc2.forward(fc1.forward(x).tanh());
 *     }
 * }
 *
 * try (var model = new Mlp(new Generator(42));
 *      var opt = AdamW.builder(model.namedParameters()).lr(0.05).weightDecay(0).build();
 *      var data = Scope.open()) {                       // owns x and y
 *     Tensor x = Tensor.of(new float[] {0, 0, 0, 1, 1, 0, 1, 1}, 4, 2);
 *     Tensor y = Tensor.ofInts(new int[] {0, 1, 1, 0});
 *     for (int i = 0; i < 500; i++) {
 *         try (var step = Scope.open()) {              // activations die here
 *             Ops.crossEntropy(model.forward(x), y).backward();
 *             opt.step();
 *             opt.zeroGrad();
 *         }
 *     }
 *     System.out.println(model.namedParameters().keySet());  // [fc1.weight, fc1.bias, fc2.weight, fc2.bias]
 * }
 * }</pre>
 */
public abstract class Module implements AutoCloseable {
    private final Map<String, Tensor> parameters = new LinkedHashMap<>();
    private final Map<String, Tensor> buffers = new LinkedHashMap<>();
    private final Set<String> nonPersistent = new HashSet<>();
    private final Map<String, Module> children = new LinkedHashMap<>();
    private final Map<String, Generator> generators = new LinkedHashMap<>();
    private boolean training = true;
    private boolean closed;

    /** Missing and unexpected keys of a non-strict {@link #loadStateDict}, as PyTorch reports them. */
    public record LoadResult(List<String> missing, List<String> unexpected) {
        public LoadResult {
            missing = List.copyOf(missing);
            unexpected = List.copyOf(unexpected);
        }

        /** True when the state dict matched the module key for key. */
        public boolean isExact() {
            return missing.isEmpty() && unexpected.isEmpty();
        }
    }

    // ------------------------------------------------------------------ registration

    /**
     * Registers {@code t} as this module's parameter {@code name} (one path segment, no
     * dots) and takes ownership of it. It must be an open float32 leaf owned by no scope;
     * it is marked {@code requiresGrad(true)} (freeze it afterwards with
     * {@code requiresGrad(false)} if wanted). Returns {@code t}.
     */
    public final Tensor registerParameter(String name, Tensor t) {
        checkName(name);
        checkLongLived("registerParameter", name, t);
        if (t.dtype() != DType.FLOAT32) {
            throw new IllegalArgumentException("registerParameter '" + name + "': " + t.describe()
                    + " must be float32 (master weights are float32; autocast lowers them per op)");
        }
        if (t.gradFn() != null) {
            throw new IllegalArgumentException("registerParameter '" + name + "': " + t.describe()
                    + " is the result of " + t.gradFn().op() + ", not a leaf: pass a fresh tensor or a detached copy");
        }
        t.requiresGrad(true);
        parameters.put(name, t);
        return t;
    }

    /**
     * Registers a persistent buffer: state that is saved in {@link #stateDict()} and moved
     * by {@link #to(Device)} but never trained (e.g. running statistics). Returns {@code t}.
     */
    public final Tensor registerBuffer(String name, Tensor t) {
        return registerBuffer(name, t, true);
    }

    /**
     * Registers a buffer; a non-persistent one (HF's {@code position_ids}) is moved and
     * freed with the module but left out of {@link #stateDict()}. Any dtype. Returns {@code t}.
     */
    public final Tensor registerBuffer(String name, Tensor t, boolean persistent) {
        checkName(name);
        checkLongLived("registerBuffer", name, t);
        buffers.put(name, t);
        if (!persistent) {
            nonPersistent.add(name);
        }
        return t;
    }

    /** Registers {@code m} as the child {@code name}; its entries get the prefix {@code name.}. Returns {@code m}. */
    public final <M extends Module> M registerModule(String name, M m) {
        checkName(name);
        if (m == null) {
            throw new IllegalArgumentException("registerModule '" + name + "': module is null");
        }
        if (m == this) {
            throw new IllegalArgumentException("registerModule '" + name + "': a module cannot contain itself");
        }
        children.put(name, m);
        return m;
    }

    /**
     * Registers {@code g} as a generator this module draws from while it runs (dropout seeds),
     * so that a trainer can seed it and save and restore its state in checkpoints
     * ({@link #namedGenerators()}). Returns {@code g}.
     */
    public final Generator registerGenerator(String name, Generator g) {
        checkName(name);
        if (g == null) {
            throw new IllegalArgumentException("registerGenerator '" + name + "': generator is null");
        }
        generators.put(name, g);
        return g;
    }

    private void checkName(String name) {
        if (closed) {
            throw new IllegalStateException(getClass().getSimpleName() + " is closed");
        }
        if (name == null || name.isEmpty() || name.indexOf('.') >= 0) {
            throw new IllegalArgumentException("bad name '" + name + "': names are one non-empty path segment without dots");
        }
        if (parameters.containsKey(name) || buffers.containsKey(name) || children.containsKey(name)
                || generators.containsKey(name)) {
            throw new IllegalArgumentException("'" + name + "' is already registered in " + getClass().getSimpleName());
        }
    }

    private static void checkLongLived(String op, String name, Tensor t) {
        if (t == null) {
            throw new IllegalArgumentException(op + " '" + name + "': tensor is null");
        }
        t.checkOpen(op + " '" + name + "'");
        if (t.isScoped()) {
            throw new IllegalArgumentException(op + " '" + name + "': " + t.describe()
                    + " belongs to an open Scope and would be freed when it closes; create it with Params.* "
                    + "or Tensor.emptyUnscoped, or with no scope open");
        }
    }

    /** This module's own parameter {@code name} (no prefix). */
    protected final Tensor param(String name) {
        Tensor t = parameters.get(name);
        if (t == null) {
            throw new IllegalArgumentException(getClass().getSimpleName() + " has no parameter '" + name + "' (has "
                    + parameters.keySet() + ")");
        }
        return t;
    }

    /** This module's own buffer {@code name} (no prefix). */
    protected final Tensor buffer(String name) {
        Tensor t = buffers.get(name);
        if (t == null) {
            throw new IllegalArgumentException(getClass().getSimpleName() + " has no buffer '" + name + "' (has "
                    + buffers.keySet() + ")");
        }
        return t;
    }

    // ------------------------------------------------------------------ traversal

    /**
     * Every parameter under its full dotted name, in registration order (own parameters
     * first, then each child's, depth first — PyTorch's order). A tensor registered in
     * several places (tied weights) appears once, under its first name. Each tensor's
     * {@link Tensor#name()} is set to that name.
     */
    public final LinkedHashMap<String, Tensor> namedParameters() {
        LinkedHashMap<String, Tensor> out = new LinkedHashMap<>();
        Set<Tensor> seen = Collections.newSetFromMap(new IdentityHashMap<>());
        collect(this, "", out, seen, Kind.PARAMETERS, Collections.newSetFromMap(new IdentityHashMap<>()));
        for (Map.Entry<String, Tensor> e : out.entrySet()) {
            e.getValue().setName(e.getKey());
        }
        return out;
    }

    /** The tensors of {@link #namedParameters()}. */
    public final List<Tensor> parameters() {
        return new ArrayList<>(namedParameters().values());
    }

    /** Every buffer (persistent or not) under its full dotted name, each once. */
    public final LinkedHashMap<String, Tensor> namedBuffers() {
        LinkedHashMap<String, Tensor> out = new LinkedHashMap<>();
        collect(this, "", out, Collections.newSetFromMap(new IdentityHashMap<>()), Kind.BUFFERS,
                Collections.newSetFromMap(new IdentityHashMap<>()));
        return out;
    }

    /** This module (under {@code ""}) and every descendant under its dotted path, each once. */
    public final LinkedHashMap<String, Module> namedModules() {
        LinkedHashMap<String, Module> out = new LinkedHashMap<>();
        Set<Module> seen = Collections.newSetFromMap(new IdentityHashMap<>());
        walkModules(this, "", out, seen);
        return out;
    }

    private static void walkModules(Module m, String prefix, Map<String, Module> out, Set<Module> seen) {
        if (!seen.add(m)) {
            return;
        }
        out.put(prefix, m);
        for (Map.Entry<String, Module> c : m.children.entrySet()) {
            walkModules(c.getValue(), prefix.isEmpty() ? c.getKey() : prefix + "." + c.getKey(), out, seen);
        }
    }

    /**
     * Every registered generator, each once (a generator shared by several modules is named
     * where it is met first, depth first as {@link #namedModules()}), under its module's path,
     * {@code #} and its own name — e.g. {@code bert.embeddings.dropout#rng}.
     */
    public final LinkedHashMap<String, Generator> namedGenerators() {
        LinkedHashMap<String, Generator> out = new LinkedHashMap<>();
        Set<Generator> seen = Collections.newSetFromMap(new IdentityHashMap<>());
        for (Map.Entry<String, Module> e : namedModules().entrySet()) {
            for (Map.Entry<String, Generator> g : e.getValue().generators.entrySet()) {
                if (seen.add(g.getValue())) {
                    out.put((e.getKey().isEmpty() ? "<model>" : e.getKey()) + "#" + g.getKey(), g.getValue());
                }
            }
        }
        return out;
    }

    /** The direct children, by name. */
    public final Map<String, Module> children() {
        return Collections.unmodifiableMap(children);
    }

    private enum Kind { PARAMETERS, BUFFERS, STATE }

    private static void collect(Module m, String prefix, Map<String, Tensor> out, Set<Tensor> seenTensors, Kind kind,
                                Set<Module> seenModules) {
        // STATE keeps duplicates (as torch's state_dict does, so tied weights are saved under
        // both names); the other walks report each module and tensor once.
        if (kind != Kind.STATE && !seenModules.add(m)) {
            return;
        }
        if (kind != Kind.BUFFERS) {
            for (Map.Entry<String, Tensor> e : m.parameters.entrySet()) {
                if (kind == Kind.STATE || seenTensors.add(e.getValue())) {
                    out.put(prefix + e.getKey(), e.getValue());
                }
            }
        }
        if (kind != Kind.PARAMETERS) {
            for (Map.Entry<String, Tensor> e : m.buffers.entrySet()) {
                if (kind == Kind.STATE ? !m.nonPersistent.contains(e.getKey()) : seenTensors.add(e.getValue())) {
                    out.put(prefix + e.getKey(), e.getValue());
                }
            }
        }
        for (Map.Entry<String, Module> c : m.children.entrySet()) {
            collect(c.getValue(), prefix + c.getKey() + ".", out, seenTensors, kind, seenModules);
        }
    }

    /** Number of trainable elements ({@link #namedParameters()}, tied tensors counted once). */
    public final long numParameters() {
        long n = 0;
        for (Tensor t : namedParameters().values()) {
            n += t.numel();
        }
        return n;
    }

    // ------------------------------------------------------------------ mode

    /** Training mode (dropout active) for this module and all descendants. Returns this. */
    public Module train() {
        return train(true);
    }

    /** Evaluation mode (dropout off) for this module and all descendants. Returns this. */
    public Module eval() {
        return train(false);
    }

    /** Sets training mode recursively. Returns this. */
    public Module train(boolean on) {
        for (Module m : namedModules().values()) {
            m.training = on;
        }
        return this;
    }

    /** True in training mode (the default for a new module, as in PyTorch). */
    public final boolean isTraining() {
        return training;
    }

    /** Frees every parameter's gradient (PyTorch's {@code zero_grad(set_to_none=True)}). */
    public final void zeroGrad() {
        for (Tensor t : namedParameters().values()) {
            t.zeroGrad();
        }
    }

    // ------------------------------------------------------------------ state

    /**
     * Parameters and persistent buffers by full name — the tensors themselves, not copies
     * (do not close them). Tied tensors appear under each of their names, as in PyTorch.
     */
    public final LinkedHashMap<String, Tensor> stateDict() {
        LinkedHashMap<String, Tensor> out = new LinkedHashMap<>();
        collect(this, "", out, null, Kind.STATE, null);
        return out;
    }

    /**
     * Copies the values of {@code sd} into this module's parameters and persistent buffers
     * (the tensors keep their identity; dtype and device are converted). Shapes must
     * match: any mismatch throws, naming every mismatched entry with both shapes. With
     * {@code strict}, missing or unexpected keys throw too, listing them; otherwise they
     * are returned. Nothing is copied unless every check passes.
     */
    public final LoadResult loadStateDict(Map<String, Tensor> sd, boolean strict) {
        checkNotClosed("loadStateDict");
        Map<String, Tensor> own = stateDict();
        List<String> missing = new ArrayList<>();
        List<String> unexpected = new ArrayList<>();
        List<String> mismatched = new ArrayList<>();
        for (Map.Entry<String, Tensor> e : own.entrySet()) {
            Tensor src = sd.get(e.getKey());
            if (src == null) {
                missing.add(e.getKey());
            } else {
                src.checkOpen("loadStateDict '" + e.getKey() + "'");
                if (!Arrays.equals(src.shape(), e.getValue().shape())) {
                    mismatched.add(e.getKey() + ": checkpoint has " + Arrays.toString(src.shape()) + ", model has "
                            + Arrays.toString(e.getValue().shape()));
                }
            }
        }
        for (String k : sd.keySet()) {
            if (!own.containsKey(k)) {
                unexpected.add(k);
            }
        }
        if (!mismatched.isEmpty()) {
            throw new IllegalArgumentException("loadStateDict into " + getClass().getSimpleName() + ": size mismatch for "
                    + String.join("; ", mismatched));
        }
        if (strict && (!missing.isEmpty() || !unexpected.isEmpty())) {
            throw new IllegalArgumentException("loadStateDict into " + getClass().getSimpleName() + " (strict): missing keys "
                    + missing + ", unexpected keys " + unexpected);
        }
        for (Map.Entry<String, Tensor> e : own.entrySet()) {
            Tensor src = sd.get(e.getKey());
            if (src != null && src != e.getValue()) {
                Params.copyInto(src, e.getValue());
            }
        }
        return new LoadResult(missing, unexpected);
    }

    /**
     * Moves every parameter and buffer to {@code device}: new tensors replace the old ones,
     * which are closed (gradients move along). Build the optimizer after moving — one built
     * before still holds the old, closed tensors. Returns this.
     */
    public Module to(Device device) {
        checkNotClosed("to(" + device + ")");
        Map<Tensor, Tensor> moved = new IdentityHashMap<>();
        for (Module m : namedModules().values()) {
            m.moveOwn(device, moved);
        }
        for (Tensor old : moved.keySet()) {
            old.close();
        }
        return this;
    }

    private void moveOwn(Device device, Map<Tensor, Tensor> moved) {
        for (Map.Entry<String, Tensor> e : parameters.entrySet()) {
            e.setValue(moveTensor(e.getValue(), device, moved, true));
        }
        for (Map.Entry<String, Tensor> e : buffers.entrySet()) {
            e.setValue(moveTensor(e.getValue(), device, moved, false));
        }
    }

    private static Tensor moveTensor(Tensor old, Device device, Map<Tensor, Tensor> moved, boolean parameter) {
        if (old.device().equals(device)) {
            return old;
        }
        Tensor done = moved.get(old);
        if (done != null) {
            return done;   // tied: the first owner already moved it
        }
        Tensor t = Params.copyOf(old, old.dtype(), device);
        t.setName(old.name());
        if (parameter) {
            t.requiresGrad(old.requiresGrad());
            if (old.grad() != null) {
                t.setGrad(Params.copyOf(old.grad(), old.grad().dtype(), device));
            }
        }
        moved.put(old, t);
        return t;
    }

    /** Frees every parameter and buffer of this module and its descendants. Idempotent. */
    @Override
    public void close() {
        if (closed) {
            return;
        }
        closed = true;
        for (Tensor t : parameters.values()) {
            t.close();
        }
        for (Tensor t : buffers.values()) {
            t.close();
        }
        for (Module c : children.values()) {
            c.close();
        }
    }

    /** True once {@link #close()} ran. */
    public final boolean isClosed() {
        return closed;
    }

    private void checkNotClosed(String op) {
        if (closed) {
            throw new IllegalStateException(op + ": " + getClass().getSimpleName() + " is closed");
        }
    }

    @Override
    public String toString() {
        return getClass().getSimpleName() + "(" + numParameters() + " parameters" + (training ? "" : ", eval") + ")";
    }
}
