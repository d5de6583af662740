package dev.solder.cuda;

import java.util.List;

/**
 * A CUDA library (driver, cuBLAS, cuBLASLt, NVRTC) could not be loaded. The message lists every
 * place tried, in order, with why each one failed, and how to point Solder at the library.
 */
public class CudaLibraryNotFoundException extends RuntimeException {
    private static final long serialVersionUID = 1L;

    private final String library;
    private final List<String> tried;

    /**
     * @param library e.g. {@code cuBLAS}
     * @param tried   every place tried, in order, with why it failed
     */
    public CudaLibraryNotFoundException(String library, List<String> tried) {
        super(format(library, tried));
        this.library = library;
        this.tried = List.copyOf(tried);
    }

    /** Pure formatting of the message. */
    static String format(String library, List<String> tried) {
        StringBuilder sb = new StringBuilder();
        sb.append(library).append(" library not found; tried ").append(tried.size()).append(" place")
                .append(tried.size() == 1 ? "" : "s").append(" in this order:");
        for (String t : tried) sb.append("\n  ").append(t);
        sb.append("\nSet -D").append(LibraryLocator.PROPERTY).append(" or ").append(LibraryLocator.ENV)
                .append(" to a directory (or file) list, or add the directory to LD_LIBRARY_PATH.");
        return sb.toString();
    }

    /** The library that was looked for, e.g. {@code cuBLAS}. */
    public String library() { return library; }

    /** Every place tried, in order, each with why it failed. */
    public List<String> tried() { return tried; }
}
