package dev.solder.bench;

import java.util.Locale;
import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.VectorSpecies;

/**
 * How fast this machine's cores run vector fused multiply-adds right now, in GFLOP/s: one
 * thread, then one per core.
 *
 * <p>Why: on the shared 2-core development machine the same CPU training job has taken anywhere
 * from 13 to 20 minutes, and single steps up to 8× longer for minutes at a time, with the same
 * code. A pure FMA loop — registers only, no memory traffic, nothing of Solder's — separates the
 * host's state from the code's: a Zen 3 core with AVX2 peaks at about 32 flops a cycle (two
 * 8-wide FMA pipes), ~100 GFLOP/s at 3 GHz; a slowed host shows a fraction of that. CPU timing
 * records (`bench/results/`) print it before and after the measured run, and
 * {@link BertTrainStep} prints it on the CPU.
 *
 * <pre>{@code
 * java --add-modules jdk.incubator.vector -cp bench/target/benchmarks.jar dev.solder.bench.HostFmaProbe
 * # host FMA rate: 96.8 GFLOP/s on 1 thread, 190.2 GFLOP/s on 2 threads (best of 5 x 0.2 s)
 * }</pre>
 */
public final class HostFmaProbe {
    private static final VectorSpecies<Float> F = FloatVector.SPECIES_PREFERRED;
    /** Independent accumulator chains: enough to keep two FMA pipes of 4-cycle latency busy. */
    private static final int CHAINS = 10;

    private HostFmaProbe() {
    }

    public static void main(String[] args) throws InterruptedException {
        System.out.println(describe());
    }

    /** One line: the best FMA rate of five short rounds on one thread and on every core. */
    public static String describe() throws InterruptedException {
        int cores = Runtime.getRuntime().availableProcessors();
        warmUp();
        double one = best(1);
        double all = best(cores);
        return String.format(Locale.ROOT, "host FMA rate: %.1f GFLOP/s on 1 thread, %.1f GFLOP/s on %d threads "
                + "(best of 5 x 0.2 s, %d-bit vectors)", one, all, cores, F.vectorBitSize());
    }

    private static double best(int threads) throws InterruptedException {
        double best = 0;
        for (int round = 0; round < 5; round++) {
            best = Math.max(best, round(threads, 200_000_000L));
        }
        return best;
    }

    /** GFLOP/s of {@code threads} threads each running the chains for about {@code nanos}. */
    private static double round(int threads, long nanos) throws InterruptedException {
        long[] flops = new long[threads];
        Thread[] ts = new Thread[threads];
        long start = System.nanoTime();
        for (int t = 0; t < threads; t++) {
            int id = t;
            ts[t] = new Thread(() -> flops[id] = spin(start + nanos));
            ts[t].start();
        }
        for (Thread t : ts) {
            t.join();
        }
        double seconds = (System.nanoTime() - start) / 1e9;
        long sum = 0;
        for (long f : flops) {
            sum += f;
        }
        return sum / seconds / 1e9;
    }

    /** Runs the chains until the JIT has compiled them whole (vector code is slow until then). */
    private static void warmUp() {
        long end = System.nanoTime() + 1_000_000_000L;
        while (System.nanoTime() < end) {
            chains(PASS);
        }
    }

    /** FMAs per chain in one call of {@link #chains}: about 0.1 ms at full speed. */
    private static final long PASS = 100_000L;

    /** Runs passes of the chains until {@code deadline}; returns the flops done (2 per lane per FMA). */
    private static long spin(long deadline) {
        long passes = 0;
        float sink = 0;
        while (System.nanoTime() < deadline) {
            sink += chains(PASS);
            passes++;
        }
        if (sink == 42f) {      // keeps the chains' results live; practically never true
            System.out.print("");
        }
        return passes * PASS * CHAINS * F.length() * 2L;
    }

    /** {@code n} rounds of {@value #CHAINS} independent FMA chains, in registers. */
    private static float chains(long n) {
        FloatVector a = FloatVector.broadcast(F, 0.999999f);
        FloatVector b = FloatVector.broadcast(F, 1e-7f);
        FloatVector c0 = FloatVector.broadcast(F, 1f);
        FloatVector c1 = c0;
        FloatVector c2 = c0;
        FloatVector c3 = c0;
        FloatVector c4 = c0;
        FloatVector c5 = c0;
        FloatVector c6 = c0;
        FloatVector c7 = c0;
        FloatVector c8 = c0;
        FloatVector c9 = c0;
        for (long k = 0; k < n; k++) {
            c0 = c0.fma(a, b);
            c1 = c1.fma(a, b);
            c2 = c2.fma(a, b);
            c3 = c3.fma(a, b);
            c4 = c4.fma(a, b);
            c5 = c5.fma(a, b);
            c6 = c6.fma(a, b);
            c7 = c7.fma(a, b);
            c8 = c8.fma(a, b);
            c9 = c9.fma(a, b);
        }
        return c0.add(c1).add(c2).add(c3).add(c4).add(c5).add(c6).add(c7).add(c8).add(c9).lane(0);
    }
}
