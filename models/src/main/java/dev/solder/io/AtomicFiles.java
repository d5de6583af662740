package dev.solder.io;

import java.io.IOException;
import java.nio.channels.FileChannel;
import java.nio.file.AtomicMoveNotSupportedException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.StandardOpenOption;
import java.nio.file.attribute.PosixFilePermissions;

/**
 * Write-to-temp-then-rename, so that a reader never sees a half-written weight file and a crash
 * leaves the previous file (or nothing) in place.
 */
final class AtomicFiles {
    private AtomicFiles() {}

    /** Writes a file's content, given an open channel. */
    @FunctionalInterface
    interface ChannelWriter {
        void write(FileChannel channel) throws IOException;
    }

    /** A temporary sibling of {@code target}, in the same directory so the rename stays atomic. */
    static Path tempSibling(Path target, boolean directory) throws IOException {
        Path abs = target.toAbsolutePath();
        Path dir = abs.getParent();
        Files.createDirectories(dir);
        String prefix = "." + abs.getFileName() + ".";
        return directory ? Files.createTempDirectory(dir, prefix) : Files.createTempFile(dir, prefix, ".tmp");
    }

    /** Writes {@code target} through {@code writer} via a synced temporary file and an atomic rename. */
    static void write(Path target, ChannelWriter writer) throws IOException {
        Path tmp = tempSibling(target, false);
        boolean done = false;
        try {
            try (FileChannel ch = FileChannel.open(tmp, StandardOpenOption.WRITE, StandardOpenOption.TRUNCATE_EXISTING)) {
                writer.write(ch);
                ch.force(true);
            }
            readableByAll(tmp, false);
            moveAtomically(tmp, target);
            done = true;
        } finally {
            if (!done) {
                Files.deleteIfExists(tmp);
            }
        }
    }

    /** Renames {@code from} to {@code to} atomically, replacing a file (not a directory) there. */
    static void moveAtomically(Path from, Path to) throws IOException {
        try {
            Files.move(from, to, StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING);
        } catch (AtomicMoveNotSupportedException e) {
            throw new IOException("cannot rename " + from + " to " + to + " atomically (different file systems?)", e);
        }
    }

    /**
     * Temp files are created owner-only; a weight file is ordinary data, so give it the
     * permissions a plain create would (rw-r--r--, rwxr-xr-x for directories).
     */
    static void readableByAll(Path p, boolean directory) {
        try {
            Files.setPosixFilePermissions(p, PosixFilePermissions.fromString(directory ? "rwxr-xr-x" : "rw-r--r--"));
        } catch (UnsupportedOperationException | IOException ignored) {
            // Not a POSIX file system: the default permissions are all we can have.
        }
    }
}
