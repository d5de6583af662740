package dev.solder.cuda;

/**
 * A device allocation failed with {@code CUDA_ERROR_OUT_OF_MEMORY}. The message names the
 * requested size and, when the driver could tell, the device's free and total memory.
 */
public class CudaOutOfMemoryException extends CudaException {
    private static final long serialVersionUID = 1L;

    private final long requestedBytes;
    private final long freeBytes;
    private final long totalBytes;

    /**
     * @param freeBytes  the device's free memory right after the failure, or -1 when unknown
     * @param totalBytes the device's total memory, or -1 when unknown
     */
    public CudaOutOfMemoryException(String wrapper, String function, int status, String statusName,
                                    String statusText, String details, long requestedBytes, long freeBytes,
                                    long totalBytes) {
        super(format(wrapper, function, status, statusName, statusText, details)
                        + oomSuffix(requestedBytes, freeBytes, totalBytes),
                wrapper, function, status, statusName, statusText, details);
        this.requestedBytes = requestedBytes;
        this.freeBytes = freeBytes;
        this.totalBytes = totalBytes;
    }

    /** The sentence appended to the message. Pure. */
    static String oomSuffix(long requested, long free, long total) {
        StringBuilder sb = new StringBuilder("; requested ").append(bytes(requested));
        if (free >= 0 && total >= 0) {
            sb.append(", device has ").append(bytes(free)).append(" free of ").append(bytes(total));
        } else {
            sb.append(", device free/total memory unknown");
        }
        return sb.toString();
    }

    /** {@code 1536} becomes {@code 1536 bytes (1.5 KiB)}. */
    static String bytes(long n) {
        if (n < 1024) return n + " bytes";
        String[] units = {"KiB", "MiB", "GiB", "TiB", "PiB", "EiB"};
        double v = n;
        int u = -1;
        while (v >= 1024 && u < units.length - 1) {
            v /= 1024;
            u++;
        }
        return String.format(java.util.Locale.ROOT, "%d bytes (%.1f %s)", n, v, units[u]);
    }

    /** The size of the allocation that failed. */
    public long requestedBytes() { return requestedBytes; }

    /** The device's free memory right after the failure, or -1 when unknown. */
    public long freeBytes() { return freeBytes; }

    /** The device's total memory, or -1 when unknown. */
    public long totalBytes() { return totalBytes; }
}
