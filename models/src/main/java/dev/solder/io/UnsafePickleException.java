package dev.solder.io;

import java.nio.file.Path;

/**
 * A pickle asked for something outside the allowlist of the restricted unpickler, typically a
 * global such as {@code os.system} or {@code builtins.eval}.
 *
 * <p>Solder never executes a pickle: the restricted unpickler only interprets the handful of
 * callables a PyTorch state dict needs. This exception is raised as soon as the offending opcode
 * is read, before anything that follows it is looked at, so a hostile checkpoint is reported
 * rather than half-loaded.
 */
public final class UnsafePickleException extends WeightFormatException {
    private static final long serialVersionUID = 1L;

    private final String global;

    /**
     * @param file the checkpoint
     * @param global the rejected global as {@code module.name}, or a description of the rejected
     *     construct
     * @param message the full explanation
     */
    public UnsafePickleException(Path file, String global, String message) {
        super(file, message);
        this.global = global;
    }

    /** The rejected global, {@code module.name} (e.g. {@code "os.system"}). */
    public String global() {
        return global;
    }
}
