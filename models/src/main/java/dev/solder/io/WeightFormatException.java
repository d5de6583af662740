package dev.solder.io;

import java.io.IOException;
import java.nio.file.Path;

/**
 * A weight file is malformed, truncated, inconsistent or uses a feature Solder does not read.
 *
 * <p>Every reader in {@code dev.solder.io} reports problems with the file's content through this
 * one type (plain {@link IOException}s remain for failures of the file system itself), so a caller
 * can tell "this checkpoint is bad" from "the disk is bad". The message always starts with the
 * file it is about and says what was expected, e.g.
 * {@code model.safetensors: tensor 'bert.pooler.dense.weight': data_offsets [0, 100] reach past
 * the data area (64 bytes)}.
 */
public class WeightFormatException extends IOException {
    private static final long serialVersionUID = 1L;

    private final transient Path file;

    /** A problem with {@code file} (may be {@code null} when no file is involved). */
    public WeightFormatException(Path file, String message) {
        super(prefix(file) + message);
        this.file = file;
    }

    /** A problem with {@code file}, caused by {@code cause}. */
    public WeightFormatException(Path file, String message, Throwable cause) {
        super(prefix(file) + message, cause);
        this.file = file;
    }

    /** The file the problem was found in, or {@code null}. */
    public Path file() {
        return file;
    }

    private static String prefix(Path file) {
        return file == null ? "" : file + ": ";
    }
}
