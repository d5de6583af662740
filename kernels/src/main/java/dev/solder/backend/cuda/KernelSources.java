package dev.solder.backend.cuda;

import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.HashSet;
import java.util.HexFormat;
import java.util.List;
import java.util.Set;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * The CUDA C++ sources of the kernels, shipped as class-path resources next to the fatbin,
 * and the single translation unit NVRTC compiles when the fatbin has no code for the GPU.
 *
 * <p>nvcc builds the fatbin from a generated file that {@code #include}s every {@code .cu}
 * ({@code build-kernels.sh}); NVRTC gets the same unit with the includes expanded in place
 * (NVRTC has no include path here), so both compilers see identical text.
 */
final class KernelSources {
    /** Where the sources lie on the class path. */
    static final String RESOURCE_DIR = "/dev/solder/backend/cuda/kernels/";
    /** The shared header. */
    static final String HEADER = "solder_common.cuh";
    /** Every kernel file, in the order build-kernels.sh includes them (C-locale sort). */
    static final List<String> FILES = List.of(
            "adamw.cu", "attention.cu", "dropout.cu", "elementwise.cu", "embedding.cu", "flash_attention.cu",
            "layernorm.cu", "loss.cu", "reduce.cu", "softmax.cu");

    private static final Pattern INCLUDE = Pattern.compile("(?m)^\\s*#\\s*include\\s+\"([^\"]+)\"\\s*$");

    private KernelSources() {
    }

    /** The text of one source resource. */
    static String read(String name) {
        try (InputStream in = KernelSources.class.getResourceAsStream(RESOURCE_DIR + name)) {
            if (in == null) {
                throw new IllegalStateException("kernel source " + RESOURCE_DIR + name
                        + " is not on the class path: is solder-kernels built correctly?");
            }
            return new String(in.readAllBytes(), StandardCharsets.UTF_8);
        } catch (IOException e) {
            throw new UncheckedIOException("reading kernel source " + name, e);
        }
    }

    /** All kernel files as one translation unit, each quoted include expanded once. */
    static String unit() {
        StringBuilder sb = new StringBuilder("// solder-kernels: all kernel files as one unit, for NVRTC\n");
        Set<String> included = new HashSet<>();
        for (String f : FILES) {
            sb.append("\n// ---------------------------------------------------------------- ").append(f).append('\n');
            sb.append(expand(read(f), included));
        }
        return sb.toString();
    }

    private static String expand(String text, Set<String> included) {
        Matcher m = INCLUDE.matcher(text);
        StringBuilder out = new StringBuilder();
        while (m.find()) {
            String name = m.group(1);
            String replacement;
            if (included.add(name)) {
                replacement = "// begin " + name + "\n" + expand(read(name), included) + "\n// end " + name;
            } else {
                replacement = "// (" + name + " already included)";
            }
            m.appendReplacement(out, Matcher.quoteReplacement(replacement));
        }
        m.appendTail(out);
        return out.toString();
    }

    /** Hex SHA-256 of the given parts, separated by NULs. */
    static String sha256(String... parts) {
        try {
            MessageDigest md = MessageDigest.getInstance("SHA-256");
            for (String p : parts) {
                md.update(p.getBytes(StandardCharsets.UTF_8));
                md.update((byte) 0);
            }
            return HexFormat.of().formatHex(md.digest());
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException("SHA-256 is missing from this JDK", e);
        }
    }
}
