package dev.solder.spi;

import dev.solder.Device;

/**
 * A reference-counted block of memory on one device, owned by the backend that made it.
 *
 * <p>Tensors and their views share a storage; each holder {@link #retain() retains} it and
 * {@link #release() releases} it once, and the memory goes back to the backend when the
 * count reaches zero. Nothing here is left to the garbage collector.
 *
 * <p>A storage also counts the writes into memory that tensors already hold
 * ({@link #version()}): a backend calls {@link #markWritten()} before {@code copyFromHost},
 * {@code copy}, {@code fill}, {@code adamw} or {@code adamwAll} write into it. Those are the
 * only backend calls that write into a tensor its caller did not just create, so the count
 * changes whenever a parameter's values do (a checkpoint loaded, an optimizer step). A
 * derived copy kept beside a tensor — the low-precision weights of {@link dev.solder.CastCache}
 * — is current only while the version it was made at is still the storage's.
 */
public abstract class Storage {
    private final Device device;
    private final long bytes;
    private int refs = 1;
    private volatile boolean freed;
    private long version;

    protected Storage(Device device, long bytes) {
        this.device = device;
        this.bytes = bytes;
    }

    /** The device holding the memory. */
    public final Device device() {
        return device;
    }

    /** Size in bytes. */
    public final long bytes() {
        return bytes;
    }

    /** True once the last holder released it. */
    public final boolean isFreed() {
        return freed;
    }

    /** How many times a backend announced a write into this memory ({@link #markWritten()}). */
    public final synchronized long version() {
        return version;
    }

    /**
     * Announces a write into this memory; a backend calls it before {@code copyFromHost},
     * {@code copy}, {@code fill}, {@code adamw} and {@code adamwAll} write (before, so that a
     * write that fails half way still makes derived copies stale).
     */
    public final synchronized void markWritten() {
        version++;
    }

    /** True while more than one holder (a tensor and its views) retains this memory. */
    public final synchronized boolean isShared() {
        return refs > 1;
    }

    /** Adds a holder. */
    public final synchronized void retain() {
        if (freed) {
            throw new IllegalStateException("storage of " + bytes + " bytes on " + device + " was already freed");
        }
        refs++;
    }

    /** Drops a holder; frees the memory when it was the last. Returns true if freed now. */
    public final boolean release() {
        synchronized (this) {
            if (freed) {
                return false;
            }
            if (--refs > 0) {
                return false;
            }
            freed = true;
        }
        free();
        return true;
    }

    /** Returns the memory to the backend; called exactly once. */
    protected abstract void free();
}
