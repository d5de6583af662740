package dev.solder.optim;

import dev.solder.CastCache;
import dev.solder.DType;
import dev.solder.Tensor;
import dev.solder.nn.Params;
import dev.solder.spi.Backend;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Collections;
import java.util.IdentityHashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * AdamW with PyTorch's semantics ({@code torch.optim.AdamW}, {@code amsgrad=False}): for
 * each parameter with a gradient, at its own step count {@code t},
 * <pre>
 *   p ← p − lr·wd·p                           (decoupled weight decay)
 *   m ← β1·m + (1 − β1)·g
 *   v ← β2·v + (1 − β2)·g²
 *   p ← p − lr · (m / (1 − β1ᵗ)) / (sqrt(v / (1 − β2ᵗ)) + eps)
 * </pre>
 * The update of all parameters on one device is one backend call
 * ({@link Backend#adamwAll}: one kernel launch on a GPU, one pass per parameter on the CPU).
 *
 * <p>Defaults are torch's: lr 1e-3, betas (0.9, 0.999), eps 1e-8, weight decay 0.01.
 * Hugging Face's {@code Trainer} instead uses lr 5e-5 and weight decay <b>0.0</b>, and when
 * a decay is set it exempts biases and LayerNorm weights
 * ({@code Trainer.get_decay_parameter_names}); {@link Builder#noDecayOn} with
 * {@link #HF_NO_DECAY} reproduces that grouping.
 *
 * <p>Moments {@code m} and {@code v} are float32, created lazily on a parameter's first
 * update on its device, owned by the optimizer (not by any scope) and freed by
 * {@link #close()}. The parameters stay float32 master weights; where autocast keeps a
 * bfloat16/float16 copy of one ({@link CastCache}), the update writes that copy as well, so
 * the next forward computes with it without converting the weight again.
 *
 * <pre>{@code
 * try (var opt = AdamW.builder(model.namedParameters())
 *         .lr(5e-5).weightDecay(0.01).noDecayOn(AdamW.HF_NO_DECAY).build()) {
 *     var schedule = new LinearSchedule(opt, 0, totalSteps);
 *     for (Batch b : loader) {
 *         try (var step = Scope.open()) {                  // activations die here
 *             Tensor logits = model.forward(b.inputIds(), b.attentionMask());
 *             Ops.crossEntropy(logits, b.labels()).backward();
 *             opt.clipGradNorm(1.0);
 *             opt.step();
 *             opt.zeroGrad();
 *             schedule.step();
 *         }
 *     }
 * }
 * }</pre>
 */
public final class AdamW implements Optimizer {
    /**
     * The name substrings HF's Trainer keeps out of weight decay: every bias (which covers
     * {@code LayerNorm.bias}) and {@code LayerNorm.weight}.
     */
    public static final List<String> HF_NO_DECAY = List.of("bias", "LayerNorm.weight");

    /** One parameter group: a weight decay and the parameters it applies to. */
    public record Group(double weightDecay, List<String> names) {
        public Group {
            names = List.copyOf(names);
        }
    }

    /** A parameter's optimizer state: steps taken and the two moments (null before the first step). */
    public record ParamState(long step, Tensor expAvg, Tensor expAvgSq) {
    }

    /**
     * The optimizer's state by parameter name, plus its learning rate. The tensors are the
     * optimizer's own, not copies: write them out, do not close or modify them.
     */
    public record State(double lr, Map<String, ParamState> params) {
        public State {
            params = Collections.unmodifiableMap(new LinkedHashMap<>(params));
        }
    }

    private static final class Slot {
        final String name;
        final Tensor param;
        final double weightDecay;
        long step;
        Tensor m;
        Tensor v;

        Slot(String name, Tensor param, double weightDecay) {
            this.name = name;
            this.param = param;
            this.weightDecay = weightDecay;
        }

        void freeState() {
            if (m != null) {
                m.close();
                v.close();
                m = null;
                v = null;
            }
            step = 0;
        }
    }

    private final Map<String, Slot> slots;
    private final List<Group> groups;
    private final double beta1;
    private final double beta2;
    private final double eps;
    private double lr;
    private boolean closed;

    private AdamW(Builder b) {
        this.lr = b.lr;
        this.beta1 = b.beta1;
        this.beta2 = b.beta2;
        this.eps = b.eps;
        this.slots = new LinkedHashMap<>();
        List<String> decay = new ArrayList<>();
        List<String> noDecay = new ArrayList<>();
        Set<Tensor> seen = Collections.newSetFromMap(new IdentityHashMap<>());
        for (Map.Entry<String, Tensor> e : b.params.entrySet()) {
            Tensor p = e.getValue();
            // As HF's Trainer: frozen parameters are not optimised; a tied tensor once.
            if (!p.requiresGrad() || !seen.add(p)) {
                continue;
            }
            if (p.dtype() != DType.FLOAT32 || p.gradFn() != null) {
                throw new IllegalArgumentException("AdamW: parameter '" + e.getKey() + "' " + p.describe()
                        + " must be a float32 leaf (master weights)");
            }
            boolean exempt = b.noDecay.stream().anyMatch(s -> e.getKey().contains(s));
            double wd = exempt ? 0.0 : b.weightDecay;
            (exempt ? noDecay : decay).add(e.getKey());
            slots.put(e.getKey(), new Slot(e.getKey(), p, wd));
        }
        List<Group> g = new ArrayList<>();
        if (!decay.isEmpty()) {
            g.add(new Group(b.weightDecay, decay));
        }
        if (!noDecay.isEmpty()) {
            g.add(new Group(0.0, noDecay));
        }
        this.groups = List.copyOf(g);
    }

    /** Starts a builder over {@code namedParams} (e.g. {@code model.namedParameters()}). */
    public static Builder builder(Map<String, Tensor> namedParams) {
        return new Builder(namedParams);
    }

    /** Options of an {@link AdamW}; defaults are torch's. */
    public static final class Builder {
        private final Map<String, Tensor> params;
        private double lr = 1e-3;
        private double weightDecay = 0.01;
        private double beta1 = 0.9;
        private double beta2 = 0.999;
        private double eps = 1e-8;
        private final List<String> noDecay = new ArrayList<>();

        private Builder(Map<String, Tensor> params) {
            if (params == null) {
                throw new IllegalArgumentException("AdamW: parameter map is null");
            }
            this.params = new LinkedHashMap<>(params);
        }

        /** Learning rate (torch 1e-3; HF Trainer 5e-5). */
        public Builder lr(double lr) {
            if (!(lr >= 0)) {
                throw new IllegalArgumentException("AdamW: lr must be >= 0, got " + lr);
            }
            this.lr = lr;
            return this;
        }

        /** Decoupled weight decay (torch 0.01; HF Trainer 0.0). */
        public Builder weightDecay(double wd) {
            if (!(wd >= 0)) {
                throw new IllegalArgumentException("AdamW: weight decay must be >= 0, got " + wd);
            }
            this.weightDecay = wd;
            return this;
        }

        /**
         * Parameters whose full name contains any of {@code substrings} get no weight decay
         * (a second parameter group, as HF's Trainer builds one). See {@link #HF_NO_DECAY}.
         */
        public Builder noDecayOn(String... substrings) {
            return noDecayOn(Arrays.asList(substrings));
        }

        /** As {@link #noDecayOn(String...)}. */
        public Builder noDecayOn(List<String> substrings) {
            for (String s : substrings) {
                if (s == null || s.isEmpty()) {
                    throw new IllegalArgumentException("AdamW: empty noDecayOn pattern would exempt everything");
                }
                noDecay.add(s);
            }
            return this;
        }

        /** Moment decay rates (0.9, 0.999). */
        public Builder betas(double beta1, double beta2) {
            if (!(beta1 >= 0 && beta1 < 1) || !(beta2 >= 0 && beta2 < 1)) {
                throw new IllegalArgumentException("AdamW: betas must be in [0, 1), got (" + beta1 + ", " + beta2 + ")");
            }
            this.beta1 = beta1;
            this.beta2 = beta2;
            return this;
        }

        /** Denominator term (1e-8), added after the square root as torch does. */
        public Builder eps(double eps) {
            if (!(eps >= 0)) {
                throw new IllegalArgumentException("AdamW: eps must be >= 0, got " + eps);
            }
            this.eps = eps;
            return this;
        }

        public AdamW build() {
            return new AdamW(this);
        }
    }

    // ------------------------------------------------------------------ the update

    /**
     * Updates every parameter that has a gradient (others are skipped and their step count
     * does not advance, as in torch).
     */
    @Override
    public void step() {
        step(1f);
    }

    /**
     * {@link #step()} with every gradient multiplied by {@code gradScale} first (float32
     * {@code g·gradScale}), leaving the gradients themselves unchanged: the same update as
     * scaling them in place and stepping, in one pass. Used with {@link GradClip#coefficient}:
     *
     * <pre>{@code
     * double norm = GradClip.totalNorm(opt.parameters());
     * opt.step(GradClip.coefficient(norm, 1.0));       // clip to norm 1 and step
     * }</pre>
     *
     * All parameters on one backend are updated by one {@link Backend#adamwAll} call (one
     * kernel launch on a GPU).
     */
    public void step(float gradScale) {
        checkOpen("step");
        Map<Backend, List<Backend.AdamWParam>> byBackend = new LinkedHashMap<>();
        List<Tensor> copies = new ArrayList<>();
        for (Slot s : slots.values()) {
            Tensor g = s.param.grad();
            if (g == null) {
                continue;
            }
            s.param.checkOpen("AdamW.step '" + s.name + "'");
            g.checkOpen("AdamW.step gradient of '" + s.name + "'");
            if (!g.device().equals(s.param.device())) {
                throw new IllegalStateException("AdamW.step: gradient of '" + s.name + "' is on " + g.device()
                        + ", the parameter on " + s.param.device());
            }
            if (s.m == null) {
                s.m = Params.zeros(DType.FLOAT32, s.param.device(), s.param.shape());
                s.v = Params.zeros(DType.FLOAT32, s.param.device(), s.param.shape());
            }
            s.step++;
            // Bias corrections in double, rounded once: β2ᵗ is close to 1 for small t.
            double bc1 = 1 - Math.pow(beta1, s.step);
            double bc2 = 1 - Math.pow(beta2, s.step);
            Tensor gc = g;
            if (!g.isContiguous()) {
                gc = Params.copyOf(g, g.dtype(), g.device());
                copies.add(gc);
            }
            // autocast's kept bf16/fp16 copy of the weight, when current: the update rewrites it too
            Tensor low = CastCache.current(s.param);
            byBackend.computeIfAbsent(s.param.backend(), b -> new ArrayList<>())
                    .add(new Backend.AdamWParam(s.param, gc, s.m, s.v, (float) s.weightDecay, (float) bc1, (float) bc2,
                            low));
        }
        try {
            for (var e : byBackend.entrySet()) {
                e.getKey().adamwAll(e.getValue(), (float) lr, (float) beta1, (float) beta2, (float) eps, gradScale);
                for (Backend.AdamWParam p : e.getValue()) {
                    if (p.lowCopy() != null) {
                        CastCache.markCurrent(p.param());
                    }
                }
            }
        } finally {
            copies.forEach(Tensor::close);
        }
    }

    /** Frees every optimised parameter's gradient. */
    @Override
    public void zeroGrad() {
        for (Slot s : slots.values()) {
            s.param.zeroGrad();
        }
    }

    /**
     * Clips the gradients of this optimizer's parameters to a global 2-norm of
     * {@code maxNorm} ({@link GradClip#clipGradNorm}) and returns the norm before clipping.
     */
    public double clipGradNorm(double maxNorm) {
        checkOpen("clipGradNorm");
        return GradClip.clipGradNorm(parameters(), maxNorm);
    }

    @Override
    public double lr() {
        return lr;
    }

    @Override
    public void setLr(double lr) {
        if (!(lr >= 0)) {
            throw new IllegalArgumentException("AdamW: lr must be >= 0, got " + lr);
        }
        this.lr = lr;
    }

    public double beta1() {
        return beta1;
    }

    public double beta2() {
        return beta2;
    }

    public double eps() {
        return eps;
    }

    /** The parameter groups (decayed first, then the exempt ones); empty groups are left out. */
    public List<Group> groups() {
        return groups;
    }

    /** The optimised parameters, in order. */
    public List<Tensor> parameters() {
        List<Tensor> out = new ArrayList<>(slots.size());
        for (Slot s : slots.values()) {
            out.add(s.param);
        }
        return out;
    }

    /** Steps taken by parameter {@code name} (0 before its first update). */
    public long stepCount(String name) {
        return slot(name).step;
    }

    // ------------------------------------------------------------------ checkpoints

    /** The current state (live tensors, see {@link State}); parameters never updated are absent. */
    public State stateDict() {
        checkOpen("stateDict");
        Map<String, ParamState> out = new LinkedHashMap<>();
        for (Slot s : slots.values()) {
            if (s.m != null) {
                out.put(s.name, new ParamState(s.step, s.m, s.v));
            }
        }
        return new State(lr, out);
    }

    /**
     * Replaces the state with {@code state} (values copied; any device or float dtype):
     * parameters absent from it start afresh, as torch's {@code load_state_dict} does. An
     * unknown name or a moment whose shape differs from its parameter's throws before
     * anything changes.
     */
    public void loadStateDict(State state) {
        checkOpen("loadStateDict");
        for (Map.Entry<String, ParamState> e : state.params().entrySet()) {
            Slot s = slots.get(e.getKey());
            if (s == null) {
                throw new IllegalArgumentException("AdamW.loadStateDict: unknown parameter '" + e.getKey()
                        + "' (optimizer has " + slots.keySet() + ")");
            }
            ParamState ps = e.getValue();
            int[] want = s.param.shape();
            if (ps.expAvg() == null || ps.expAvgSq() == null
                    || !Arrays.equals(ps.expAvg().shape(), want) || !Arrays.equals(ps.expAvgSq().shape(), want)) {
                throw new IllegalArgumentException("AdamW.loadStateDict: state of '" + e.getKey() + "' has exp_avg "
                        + (ps.expAvg() == null ? "null" : Arrays.toString(ps.expAvg().shape())) + " and exp_avg_sq "
                        + (ps.expAvgSq() == null ? "null" : Arrays.toString(ps.expAvgSq().shape()))
                        + ", parameter has " + Arrays.toString(want));
            }
            if (ps.step() < 0) {
                throw new IllegalArgumentException("AdamW.loadStateDict: negative step " + ps.step() + " for '" + e.getKey() + "'");
            }
        }
        for (Slot s : slots.values()) {
            ParamState ps = state.params().get(s.name);
            if (ps == null) {
                s.freeState();
                continue;
            }
            if (s.m == null) {
                s.m = Params.zeros(DType.FLOAT32, s.param.device(), s.param.shape());
                s.v = Params.zeros(DType.FLOAT32, s.param.device(), s.param.shape());
            }
            // Copy both before touching step so a self-load (same tensors) is harmless.
            if (ps.expAvg() != s.m) {
                Params.copyInto(ps.expAvg(), s.m);
            }
            if (ps.expAvgSq() != s.v) {
                Params.copyInto(ps.expAvgSq(), s.v);
            }
            s.step = ps.step();
        }
        setLr(state.lr());
    }

    /** Frees the moments. The optimizer cannot be used afterwards. Idempotent. */
    @Override
    public void close() {
        if (closed) {
            return;
        }
        closed = true;
        for (Slot s : slots.values()) {
            s.freeState();
        }
    }

    private Slot slot(String name) {
        Slot s = slots.get(name);
        if (s == null) {
            throw new IllegalArgumentException("AdamW: no parameter '" + name + "' (has " + slots.keySet() + ")");
        }
        return s;
    }

    private void checkOpen(String op) {
        if (closed) {
            throw new IllegalStateException("AdamW." + op + ": optimizer is closed");
        }
    }
}
