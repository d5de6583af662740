package dev.solder.backend.cuda;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.Stream;

/** Reads the kernel sources and tools around them for the tests that need no GPU. */
final class CudaSourceFiles {
    private static final Pattern KERNEL = Pattern.compile(
            "extern\\s+\"C\"\\s+__global__\\s+void\\s+(?:__launch_bounds__\\s*\\([^)]*\\)\\s+)?(\\w+)\\s*\\(([^)]*)\\)", Pattern.DOTALL);

    private CudaSourceFiles() {
    }

    /** kernels/src/main/cuda (the surefire property, else relative to the module directory). */
    static Path sourceDir() {
        String p = System.getProperty("solder.kernels.sourceDir");
        return p != null ? Path.of(p) : Path.of("src/main/cuda");
    }

    /**
     * Builds the host model {@code src/test/cpp/NAME.cpp} (kernels compiled with g++, C++20,
     * pthreads, the kernel sources on the include path) into {@code dir} and returns the
     * executable. Skips the calling test (an assumption, reported as skipped) where g++ or its
     * C++20 is missing; fails it when the build fails.
     */
    static Path hostModel(Path dir, String name, String what) {
        return hostModel(dir, name, what, HostSanitizer.NONE);
    }

    /**
     * {@link #hostModel(Path, String, String)} built under {@code sanitizer}; also skips the test
     * where this g++ has no run-time library for it.
     */
    static Path hostModel(Path dir, String name, String what, HostSanitizer sanitizer) {
        Optional<Path> gxx = onPath("g++");
        org.junit.jupiter.api.Assumptions.assumeTrue(gxx.isPresent(), "g++ not found: cannot run " + what
                + " on the host model");
        Path src = Path.of("src/test/cpp/" + name + ".cpp").toAbsolutePath();
        Path exe = dir.resolve(sanitizer.executable(name));
        List<String> cmd = new java.util.ArrayList<>(List.of(gxx.get().toString(), "-std=c++20"));
        cmd.addAll(sanitizer.flags());
        cmd.addAll(List.of("-pthread", "-w", "-I", sourceDir().toAbsolutePath().toString(), "-o", exe.toString(),
                src.toString()));
        Result build = exec(dir, null, cmd);
        org.junit.jupiter.api.Assumptions.assumeTrue(
                !build.output().contains("unrecognized command-line option '-std=c++20'"), "this g++ has no C++20");
        sanitizer.assumeBuilt(build, name);
        org.junit.jupiter.api.Assertions.assertEquals(0, build.code(), "host build of " + name + ".cpp ("
                + sanitizer + ") failed:\n" + build.output());
        return exe;
    }

    /** One run of a host model: a label naming the model and its seed for messages, its output and lines. */
    record HostRun(String what, String[] lines, String output) {
    }

    /**
     * Runs a host model built by {@link #hostModel} with a fresh seed ({@code -Dsolder.test.seed}
     * to repeat one) as its argument; fails the test, naming the seed, unless it exits 0 with no
     * sanitizer report.
     */
    static HostRun runSeeded(Path dir, Path exe, String label) {
        long seed = Long.getLong("solder.test.seed", System.nanoTime()) & Long.MAX_VALUE;
        Result run = exec(dir, null, List.of(exe.toString(), Long.toString(seed)));
        String what = label + " " + exe.getFileName() + " (seed " + seed + ")";
        HostSanitizer.assertClean(what, run);
        org.junit.jupiter.api.Assertions.assertEquals(0, run.code(), what + ":\n" + run.output());
        return new HostRun(what, run.output().trim().split("\n"), run.output());
    }

    /** The Maven build directory (target-...). */
    static Path buildDir() {
        String p = System.getProperty("solder.kernels.buildDir");
        return p != null ? Path.of(p) : Path.of("target");
    }

    static String read(String name) {
        try {
            return Files.readString(sourceDir().resolve(name));
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    /** Names of the .cu files in the source directory, sorted. */
    static List<String> cuFiles() {
        try (Stream<Path> s = Files.list(sourceDir())) {
            return s.map(p -> p.getFileName().toString()).filter(n -> n.endsWith(".cu")).sorted().toList();
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    /** Every extern "C" __global__ kernel of the sources: name -> normalized parameter list. */
    static Map<String, String> declaredKernels() {
        Map<String, String> out = new LinkedHashMap<>();
        for (String f : cuFiles()) {
            Matcher m = KERNEL.matcher(read(f));
            while (m.find()) {
                String prev = out.put(m.group(1), normalize(m.group(2)));
                if (prev != null) {
                    throw new AssertionError("kernel " + m.group(1) + " declared twice");
                }
            }
        }
        return out;
    }

    /** "const void*  a,\n int adt" -> "const void* a, int adt". */
    static String normalize(String params) {
        String[] parts = params.split(",");
        StringBuilder sb = new StringBuilder();
        for (String p : parts) {
            if (sb.length() > 0) {
                sb.append(", ");
            }
            sb.append(p.trim().replaceAll("\\s+", " ").replace(" *", "*"));
        }
        return sb.toString();
    }

    /** The value of {@code #define NAME value} in a source file. */
    static Optional<String> define(String file, String name) {
        Matcher m = Pattern.compile("(?m)^#define\\s+" + name + "\\s+(\\S+)").matcher(read(file));
        return m.find() ? Optional.of(m.group(1)) : Optional.empty();
    }

    /** An executable found like build-kernels.sh finds nvcc: $NVCC, PATH, $CUDA_HOME, $CUDA_PATH, /usr/local/cuda. */
    static Optional<Path> nvcc() {
        List<String> candidates = new java.util.ArrayList<>();
        String env = System.getenv("NVCC");
        if (env != null && !env.isBlank()) {
            candidates.add(env);
        }
        String path = System.getenv("PATH");
        if (path != null) {
            for (String d : path.split(java.io.File.pathSeparator)) {
                if (!d.isBlank()) {
                    candidates.add(d + "/nvcc");
                }
            }
        }
        for (String var : List.of("CUDA_HOME", "CUDA_PATH")) {
            String v = System.getenv(var);
            if (v != null && !v.isBlank()) {
                candidates.add(v + "/bin/nvcc");
            }
        }
        candidates.add("/usr/local/cuda/bin/nvcc");
        return candidates.stream().map(Path::of).filter(Files::isExecutable).findFirst();
    }

    /** A program on the PATH, e.g. g++. */
    static Optional<Path> onPath(String program) {
        String path = System.getenv("PATH");
        if (path == null) {
            return Optional.empty();
        }
        for (String d : path.split(java.io.File.pathSeparator)) {
            Path p = Path.of(d.isBlank() ? "." : d, program);
            if (Files.isExecutable(p)) {
                return Optional.of(p);
            }
        }
        return Optional.empty();
    }

    /** A command's exit code and combined output. */
    record Result(int code, String output) {
    }

    /** Runs a command (with {@link HostSanitizer#ENVIRONMENT} set), returning its exit code and combined output. */
    static Result exec(Path dir, String stdin, List<String> command) {
        try {
            ProcessBuilder pb = new ProcessBuilder(command).directory(dir.toFile()).redirectErrorStream(true);
            pb.environment().putAll(HostSanitizer.ENVIRONMENT);
            Process p = pb.start();
            if (stdin != null) {
                p.getOutputStream().write(stdin.getBytes(java.nio.charset.StandardCharsets.UTF_8));
            }
            p.getOutputStream().close();
            String out = new String(p.getInputStream().readAllBytes(), java.nio.charset.StandardCharsets.UTF_8);
            return new Result(p.waitFor(), out);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IllegalStateException(e);
        }
    }
}
