package dev.solder.backend.cpu;

import java.util.concurrent.ForkJoinPool;
import java.util.concurrent.ForkJoinTask;
import java.util.concurrent.ForkJoinWorkerThread;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * The CPU backend's thread pool and its one loop primitive.
 *
 * <p>{@code ForkJoinPool.commonPool()} has {@code cores − 1} workers (one on a 2-core
 * machine) and is shared with everything else in the JVM, so compute gets its own pool.
 * The calling thread works too: the pool has {@code threads − 1} workers and the caller
 * pulls chunks from the same counter, so a 2-core machine runs exactly two compute
 * threads. Chunks are handed out dynamically, which balances uneven rows.
 * {@code -Dsolder.cpu.threads=N} sets the total.
 */
public final class CpuParallel {
    private static final int THREADS = Math.max(1, Integer.getInteger("solder.cpu.threads",
            Runtime.getRuntime().availableProcessors()));
    private static final AtomicInteger NAMES = new AtomicInteger();
    private static final ForkJoinPool POOL = new ForkJoinPool(Math.max(1, THREADS - 1),
            pool -> {
                ForkJoinWorkerThread t = ForkJoinPool.defaultForkJoinWorkerThreadFactory.newThread(pool);
                t.setName("solder-cpu-" + NAMES.getAndIncrement());
                t.setDaemon(true);
                return t;
            }, null, false);

    private CpuParallel() {
    }

    /** Compute threads used by a parallel loop (workers plus the caller). */
    public static int threads() {
        return THREADS;
    }

    /** A body over the half-open range {@code [lo, hi)}. */
    @FunctionalInterface
    public interface RangeBody {
        void run(int lo, int hi);
    }

    /**
     * Runs {@code body} over {@code [0, n)} split into chunks of at least {@code grain}
     * items, in parallel when there is more than one chunk. Calls made from inside a
     * body run serially (the outer loop already uses every core). The first exception
     * thrown by any chunk propagates after all chunks stopped.
     */
    public static void forRange(int n, int grain, RangeBody body) {
        if (n <= 0) {
            return;
        }
        int g = Math.max(1, grain);
        int chunks = (int) Math.min(THREADS * 4L, (n + (long) g - 1) / g);
        if (chunks <= 1 || THREADS == 1 || inWorker()) {
            body.run(0, n);
            return;
        }
        int per = (n + chunks - 1) / chunks;
        int count = (n + per - 1) / per;
        AtomicInteger next = new AtomicInteger();
        Runnable drain = () -> {
            int c;
            while ((c = next.getAndIncrement()) < count) {
                int lo = c * per;
                body.run(lo, Math.min(n, lo + per));
            }
        };
        int helpers = Math.min(THREADS - 1, count - 1);
        ForkJoinTask<?>[] tasks = new ForkJoinTask<?>[helpers];
        for (int i = 0; i < helpers; i++) {
            tasks[i] = POOL.submit(drain);
        }
        Throwable failure = null;
        try {
            drain.run();
        } catch (Throwable t) {
            failure = t;
            next.set(count);        // stop handing out chunks
        }
        for (ForkJoinTask<?> t : tasks) {
            try {
                t.join();
            } catch (Throwable e) {
                if (failure == null) {
                    failure = e;
                }
            }
        }
        if (failure instanceof RuntimeException re) {
            throw re;
        }
        if (failure instanceof Error err) {
            throw err;
        }
        if (failure != null) {
            throw new IllegalStateException(failure);
        }
    }

    private static boolean inWorker() {
        return Thread.currentThread() instanceof ForkJoinWorkerThread w && w.getPool() == POOL;
    }
}
