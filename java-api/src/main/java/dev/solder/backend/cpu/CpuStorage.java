package dev.solder.backend.cpu;

import dev.solder.Device;
import dev.solder.spi.Storage;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.util.ArrayDeque;
import java.util.Map;
import java.util.TreeMap;
import java.util.concurrent.atomic.AtomicLong;

/**
 * Host memory for CPU tensors: 64-byte-aligned off-heap blocks from a caching allocator.
 *
 * <p>Opening and closing a shared arena costs tens of microseconds (a handshake with every
 * thread), which dominated small training steps, so freed blocks are kept per size class
 * and handed out again — the same idea as PyTorch's CUDA caching allocator. The cache holds
 * at most as many bytes as were ever live at once (at least 1 GiB), so a training loop that
 * has run one step allocates nothing new afterwards; fresh blocks would also cost page
 * faults, as the operating system zero-fills them on first touch.
 * {@code -Dsolder.cpu.cacheBytes} sets a fixed cap instead; beyond the cap blocks are really
 * freed. {@link #LIVE} counts bytes held by live storages only, so it returns to its
 * baseline when tensors are closed whether or not their blocks are cached.
 */
public final class CpuStorage extends Storage {
    static final AtomicLong LIVE = new AtomicLong();
    private static final Long FIXED_CAP = Long.getLong("solder.cpu.cacheBytes");
    private static final long MIN_CAP = 1L << 30;
    private static final AtomicLong PEAK = new AtomicLong();
    /** Like PEAK, but reset by {@link CpuBackend#resetPeakLiveBytes} (PEAK sizes the cache and never goes down). */
    static final AtomicLong HIGH = new AtomicLong();
    /** Free blocks by size; a request takes the smallest block that fits and wastes at most half of it. */
    private static final TreeMap<Long, ArrayDeque<Block>> CACHE = new TreeMap<>();
    private static long cached;

    /** A block of memory and the arena that frees it. */
    private record Block(Arena arena, MemorySegment segment) {
    }

    private final Block block;
    private final MemorySegment segment;

    CpuStorage(long bytes) {
        super(Device.cpu(), bytes);
        this.block = take(sizeClass(bytes));
        this.segment = block.segment.asSlice(0, bytes);
        long live = LIVE.addAndGet(bytes);
        PEAK.accumulateAndGet(live, Math::max);
        HIGH.accumulateAndGet(live, Math::max);
    }

    /**
     * The storage as a native segment of exactly {@link #bytes()} bytes. Throws once the storage
     * is freed: its block may already hold another tensor, so a read would be silent garbage.
     */
    public MemorySegment segment() {
        if (isFreed()) {
            throw new IllegalStateException("cpu storage of " + bytes() + " bytes used after it was freed (a closed tensor)");
        }
        return segment;
    }

    @Override
    protected void free() {
        LIVE.addAndGet(-bytes());
        give(block);
    }

    /** Bytes parked in the cache (not live). */
    static synchronized long cachedBytes() {
        return cached;
    }

    /** Frees every cached block. */
    static void releaseCache() {
        ArrayDeque<Block> all = new ArrayDeque<>();
        synchronized (CpuStorage.class) {
            CACHE.values().forEach(all::addAll);
            CACHE.clear();
            cached = 0;
        }
        all.forEach(b -> b.arena.close());
    }

    /** Rounds up to 64 bytes below 4 KiB, else to a quarter of the power of two. */
    static long sizeClass(long bytes) {
        if (bytes <= 4096) {
            return Math.max(64, (bytes + 63) & ~63L);
        }
        long p = Long.highestOneBit(bytes - 1);
        long step = p / 4;
        return (bytes + step - 1) / step * step;
    }

    private static Block take(long size) {
        synchronized (CpuStorage.class) {
            // Dynamically padded batches ask for slightly different sizes every step; taking a
            // somewhat larger cached block beats a fresh one, which the OS must zero-fill.
            Map.Entry<Long, ArrayDeque<Block>> e = CACHE.ceilingEntry(size);
            if (e != null && e.getKey() <= 2 * size) {
                Block b = e.getValue().pop();
                if (e.getValue().isEmpty()) {
                    CACHE.remove(e.getKey());
                }
                cached -= e.getKey();
                return b;
            }
        }
        Arena arena = Arena.ofShared();
        try {
            return new Block(arena, arena.allocate(size, 64));
        } catch (OutOfMemoryError e) {
            arena.close();
            releaseCache();
            Arena retry = Arena.ofShared();
            try {
                return new Block(retry, retry.allocate(size, 64));
            } catch (OutOfMemoryError e2) {
                retry.close();
                throw new OutOfMemoryError("cpu: cannot allocate " + size + " bytes for a tensor (" + LIVE.get()
                        + " bytes live): " + e2.getMessage());
            }
        }
    }

    private static void give(Block b) {
        long size = b.segment.byteSize();
        synchronized (CpuStorage.class) {
            long cap = FIXED_CAP != null ? FIXED_CAP : Math.max(MIN_CAP, PEAK.get());
            if (cached + size <= cap) {
                CACHE.computeIfAbsent(size, k -> new ArrayDeque<>()).push(b);
                cached += size;
                return;
            }
        }
        b.arena.close();
    }
}
