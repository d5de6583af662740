package dev.solder;

import java.util.Locale;

/**
 * Where a tensor lives: the host ({@code cpu}) or a CUDA device ({@code cuda:N}).
 *
 * <p>Tensors on a CUDA device need the {@code solder-kernels} jar on the class path;
 * without it (or without a GPU) creating one fails with the reason.
 *
 * <pre>{@code
 * Device d = Device.parse("cuda:0");
 * Tensor x = Tensor.ones(2, 3).to(Device.cpu());
 * }</pre>
 */
public record Device(Kind kind, int index) {

    /** Device families Solder knows. */
    public enum Kind { CPU, CUDA }

    private static final Device CPU = new Device(Kind.CPU, 0);

    public Device {
        if (kind == null) {
            throw new IllegalArgumentException("device kind is null");
        }
        if (index < 0 || (kind == Kind.CPU && index != 0)) {
            throw new IllegalArgumentException("bad device index " + index + " for " + kind);
        }
    }

    /** The host. */
    public static Device cpu() {
        return CPU;
    }

    /** CUDA device 0. */
    public static Device cuda() {
        return new Device(Kind.CUDA, 0);
    }

    /** CUDA device {@code n}. */
    public static Device cuda(int n) {
        return new Device(Kind.CUDA, n);
    }

    /** Parses {@code cpu}, {@code cuda}, {@code cuda:N}, {@code gpu}. */
    public static Device parse(String s) {
        String t = s.trim().toLowerCase(Locale.ROOT);
        if (t.equals("cpu")) {
            return CPU;
        }
        if (t.equals("cuda") || t.equals("gpu")) {
            return cuda();
        }
        if (t.startsWith("cuda:")) {
            try {
                return cuda(Integer.parseInt(t.substring(5)));
            } catch (NumberFormatException e) {
                // fall through to the error below
            }
        }
        throw new IllegalArgumentException("unknown device '" + s + "': expected cpu, cuda or cuda:N");
    }

    public boolean isCpu() {
        return kind == Kind.CPU;
    }

    public boolean isCuda() {
        return kind == Kind.CUDA;
    }

    @Override
    public String toString() {
        return kind == Kind.CPU ? "cpu" : "cuda:" + index;
    }
}
