package dev.solder.backend.cpu;

import java.util.concurrent.ForkJoinPool;
import java.util.concurrent.RecursiveAction;

/**
 * The CPU backend's thread pool and its one loop primitive.
 *
 * <p>{@code ForkJoinPool.commonPool()} has {@code cores − 1} workers (one on a 2-core
 * machine), so compute gets its own pool sized to the cores; the calling thread takes
 * a share of the work through {@code invoke}. {@code -Dsolder.cpu.threads=N} overrides.
 */
public final class CpuParallel {
    private static final int THREADS = Integer.getInteger("solder.cpu.threads",
            Runtime.getRuntime().availableProcessors());
    private static final ForkJoinPool POOL = new ForkJoinPool(Math.max(1, THREADS),
            pool -> {
                var t = ForkJoinPool.defaultForkJoinWorkerThreadFactory.newThread(pool);
                t.setName("solder-cpu-" + t.getPoolIndex());
                t.setDaemon(true);
                return t;
            }, null, false);

    private CpuParallel() {
    }

    /** Worker count. */
    public static int threads() {
        return Math.max(1, THREADS);
    }

    /** A body over the half-open range {@code [lo, hi)}. */
    @FunctionalInterface
    public interface RangeBody {
        void run(int lo, int hi);
    }

    /**
     * Runs {@code body} over {@code [0, n)} split into chunks of at least {@code grain}
     * items, in parallel when there is more than one chunk. Exceptions propagate.
     */
    public static void forRange(int n, int grain, RangeBody body) {
        if (n <= 0) {
            return;
        }
        int g = Math.max(1, grain);
        int maxTasks = threads() * 4;
        int chunks = (int) Math.min(maxTasks, (n + (long) g - 1) / g);
        if (chunks <= 1 || threads() == 1 || inWorker()) {
            body.run(0, n);
            return;
        }
        int per = (n + chunks - 1) / chunks;
        POOL.invoke(new Chunk(body, 0, n, per));
    }

    private static boolean inWorker() {
        return Thread.currentThread() instanceof java.util.concurrent.ForkJoinWorkerThread w
                && w.getPool() == POOL;
    }

    private static final class Chunk extends RecursiveAction {
        private final RangeBody body;
        private final int lo;
        private final int hi;
        private final int per;

        Chunk(RangeBody body, int lo, int hi, int per) {
            this.body = body;
            this.lo = lo;
            this.hi = hi;
            this.per = per;
        }

        @Override
        protected void compute() {
            if (hi - lo <= per) {
                body.run(lo, hi);
                return;
            }
            int mid = lo + ((hi - lo) / per / 2) * per;
            if (mid <= lo) {
                mid = lo + per;
            }
            invokeAll(new Chunk(body, lo, mid, per), new Chunk(body, mid, hi, per));
        }
    }
}
