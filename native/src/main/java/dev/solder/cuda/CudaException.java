package dev.solder.cuda;

/**
 * A CUDA, cuBLAS, cuBLASLt or NVRTC call returned an error status.
 *
 * <p>The message names the Solder wrapper that made the call, the native function, the status
 * code with its name and text, and the arguments that matter (sizes, shapes), for example:
 *
 * <pre>
 * CudaDriver.memAllocAsync: cuMemAllocAsync returned CUDA_ERROR_OUT_OF_MEMORY (2): out of memory [bytes=1024, stream=0x0]
 * </pre>
 *
 * <p>The formatting is the pure function {@link #format}, so it can be tested without a GPU.
 */
public class CudaException extends RuntimeException {
    private static final long serialVersionUID = 1L;

    /** Turns a library's status code into its symbolic name and its human-readable text. */
    public interface StatusDescriber {
        /** The symbolic name, e.g. {@code CUDA_ERROR_OUT_OF_MEMORY}; null when unknown. */
        String name(int status);

        /** The library's text for the status, e.g. {@code out of memory}; null when unknown. */
        String text(int status);
    }

    private final String wrapper;
    private final String function;
    private final int status;
    private final String statusName;
    private final String statusText;
    private final String details;

    /**
     * @param wrapper    the Solder method that made the call, e.g. {@code CudaDriver.memAllocAsync}
     * @param function   the native function, e.g. {@code cuMemAllocAsync}
     * @param status     the status code it returned
     * @param statusName the code's symbolic name (null when unknown)
     * @param statusText the code's text (null when unknown)
     * @param details    the arguments that matter, already formatted (may be empty)
     */
    public CudaException(String wrapper, String function, int status, String statusName, String statusText,
                         String details) {
        this(format(wrapper, function, status, statusName, statusText, details),
                wrapper, function, status, statusName, statusText, details);
    }

    /** For subclasses that extend the message (out of memory, compilation log). */
    protected CudaException(String message, String wrapper, String function, int status, String statusName,
                            String statusText, String details) {
        super(message);
        this.wrapper = wrapper;
        this.function = function;
        this.status = status;
        this.statusName = statusName;
        this.statusText = statusText;
        this.details = details == null ? "" : details;
    }

    /** Builds the exception, asking {@code describer} for the name and text of {@code status}. */
    public static CudaException of(String wrapper, String function, int status, StatusDescriber describer,
                                   String details) {
        return new CudaException(wrapper, function, status, safeName(describer, status),
                safeText(describer, status), details);
    }

    /**
     * The message of a failed call. Pure: no native call, no state.
     *
     * @return e.g. {@code Cublas.gemmEx: cublasGemmEx returned CUBLAS_STATUS_INVALID_VALUE (7): an invalid value
     *         was used as an argument [m=3, n=4, k=5]}
     */
    public static String format(String wrapper, String function, int status, String statusName,
                                String statusText, String details) {
        StringBuilder sb = new StringBuilder(160);
        sb.append(wrapper).append(": ").append(function).append(" returned ")
                .append(statusName == null || statusName.isBlank() ? "status" : statusName)
                .append(" (").append(status).append(')');
        if (statusText != null && !statusText.isBlank() && !statusText.equals(statusName)) {
            sb.append(": ").append(statusText);
        }
        if (details != null && !details.isBlank()) {
            sb.append(" [").append(details).append(']');
        }
        return sb.toString();
    }

    /**
     * Formats {@code name=value} pairs for the details part of a message. Values that are
     * {@code Long}s named like pointers or handles ({@code ptr}, {@code stream}, {@code handle} ...)
     * are printed in hex, since that is how they appear in CUDA tools.
     */
    public static String details(Object... namesAndValues) {
        if (namesAndValues.length % 2 != 0) {
            throw new IllegalArgumentException("details take name/value pairs");
        }
        StringBuilder sb = new StringBuilder();
        for (int i = 0; i < namesAndValues.length; i += 2) {
            if (i > 0) sb.append(", ");
            String name = String.valueOf(namesAndValues[i]);
            Object v = namesAndValues[i + 1];
            sb.append(name).append('=');
            if (v instanceof Long l && looksLikeAddress(name)) {
                sb.append("0x").append(Long.toHexString(l));
            } else {
                sb.append(v);
            }
        }
        return sb.toString();
    }

    private static boolean looksLikeAddress(String name) {
        String n = name.toLowerCase(java.util.Locale.ROOT);
        return n.equals("a") || n.equals("b") || n.equals("c") || n.equals("d")
                || n.endsWith("ptr") || n.equals("dst") || n.equals("src") || n.contains("stream")
                || n.contains("handle") || n.contains("event") || n.contains("module") || n.contains("function")
                || n.contains("ctx") || n.contains("context") || n.contains("pool") || n.contains("desc")
                || n.equals("workspace") || n.equals("bias") || n.equals("aux") || n.equals("program");
    }

    static String safeName(StatusDescriber d, int status) {
        try {
            return d == null ? null : d.name(status);
        } catch (RuntimeException | LinkageError e) {
            return null; // the describer itself failed (old library, no driver): the code still tells
        }
    }

    static String safeText(StatusDescriber d, int status) {
        try {
            return d == null ? null : d.text(status);
        } catch (RuntimeException | LinkageError e) {
            return null;
        }
    }

    /** The Solder method that made the failing call, e.g. {@code CudaDriver.memAllocAsync}. */
    public String wrapper() { return wrapper; }

    /** The native function that failed, e.g. {@code cuMemAllocAsync}. */
    public String function() { return function; }

    /** The status code the native function returned. */
    public int status() { return status; }

    /** The symbolic name of {@link #status()}, or null when the library could not say. */
    public String statusName() { return statusName; }

    /** The library's text for {@link #status()}, or null when the library could not say. */
    public String statusText() { return statusText; }

    /** The formatted arguments of the failing call (may be empty). */
    public String details() { return details; }
}
