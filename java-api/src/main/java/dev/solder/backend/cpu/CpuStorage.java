package dev.solder.backend.cpu;

import dev.solder.Device;
import dev.solder.spi.Storage;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.util.concurrent.atomic.AtomicLong;

/**
 * Host memory for CPU tensors: one 64-byte-aligned off-heap segment per storage, in its
 * own shared arena, so freeing is immediate and any late access through a stale segment
 * fails with an exception instead of reading freed memory.
 */
public final class CpuStorage extends Storage {
    static final AtomicLong LIVE = new AtomicLong();

    private final Arena arena;
    private final MemorySegment segment;

    CpuStorage(long bytes) {
        super(Device.cpu(), bytes);
        this.arena = Arena.ofShared();
        try {
            this.segment = arena.allocate(bytes, 64);
        } catch (OutOfMemoryError e) {
            arena.close();
            throw new OutOfMemoryError("cpu: cannot allocate " + bytes + " bytes for a tensor ("
                    + LIVE.get() + " bytes live): " + e.getMessage());
        }
        LIVE.addAndGet(bytes);
    }

    /** The whole storage as a native segment. */
    public MemorySegment segment() {
        return segment;
    }

    @Override
    protected void free() {
        LIVE.addAndGet(-bytes());
        arena.close();
    }
}
