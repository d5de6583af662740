package dev.solder.cuda;

import static java.lang.foreign.ValueLayout.ADDRESS;
import static java.lang.foreign.ValueLayout.JAVA_BYTE;
import static java.lang.foreign.ValueLayout.JAVA_INT;
import static java.lang.foreign.ValueLayout.JAVA_LONG;

import java.lang.foreign.Arena;
import java.lang.foreign.FunctionDescriptor;
import java.lang.foreign.Linker;
import java.lang.foreign.MemoryLayout;
import java.lang.foreign.MemorySegment;
import java.lang.invoke.MethodHandle;
import java.nio.charset.StandardCharsets;
import java.util.Arrays;
import java.util.List;
import java.util.Optional;

/**
 * NVRTC ({@code libnvrtc.so.13}, {@code .so.12}): compiles CUDA C++ source at run time to PTX or
 * a cubin for {@link CudaDriver#moduleLoadData}.
 *
 * <pre>{@code
 * Nvrtc.Compiled c = Nvrtc.compile("saxpy.cu", source, Nvrtc.archOption(9, 0), "-std=c++17");
 * long module = CudaDriver.moduleLoadData(c.image());
 * }</pre>
 */
public final class Nvrtc {
    private Nvrtc() {}

    /** {@code NVRTC_SUCCESS}. */
    public static final int SUCCESS = 0;
    /** {@code NVRTC_ERROR_COMPILATION}: the source did not compile; the log says why. */
    public static final int ERROR_COMPILATION = 6;

    /** The output of {@link #compile}: PTX and/or cubin, and the compiler log (warnings). */
    public record Compiled(String name, byte[] ptx, byte[] cubin, String log) {
        /** The image to load: the cubin when there is one (compiled for a real {@code sm_XX}), else the PTX. */
        public byte[] image() {
            return cubin != null && cubin.length > 0 ? cubin : ptx;
        }

        /** The PTX as text (without the terminating NUL), or null when NVRTC produced none. */
        public String ptxText() {
            if (ptx == null) return null;
            int n = ptx.length;
            while (n > 0 && ptx[n - 1] == 0) n--;
            return new String(ptx, 0, n, StandardCharsets.UTF_8);
        }
    }

    /** {@code nvrtcVersion}. */
    public record Version(int major, int minor) {
        @Override
        public String toString() { return major + "." + minor; }
    }

    private static final class H {
        static final NativeLibrary LIB = NativeLibrary.of(LibraryLocator.Library.NVRTC);
        private static final Linker.Option[] NONE = {};

        static MethodHandle h(String name, MemoryLayout... args) {
            return LIB.downcall(name, FunctionDescriptor.of(JAVA_INT, args), NONE);
        }

        static final MethodHandle nvrtcGetErrorString = LIB.downcall("nvrtcGetErrorString",
                FunctionDescriptor.of(ADDRESS, JAVA_INT), Linker.Option.critical(false));
        static final MethodHandle nvrtcVersion = h("nvrtcVersion", ADDRESS, ADDRESS);
        static final MethodHandle nvrtcGetNumSupportedArchs = h("nvrtcGetNumSupportedArchs", ADDRESS);
        static final MethodHandle nvrtcGetSupportedArchs = h("nvrtcGetSupportedArchs", ADDRESS);
        // (nvrtcProgram*, const char* src, const char* name, int numHeaders, const char* const* headers,
        //  const char* const* includeNames)
        static final MethodHandle nvrtcCreateProgram =
                h("nvrtcCreateProgram", ADDRESS, ADDRESS, ADDRESS, JAVA_INT, ADDRESS, ADDRESS);
        static final MethodHandle nvrtcCompileProgram = h("nvrtcCompileProgram", ADDRESS, JAVA_INT, ADDRESS);
        static final MethodHandle nvrtcGetProgramLogSize = h("nvrtcGetProgramLogSize", ADDRESS, ADDRESS);
        static final MethodHandle nvrtcGetProgramLog = h("nvrtcGetProgramLog", ADDRESS, ADDRESS);
        static final MethodHandle nvrtcGetPTXSize = h("nvrtcGetPTXSize", ADDRESS, ADDRESS);
        static final MethodHandle nvrtcGetPTX = h("nvrtcGetPTX", ADDRESS, ADDRESS);
        static final MethodHandle nvrtcGetCUBINSize = h("nvrtcGetCUBINSize", ADDRESS, ADDRESS);
        static final MethodHandle nvrtcGetCUBIN = h("nvrtcGetCUBIN", ADDRESS, ADDRESS);
        static final MethodHandle nvrtcDestroyProgram = h("nvrtcDestroyProgram", ADDRESS);
    }

    // ---------------------------------------------------------------- errors

    /** All {@code nvrtcResult} values (nvrtc.h), since NVRTC offers a text but no name function. */
    static final List<String> NAMES = List.of("NVRTC_SUCCESS", "NVRTC_ERROR_OUT_OF_MEMORY",
            "NVRTC_ERROR_PROGRAM_CREATION_FAILURE", "NVRTC_ERROR_INVALID_INPUT", "NVRTC_ERROR_INVALID_PROGRAM",
            "NVRTC_ERROR_INVALID_OPTION", "NVRTC_ERROR_COMPILATION", "NVRTC_ERROR_BUILTIN_OPERATION_FAILURE",
            "NVRTC_ERROR_NO_NAME_EXPRESSIONS_AFTER_COMPILATION", "NVRTC_ERROR_NO_LOWERED_NAMES_BEFORE_COMPILATION",
            "NVRTC_ERROR_NAME_EXPRESSION_NOT_VALID", "NVRTC_ERROR_INTERNAL_ERROR",
            "NVRTC_ERROR_TIME_FILE_WRITE_FAILED", "NVRTC_ERROR_NO_PCH_CREATE_ATTEMPTED",
            "NVRTC_ERROR_PCH_CREATE_HEAP_EXHAUSTED", "NVRTC_ERROR_PCH_CREATE", "NVRTC_ERROR_CANCELLED",
            "NVRTC_ERROR_TIME_TRACE_FILE_WRITE_FAILED");

    /** Names from nvrtc.h, texts from {@code nvrtcGetErrorString}. */
    public static final CudaException.StatusDescriber STATUS = new CudaException.StatusDescriber() {
        @Override
        public String name(int status) {
            return status >= 0 && status < NAMES.size() ? NAMES.get(status) : null;
        }

        @Override
        public String text(int status) {
            return Cublas.cString(H.nvrtcGetErrorString, status);
        }
    };

    private static CudaException fail(int rc, String wrapper, String function, Object... details) {
        return CudaException.of("Nvrtc." + wrapper, function, rc, STATUS, CudaException.details(details));
    }

    private static MemorySegment ptr(long address) {
        return address == 0 ? MemorySegment.NULL : MemorySegment.ofAddress(address);
    }

    // ---------------------------------------------------------------- version, architectures

    /** {@code nvrtcVersion}. */
    public static Version version() {
        MemorySegment s = Scratch.get();
        int rc;
        try {
            rc = (int) H.nvrtcVersion.invokeExact(s, s.asSlice(4));
        } catch (Throwable t) {
            throw NativeLibrary.rethrow(t);
        }
        if (rc != SUCCESS) throw fail(rc, "version", "nvrtcVersion");
        return new Version(s.get(JAVA_INT, 0), s.get(JAVA_INT, 4));
    }

    /**
     * {@code nvrtcGetSupportedArchs}: the {@code sm_XX} numbers (e.g. 75, 80, 86, 89, 90) this NVRTC
     * can compile for.
     */
    public static int[] supportedArchs() {
        try (Arena a = Arena.ofConfined()) {
            MemorySegment n = a.allocate(JAVA_INT);
            int rc = (int) H.nvrtcGetNumSupportedArchs.invokeExact(n);
            if (rc != SUCCESS) throw fail(rc, "supportedArchs", "nvrtcGetNumSupportedArchs");
            int count = n.get(JAVA_INT, 0);
            MemorySegment archs = a.allocate(JAVA_INT, Math.max(1, count));
            rc = (int) H.nvrtcGetSupportedArchs.invokeExact(archs);
            if (rc != SUCCESS) throw fail(rc, "supportedArchs", "nvrtcGetSupportedArchs", "count", count);
            return Arrays.copyOf(archs.toArray(JAVA_INT), count);
        } catch (Throwable t) {
            throw NativeLibrary.rethrow(t);
        }
    }

    /** {@code -arch=sm_XY} for compute capability {@code X.Y}: compiles to a cubin for that GPU. */
    public static String archOption(int major, int minor) {
        return "-arch=sm_" + major + minor;
    }

    // ---------------------------------------------------------------- programs

    /** {@code nvrtcCreateProgram} without headers; {@code name} appears in the log's messages. */
    public static long createProgram(String source, String name) {
        try (Arena a = Arena.ofConfined()) {
            MemorySegment out = a.allocate(ADDRESS);
            int rc = (int) H.nvrtcCreateProgram.invokeExact(out, a.allocateFrom(source), a.allocateFrom(name), 0,
                    MemorySegment.NULL, MemorySegment.NULL);
            if (rc != SUCCESS) {
                throw fail(rc, "createProgram", "nvrtcCreateProgram", "name", name, "sourceChars", source.length());
            }
            return out.get(JAVA_LONG, 0);
        } catch (Throwable t) {
            throw NativeLibrary.rethrow(t);
        }
    }

    /**
     * {@code nvrtcCompileProgram}. On failure the exception's message carries the status only;
     * {@link #compile} adds the log.
     */
    public static void compileProgram(long program, String... options) {
        try (Arena a = Arena.ofConfined()) {
            MemorySegment opts = a.allocate(ADDRESS, Math.max(1, options.length));
            for (int i = 0; i < options.length; i++) opts.setAtIndex(ADDRESS, i, a.allocateFrom(options[i]));
            int rc = (int) H.nvrtcCompileProgram.invokeExact(ptr(program), options.length, opts);
            if (rc != SUCCESS) {
                throw fail(rc, "compileProgram", "nvrtcCompileProgram", "program", program,
                        "options", String.join(" ", options));
            }
        } catch (Throwable t) {
            throw NativeLibrary.rethrow(t);
        }
    }

    /** {@code nvrtcGetProgramLogSize} + {@code nvrtcGetProgramLog}: the compiler's messages. */
    public static String programLog(long program) {
        byte[] log = fetch(program, H.nvrtcGetProgramLogSize, H.nvrtcGetProgramLog, "programLog",
                "nvrtcGetProgramLogSize", "nvrtcGetProgramLog");
        int n = log.length;
        while (n > 0 && log[n - 1] == 0) n--;
        return new String(log, 0, n, StandardCharsets.UTF_8);
    }

    /** {@code nvrtcGetPTXSize} + {@code nvrtcGetPTX}: the PTX, NUL-terminated as NVRTC returns it. */
    public static byte[] ptx(long program) {
        return fetch(program, H.nvrtcGetPTXSize, H.nvrtcGetPTX, "ptx", "nvrtcGetPTXSize", "nvrtcGetPTX");
    }

    /** {@code nvrtcGetCUBINSize} + {@code nvrtcGetCUBIN}: empty when compiled for a virtual {@code compute_XX}. */
    public static byte[] cubin(long program) {
        return fetch(program, H.nvrtcGetCUBINSize, H.nvrtcGetCUBIN, "cubin", "nvrtcGetCUBINSize", "nvrtcGetCUBIN");
    }

    private static byte[] fetch(long program, MethodHandle sizeFn, MethodHandle dataFn, String wrapper,
                                String sizeName, String dataName) {
        try (Arena a = Arena.ofConfined()) {
            MemorySegment size = a.allocate(JAVA_LONG);
            int rc = (int) sizeFn.invokeExact(ptr(program), size);
            if (rc != SUCCESS) throw fail(rc, wrapper, sizeName, "program", program);
            long n = size.get(JAVA_LONG, 0);
            if (n == 0) return new byte[0];
            if (n > Integer.MAX_VALUE - 8) throw new IllegalStateException(wrapper + ": " + n + " bytes");
            MemorySegment buf = a.allocate(n);
            rc = (int) dataFn.invokeExact(ptr(program), buf);
            if (rc != SUCCESS) throw fail(rc, wrapper, dataName, "program", program, "bytes", n);
            return buf.toArray(JAVA_BYTE);
        } catch (Throwable t) {
            throw NativeLibrary.rethrow(t);
        }
    }

    /** {@code nvrtcDestroyProgram}. */
    public static void destroyProgram(long program) {
        try (Arena a = Arena.ofConfined()) {
            MemorySegment p = a.allocate(ADDRESS);
            p.set(JAVA_LONG, 0, program);
            int rc = (int) H.nvrtcDestroyProgram.invokeExact(p);
            if (rc != SUCCESS) throw fail(rc, "destroyProgram", "nvrtcDestroyProgram", "program", program);
        } catch (Throwable t) {
            throw NativeLibrary.rethrow(t);
        }
    }

    /**
     * Compiles {@code source} with {@code options} (e.g. {@link #archOption}, {@code -std=c++17},
     * {@code --use_fast_math}, {@code -lineinfo}).
     *
     * @return the PTX, the cubin when the options name a real architecture, and the log
     * @throws NvrtcCompilationException with the compiler log when the source does not compile
     */
    public static Compiled compile(String name, String source, String... options) {
        long program = createProgram(source, name);
        try {
            try {
                compileProgram(program, options);
            } catch (CudaException e) {
                String log;
                try {
                    log = programLog(program);
                } catch (RuntimeException logFailure) {
                    log = "(no log: " + logFailure.getMessage() + ")";
                }
                throw new NvrtcCompilationException(name, e, options, log);
            }
            String log = programLog(program);
            byte[] cubin = cubin(program);
            byte[] ptx;
            try {
                ptx = ptx(program);
            } catch (CudaException e) {
                // Some NVRTC versions keep no PTX after compiling straight to a cubin; the cubin is enough.
                if (cubin.length == 0) throw e;
                ptx = null;
            }
            return new Compiled(name, ptx, cubin.length == 0 ? null : cubin, log);
        } finally {
            destroyProgram(program);
        }
    }

    // ---------------------------------------------------------------- library facts

    /** Where NVRTC was loaded from; empty when it was not found. Loads it if needed. */
    public static Optional<String> libraryLocation() {
        return H.LIB.location();
    }

    /** Why NVRTC is not loaded; empty when it is. Loads it if needed. */
    public static Optional<CudaLibraryNotFoundException> libraryFailure() {
        return H.LIB.failure();
    }
}
