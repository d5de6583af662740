package dev.solder.data;

import java.nio.file.Path;

/**
 * A data file that cannot be read as asked: a missing column, an unknown label, a ragged row, an
 * empty file. The message starts with {@code file:line:} (the 1-based line of the file, the
 * header included) and says what was expected, so the row can be found and fixed.
 */
public class DataException extends RuntimeException {
    private static final long serialVersionUID = 1L;
    private final transient Path file;
    private final int line;

    public DataException(Path file, int line, String message) {
        super(where(file, line) + message);
        this.file = file;
        this.line = line;
    }

    public DataException(String message, Throwable cause) {
        super(message, cause);
        this.file = null;
        this.line = 0;
    }

    public DataException(String message) {
        this(message, null);
    }

    /** The file the problem is in, or null. */
    public Path file() {
        return file;
    }

    /** The 1-based line, or 0 when the problem concerns the whole file. */
    public int line() {
        return line;
    }

    static String where(Path file, int line) {
        if (file == null) {
            return "";
        }
        return line > 0 ? file + ":" + line + ": " : file + ": ";
    }
}
