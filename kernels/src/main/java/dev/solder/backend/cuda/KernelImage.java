package dev.solder.backend.cuda;

import dev.solder.cuda.CudaDriver;
import dev.solder.cuda.CudaException;
import dev.solder.cuda.Nvrtc;
import java.io.IOException;
import java.io.InputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.Arrays;
import java.util.List;
import java.util.Locale;

/**
 * Finds machine code for the GPU and loads it as one CUDA module.
 *
 * <ol>
 *   <li>The fatbin nvcc built at build time ({@code solder-kernels.fatbin} on the class path):
 *       used when its table of contents has a cubin the GPU can run or PTX the driver can
 *       JIT-compile for it ({@link Fatbin#runsOn}).</li>
 *   <li>Otherwise — or when the driver refuses the fatbin, e.g. PTX newer than the driver — the
 *       {@code .cu} sources are compiled with NVRTC for the GPU's {@code sm_XX} (or, when this
 *       NVRTC is older than the GPU, for the newest {@code compute_XX} it knows, as PTX) and
 *       the result is cached under {@code ~/.cache/solder/kernels/<sha256>.cubin} (or
 *       {@code .ptx}), keyed by sources, options and NVRTC version, so it happens once.</li>
 * </ol>
 *
 * {@code -Dsolder.cuda.kernelImage=fatbin|nvrtc} forces one path ({@code auto} by default);
 * {@code -Dsolder.cuda.kernelCache=DIR} moves the cache. {@code --use_fast_math} is never used:
 * results are compared with the CPU backend to 1e-5.
 */
final class KernelImage {
    /** The fatbin's class-path location. */
    static final String FATBIN_RESOURCE = "/dev/solder/backend/cuda/solder-kernels.fatbin";
    /** Its manifest (archs, nvcc version, source hash), written by build-kernels.sh. */
    static final String MANIFEST_RESOURCE = "/dev/solder/backend/cuda/solder-kernels.manifest";

    /** A loaded module and a sentence saying where its code came from. */
    record Loaded(long module, String origin) {
    }

    private KernelImage() {
    }

    /** The fatbin's bytes, or null when the build had no nvcc. */
    static byte[] fatbin() {
        try (InputStream in = KernelImage.class.getResourceAsStream(FATBIN_RESOURCE)) {
            return in == null ? null : in.readAllBytes();
        } catch (IOException e) {
            return null;
        }
    }

    static String mode() {
        return System.getProperty("solder.cuda.kernelImage", "auto").trim().toLowerCase(Locale.ROOT);
    }

    /** Loads the kernels into the current context of a GPU of compute capability {@code cc}. */
    static Loaded load(int cc) {
        String mode = mode();
        String fatbinProblem;
        if (mode.equals("nvrtc")) {
            fatbinProblem = "-Dsolder.cuda.kernelImage=nvrtc";
        } else {
            byte[] fb = fatbin();
            if (fb == null) {
                fatbinProblem = "no prebuilt fatbin on the class path (built without nvcc)";
            } else {
                List<Fatbin.Entry> entries;
                try {
                    entries = Fatbin.parse(fb);
                } catch (IllegalArgumentException e) {
                    entries = List.of();
                }
                if (Fatbin.runsOn(entries, cc)) {
                    try {
                        long module = CudaDriver.moduleLoadData(fb);
                        return new Loaded(module, "prebuilt fatbin " + entries + (Fatbin.hasExactCubin(entries, cc)
                                ? " (cubin sm_" + cc + ")" : " (driver JIT or compatible cubin for sm_" + cc + ")"));
                    } catch (CudaException e) {
                        fatbinProblem = "the driver refused the prebuilt fatbin: " + e.getMessage();
                    }
                } else {
                    fatbinProblem = "the prebuilt fatbin " + entries + " has no code for sm_" + cc;
                }
            }
            if (mode.equals("fatbin")) {
                throw new IllegalStateException("-Dsolder.cuda.kernelImage=fatbin, but " + fatbinProblem);
            }
        }
        return loadWithNvrtc(cc, fatbinProblem);
    }

    /** The NVRTC options for a GPU of capability {@code cc}, given the archs this NVRTC supports. */
    static List<String> nvrtcOptions(int cc, int[] supported) {
        int[] s = supported.clone();
        Arrays.sort(s);
        boolean exact = Arrays.stream(s).anyMatch(a -> a == cc);
        String arch;
        if (exact) {
            arch = "-arch=sm_" + cc;
        } else {
            int best = -1;
            for (int a : s) {
                if (a <= cc) {
                    best = a;
                }
            }
            if (best < 0) {
                throw new IllegalStateException("NVRTC supports " + Arrays.toString(s) + ", nothing for sm_" + cc);
            }
            arch = "-arch=compute_" + best; // PTX, JIT-compiled by the driver for the GPU
        }
        return List.of(arch, "-std=c++17");
    }

    /** The directory of the NVRTC cache. */
    static Path cacheDir() {
        String p = System.getProperty("solder.cuda.kernelCache");
        if (p != null && !p.isBlank()) {
            return Path.of(p);
        }
        return Path.of(System.getProperty("user.home"), ".cache", "solder", "kernels");
    }

    private static Loaded loadWithNvrtc(int cc, String why) {
        String source = KernelSources.unit();
        List<String> options;
        String version;
        try {
            options = nvrtcOptions(cc, Nvrtc.supportedArchs());
            version = Nvrtc.version().toString();
        } catch (RuntimeException e) {
            throw new IllegalStateException("no kernels for sm_" + cc + ": " + why + ", and NVRTC is unusable: "
                    + e.getMessage(), e);
        }
        boolean ptx = options.getFirst().startsWith("-arch=compute_");
        String key = KernelSources.sha256(source, String.join(" ", options), "nvrtc " + version);
        Path file = cacheDir().resolve(key + (ptx ? ".ptx" : ".cubin"));
        byte[] image = null;
        String origin;
        if (Files.isRegularFile(file)) {
            try {
                image = Files.readAllBytes(file);
                origin = "NVRTC cache " + file;
            } catch (IOException e) {
                image = null;
                origin = null;
            }
        } else {
            origin = null;
        }
        if (image == null || image.length == 0) {
            Nvrtc.Compiled c = Nvrtc.compile("solder-kernels.cu", source, options.toArray(new String[0]));
            image = c.image();
            origin = "NVRTC " + version + " " + String.join(" ", options) + " (cached as " + file + ")";
            try {
                Files.createDirectories(file.getParent());
                Path tmp = Files.createTempFile(file.getParent(), key, ".tmp");
                Files.write(tmp, image);
                Files.move(tmp, file, StandardCopyOption.REPLACE_EXISTING, StandardCopyOption.ATOMIC_MOVE);
            } catch (IOException | RuntimeException e) {
                origin = "NVRTC " + version + " " + String.join(" ", options) + " (not cached: " + e.getMessage() + ")";
            }
        }
        long module = CudaDriver.moduleLoadData(image);
        return new Loaded(module, origin + "; fatbin not used: " + why);
    }
}
