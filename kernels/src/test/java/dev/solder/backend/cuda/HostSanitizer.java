package dev.solder.backend.cuda;

import java.util.List;

/**
 * How a host model ({@link CudaSourceFiles#hostModel}) is built: plain, or under one of g++'s
 * sanitizers — the host's stand-ins for {@code compute-sanitizer}'s racecheck and memcheck, which
 * need a GPU ({@code bench/device/sanitize.sh} runs those on a card).
 *
 * <p>{@link #THREAD}: ThreadSanitizer. Every CUDA thread of a host model is a host thread and
 * {@code __syncthreads} a barrier ({@code host_threads.h}), so two threads touching the same
 * shared (or global) memory with no barrier between them, at least one of them writing, is a
 * data race to ThreadSanitizer — racecheck's hazard, found from the order the barriers impose
 * rather than from one lucky interleaving. The flash model's {@code cp.async} writes its target
 * when the copy is issued as well as when it is waited for, so a copy into a tile another warp
 * still reads is a race too. What it cannot see: races between blocks (the model runs them one
 * after another) and anything the GPU's memory model allows that the host's does not.
 *
 * <p>{@link #ADDRESS}: AddressSanitizer and UndefinedBehaviorSanitizer, with libstdc++'s vector
 * annotations: a kernel reading or writing outside a buffer (the host model's device buffers
 * are vectors sized exactly) or outside a {@code __shared__} array, an unaligned access, a signed
 * overflow or an out-of-range shift — memcheck's errors and then some. It cannot see an access
 * that stays inside an allocation but outside the tensor meant (the bit-for-bit checks do).
 *
 * <p>{@code HostSanitizerSelfCheckTest} plants each kind of error in a small kernel and checks
 * that these builds report it, so a clean sanitized run of the real kernels means something.
 */
enum HostSanitizer {
    NONE("", List.of("-O2")),
    THREAD("-tsan", List.of("-O1", "-g", "-fsanitize=thread")),
    ADDRESS("-asan", List.of("-O1", "-g", "-fsanitize=address,undefined", "-fno-sanitize-recover=all",
            "-fno-omit-frame-pointer", "-D_GLIBCXX_SANITIZE_VECTOR"));

    /**
     * The sanitizers' run-time options for every host model run: stop at the first report with a
     * non-zero exit, and no leak check (a host model's leaks say nothing about device memory, and
     * LeakSanitizer needs ptrace, which containers often refuse).
     */
    static final java.util.Map<String, String> ENVIRONMENT = java.util.Map.of(
            "TSAN_OPTIONS", "halt_on_error=1 exitcode=66",
            "ASAN_OPTIONS", "detect_leaks=0 halt_on_error=1 exitcode=67",
            "UBSAN_OPTIONS", "halt_on_error=1 print_stacktrace=1");

    private final String suffix;
    private final List<String> flags;

    HostSanitizer(String suffix, List<String> flags) {
        this.suffix = suffix;
        this.flags = flags;
    }

    /** The executable's name for a model: {@code flash_host_model-tsan}. */
    String executable(String model) {
        return model + suffix;
    }

    /** g++'s optimisation and sanitizer flags. */
    List<String> flags() {
        return flags;
    }

    /**
     * The cases a test runs in this build: all of them plain, those at {@code sanitized} under a
     * sanitizer (5-20× slower: a few cases that reach every kernel's tails, masks and stages).
     */
    String[] cases(String[] all, int... sanitized) {
        if (this == NONE) {
            return all;
        }
        String[] out = new String[sanitized.length];
        for (int i = 0; i < sanitized.length; i++) {
            out[i] = all[sanitized[i]];
        }
        return out;
    }

    /**
     * Skips the calling test (reported as skipped, with the reason) when this g++ cannot build
     * with the sanitizer — its run-time library is not installed.
     */
    void assumeBuilt(CudaSourceFiles.Result build, String model) {
        String out = build.output();
        boolean noRuntime = out.contains("cannot find -ltsan") || out.contains("cannot find -lasan")
                || out.contains("cannot find -lubsan") || out.contains("libtsan") || out.contains("libasan")
                || out.contains("libubsan");
        org.junit.jupiter.api.Assumptions.assumeFalse(this != NONE && build.code() != 0 && noRuntime,
                () -> "g++ has no " + this + " sanitizer run-time here, cannot build " + model + ":\n" + out);
    }

    /**
     * Fails with the sanitizer's report when a run printed one; skips the test when the
     * sanitizer could not start at all, which says nothing about the kernels: ThreadSanitizer
     * refuses some kernels' address-space layouts, and both need terabytes of address space for
     * their shadow memory, which {@code ulimit -v} or strict overcommit can deny.
     */
    static void assertClean(String what, CudaSourceFiles.Result run) {
        String out = run.output();
        boolean noStart = out.contains("FATAL: ThreadSanitizer") || out.contains("ThreadSanitizer: CHECK failed")
                || out.contains("ReserveShadowMemoryRange failed") || out.contains("Shadow memory range interleaves");
        org.junit.jupiter.api.Assumptions.assumeFalse(noStart,
                () -> "the sanitizer could not start on this machine: " + what + ":\n" + out);
        for (String report : List.of("WARNING: ThreadSanitizer", "ERROR: AddressSanitizer", "runtime error:")) {
            if (out.contains(report)) {
                throw new AssertionError(what + ": the sanitizer reports an error in a kernel:\n" + out);
            }
        }
    }
}
