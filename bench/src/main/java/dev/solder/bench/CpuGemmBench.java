package dev.solder.bench;

import dev.solder.DType;
import dev.solder.backend.cpu.CpuParallel;
import dev.solder.backend.cpu.Sgemm;

import java.lang.foreign.Arena;
import java.lang.foreign.FunctionDescriptor;
import java.lang.foreign.Linker;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.SymbolLookup;
import java.lang.foreign.ValueLayout;
import java.lang.invoke.MethodHandle;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Collection;
import java.util.List;
import java.util.Locale;
import java.util.Optional;
import java.util.SplittableRandom;
import java.util.TreeMap;
import java.util.concurrent.TimeUnit;

import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.Fork;
import org.openjdk.jmh.annotations.Measurement;
import org.openjdk.jmh.annotations.Mode;
import org.openjdk.jmh.annotations.OutputTimeUnit;
import org.openjdk.jmh.annotations.Param;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;
import org.openjdk.jmh.annotations.TearDown;
import org.openjdk.jmh.annotations.Warmup;
import org.openjdk.jmh.infra.BenchmarkParams;
import org.openjdk.jmh.results.RunResult;
import org.openjdk.jmh.runner.Runner;
import org.openjdk.jmh.runner.RunnerException;
import org.openjdk.jmh.runner.options.CommandLineOptionException;
import org.openjdk.jmh.runner.options.CommandLineOptions;
import org.openjdk.jmh.runner.options.OptionsBuilder;

/**
 * Solder's CPU SGEMM against OpenBLAS's {@code cblas_sgemm}, same inputs, same layout, all
 * cores on both sides.
 *
 * <p>The layout is a linear layer's: {@code y[M, N] = x[M, K] · W[N, K]ᵀ} (row-major,
 * {@code transB}), float32, {@code beta = 0}. Shapes are {@code MxNxK}: a square reference and
 * BERT-base's projections over 4096 tokens (QKV-sized, FFN up, FFN down).
 *
 * <pre>
 * java -jar bench/target/benchmarks.jar CpuGemmBench          # JMH report, ms per call
 * java -cp bench/target/benchmarks.jar dev.solder.bench.CpuGemmBench   # same, plus a GFLOP/s table
 * </pre>
 *
 * OpenBLAS comes from the system (Debian: {@code apt-get install libopenblas0-pthread}) and is
 * reached through the FFM linker, so nothing native is built here.
 */
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.MILLISECONDS)
@Warmup(iterations = 3, time = 2)
@Measurement(iterations = 5, time = 2)
@Fork(value = 1, jvmArgsAppend = {"--add-modules", "jdk.incubator.vector",
        "--enable-native-access=ALL-UNNAMED"})
@State(Scope.Benchmark)
public class CpuGemmBench {

    @Param({"1024x1024x1024", "4096x768x768", "4096x3072x768", "4096x768x3072"})
    public String shape;

    private int m;
    private int n;
    private int k;
    private Arena arena;
    private MemorySegment x;
    private MemorySegment w;
    private MemorySegment y;

    @Setup
    public void setup(BenchmarkParams params) {
        int[] mnk = parse(shape);
        m = mnk[0];
        n = mnk[1];
        k = mnk[2];
        // Shared: Solder's worker threads read and write these too.
        arena = Arena.ofShared();
        x = random(arena, (long) m * k, 1);
        w = random(arena, (long) n * k, 2);
        y = arena.allocate(4L * m * n, 64);
        // Only OpenBLAS's own fork touches OpenBLAS: its idle threads spin for a while after
        // a call and would steal cycles from Solder's measurement.
        if (params.getBenchmark().endsWith(".openblas")) {
            OpenBlas.require();
            System.out.println("# OpenBLAS: " + OpenBlas.describe());
            checkAgreement();
        }
    }

    @TearDown
    public void tearDown() {
        arena.close();
    }

    /** Solder: {@code y = x · Wᵀ}. */
    @Benchmark
    public MemorySegment solder() {
        Sgemm.gemm(false, true, m, n, k, 1f, x, 0, k, DType.FLOAT32, w, 0, k, DType.FLOAT32,
                0f, y, 0, n);
        return y;
    }

    /** OpenBLAS {@code cblas_sgemm}: the same product, RowMajor, NoTrans × Trans. */
    @Benchmark
    public MemorySegment openblas() {
        OpenBlas.sgemmRowMajorTransB(m, n, k, x, w, y);
        return y;
    }

    /** Both sides must compute the same thing before either is timed. */
    private void checkAgreement() {
        MemorySegment ref = arena.allocate(4L * m * n, 64);
        OpenBlas.sgemmRowMajorTransB(m, n, k, x, w, ref);
        solder();
        double worst = 0;
        for (long i = 0; i < (long) m * n; i++) {
            float a = y.getAtIndex(ValueLayout.JAVA_FLOAT, i);
            float b = ref.getAtIndex(ValueLayout.JAVA_FLOAT, i);
            worst = Math.max(worst, Math.abs(a - b) / (Math.sqrt(k) * 1e-3 + Math.abs(b)));
        }
        if (!(worst < 1e-3)) {
            throw new IllegalStateException("Solder and OpenBLAS disagree on " + shape
                    + ": worst scaled difference " + worst);
        }
    }

    private static int[] parse(String shape) {
        String[] p = shape.split("x");
        if (p.length != 3) {
            throw new IllegalArgumentException("shape must be MxNxK, got " + shape);
        }
        return new int[] {Integer.parseInt(p[0]), Integer.parseInt(p[1]), Integer.parseInt(p[2])};
    }

    private static MemorySegment random(Arena arena, long elems, long seed) {
        MemorySegment s = arena.allocate(4 * elems, 64);
        SplittableRandom r = new SplittableRandom(seed);
        for (long i = 0; i < elems; i++) {
            s.setAtIndex(ValueLayout.JAVA_FLOAT, i, (float) (r.nextDouble() * 2 - 1));
        }
        return s;
    }

    /** {@code cblas_sgemm} and friends from the system's OpenBLAS, looked up once. */
    static final class OpenBlas {
        private static final int ROW_MAJOR = 101;
        private static final int NO_TRANS = 111;
        private static final int TRANS = 112;
        private static final String INSTALL = "apt-get install libopenblas0-pthread";
        private static final String DIR = "/usr/lib/x86_64-linux-gnu/";
        /** Sonames first (the loader's own search), then Debian's paths, pthread flavour first. */
        private static final List<String> CANDIDATES = List.of(
                "libopenblas.so.0", "libopenblas.so",
                DIR + "openblas-pthread/libopenblas.so.0", DIR + "libopenblas.so.0",
                "libcblas.so.3", "libblas.so.3",
                DIR + "openblas-pthread/libblas.so.3", DIR + "libcblas.so.3", DIR + "libblas.so.3");

        private static final String LIBRARY;
        private static final MethodHandle SGEMM;
        private static final String CONFIG;
        private static final String TRIED;

        static {
            Linker linker = Linker.nativeLinker();
            String library = null;
            MethodHandle sgemm = null;
            String config = "";
            List<String> tried = new ArrayList<>();
            for (String name : CANDIDATES) {
                Optional<SymbolLookup> lookup = open(name);
                Optional<MemorySegment> sym = lookup.flatMap(l -> l.find("cblas_sgemm"));
                tried.add(name + (lookup.isEmpty() ? " (not loadable)"
                        : sym.isEmpty() ? " (no cblas_sgemm)" : ""));
                if (sym.isEmpty()) {
                    continue;
                }
                var i = ValueLayout.JAVA_INT;
                var f = ValueLayout.JAVA_FLOAT;
                var p = ValueLayout.ADDRESS;
                sgemm = linker.downcallHandle(sym.get(),
                        FunctionDescriptor.ofVoid(i, i, i, i, i, i, f, p, i, p, i, f, p, i));
                library = name;
                SymbolLookup l = lookup.get();
                // Both sides get every core: OpenBLAS would otherwise pick its own count.
                int threads = CpuParallel.threads();
                l.find("openblas_set_num_threads").ifPresent(s -> {
                    try {
                        linker.downcallHandle(s, FunctionDescriptor.ofVoid(i)).invokeExact(threads);
                    } catch (Throwable t) {
                        throw new IllegalStateException("openblas_set_num_threads failed", t);
                    }
                });
                config = l.find("openblas_get_config").map(s -> {
                    try {
                        MemorySegment str = (MemorySegment) linker.downcallHandle(s,
                                FunctionDescriptor.of(p)).invokeExact();
                        return str.reinterpret(256).getString(0);
                    } catch (Throwable t) {
                        return "?";
                    }
                }).orElse("") + ", " + threads + " threads";
                break;
            }
            LIBRARY = library;
            SGEMM = sgemm;
            CONFIG = config;
            TRIED = String.join(", ", tried);
        }

        private OpenBlas() {
        }

        private static Optional<SymbolLookup> open(String name) {
            try {
                if (name.startsWith("/")) {
                    Path path = Path.of(name);
                    return Files.exists(path)
                            ? Optional.of(SymbolLookup.libraryLookup(path, Arena.global()))
                            : Optional.empty();
                }
                return Optional.of(SymbolLookup.libraryLookup(name, Arena.global()));
            } catch (IllegalArgumentException e) {
                return Optional.empty();
            }
        }

        static boolean available() {
            return SGEMM != null;
        }

        static void require() {
            if (SGEMM == null) {
                throw new IllegalStateException("OpenBLAS with cblas_sgemm not found; tried " + TRIED
                        + ". On Debian/Ubuntu: " + INSTALL);
            }
        }

        static String describe() {
            return LIBRARY + " (" + CONFIG + ")";
        }

        /** {@code y[m, n] = x[m, k] · w[n, k]ᵀ}, row-major. */
        static void sgemmRowMajorTransB(int m, int n, int k, MemorySegment x, MemorySegment w,
                MemorySegment y) {
            require();
            try {
                SGEMM.invokeExact(ROW_MAJOR, NO_TRANS, TRANS, m, n, k, 1f, x, k, w, k, 0f, y, n);
            } catch (Throwable t) {
                throw new IllegalStateException("cblas_sgemm failed for " + m + "x" + n + "x" + k, t);
            }
        }
    }

    /**
     * Runs the benchmark through JMH (options from the annotations; extra arguments are JMH
     * options, e.g. {@code -p shape=1024x1024x1024}) and prints GFLOP/s and the ratio per shape.
     */
    public static void main(String[] args) throws RunnerException, CommandLineOptionException {
        var cli = new CommandLineOptions(
                prepend(CpuGemmBench.class.getName() + "\\.", args));
        Collection<RunResult> results = new Runner(new OptionsBuilder().parent(cli).build()).run();
        var rows = new TreeMap<String, double[]>();
        for (RunResult r : results) {
            String s = r.getParams().getParam("shape");
            boolean isSolder = r.getParams().getBenchmark().endsWith(".solder");
            rows.computeIfAbsent(s, key -> new double[2])[isSolder ? 0 : 1] =
                    r.getPrimaryResult().getScore();
        }
        System.out.println();
        System.out.println("| shape (MxNxK) | Solder ms | Solder GFLOP/s | OpenBLAS ms | OpenBLAS GFLOP/s | ratio |");
        System.out.println("| --- | ---: | ---: | ---: | ---: | ---: |");
        for (var e : rows.entrySet()) {
            int[] mnk = parse(e.getKey());
            double gflop = 2.0 * mnk[0] * mnk[1] * mnk[2] / 1e9;
            double sol = e.getValue()[0];
            double blas = e.getValue()[1];
            System.out.println(String.format(Locale.ROOT,
                    "| %s | %.2f | %.1f | %.2f | %.1f | %.2f |", e.getKey(), sol,
                    gflop / (sol / 1e3), blas, gflop / (blas / 1e3), blas / sol));
        }
    }

    private static String[] prepend(String first, String[] rest) {
        String[] all = new String[rest.length + 1];
        all[0] = first;
        System.arraycopy(rest, 0, all, 1, rest.length);
        return all;
    }
}
