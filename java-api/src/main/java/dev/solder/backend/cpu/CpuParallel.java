package dev.solder.backend.cpu;

import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.atomic.AtomicReference;
import java.util.concurrent.locks.LockSupport;
import java.util.concurrent.locks.ReentrantLock;

/**
 * The CPU backend's thread pool and its one loop primitive.
 *
 * <p>The pool has {@code threads − 1} workers and the calling thread works too, pulling
 * chunks from the same counter, so a 2-core machine runs exactly two compute threads. Chunks
 * are handed out dynamically, which balances uneven rows. {@code -Dsolder.cpu.threads=N} sets
 * the total.
 *
 * <p>Workers <em>spin</em> for a while after each loop before they park, as OpenBLAS's do. A
 * training step is thousands of parallel loops of a few milliseconds each, and waking a parked
 * thread took ~100 µs at the median and over 1 ms at the 99th percentile on the 2-core virtual
 * machine Solder is developed on (measured with a ForkJoinPool, the previous implementation);
 * meanwhile the caller works alone, so two-thread GEMMs ran anywhere between one and two cores'
 * speed. A worker that is still spinning starts within a microsecond. It parks after
 * {@code -Dsolder.cpu.spinMicros} (default 2000) without work, so an idle JVM does not burn a core.
 *
 * <p>One loop runs on the pool at a time: a loop started from another thread while the pool is
 * busy, or from inside a loop's body, runs on its own thread (the pool's cores are taken).
 */
public final class CpuParallel {
    private static final int THREADS = Math.max(1, Integer.getInteger("solder.cpu.threads",
            Runtime.getRuntime().availableProcessors()));
    private static final long SPIN_NANOS = 1000L * Long.getLong("solder.cpu.spinMicros", 2000);

    /** Serialises loops on the pool; held by the thread whose loop the workers are running. */
    private static final ReentrantLock DISPATCH = new ReentrantLock();
    /** Bumped once per loop; a worker runs {@link #job} when it sees a new value. */
    private static final AtomicLong GENERATION = new AtomicLong();
    /** Workers still inside the current loop. */
    private static final AtomicInteger PENDING = new AtomicInteger();
    private static volatile Runnable job;
    private static final Worker[] WORKERS = new Worker[THREADS - 1];

    static {
        for (int i = 0; i < WORKERS.length; i++) {
            WORKERS[i] = new Worker(i);
            WORKERS[i].start();
        }
    }

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
        if (chunks <= 1 || THREADS == 1 || Thread.currentThread() instanceof Worker
                || DISPATCH.isHeldByCurrentThread() || !DISPATCH.tryLock()) {
            body.run(0, n);
            return;
        }
        try {
            int per = (n + chunks - 1) / chunks;
            int count = (n + per - 1) / per;
            AtomicInteger next = new AtomicInteger();
            AtomicReference<Throwable> failure = new AtomicReference<>();
            Runnable drain = () -> {
                try {
                    int c;
                    while ((c = next.getAndIncrement()) < count) {
                        int lo = c * per;
                        body.run(lo, Math.min(n, lo + per));
                    }
                } catch (Throwable t) {
                    failure.compareAndSet(null, t);
                    next.set(count);        // stop handing out chunks
                }
            };
            job = drain;
            PENDING.set(WORKERS.length);
            GENERATION.incrementAndGet();
            for (Worker w : WORKERS) {
                if (w.parked) {
                    LockSupport.unpark(w);
                }
            }
            drain.run();
            awaitWorkers();
            job = null;
            Throwable f = failure.get();
            if (f instanceof RuntimeException re) {
                throw re;
            }
            if (f instanceof Error err) {
                throw err;
            }
            if (f != null) {
                throw new IllegalStateException(f);
            }
        } finally {
            DISPATCH.unlock();
        }
    }

    /** Spins while the workers finish their last chunks (they are running, not parked). */
    private static void awaitWorkers() {
        long start = System.nanoTime();
        while (PENDING.get() > 0) {
            if (System.nanoTime() - start < SPIN_NANOS) {
                Thread.onSpinWait();
            } else {
                Thread.yield();
            }
        }
    }

    /** A compute thread: runs each new loop's drain, spins for more work, then parks. */
    private static final class Worker extends Thread {
        volatile boolean parked;

        Worker(int index) {
            super("solder-cpu-" + index);
            setDaemon(true);
        }

        @Override
        public void run() {
            // Not GENERATION.get(): a loop may have been dispatched before this thread ran, and
            // its dispatcher waits for every worker. The generation starts at 0.
            long seen = 0;
            while (true) {
                long g;
                long idleSince = System.nanoTime();
                while ((g = GENERATION.get()) == seen) {
                    if (System.nanoTime() - idleSince < SPIN_NANOS) {
                        Thread.onSpinWait();
                    } else {
                        parked = true;
                        // Re-check after announcing: a dispatcher that bumped the generation
                        // before seeing parked == true did not unpark us, so we must not sleep.
                        if (GENERATION.get() == seen) {
                            LockSupport.park(this);
                        }
                        parked = false;
                    }
                }
                seen = g;
                try {
                    Runnable r = job;
                    if (r != null) {
                        r.run();
                    }
                } finally {
                    PENDING.decrementAndGet();
                }
            }
        }
    }
}
