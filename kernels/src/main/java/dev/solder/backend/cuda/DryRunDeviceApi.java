package dev.solder.backend.cuda;

import dev.solder.cuda.CudaOutOfMemoryException;
import java.lang.foreign.MemorySegment;
import java.util.HashMap;
import java.util.Locale;
import java.util.Map;
import java.util.concurrent.atomic.LongAdder;

/**
 * A device that runs nothing: {@code -Dsolder.cuda.dryRun=true} makes every {@code cuda:N}
 * device one of these, on any machine, GPU or not.
 *
 * <p>What it is for: the host side of a CUDA training step. A GPU step is only as fast as the
 * host can queue its work (every op's Java code, argument checks, launch packing), and that
 * part can be measured without a GPU. Run a step under the dry run and its wall time is the
 * host's time with the driver calls taken out; {@link #describe()} adds how many launches,
 * cuBLAS calls, host waits and bytes the step asked for, and the peak of device memory it held.
 *
 * <pre>
 * java -Dsolder.cuda.dryRun=true -cp bench/target/benchmarks.jar dev.solder.bench.BertTrainStep \
 *      --device cuda --batch 32 --seq 128 --precision bf16
 * </pre>
 *
 * <p>Allocations hand out addresses (never dereferenced; one slot of 2⁴⁰ bytes each, reused once
 * freed, so a free is an array lookup) and count bytes against an
 * 80 GiB capacity, so the peak and out-of-memory behave as on a card; copies to the host write
 * zeros (a loss reads 0, a gradient norm 0, the kernels' error buffer "no error"); launches and
 * GEMMs are checked as {@link Launch} and {@link DeviceApi.Gemm#validate()} check them, counted,
 * and dropped. No number a dry run computes means anything, only its timing and counts do.
 */
final class DryRunDeviceApi implements DeviceApi {
    /** {@code -Dsolder.cuda.dryRun=true}: every CUDA device is a dry run. */
    static final String PROPERTY = "solder.cuda.dryRun";
    static final long CAPACITY = 80L << 30;
    private static final long BASE = 0x5000_0000_0000L;
    /**
     * Address bits per allocation: block {@code i} lives at {@code BASE + (i << SLOT_BITS)}, so a
     * free finds its size by index, with no map on the path being timed.
     */
    private static final int SLOT_BITS = 40;

    /**
     * {@code -Dsolder.cuda.dryRun.trace=true}: remember who allocated each block, and
     * {@link #describe()} lists launches by kernel and the memory live at the peak by call site
     * (slow: a stack walk per allocation).
     */
    static final String TRACE_PROPERTY = "solder.cuda.dryRun.trace";
    private static final boolean TRACE = Boolean.getBoolean(TRACE_PROPERTY);

    private final int ordinal;
    /** Size of the block in each slot, -1 when the slot is free. */
    private long[] sizes = new long[1024];
    private int[] freeSlots = new int[1024];
    private int freeCount;
    private int slotCount;
    private final Map<Long, String> sites = new HashMap<>();
    private final Map<Kernel, long[]> byKernel = new java.util.EnumMap<>(Kernel.class);
    private Map<String, Long> atPeak = Map.of();
    private long used;
    private long peak;
    private final LongAdder launches = new LongAdder();
    private final LongAdder gemms = new LongAdder();
    private final LongAdder ltGemms = new LongAdder();
    private final LongAdder allocs = new LongAdder();
    private final LongAdder hostWaits = new LongAdder();
    private final LongAdder copies = new LongAdder();

    DryRunDeviceApi(int ordinal) {
        this.ordinal = ordinal;
    }

    static boolean requested() {
        return Boolean.getBoolean(PROPERTY);
    }

    @Override
    public int ordinal() {
        return ordinal;
    }

    /** An H100's, so that every fused kernel is selected where it would be on one. */
    @Override
    public int computeCapability() {
        return 90;
    }

    /** The counters so far, e.g. {@code dry run cuda:0 (nothing runs): 1234 launches, ...}. */
    @Override
    public synchronized String describe() {
        return String.format(Locale.ROOT, "dry run cuda:%d (-D%s: nothing runs): %d launches, %d cuBLAS GEMMs, "
                        + "%d cuBLASLt GEMMs, %d allocations, %d device copies and fills, %d host waits; "
                        + "device memory now %.1f MiB, peak %.1f MiB",
                ordinal, PROPERTY, launches.sum(), gemms.sum(), ltGemms.sum(), allocs.sum(), copies.sum(),
                hostWaits.sum(), used / 1048576.0, peak / 1048576.0) + (TRACE ? "\n" + peakReport() : "");
    }

    @Override
    public void enter() {
    }

    @Override
    public synchronized long alloc(long bytes) {
        if (bytes <= 0) {
            throw new IllegalArgumentException("alloc of " + bytes + " bytes");
        }
        if (used + bytes > CAPACITY) {
            throw new CudaOutOfMemoryException("CudaDriver.memAllocAsync", "cuMemAllocAsync", 2,
                    "CUDA_ERROR_OUT_OF_MEMORY", "out of memory (dry run)", "bytes=" + bytes, bytes, CAPACITY - used,
                    CAPACITY);
        }
        int slot;
        if (freeCount > 0) {
            slot = freeSlots[--freeCount];
        } else {
            if (slotCount == sizes.length) {
                sizes = java.util.Arrays.copyOf(sizes, slotCount * 2);
                freeSlots = java.util.Arrays.copyOf(freeSlots, slotCount * 2);
            }
            slot = slotCount++;
        }
        if (slot >= 1 << (62 - SLOT_BITS)) {
            throw new IllegalStateException("dry run: more than " + (1 << (62 - SLOT_BITS)) + " live allocations");
        }
        long addr = BASE + ((long) slot << SLOT_BITS);
        sizes[slot] = bytes;
        used += bytes;
        if (TRACE) {
            sites.put(addr, site());
            if (used > peak) {
                Map<String, Long> bySite = new HashMap<>();
                sites.forEach((a, site) -> bySite.merge(site, sizes[slotOf(a)], Long::sum));
                atPeak = bySite;
            }
        }
        peak = Math.max(peak, used);
        allocs.increment();
        return addr;
    }

    @Override
    public synchronized void free(long ptr) {
        int slot = slotOf(ptr);
        if (slot < 0 || slot >= slotCount || BASE + ((long) slot << SLOT_BITS) != ptr || sizes[slot] < 0) {
            throw new IllegalStateException("free of 0x" + Long.toHexString(ptr) + ", which is no live allocation");
        }
        used -= sizes[slot];
        sizes[slot] = -1;
        freeSlots[freeCount++] = slot;
        if (TRACE) {
            sites.remove(ptr);
        }
    }

    private static int slotOf(long ptr) {
        long d = ptr - BASE;
        return d < 0 ? -1 : (int) Math.min(Integer.MAX_VALUE, d >>> SLOT_BITS);
    }

    /** The three innermost frames above the backend and Tensor, e.g. {@code Ops.linear:276 < Ops.underAutocast:351 < ...}. */
    private static String site() {
        return StackWalker.getInstance().walk(frames -> frames
                .filter(f -> !f.getClassName().startsWith("dev.solder.backend") && !f.getClassName().startsWith("java.")
                        && !f.getClassName().equals("dev.solder.Tensor"))
                .limit(3)
                .map(f -> f.getClassName().replace("dev.solder.", "") + "." + f.getMethodName() + ":" + f.getLineNumber())
                .collect(java.util.stream.Collectors.joining(" < ")));
    }

    /** Launches by kernel, then memory live at the peak by allocating call site, largest first (top 60). */
    private synchronized String peakReport() {
        StringBuilder sb = new StringBuilder();
        byKernel.entrySet().stream().sorted((a, b) -> Long.compare(b.getValue()[0], a.getValue()[0]))
                .forEach(e -> sb.append(String.format(Locale.ROOT, "%10d launches  %s%n", e.getValue()[0], e.getKey().cName())));
        atPeak.entrySet().stream().sorted((a, b) -> Long.compare(b.getValue(), a.getValue())).limit(60)
                .forEach(e -> sb.append(String.format(Locale.ROOT, "%10.1f MiB  %s%n", e.getValue() / 1048576.0, e.getKey())));
        return sb.toString();
    }

    @Override
    public void copyHostToDevice(long dst, MemorySegment src, long srcOffset, long bytes) {
        copies.increment();
    }

    @Override
    public void copyDeviceToHost(MemorySegment dst, long dstOffset, long src, long bytes) {
        hostWaits.increment();
        dst.asSlice(dstOffset, bytes).fill((byte) 0);
    }

    @Override
    public void copyDeviceToDevice(long dst, long src, long bytes) {
        copies.increment();
    }

    @Override
    public void memset(long dst, byte value, long bytes) {
        copies.increment();
    }

    @Override
    public void synchronize() {
        hostWaits.increment();
    }

    @Override
    public void launch(Kernel kernel, LaunchConfig config, long[] args) {
        launches.increment();
        if (TRACE) {
            synchronized (this) {
                byKernel.computeIfAbsent(kernel, k -> new long[1])[0]++;
            }
        }
    }

    @Override
    public void gemm(Gemm g) {
        g.validate();
        gemms.increment();
    }

    @Override
    public boolean ltGemm(LtGemm g) {
        g.validate();
        ltGemms.increment();
        return true;
    }
}
