package dev.solder.cli;

import java.io.BufferedWriter;
import java.io.IOException;
import java.io.Writer;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;

/**
 * Writes a UTF-8 text output file all at once or not at all: into a temporary file beside it, then
 * moved over it atomically (the temporary file is deleted if anything fails). Parent directories
 * are created.
 */
final class AtomicOutput {
    /** What writes the content. */
    interface Content {
        void writeTo(Writer w) throws IOException;
    }

    private AtomicOutput() {
    }

    static void write(Path output, Content content) throws IOException {
        Path abs = output.toAbsolutePath();
        Files.createDirectories(abs.getParent());
        Path tmp = Files.createTempFile(abs.getParent(), "." + abs.getFileName(), ".tmp");
        try {
            try (BufferedWriter w = Files.newBufferedWriter(tmp, StandardCharsets.UTF_8)) {
                content.writeTo(w);
            }
            Files.move(tmp, abs, StandardCopyOption.REPLACE_EXISTING, StandardCopyOption.ATOMIC_MOVE);
        } finally {
            Files.deleteIfExists(tmp);
        }
    }
}
