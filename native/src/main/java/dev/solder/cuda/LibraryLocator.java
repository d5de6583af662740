package dev.solder.cuda;

import java.io.File;
import java.io.IOException;
import java.lang.foreign.Arena;
import java.lang.foreign.SymbolLookup;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.function.Function;
import java.util.stream.Stream;

/**
 * Finds the CUDA libraries on disk (Linux).
 *
 * <p>For each library the locator builds an ordered list of candidate files and loads the first
 * one that exists and opens; when none does, it asks the system loader by bare name. The order:
 *
 * <ol>
 *   <li>{@code -Dsolder.cuda.libs}, then the environment variable {@code SOLDER_CUDA_LIBS}: a
 *       {@code :}-separated list of directories or library files;</li>
 *   <li>each directory of {@code LD_LIBRARY_PATH};</li>
 *   <li>{@code CUDA_HOME}, then {@code CUDA_PATH}: their {@code lib64}, {@code lib} and
 *       {@code targets/x86_64-linux/lib} (or {@code sbsa-linux} on Arm);</li>
 *   <li>{@code /usr/local/cuda*}: {@code lib64} and {@code targets/<arch>/lib}, {@code cuda} first,
 *       then versioned folders, newest first;</li>
 *   <li>Python wheels (not for the driver): {@code nvidia/cu13/lib}, {@code nvidia/cublas/lib},
 *       {@code nvidia/cuda_nvrtc/lib} below {@code VIRTUAL_ENV}/{@code CONDA_PREFIX}'s
 *       {@code site-packages} and below each {@code PYTHONPATH} entry;</li>
 *   <li>for the driver only, the system folders {@code /usr/lib/x86_64-linux-gnu},
 *       {@code /usr/lib64}, {@code /usr/local/nvidia/lib64}, {@code /usr/lib/wsl/lib} ...;</li>
 *   <li>the system loader ({@code dlopen} by bare name, i.e. {@code ld.so.cache}).</li>
 * </ol>
 *
 * In each directory the names are tried in order: {@code .so.13}, {@code .so.12}, unversioned
 * ({@code libcuda.so.1}, then {@code libcuda.so} for the driver). The CUDA toolkit's
 * {@code compat} and {@code stubs} folders are never searched: a stub driver only says
 * "no driver".
 *
 * <p>The environment and the file system are injectable ({@link Environment}) so that the order
 * can be tested against a fake directory tree; {@link #candidates} and {@link #find} never load
 * anything, only {@link #load} does.
 */
public final class LibraryLocator {

    /** The system property that lists library directories or files. */
    public static final String PROPERTY = "solder.cuda.libs";
    /** The environment variable that lists library directories or files. */
    public static final String ENV = "SOLDER_CUDA_LIBS";

    /** A library Solder binds, with the file names it is known by, best first. */
    public enum Library {
        /** The CUDA driver API, shipped with the NVIDIA driver. */
        CUDA_DRIVER("CUDA driver", List.of("libcuda.so.1", "libcuda.so"), List.of()),
        /** cuBLAS. */
        CUBLAS("cuBLAS", sonames("libcublas"), List.of("nvidia/cu13/lib", "nvidia/cublas/lib")),
        /** cuBLASLt. */
        CUBLAS_LT("cuBLASLt", sonames("libcublasLt"), List.of("nvidia/cu13/lib", "nvidia/cublas/lib")),
        /** NVRTC, the runtime compiler. */
        NVRTC("NVRTC", sonames("libnvrtc"), List.of("nvidia/cu13/lib", "nvidia/cuda_nvrtc/lib"));

        private final String displayName;
        private final List<String> fileNames;
        private final List<String> wheelDirs;

        Library(String displayName, List<String> fileNames, List<String> wheelDirs) {
            this.displayName = displayName;
            this.fileNames = fileNames;
            this.wheelDirs = wheelDirs;
        }

        private static List<String> sonames(String base) {
            return List.of(base + ".so.13", base + ".so.12", base + ".so");
        }

        /** A human name, e.g. {@code cuBLASLt}. */
        public String displayName() { return displayName; }

        /** The file names tried in each directory, best first. */
        public List<String> fileNames() { return fileNames; }
    }

    /**
     * Where the locator looks: system properties, environment variables and a file-system root.
     * All absolute paths, those from variables included, are taken relative to {@code root}, so a
     * test can lay out {@code root/usr/local/cuda/lib64/...} in a temporary folder.
     */
    public record Environment(Function<String, String> properties, Function<String, String> variables, Path root,
                              String arch) {
        /** The real environment of this JVM. */
        public static Environment system() {
            return new Environment(System::getProperty, System::getenv, Path.of("/"),
                    System.getProperty("os.arch", "amd64"));
        }

        /** A fake environment for tests; {@code arch} is {@code amd64}. */
        public static Environment of(Map<String, String> properties, Map<String, String> variables, Path root) {
            return new Environment(properties::get, variables::get, root, "amd64");
        }

        Path resolve(String path) {
            String rel = path;
            while (rel.startsWith("/")) rel = rel.substring(1);
            return rel.isEmpty() ? root : root.resolve(rel);
        }

        String targetDir() {
            return arch.equals("aarch64") || arch.equals("arm64") ? "targets/sbsa-linux/lib" : "targets/x86_64-linux/lib";
        }
    }

    /**
     * One place to try.
     *
     * @param path   the file to open, or null for a bare name handed to the system loader
     * @param name   the file name (for a bare name, what {@code dlopen} is asked for)
     * @param origin why this place is tried, e.g. {@code LD_LIBRARY_PATH} or {@code CUDA_HOME}
     */
    public record Candidate(Path path, String name, String origin) {
        /** True when this candidate is handed to the system loader by name. */
        public boolean bareName() { return path == null; }

        @Override
        public String toString() {
            return (path == null ? name + " via the system loader" : path.toString()) + " (" + origin + ")";
        }
    }

    /** The outcome of {@link #load}: the library and where it came from. */
    public record Loaded(Library library, SymbolLookup lookup, String location, List<String> tried) {}

    private static final List<String> DRIVER_SYSTEM_DIRS = List.of(
            "/usr/lib/x86_64-linux-gnu", "/usr/lib64", "/usr/local/nvidia/lib64", "/usr/lib/wsl/lib",
            "/usr/lib/aarch64-linux-gnu", "/usr/lib");

    private static final LibraryLocator SYSTEM = new LibraryLocator(Environment.system());

    private final Environment env;

    /** A locator that looks in {@code env} (tests pass a fake one; see {@link #system()}). */
    public LibraryLocator(Environment env) {
        this.env = env;
    }

    /** The locator for this JVM's real environment. */
    public static LibraryLocator system() {
        return SYSTEM;
    }

    /** The candidates for {@code lib}, best first, without duplicates. Loads nothing. */
    public List<Candidate> candidates(Library lib) {
        return candidates(lib, List.of());
    }

    /**
     * The candidates for {@code lib}, with the directories in {@code preferredDirs} tried first
     * (used to take cuBLASLt from the folder cuBLAS came from). Loads nothing.
     */
    public List<Candidate> candidates(Library lib, List<Path> preferredDirs) {
        Map<Path, Candidate> out = new LinkedHashMap<>();
        for (Path dir : preferredDirs) addDir(out, lib, dir, "next to " + Library.CUBLAS.displayName());

        String prop = env.properties().apply(PROPERTY);
        addList(out, lib, prop, "-D" + PROPERTY);
        addList(out, lib, env.variables().apply(ENV), ENV);
        addList(out, lib, env.variables().apply("LD_LIBRARY_PATH"), "LD_LIBRARY_PATH");
        for (String var : List.of("CUDA_HOME", "CUDA_PATH")) {
            String home = env.variables().apply(var);
            if (home == null || home.isBlank()) continue;
            Path h = env.resolve(home.trim());
            for (String sub : List.of("lib64", "lib", env.targetDir())) addDir(out, lib, h.resolve(sub), var);
        }
        for (Path cuda : usrLocalCudaDirs()) {
            String origin = "/usr/local/" + cuda.getFileName();
            addDir(out, lib, cuda.resolve("lib64"), origin);
            addDir(out, lib, cuda.resolve(env.targetDir()), origin);
        }
        for (Path site : sitePackages()) {
            for (String w : lib.wheelDirs) addDir(out, lib, site.resolve(w), "Python wheel");
        }
        if (lib == Library.CUDA_DRIVER) {
            for (String d : DRIVER_SYSTEM_DIRS) addDir(out, lib, env.resolve(d), "system folder");
        }
        List<Candidate> result = new ArrayList<>(out.values());
        for (String name : lib.fileNames) result.add(new Candidate(null, name, "system loader"));
        return result;
    }

    /** The first candidate file that exists, in the order of {@link #candidates}. Loads nothing. */
    public Optional<Candidate> find(Library lib) {
        return candidates(lib).stream().filter(c -> !c.bareName() && Files.isRegularFile(c.path())).findFirst();
    }

    /**
     * Opens {@code lib}: the first existing candidate that {@code dlopen} accepts, else the system
     * loader by bare name.
     *
     * @throws CudaLibraryNotFoundException listing every place tried and why it failed
     */
    public Loaded load(Library lib, List<Path> preferredDirs, Arena arena) {
        List<String> tried = new ArrayList<>();
        for (Candidate c : candidates(lib, preferredDirs)) {
            if (c.bareName()) {
                try {
                    SymbolLookup lookup = SymbolLookup.libraryLookup(c.name(), arena);
                    String where = loadedPath(c.name()).orElse(c.name() + " (from the system loader)");
                    return new Loaded(lib, lookup, where, List.copyOf(tried));
                } catch (IllegalArgumentException | IllegalCallerException e) {
                    tried.add(c.name() + " via the system loader: " + reason(e));
                }
                continue;
            }
            if (!Files.isRegularFile(c.path())) {
                tried.add(c.path() + " (" + c.origin() + "): not found");
                continue;
            }
            String notElf = notElf(c.path());
            if (notElf != null) {
                tried.add(c.path() + " (" + c.origin() + "): exists but " + notElf);
                continue;
            }
            try {
                SymbolLookup lookup = SymbolLookup.libraryLookup(c.path(), arena);
                return new Loaded(lib, lookup, c.path().toString(), List.copyOf(tried));
            } catch (IllegalArgumentException | IllegalCallerException e) {
                tried.add(c.path() + " (" + c.origin() + "): exists but could not be opened: " + reason(e));
            }
        }
        throw new CudaLibraryNotFoundException(lib.displayName(), tried);
    }

    /**
     * Why {@code file} cannot be a shared library (null when it starts like one). Checked before
     * {@code dlopen} because some distributions ship {@code libfoo.so} as a linker-script text
     * file, and the JVM warns loudly about any non-ELF file it is asked to open.
     */
    private static String notElf(Path file) {
        try (var in = Files.newInputStream(file)) {
            byte[] magic = in.readNBytes(4);
            if (magic.length == 4 && magic[0] == 0x7F && magic[1] == 'E' && magic[2] == 'L' && magic[3] == 'F') {
                return null;
            }
            return "is not an ELF shared library (" + Files.size(file) + " bytes)";
        } catch (IOException e) {
            return "cannot be read: " + e.getMessage();
        }
    }

    private static String reason(RuntimeException e) {
        return e.getMessage() == null ? e.getClass().getSimpleName() : e.getMessage();
    }

    /** Where the dynamic loader took {@code fileName} from, read off /proc/self/maps. */
    private static Optional<String> loadedPath(String fileName) {
        Path maps = Path.of("/proc/self/maps");
        if (!Files.isReadable(maps)) return Optional.empty();
        try (Stream<String> lines = Files.lines(maps)) {
            return lines.map(l -> {
                        int slash = l.indexOf('/');
                        return slash < 0 ? "" : l.substring(slash);
                    })
                    .filter(p -> {
                        // maps shows the real file (libcuda.so.580.95.05), not the soname link
                        String base = p.substring(p.lastIndexOf('/') + 1);
                        String stem = fileName.substring(0, fileName.indexOf(".so") + 3);
                        return base.equals(stem) || base.startsWith(stem + ".");
                    })
                    .findFirst();
        } catch (IOException | RuntimeException e) {
            return Optional.empty();
        }
    }

    private void addList(Map<Path, Candidate> out, Library lib, String list, String origin) {
        if (list == null || list.isBlank()) return;
        for (String entry : list.split(File.pathSeparator)) {
            String e = entry.trim();
            if (e.isEmpty()) continue; // an empty LD_LIBRARY_PATH entry means ".": not a place for CUDA
            Path p = env.resolve(e);
            if (Files.isRegularFile(p)) {
                // A file in the list: take it when it is this library (by name), whatever its version.
                String base = p.getFileName().toString();
                String stem = lib.fileNames.getLast(); // libcublas.so, libcuda.so ...
                if (base.equals(stem) || base.startsWith(stem + ".")) {
                    out.putIfAbsent(p.normalize(), new Candidate(p, base, origin));
                }
            } else {
                addDir(out, lib, p, origin);
            }
        }
    }

    private static void addDir(Map<Path, Candidate> out, Library lib, Path dir, String origin) {
        for (String name : lib.fileNames) {
            Path p = dir.resolve(name).normalize();
            out.putIfAbsent(p, new Candidate(p, name, origin));
        }
    }

    /** {@code /usr/local/cuda} first, then {@code /usr/local/cuda-X.Y} newest first. */
    private List<Path> usrLocalCudaDirs() {
        Path local = env.resolve("/usr/local");
        if (!Files.isDirectory(local)) return List.of();
        try (Stream<Path> s = Files.list(local)) {
            return s.filter(p -> p.getFileName().toString().startsWith("cuda") && Files.isDirectory(p))
                    .sorted(Comparator.comparing((Path p) -> !p.getFileName().toString().equals("cuda"))
                            .thenComparing((a, b) -> compareVersionsDescending(
                                    a.getFileName().toString(), b.getFileName().toString())))
                    .toList();
        } catch (IOException e) {
            return List.of();
        }
    }

    /** Orders {@code cuda-13.0} before {@code cuda-12.6} before {@code cuda-12}. */
    static int compareVersionsDescending(String a, String b) {
        int[] va = versionNumbers(a), vb = versionNumbers(b);
        for (int i = 0; i < Math.max(va.length, vb.length); i++) {
            int x = i < va.length ? va[i] : -1, y = i < vb.length ? vb[i] : -1;
            if (x != y) return Integer.compare(y, x);
        }
        return a.compareTo(b);
    }

    private static int[] versionNumbers(String s) {
        return java.util.Arrays.stream(s.replaceAll("[^0-9]+", " ").trim().split(" "))
                .filter(t -> !t.isEmpty())
                .mapToInt(t -> {
                    try {
                        return Integer.parseInt(t);
                    } catch (NumberFormatException e) {
                        return 0;
                    }
                }).toArray();
    }

    /** site-packages folders of the active Python environments and the PYTHONPATH entries. */
    private List<Path> sitePackages() {
        List<Path> out = new ArrayList<>();
        for (String var : List.of("VIRTUAL_ENV", "CONDA_PREFIX")) {
            String prefix = env.variables().apply(var);
            if (prefix == null || prefix.isBlank()) continue;
            Path lib = env.resolve(prefix.trim()).resolve("lib");
            if (!Files.isDirectory(lib)) continue;
            try (Stream<Path> s = Files.list(lib)) {
                s.filter(p -> p.getFileName().toString().startsWith("python3"))
                        .sorted(Comparator.comparing(Path::toString).reversed())
                        .map(p -> p.resolve("site-packages"))
                        .filter(Files::isDirectory)
                        .forEach(out::add);
            } catch (IOException ignored) {
                // an unreadable environment is simply not searched
            }
        }
        String pp = env.variables().apply("PYTHONPATH");
        if (pp != null) {
            for (String e : pp.split(File.pathSeparator)) {
                if (!e.isBlank()) out.add(env.resolve(e.trim()));
            }
        }
        return out;
    }
}
