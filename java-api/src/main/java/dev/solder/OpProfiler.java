package dev.solder;

import dev.solder.spi.Backend;
import java.lang.reflect.InvocationHandler;
import java.lang.reflect.InvocationTargetException;
import java.lang.reflect.Method;
import java.lang.reflect.Proxy;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.LongAdder;

/**
 * Wall-clock time per backend op, for finding where a training step goes.
 *
 * <p>Switched on for a whole JVM with {@code -Dsolder.profile=ops} (one row per op),
 * {@code -Dsolder.profile=shapes} (one row per op and argument shapes, so the GEMMs of a
 * model show up one by one) or {@code -Dsolder.profile=sync} (per op, and the device is
 * synchronised around every call so that asynchronous GPU ops are charged to themselves
 * rather than to the next op that waits). The table is printed to standard error when the
 * JVM exits, and is available any time from {@link #report()}. Off by default: an unprofiled
 * JVM never sees this class in its call paths.
 *
 * <pre>{@code
 * // java -Dsolder.profile=shapes ... MyTraining
 * System.err.println(OpProfiler.report());   // or wait for the table at exit
 * OpProfiler.reset();                        // e.g. after warm-up steps
 * }</pre>
 */
public final class OpProfiler {
    private static final String MODE = System.getProperty("solder.profile", "");
    private static final Map<String, Row> ROWS = new ConcurrentHashMap<>();
    private static final Object[] NO_ARGS = new Object[0];

    private OpProfiler() {
    }

    /** True when this JVM was started with {@code -Dsolder.profile}. */
    public static boolean enabled() {
        return !MODE.isEmpty() && !MODE.equals("false");
    }

    /** Forgets everything measured so far. */
    public static void reset() {
        ROWS.clear();
    }

    /** The table of ops by total time, largest first (empty when profiling is off). */
    public static String report() {
        List<Map.Entry<String, Row>> rows = new ArrayList<>(ROWS.entrySet());
        rows.sort((x, y) -> Long.compare(y.getValue().nanos.sum(), x.getValue().nanos.sum()));
        long total = rows.stream().mapToLong(e -> e.getValue().nanos.sum()).sum();
        StringBuilder sb = new StringBuilder();
        sb.append(String.format(Locale.ROOT, "solder op profile (%s): %.1f ms in backend ops%n", MODE, total / 1e6));
        sb.append(String.format(Locale.ROOT, "%10s %7s %10s %10s  %s%n", "total ms", "%", "calls", "mean us", "op"));
        for (Map.Entry<String, Row> e : rows) {
            long n = e.getValue().nanos.sum();
            long c = e.getValue().calls.sum();
            sb.append(String.format(Locale.ROOT, "%10.1f %7.2f %10d %10.1f  %s%n",
                    n / 1e6, 100.0 * n / Math.max(1, total), c, n / 1e3 / Math.max(1, c), e.getKey()));
        }
        return sb.toString();
    }

    /** Wraps {@code backend} when profiling is on; returns it unchanged otherwise. */
    static Backend wrap(Backend backend) {
        return enabled() ? wrap(backend, MODE) : backend;
    }

    /** {@code backend} timed in {@code mode} ({@code ops}, {@code shapes} or {@code sync}). */
    static Backend wrap(Backend backend, String mode) {
        if (!mode.equals("ops") && !mode.equals("shapes") && !mode.equals("sync") && !mode.equals("true")) {
            throw new IllegalArgumentException("-Dsolder.profile=" + mode + " is not one of ops, shapes, sync");
        }
        boolean sync = mode.equals("sync");
        boolean shapes = mode.equals("shapes");
        InvocationHandler h = (proxy, method, args) -> invoke(backend, method, args == null ? NO_ARGS : args, sync, shapes);
        return (Backend) Proxy.newProxyInstance(Backend.class.getClassLoader(), new Class<?>[] {Backend.class}, h);
    }

    static {
        if (enabled()) {
            Runtime.getRuntime().addShutdownHook(new Thread(() -> System.err.print(report()), "solder-profile"));
        }
    }

    private static Object invoke(Backend target, Method method, Object[] args, boolean sync, boolean shapes)
            throws Throwable {
        Device device = sync ? firstDevice(args) : null;
        if (device != null) {
            target.synchronize(device);
        }
        long t0 = System.nanoTime();
        try {
            return method.invoke(target, args);
        } catch (InvocationTargetException e) {
            throw e.getCause();
        } finally {
            if (device != null) {
                target.synchronize(device);
            }
            long dt = System.nanoTime() - t0;
            String key = shapes ? method.getName() + shapesOf(args) : method.getName();
            Row row = ROWS.computeIfAbsent(key, k -> new Row());
            row.nanos.add(dt);
            row.calls.increment();
        }
    }

    private static Device firstDevice(Object[] args) {
        for (Object a : args) {
            if (a instanceof Tensor t) {
                return t.device();
            }
        }
        return null;
    }

    private static String shapesOf(Object[] args) {
        StringBuilder sb = new StringBuilder("(");
        for (Object a : args) {
            if (sb.length() > 1) {
                sb.append(", ");
            }
            if (a instanceof Tensor t) {
                sb.append(Arrays.toString(t.shape())).append(t.dtype() == DType.FLOAT32 ? "" : t.dtype().toString());
            } else if (a instanceof Boolean || a instanceof Integer) {
                sb.append(a);
            } else {
                sb.append('_');
            }
        }
        return sb.append(')').toString();
    }

    private static final class Row {
        final LongAdder nanos = new LongAdder();
        final LongAdder calls = new LongAdder();
    }
}
