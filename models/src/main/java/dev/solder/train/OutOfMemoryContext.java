package dev.solder.train;

import dev.solder.data.Features;
import java.util.List;
import java.util.Locale;

/**
 * Says where a run ran out of memory: an allocation failing deep inside an op ("cuda op
 * allocate(bytes 40960, device cuda:0): ... out of memory") does not say that it was the
 * training step's batch of 32 sequences padded to 128 tokens that did not fit — which is what
 * tells the user to lower {@code --per-device-train-batch-size} or {@code --max-seq-length}.
 * Failures that are not out-of-memory pass through unchanged.
 *
 * <pre>{@code
 * try {
 *     trainer.train();
 * } catch (RuntimeException e) {
 *     if (OutOfMemoryContext.isDeviceOutOfMemory(e)) {
 *         // "training step 1 of 2 (epoch 0.50) ran out of memory on a batch of 32 sequences × 10 tokens: ..."
 *         System.err.println(e.getMessage() + "; retry with a smaller per-device batch");
 *     }
 *     throw e;
 * }
 * }</pre>
 */
public final class OutOfMemoryContext {
    private OutOfMemoryContext() {
    }

    /** {@code e} with {@code where} and the batch in front when it is the GPU running out of memory; else {@code e}. */
    static RuntimeException explain(RuntimeException e, String where, List<Features> rows) {
        if (!isDeviceOutOfMemory(e)) {
            return e;
        }
        return new IllegalStateException(prefix(where, rows) + e.getMessage(), e);
    }

    /** The Java heap running out, with {@code where} and the batch in front. */
    static OutOfMemoryError explain(OutOfMemoryError e, String where, List<Features> rows) {
        OutOfMemoryError w = new OutOfMemoryError(prefix(where, rows) + e.getMessage());
        w.initCause(e);
        return w;
    }

    /**
     * Whether {@code e} or one of its causes is the GPU running out of memory. By name: the CUDA
     * binding's exception is not on this module's class path.
     */
    public static boolean isDeviceOutOfMemory(Throwable e) {
        for (Throwable t = e; t != null; t = t.getCause()) {
            if (t.getClass().getSimpleName().equals("CudaOutOfMemoryException")) {
                return true;
            }
        }
        return false;
    }

    private static String prefix(String where, List<Features> rows) {
        int longest = 0;
        for (Features f : rows) {
            longest = Math.max(longest, f.length());
        }
        return String.format(Locale.ROOT, "%s ran out of memory on a batch of %d sequences × %d tokens: ", where,
                rows.size(), longest);
    }
}
