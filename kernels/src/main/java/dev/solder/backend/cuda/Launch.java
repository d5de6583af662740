package dev.solder.backend.cuda;

import dev.solder.backend.cuda.Kernel.ArgKind;

/**
 * Packs the arguments of one kernel launch and checks each against the kernel's C parameter
 * list ({@link Kernel#params()}) before anything reaches the driver:
 *
 * <pre>{@code
 * // solder_scale(const void* a, int adt, float s, void* out, int odt, long long n)
 * Launch.of(dev, Kernel.SCALE, LaunchConfig.vec8(n))
 *         .ptr(a).i32(adt).f32(s).ptr(out).i32(odt).i64(n)
 *         .run();
 * }</pre>
 *
 * A wrong kind or count throws {@link IllegalStateException} naming the parameter, so a
 * mismatch shows up as a clear Java exception on any machine (the fake device of the tests
 * included) instead of a corrupted launch on the GPU.
 */
final class Launch {
    private final CudaDevice device;
    private final Kernel kernel;
    private final LaunchConfig config;
    private final long[] args;
    private int count;

    private Launch(CudaDevice device, Kernel kernel, LaunchConfig config) {
        this.device = device;
        this.kernel = kernel;
        this.config = config;
        this.args = new long[kernel.arity()];
    }

    static Launch of(CudaDevice device, Kernel kernel, LaunchConfig config) {
        return new Launch(device, kernel, config);
    }

    private void put(ArgKind kind, long bits) {
        if (count >= args.length) {
            throw new IllegalStateException(kernel.cName() + ": more than its " + args.length + " arguments ("
                    + kernel.params() + ")");
        }
        ArgKind want = kernel.kind(count);
        if (want != kind) {
            throw new IllegalStateException(kernel.cName() + ": argument " + count + " '" + kernel.paramName(count)
                    + "' is " + want + " but a " + kind + " was packed (" + kernel.params() + ")");
        }
        args[count++] = bits;
    }

    /** A device pointer (0 for null). */
    Launch ptr(long p) {
        put(ArgKind.PTR, p);
        return this;
    }

    /** A C {@code int}. */
    Launch i32(int v) {
        put(ArgKind.I32, v);
        return this;
    }

    /** A C {@code long long}. */
    Launch i64(long v) {
        put(ArgKind.I64, v);
        return this;
    }

    /** A C {@code float}. */
    Launch f32(float v) {
        put(ArgKind.F32, Float.floatToRawIntBits(v) & 0xffffffffL);
        return this;
    }

    /** A C {@code double}. */
    Launch f64(double v) {
        put(ArgKind.F64, Double.doubleToRawLongBits(v));
        return this;
    }

    /** Launches (nothing when the grid is empty). */
    void run() {
        if (count != args.length) {
            throw new IllegalStateException(kernel.cName() + ": " + count + " of its " + args.length
                    + " arguments packed (" + kernel.params() + ")");
        }
        if (config.empty()) {
            return;
        }
        device.launch(kernel, config, args);
    }
}
