package dev.solder.cuda;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;

/**
 * The {@code void** kernelParams} array of {@code cuLaunchKernel}: one pointer per kernel
 * argument, each pointing at that argument's value.
 *
 * <p>An instance owns {@value #MAX_ARGS} fixed 8-byte value slots and a pointer array whose
 * entry {@code i} permanently points at slot {@code i}; packing an argument is a single store
 * into its slot, so launching allocates nothing. {@link #begin()} hands out this thread's
 * instance, emptied:
 *
 * <pre>{@code
 * CudaDriver.launchKernel(saxpy, blocks, 1, 1, 256, 1, 1, 0, stream,
 *         KernelArgs.begin().i32(n).f32(2.0f).ptr(x).ptr(y));
 * }</pre>
 *
 * The driver copies the values when the launch is enqueued, so the instance may be refilled for
 * the next launch right after {@code launchKernel} returns. Pack the arguments immediately before
 * the launch: a second {@code begin()} on the same thread empties the same instance.
 */
public final class KernelArgs {
    /** The most arguments one launch can take here. */
    public static final int MAX_ARGS = 64;
    /** Bytes per value slot: every supported argument type (pointer, long, int, float, double) fits. */
    public static final long SLOT_BYTES = 8;

    private static final ThreadLocal<KernelArgs> PER_THREAD =
            ThreadLocal.withInitial(() -> new KernelArgs(Arena.ofAuto()));

    private final MemorySegment values;
    private final MemorySegment pointers;
    private int count;

    /** A fresh instance whose memory lives as long as {@code arena}. Most code wants {@link #begin()}. */
    public KernelArgs(Arena arena) {
        values = arena.allocate(MAX_ARGS * SLOT_BYTES, SLOT_BYTES);
        pointers = arena.allocate(ValueLayout.ADDRESS, MAX_ARGS);
        for (int i = 0; i < MAX_ARGS; i++) {
            pointers.setAtIndex(ValueLayout.ADDRESS, i, values.asSlice(i * SLOT_BYTES, SLOT_BYTES));
        }
    }

    /** This thread's instance, emptied. */
    public static KernelArgs begin() {
        KernelArgs a = PER_THREAD.get();
        a.count = 0;
        return a;
    }

    /** Empties this instance. */
    public KernelArgs clear() {
        count = 0;
        return this;
    }

    private long next() {
        if (count == MAX_ARGS) {
            throw new IllegalStateException("more than " + MAX_ARGS + " kernel arguments");
        }
        return (count++) * SLOT_BYTES;
    }

    /** A device pointer ({@code T*} in the kernel). */
    public KernelArgs ptr(long devicePointer) {
        values.set(ValueLayout.JAVA_LONG, next(), devicePointer);
        return this;
    }

    /** A 64-bit integer ({@code long long}, {@code int64_t}, {@code size_t}). */
    public KernelArgs i64(long v) {
        values.set(ValueLayout.JAVA_LONG, next(), v);
        return this;
    }

    /** A 32-bit integer ({@code int}, {@code unsigned}). */
    public KernelArgs i32(int v) {
        long off = next();
        // clear the upper half so the slot reads the same whichever width a debugger looks at
        values.set(ValueLayout.JAVA_LONG, off, 0L);
        values.set(ValueLayout.JAVA_INT, off, v);
        return this;
    }

    /** A {@code float}. */
    public KernelArgs f32(float v) {
        long off = next();
        values.set(ValueLayout.JAVA_LONG, off, 0L);
        values.set(ValueLayout.JAVA_FLOAT, off, v);
        return this;
    }

    /** A {@code double}. */
    public KernelArgs f64(double v) {
        values.set(ValueLayout.JAVA_DOUBLE, next(), v);
        return this;
    }

    /** How many arguments are packed. */
    public int count() {
        return count;
    }

    /** The {@code void**} array to hand to {@code cuLaunchKernel}; entries {@code 0..count()-1} are live. */
    public MemorySegment pointers() {
        return pointers;
    }

    /** The value slot of argument {@code i} ({@value #SLOT_BYTES} bytes), e.g. to inspect a packed value. */
    public MemorySegment slot(int i) {
        if (i < 0 || i >= count) throw new IndexOutOfBoundsException("argument " + i + " of " + count);
        return values.asSlice(i * SLOT_BYTES, SLOT_BYTES);
    }
}
