package dev.solder;

import dev.solder.spi.Backend;
import dev.solder.spi.Storage;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.Arrays;

/**
 * An n-dimensional array on a device, with define-by-run autograd.
 *
 * <p>Storage is row-major; {@link #reshape}, {@link #transpose()} (last two dims) and
 * {@link #narrow} return views sharing it where that needs no copy. Memory belongs to
 * the innermost open {@link Scope} (or, with none, to the caller, who {@link #close()}s
 * it) — never to the garbage collector.
 *
 * <pre>{@code
 * try (var scope = Scope.open()) {
 *     var g = new Generator(7);
 *     Tensor w = Tensor.randn(g, 3, 4).requiresGrad(true);
 *     Tensor x = Tensor.rand(g, 2, 4);
 *     Tensor loss = Ops.linear(x, w, null).tanh().sum();
 *     loss.backward();
 *     System.out.println(w.grad());   // Tensor[3, 4] float32 cpu ...
 * }
 * }</pre>
 */
public final class Tensor implements AutoCloseable {
    private final Storage storage;
    private final Backend backend;
    private final long offset;
    private final int[] shape;
    private final long[] strides;
    private final DType dtype;
    private final long numel;
    private final boolean contiguous;
    private boolean closed;
    private boolean requiresGrad;

    /** The scope owning this tensor, or null when the caller owns it. */
    Scope owner;
    /** This tensor's index in {@link #owner}'s list, so that leaving it costs no search. */
    int ownerSlot;
    /** The op that produced this tensor, when recorded. */
    Autograd.Node gradFn;
    /** Accumulated gradient of a leaf. */
    Tensor grad;
    /**
     * Set by an op on a float32 gradient it made for one input and references nowhere else
     * ({@code Ops.freshGradient}): the autograd engine may adopt it as a leaf's first gradient
     * instead of copying it.
     */
    boolean freshGradient;
    /** The low-precision copy {@link CastCache} keeps for this parameter, and the storage version it holds. */
    Tensor castCopy;
    long castCopyVersion;
    /** The latest view handed out of this activation's low-precision copy ({@link SharedCasts}), and the version it holds. */
    Tensor sharedCast;
    long sharedCastVersion;
    private String name;

    private Tensor(Storage storage, Backend backend, long offset, int[] shape, long[] strides, DType dtype, boolean scoped) {
        this.storage = storage;
        this.backend = backend;
        this.offset = offset;
        this.shape = shape;
        this.strides = strides;
        this.dtype = dtype;
        this.numel = numelOf(shape);
        this.contiguous = contiguous(shape, strides);
        if (scoped) {
            Scope s = Scope.current();
            if (s != null) {
                s.adopt(this);
            }
        }
    }

    // ------------------------------------------------------------------ creation

    /** An uninitialised contiguous tensor owned by the current scope. For backend and op authors. */
    public static Tensor empty(int[] shape, DType dtype, Device device) {
        return allocate(shape, dtype, device, true);
    }

    /** Like {@link #empty} but owned by the caller regardless of open scopes. */
    public static Tensor emptyUnscoped(int[] shape, DType dtype, Device device) {
        return allocate(shape, dtype, device, false);
    }

    private static Tensor allocate(int[] shape, DType dtype, Device device, boolean scoped) {
        int[] s = checkShape(shape);
        Backend b = Backends.forDevice(device);
        long bytes = Math.max(1, numelOf(s)) * dtype.byteSize();
        Storage st = b.allocate(device, bytes);
        return new Tensor(st, b, 0, s, contiguousStrides(s), dtype, scoped);
    }

    /** float32 zeros on the CPU. */
    public static Tensor zeros(int... shape) {
        return full(0, DType.FLOAT32, Device.cpu(), shape);
    }

    /** Zeros of the given type and device. */
    public static Tensor zeros(DType dtype, Device device, int... shape) {
        return full(0, dtype, device, shape);
    }

    /** float32 ones on the CPU. */
    public static Tensor ones(int... shape) {
        return full(1, DType.FLOAT32, Device.cpu(), shape);
    }

    /** Ones of the given type and device. */
    public static Tensor ones(DType dtype, Device device, int... shape) {
        return full(1, dtype, device, shape);
    }

    /** Every element {@code value}. */
    public static Tensor full(double value, DType dtype, Device device, int... shape) {
        Tensor t = empty(shape, dtype, device);
        t.backend.fill(t, value);
        return t;
    }

    /** {@code [start, end)} step 1 as int64 on the CPU. */
    public static Tensor arange(long start, long end) {
        return arange(start, end, DType.INT64, Device.cpu());
    }

    /** {@code [start, end)} step 1. */
    public static Tensor arange(long start, long end, DType dtype, Device device) {
        if (end < start || end - start > Integer.MAX_VALUE) {
            throw new IllegalArgumentException("arange: bad range [" + start + ", " + end + ")");
        }
        int n = (int) (end - start);
        double[] v = new double[n];
        for (int i = 0; i < n; i++) {
            v[i] = start + i;
        }
        return fromDoubles(v, dtype, device, n);
    }

    /** Uniform [0, 1) float32 on the CPU. */
    public static Tensor rand(Generator g, int... shape) {
        return rand(g, DType.FLOAT32, Device.cpu(), shape);
    }

    /** Uniform [0, 1), drawn on the host from {@code g} (so every device gets the same values). */
    public static Tensor rand(Generator g, DType dtype, Device device, int... shape) {
        int[] s = checkShape(shape);
        float[] v = new float[Math.toIntExact(numelOf(s))];
        for (int i = 0; i < v.length; i++) {
            v[i] = g.nextFloat();
        }
        return of(v, s).toOwned(dtype, device);
    }

    /** Standard normal float32 on the CPU. */
    public static Tensor randn(Generator g, int... shape) {
        return randn(g, DType.FLOAT32, Device.cpu(), shape);
    }

    /** Standard normal, drawn on the host from {@code g}. */
    public static Tensor randn(Generator g, DType dtype, Device device, int... shape) {
        int[] s = checkShape(shape);
        float[] v = new float[Math.toIntExact(numelOf(s))];
        for (int i = 0; i < v.length; i++) {
            v[i] = (float) g.nextGaussian();
        }
        return of(v, s).toOwned(dtype, device);
    }

    private Tensor toOwned(DType dt, Device dev) {
        if (dt == dtype && dev.equals(device())) {
            return this;
        }
        Tensor r = to(dt).to(dev);
        close();
        return r;
    }

    /** A float32 CPU tensor holding a copy of {@code data}; {@code shape} defaults to 1-D. */
    public static Tensor of(float[] data, int... shape) {
        int[] s = shape.length == 0 ? new int[] {data.length} : checkShape(shape);
        checkCount("of", data.length, s);
        Tensor t = empty(s, DType.FLOAT32, Device.cpu());
        t.backend.copyFromHost(MemorySegment.ofArray(data), 0, t);
        return t;
    }

    /** An int32 CPU tensor holding a copy of {@code data}. */
    public static Tensor ofInts(int[] data, int... shape) {
        int[] s = shape.length == 0 ? new int[] {data.length} : checkShape(shape);
        checkCount("ofInts", data.length, s);
        Tensor t = empty(s, DType.INT32, Device.cpu());
        t.backend.copyFromHost(MemorySegment.ofArray(data), 0, t);
        return t;
    }

    /** An int64 CPU tensor holding a copy of {@code data}. */
    public static Tensor ofLongs(long[] data, int... shape) {
        int[] s = shape.length == 0 ? new int[] {data.length} : checkShape(shape);
        checkCount("ofLongs", data.length, s);
        Tensor t = empty(s, DType.INT64, Device.cpu());
        t.backend.copyFromHost(MemorySegment.ofArray(data), 0, t);
        return t;
    }

    /** Values converted to {@code dtype} (floats rounded to nearest even, ints truncated). */
    public static Tensor fromDoubles(double[] data, DType dtype, Device device, int... shape) {
        int[] s = shape.length == 0 ? new int[] {data.length} : checkShape(shape);
        checkCount("fromDoubles", data.length, s);
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment seg = arena.allocate((long) Math.max(1, data.length) * dtype.byteSize(), 8);
            for (int i = 0; i < data.length; i++) {
                HostIO.put(seg, dtype, i, data[i]);
            }
            return fromSegment(seg, dtype, device, s);
        }
    }

    /** A copy of host memory holding {@code numel(shape)} elements of {@code dtype}, little-endian. */
    public static Tensor fromSegment(MemorySegment src, DType dtype, Device device, int... shape) {
        int[] s = checkShape(shape);
        long need = numelOf(s) * dtype.byteSize();
        if (src.byteSize() < need) {
            throw new IllegalArgumentException("fromSegment: " + Arrays.toString(s) + " " + dtype + " needs " + need
                    + " bytes, segment has " + src.byteSize());
        }
        Tensor t = empty(s, dtype, device);
        t.backend.copyFromHost(src, 0, t);
        return t;
    }

    /** Copies this tensor's elements (contiguous, in its dtype) into host memory. */
    public void copyTo(MemorySegment dst) {
        Tensor c = contiguousNoGrad();
        long need = numel * dtype.byteSize();
        if (dst.byteSize() < need) {
            throw new IllegalArgumentException("copyTo: " + describe() + " needs " + need + " bytes, segment has " + dst.byteSize());
        }
        backend.copyToHost(c, dst, 0);
        if (c != this) {
            c.close();
        }
    }

    // ------------------------------------------------------------------ reading back

    /** The elements as float32, row-major (converting from any dtype). */
    public float[] toFloatArray() {
        checkOpen("toFloatArray");
        try (var ng = Autograd.noGrad()) {
            Tensor c = dtype == DType.FLOAT32 && device().isCpu() ? contiguousNoGrad() : to(DType.FLOAT32).to(Device.cpu());
            float[] out = new float[Math.toIntExact(numel)];
            c.backend.copyToHost(c, MemorySegment.ofArray(out), 0);
            if (c != this) {
                c.close();
            }
            return out;
        }
    }

    /** The elements as double (via float32 for floating types, exact for integers). */
    public double[] toDoubleArray() {
        if (dtype.isFloating()) {
            float[] f = toFloatArray();
            double[] d = new double[f.length];
            for (int i = 0; i < f.length; i++) {
                d[i] = f[i];
            }
            return d;
        }
        long[] l = toLongArray();
        double[] d = new double[l.length];
        for (int i = 0; i < l.length; i++) {
            d[i] = l[i];
        }
        return d;
    }

    /** The elements as int (int64 narrowed with a range check; floats truncated). */
    public int[] toIntArray() {
        long[] l = toLongArray();
        int[] out = new int[l.length];
        for (int i = 0; i < l.length; i++) {
            if (l[i] != (int) l[i]) {
                throw new ArithmeticException("toIntArray: element " + i + " = " + l[i] + " does not fit an int");
            }
            out[i] = (int) l[i];
        }
        return out;
    }

    /** The elements as long. */
    public long[] toLongArray() {
        checkOpen("toLongArray");
        try (var ng = Autograd.noGrad()) {
            Tensor c = dtype == DType.INT64 && device().isCpu() ? contiguousNoGrad() : to(DType.INT64).to(Device.cpu());
            long[] out = new long[Math.toIntExact(numel)];
            c.backend.copyToHost(c, MemorySegment.ofArray(out), 0);
            if (c != this) {
                c.close();
            }
            return out;
        }
    }

    /** The value of a one-element tensor. */
    public float item() {
        if (numel != 1) {
            throw new IllegalStateException("item: " + describe() + " has " + numel + " elements, expected 1");
        }
        return toFloatArray()[0];
    }

    // ------------------------------------------------------------------ metadata

    /** A copy of the shape. */
    public int[] shape() {
        return shape.clone();
    }

    /** Size of dimension {@code d} (negative counts from the end). */
    public int dim(int d) {
        return shape[normDim(d, "dim")];
    }

    /** Number of dimensions. */
    public int rank() {
        return shape.length;
    }

    public long numel() {
        return numel;
    }

    public DType dtype() {
        return dtype;
    }

    public Device device() {
        return storage.device();
    }

    /** Element strides (for backends reading views). */
    public long[] strides() {
        return strides.clone();
    }

    /** Offset of the first element, in elements, inside {@link #storage()}. */
    public long offset() {
        return offset;
    }

    /** The shared storage (for backends). */
    public Storage storage() {
        checkOpen("storage");
        return storage;
    }

    /** The backend serving this tensor's device. */
    public Backend backend() {
        return backend;
    }

    /** True when elements are densely laid out row-major from {@link #offset()}. */
    public boolean isContiguous() {
        return contiguous;
    }

    private static boolean contiguous(int[] shape, long[] strides) {
        long expect = 1;
        for (int i = shape.length - 1; i >= 0; i--) {
            if (shape[i] != 1 && strides[i] != expect) {
                return false;
            }
            expect *= shape[i];
        }
        return true;
    }

    /** An optional name (parameters carry their HF name). */
    public String name() {
        return name;
    }

    public Tensor setName(String name) {
        this.name = name;
        return this;
    }

    // ------------------------------------------------------------------ autograd

    /** Whether gradients flow to this tensor (a leaf that asked for it, or a recorded result). */
    public boolean requiresGrad() {
        return requiresGrad || gradFn != null;
    }

    /** Marks a leaf as needing a gradient. Returns this. */
    public Tensor requiresGrad(boolean on) {
        if (gradFn != null && !on) {
            throw new IllegalStateException("requiresGrad(false) on " + describe() + ", which is the result of "
                    + gradFn.op() + ": use detach()");
        }
        if (on && !dtype.isFloating()) {
            throw new IllegalArgumentException("requiresGrad on " + describe() + ": only floating tensors have gradients");
        }
        requiresGrad = on;
        return this;
    }

    /** The accumulated gradient of a leaf, or null. Owned by this tensor. */
    public Tensor grad() {
        return grad;
    }

    /** Frees and clears the accumulated gradient. */
    public void zeroGrad() {
        if (grad != null) {
            grad.close();
            grad = null;
        }
    }

    /** Replaces the gradient (takes ownership; the tensor must be unscoped). */
    public void setGrad(Tensor g) {
        if (g != null && g.owner != null) {
            throw new IllegalArgumentException("setGrad: gradient must not belong to a scope");
        }
        if (grad != null && grad != g) {
            grad.close();
        }
        grad = g;
    }

    /** The op that produced this tensor, or null for leaves. */
    public Autograd.Node gradFn() {
        return gradFn;
    }

    /** Backpropagates from this one-element tensor (gradient 1). */
    public void backward() {
        checkOpen("backward");
        if (numel != 1) {
            throw new IllegalStateException("backward() on " + describe()
                    + ": only one-element tensors have an implicit gradient; use backward(gradient)");
        }
        Tensor seed = full(1, DType.FLOAT32, device(), shape);
        Autograd.backward(this, seed);
    }

    /** Backpropagates {@code gradient} (same shape as this). */
    public void backward(Tensor gradient) {
        checkOpen("backward");
        if (!Arrays.equals(gradient.shape, shape)) {
            throw new IllegalArgumentException("backward: gradient " + gradient.describe() + " does not match " + describe());
        }
        Autograd.backward(this, gradient);
    }

    /** The same data with no graph attached (a view; shares storage). */
    public Tensor detach() {
        checkOpen("detach");
        storage.retain();
        return new Tensor(storage, backend, offset, shape, strides, dtype, true);
    }

    // ------------------------------------------------------------------ views

    /** A view with a new shape (one dim may be -1); copies only when not contiguous. */
    public Tensor reshape(int... newShape) {
        return Ops.reshape(this, newShape);
    }

    /** Swaps the last two dimensions (a view). */
    public Tensor transpose() {
        return Ops.transpose(this);
    }

    /** Elements {@code [start, start + length)} along {@code dim} (a view). */
    public Tensor narrow(int dim, int start, int length) {
        return Ops.narrow(this, dim, start, length);
    }

    /** This tensor if contiguous, else a contiguous copy (differentiable). */
    public Tensor contiguous() {
        return isContiguous() ? this : Ops.contiguous(this);
    }

    Tensor contiguousNoGrad() {
        checkOpen("contiguous");
        if (isContiguous()) {
            return this;
        }
        Tensor c = empty(shape, dtype, device());
        backend.copy(this, c);
        return c;
    }

    /** Converts to {@code dtype} (differentiable for floating types); this tensor if equal. */
    public Tensor to(DType dt) {
        return Ops.cast(this, dt);
    }

    /** Moves to {@code device} (differentiable); this tensor if already there. */
    public Tensor to(Device dev) {
        return Ops.toDevice(this, dev);
    }

    /** A view sharing storage with explicit geometry. For op authors; bounds are checked. */
    public Tensor view(int[] newShape, long[] newStrides, long newOffset) {
        checkOpen("view");
        int[] s = checkShape(newShape);
        if (newStrides.length != s.length) {
            throw new IllegalArgumentException("view: " + s.length + " dims but " + newStrides.length + " strides");
        }
        long max = newOffset;
        for (int i = 0; i < s.length; i++) {
            if (newStrides[i] < 0) {
                throw new IllegalArgumentException("view: negative stride");
            }
            if (s[i] > 0) {
                max += (long) (s[i] - 1) * newStrides[i];
            }
        }
        if (newOffset < 0 || (numelOf(s) > 0 && (max + 1) * dtype.byteSize() > storage.bytes())) {
            throw new IllegalArgumentException("view " + Arrays.toString(s) + " at offset " + newOffset
                    + " exceeds the storage of " + describe());
        }
        storage.retain();
        return new Tensor(storage, backend, newOffset, s, newStrides.clone(), dtype, true);
    }

    // ------------------------------------------------------------------ op shorthands

    public Tensor add(Tensor other) {
        return Ops.add(this, other);
    }

    public Tensor sub(Tensor other) {
        return Ops.sub(this, other);
    }

    public Tensor mul(Tensor other) {
        return Ops.mul(this, other);
    }

    public Tensor mul(float s) {
        return Ops.scale(this, s);
    }

    public Tensor matmul(Tensor other) {
        return Ops.matmul(this, other);
    }

    public Tensor sum() {
        return Ops.sum(this);
    }

    public Tensor mean() {
        return Ops.mean(this);
    }

    public Tensor tanh() {
        return Ops.tanh(this);
    }

    public Tensor gelu() {
        return Ops.gelu(this);
    }

    public Tensor softmax() {
        return Ops.softmax(this, null);
    }

    // ------------------------------------------------------------------ lifetime

    /** True once closed (by its scope or the caller). */
    public boolean isClosed() {
        return closed;
    }

    /**
     * Frees this tensor's hold on its storage (and its gradient). Idempotent. A tensor
     * owned by a scope may be closed early; the scope then skips it.
     */
    @Override
    public void close() {
        if (closed) {
            return;
        }
        closed = true;
        if (owner != null) {
            owner.disown(this);
        }
        if (grad != null) {
            grad.close();
            grad = null;
        }
        CastCache.drop(this);
        sharedCast = null;
        storage.release();
    }

    /**
     * True while a {@link Scope} owns this tensor, i.e. it will be freed when that scope
     * closes. Long-lived holders (module parameters, optimizer state) use it to reject
     * tensors that would die under them.
     */
    public boolean isScoped() {
        return owner != null;
    }

    /** Throws if closed, naming the op that tried to use it. */
    public void checkOpen(String op) {
        if (closed || storage.isFreed()) {
            throw new IllegalStateException(op + ": use of a closed tensor " + describeShape()
                    + " (its scope closed or it was closed explicitly)");
        }
    }

    /** {@code Tensor[2, 3] float32 cpu}. */
    public String describe() {
        return describeShape();
    }

    private String describeShape() {
        return "Tensor" + Arrays.toString(shape) + " " + dtype + " " + storage.device()
                + (name != null ? " '" + name + "'" : "");
    }

    /** Shape, dtype, device, grad state and a preview of the values. */
    @Override
    public String toString() {
        StringBuilder sb = new StringBuilder(describeShape());
        if (requiresGrad()) {
            sb.append(gradFn != null ? " grad_fn=" + gradFn.op() : " requires_grad");
        }
        if (closed || storage.isFreed()) {
            return sb.append(" <closed>").toString();
        }
        sb.append(' ');
        try (var ng = Autograd.noGrad()) {
            double[] v = numel <= 4096 ? toDoubleArray() : previewValues();
            TensorFormat.appendValues(sb, v, shape, numel, dtype);
        }
        return sb.toString();
    }

    private double[] previewValues() {
        // Large tensors: show the first few and last few elements of the flat array.
        Tensor flat = contiguousNoGrad();
        try {
            Tensor head = flat.view(new int[] {6}, new long[] {1}, flat.offset);
            Tensor tail = flat.view(new int[] {6}, new long[] {1}, flat.offset + numel - 6);
            double[] h = head.toDoubleArray();
            double[] t = tail.toDoubleArray();
            head.close();
            tail.close();
            double[] out = new double[12];
            System.arraycopy(h, 0, out, 0, 6);
            System.arraycopy(t, 0, out, 6, 6);
            return out;
        } finally {
            if (flat != this) {
                flat.close();
            }
        }
    }

    // ------------------------------------------------------------------ helpers

    int normDim(int d, String op) {
        int r = d < 0 ? d + shape.length : d;
        if (r < 0 || r >= shape.length) {
            throw new IllegalArgumentException(op + ": dim " + d + " out of range for " + describe());
        }
        return r;
    }

    static int[] checkShape(int[] shape) {
        for (int d : shape) {
            if (d < 0) {
                throw new IllegalArgumentException("negative dimension in shape " + Arrays.toString(shape));
            }
        }
        if (numelOf(shape) > Integer.MAX_VALUE * 8L) {
            throw new IllegalArgumentException("shape " + Arrays.toString(shape) + " is too large");
        }
        return shape.clone();
    }

    private static void checkCount(String op, int have, int[] shape) {
        if (have != numelOf(shape)) {
            throw new IllegalArgumentException(op + ": " + have + " values do not fill shape " + Arrays.toString(shape));
        }
    }

    static long numelOf(int[] shape) {
        long n = 1;
        for (int d : shape) {
            n *= d;
        }
        return n;
    }

    static long[] contiguousStrides(int[] shape) {
        long[] s = new long[shape.length];
        long acc = 1;
        for (int i = shape.length - 1; i >= 0; i--) {
            s[i] = acc;
            acc *= shape[i];
        }
        return s;
    }

    /** Host-side element access for small utilities. */
    static final class HostIO {
        private HostIO() {
        }

        static void put(MemorySegment seg, DType dt, long i, double v) {
            switch (dt) {
                case FLOAT32 -> seg.setAtIndex(ValueLayout.JAVA_FLOAT_UNALIGNED, i, (float) v);
                case BFLOAT16 -> seg.setAtIndex(ValueLayout.JAVA_SHORT_UNALIGNED, i, DType.floatToBf16((float) v));
                case FLOAT16 -> seg.setAtIndex(ValueLayout.JAVA_SHORT_UNALIGNED, i, DType.floatToFp16((float) v));
                case INT32 -> seg.setAtIndex(ValueLayout.JAVA_INT_UNALIGNED, i, (int) v);
                case INT64 -> seg.setAtIndex(ValueLayout.JAVA_LONG_UNALIGNED, i, (long) v);
            }
        }
    }
}
