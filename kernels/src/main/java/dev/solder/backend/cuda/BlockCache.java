package dev.solder.backend.cuda;

import dev.solder.cuda.CudaOutOfMemoryException;
import java.util.ArrayDeque;
import java.util.HashMap;
import java.util.Map;

/**
 * Freed device blocks kept for the next allocation of the same size, so that a training loop
 * that allocates the same tensors step after step stops calling the driver for them
 * ({@code -Dsolder.cuda.cacheFreed=true}; off by default until a GPU run shows what it saves).
 *
 * <p>Why it is safe: all of a device's work runs on its one stream, so a block handed out again
 * is only touched by work queued after everything that used it before — the same ordering
 * {@code cuMemFreeAsync} followed by {@code cuMemAllocAsync} on one stream gives.
 *
 * <p>Sizes are rounded up to {@value #GRANULE} bytes and matched exactly. At most
 * {@code -Dsolder.cuda.cacheBytes} (default 4 GiB) is kept; beyond it a freed block goes back to
 * the driver. When the driver is out of memory, the cache is emptied and the allocation tried
 * once more. Not thread-safe: {@link CudaDevice} calls it under its monitor.
 */
final class BlockCache {
    /** {@code -Dsolder.cuda.cacheFreed=true} turns the cache on. */
    static final String PROPERTY = "solder.cuda.cacheFreed";
    /** Allocation granule: sizes that differ by less share blocks. */
    static final long GRANULE = 512;

    private final DeviceApi api;
    private final long capBytes;
    private final Map<Long, ArrayDeque<Long>> free = new HashMap<>();
    private long cachedBytes;
    private long hits;
    private long misses;

    BlockCache(DeviceApi api, long capBytes) {
        this.api = api;
        this.capBytes = capBytes;
    }

    /** The cache the system properties ask for, or null when it is off. */
    static BlockCache fromProperties(DeviceApi api) {
        return Boolean.getBoolean(PROPERTY) ? new BlockCache(api, Long.getLong("solder.cuda.cacheBytes", 4L << 30)) : null;
    }

    static long sizeClass(long bytes) {
        return (bytes + GRANULE - 1) / GRANULE * GRANULE;
    }

    /** A block of at least {@code bytes}: a cached one of its size class, else a new one. */
    long alloc(long bytes) {
        long size = sizeClass(bytes);
        ArrayDeque<Long> q = free.get(size);
        if (q != null && !q.isEmpty()) {
            cachedBytes -= size;
            hits++;
            return q.pop();
        }
        misses++;
        try {
            return api.alloc(size);
        } catch (CudaOutOfMemoryException e) {
            if (cachedBytes == 0) {
                throw e;
            }
            release();
            return api.alloc(size);
        }
    }

    /** Takes back a block {@link #alloc} returned for {@code bytes}. */
    void free(long ptr, long bytes) {
        long size = sizeClass(bytes);
        if (cachedBytes + size > capBytes) {
            api.free(ptr);
            return;
        }
        free.computeIfAbsent(size, k -> new ArrayDeque<>()).push(ptr);
        cachedBytes += size;
    }

    /** Gives every cached block back to the driver. */
    void release() {
        for (ArrayDeque<Long> q : free.values()) {
            while (!q.isEmpty()) {
                api.free(q.pop());
            }
        }
        free.clear();
        cachedBytes = 0;
    }

    long cachedBytes() {
        return cachedBytes;
    }

    /** Allocations served from the cache so far. */
    long hits() {
        return hits;
    }

    /** For logs: e.g. {@code block cache: 1234 hits, 56 misses, 512.0 MiB cached}. */
    String describe() {
        return String.format(java.util.Locale.ROOT, "block cache: %d hits, %d misses, %.1f MiB cached", hits, misses,
                cachedBytes / 1048576.0);
    }
}
