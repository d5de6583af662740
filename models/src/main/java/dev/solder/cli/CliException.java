package dev.solder.cli;

/**
 * A problem with what the user gave a command (a missing file, a malformed input line, a bad
 * option value). The message is complete on its own — {@code file:line: what was expected} — and
 * is printed without a stack trace; the command exits with status 1.
 */
final class CliException extends RuntimeException {
    CliException(String message) {
        super(message);
    }

    CliException(String message, Throwable cause) {
        super(message, cause);
    }
}
