package dev.solder.cuda;

/**
 * A library was loaded but lacks a function Solder binds, usually because it is older than the
 * function. Thrown when the function is first called, never at load time, so the rest of the
 * library stays usable.
 */
public class CudaSymbolNotFoundException extends RuntimeException {
    private static final long serialVersionUID = 1L;

    private final String symbol;
    private final String libraryLocation;

    /** A missing {@code symbol} of {@code library}, loaded from {@code libraryLocation}. */
    public CudaSymbolNotFoundException(String symbol, String library, String libraryLocation) {
        super("symbol " + symbol + " not found in " + library + " (" + libraryLocation
                + "); the library is probably older than this function: update the CUDA driver or toolkit");
        this.symbol = symbol;
        this.libraryLocation = libraryLocation;
    }

    /** The missing native function. */
    public String symbol() { return symbol; }

    /** Where the library that lacks it was loaded from. */
    public String libraryLocation() { return libraryLocation; }
}
