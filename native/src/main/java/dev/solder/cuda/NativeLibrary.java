package dev.solder.cuda;

import java.lang.foreign.Arena;
import java.lang.foreign.FunctionDescriptor;
import java.lang.foreign.Linker;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.SymbolLookup;
import java.lang.invoke.MethodHandle;
import java.lang.invoke.MethodHandles;
import java.lang.invoke.MethodType;
import java.nio.file.Path;
import java.util.EnumMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;

/**
 * One loaded (or unloadable) native library and the factory of its downcall handles.
 *
 * <p>Loading never throws: a library that cannot be found yields handles that throw
 * {@link CudaLibraryNotFoundException} when called, and a missing symbol yields a handle that
 * throws {@link CudaSymbolNotFoundException}. That keeps the holder classes of the bindings
 * (whose static initializers create all handles of one library) from failing with an
 * {@link ExceptionInInitializerError}, which would turn every later call into an opaque
 * {@link NoClassDefFoundError}.
 */
final class NativeLibrary {
    private static final Linker LINKER = Linker.nativeLinker();
    private static final Map<LibraryLocator.Library, NativeLibrary> LOADED =
            new EnumMap<>(LibraryLocator.Library.class);

    private final LibraryLocator.Library library;
    private final SymbolLookup lookup;            // null when not loaded
    private final String location;                // where it was loaded from, null when not loaded
    private final CudaLibraryNotFoundException failure; // null when loaded

    private NativeLibrary(LibraryLocator.Library library, SymbolLookup lookup, String location,
                          CudaLibraryNotFoundException failure) {
        this.library = library;
        this.lookup = lookup;
        this.location = location;
        this.failure = failure;
    }

    /** The process-wide instance of {@code lib}, loaded on first request (never unloaded). */
    static NativeLibrary of(LibraryLocator.Library lib) {
        // One lock for all: loading is rare, and the monitor is reentrant for the cuBLAS lookup below.
        synchronized (LOADED) {
            NativeLibrary l = LOADED.get(lib);
            if (l != null) return l;
            // cuBLASLt must come from the folder cuBLAS came from: libcublas links against its own
            // libcublasLt, and two copies of cuBLASLt in one process is asking for trouble.
            List<Path> preferred = List.of();
            if (lib == LibraryLocator.Library.CUBLAS_LT) {
                NativeLibrary cublas = of(LibraryLocator.Library.CUBLAS);
                if (cublas.isLoaded()) {
                    Path p = Path.of(cublas.location);
                    if (p.isAbsolute() && p.getParent() != null) preferred = List.of(p.getParent());
                }
            }
            try {
                LibraryLocator.Loaded loaded = LibraryLocator.system().load(lib, preferred, Arena.global());
                l = new NativeLibrary(lib, loaded.lookup(), loaded.location(), null);
            } catch (CudaLibraryNotFoundException e) {
                l = new NativeLibrary(lib, null, null, e);
            }
            LOADED.put(lib, l);
            return l;
        }
    }

    /** A library over an existing lookup (tests bind libc through this to exercise the stand-ins). */
    static NativeLibrary wrap(LibraryLocator.Library lib, SymbolLookup lookup, String location) {
        return new NativeLibrary(lib, lookup, location, null);
    }

    /** A library that failed to load with {@code failure} (for tests). */
    static NativeLibrary missing(LibraryLocator.Library lib, CudaLibraryNotFoundException failure) {
        return new NativeLibrary(lib, null, null, failure);
    }

    boolean isLoaded() { return lookup != null; }

    LibraryLocator.Library library() { return library; }

    /** Where the library was loaded from; empty when it was not found. */
    Optional<String> location() { return Optional.ofNullable(location); }

    /** Why the library is not loaded; empty when it is. */
    Optional<CudaLibraryNotFoundException> failure() { return Optional.ofNullable(failure); }

    /** True when the library is loaded and exports {@code symbol}. */
    boolean has(String symbol) {
        return lookup != null && lookup.find(symbol).isPresent();
    }

    /** A downcall handle for {@code symbol}; a throwing stand-in when the library or symbol is missing. */
    MethodHandle downcall(String symbol, FunctionDescriptor fd, Linker.Option... options) {
        return downcallFirst(fd, options, symbol);
    }

    /**
     * A downcall handle for the first of {@code symbols} the library exports, for functions that a
     * newer library renamed (e.g. {@code cuEventElapsedTime_v2}, then {@code cuEventElapsedTime}).
     */
    MethodHandle downcallFirst(FunctionDescriptor fd, Linker.Option[] options, String... symbols) {
        MethodType type = fd.toMethodType();
        if (lookup == null) {
            return thrower(type, MISSING_LIBRARY.bindTo(this));
        }
        for (String s : symbols) {
            Optional<MemorySegment> addr = lookup.find(s);
            if (addr.isPresent()) return LINKER.downcallHandle(addr.get(), fd, options);
        }
        return thrower(type, MethodHandles.insertArguments(MISSING_SYMBOL, 0, this, String.join(" / ", symbols)));
    }

    /** {@code (args of type) -> throw make()}, with exactly {@code type} so invokeExact call sites link. */
    private static MethodHandle thrower(MethodType type, MethodHandle make) {
        MethodHandle throwIt = MethodHandles.throwException(type.returnType(), RuntimeException.class);
        MethodHandle noArgs = MethodHandles.collectArguments(throwIt, 0, make);
        return MethodHandles.dropArguments(noArgs, 0, type.parameterList());
    }

    private static final MethodHandle MISSING_LIBRARY;
    private static final MethodHandle MISSING_SYMBOL;

    static {
        try {
            var l = MethodHandles.lookup();
            MISSING_LIBRARY = l.findVirtual(NativeLibrary.class, "missingLibrary",
                    MethodType.methodType(RuntimeException.class));
            MISSING_SYMBOL = l.findVirtual(NativeLibrary.class, "missingSymbol",
                    MethodType.methodType(RuntimeException.class, String.class));
        } catch (ReflectiveOperationException e) {
            throw new ExceptionInInitializerError(e);
        }
    }

    @SuppressWarnings("unused") // called through MISSING_LIBRARY
    private RuntimeException missingLibrary() {
        // A fresh exception per call, so its stack trace shows the caller.
        return new CudaLibraryNotFoundException(failure.library(), failure.tried());
    }

    @SuppressWarnings("unused") // called through MISSING_SYMBOL
    private RuntimeException missingSymbol(String symbol) {
        return new CudaSymbolNotFoundException(symbol, library.displayName(), location);
    }

    /** Rethrows what a downcall's {@code invokeExact} threw; checked exceptions cannot happen. */
    static RuntimeException rethrow(Throwable t) {
        if (t instanceof RuntimeException r) return r;
        if (t instanceof Error e) throw e;
        return new IllegalStateException("unexpected checked exception from a downcall", t);
    }
}
