package dev.solder.data;

import java.io.BufferedReader;
import java.io.Closeable;
import java.io.IOException;
import java.io.InputStreamReader;
import java.io.UncheckedIOException;
import java.nio.charset.CharacterCodingException;
import java.nio.charset.CodingErrorAction;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;

/**
 * The lines of a UTF-8 text file, split on {@code \n} only (a trailing {@code \r} is dropped), with
 * a leading byte-order mark removed and 1-based line numbers. Unlike
 * {@link BufferedReader#readLine()} a lone {@code \r} inside a field does not end a line, so line
 * numbers match what an editor shows. Invalid UTF-8 is an error naming the line.
 */
final class TextLines implements Closeable {
    private final Path file;
    private final BufferedReader in;
    private final StringBuilder sb = new StringBuilder(256);
    private final char[] buf = new char[1 << 15];
    private int pos;
    private int lim;
    private int lineNo;
    private boolean eof;

    TextLines(Path file) {
        this.file = file;
        try {
            var decoder = StandardCharsets.UTF_8.newDecoder()
                    .onMalformedInput(CodingErrorAction.REPORT)
                    .onUnmappableCharacter(CodingErrorAction.REPORT);
            this.in = new BufferedReader(new InputStreamReader(Files.newInputStream(file), decoder), 1 << 16);
        } catch (IOException e) {
            throw new UncheckedIOException("cannot open " + file + ": " + e.getMessage(), e);
        }
    }

    /** The next line, or null at the end of the file. A final empty line after the last newline is not a line. */
    String next() {
        if (eof) {
            return null;
        }
        sb.setLength(0);
        try {
            boolean any = false;
            while (true) {
                if (pos == lim) {
                    lim = in.read(buf, 0, buf.length);
                    pos = 0;
                    if (lim <= 0) {
                        lim = 0;
                        eof = true;
                        if (!any) {
                            return null;
                        }
                        break;
                    }
                }
                any = true;
                int start = pos;
                while (pos < lim && buf[pos] != '\n') {
                    pos++;
                }
                sb.append(buf, start, pos - start);
                if (pos < lim) {
                    pos++;   // the newline
                    break;
                }
            }
        } catch (CharacterCodingException e) {
            throw new DataException(file, lineNo + 1, "not valid UTF-8 (" + e.getClass().getSimpleName() + ")");
        } catch (IOException e) {
            throw new UncheckedIOException("cannot read " + file + " at line " + (lineNo + 1) + ": " + e.getMessage(), e);
        }
        lineNo++;
        int len = sb.length();
        if (len > 0 && sb.charAt(len - 1) == '\r') {
            sb.setLength(len - 1);
        }
        if (lineNo == 1 && sb.length() > 0 && sb.charAt(0) == '\uFEFF') {
            sb.deleteCharAt(0);
        }
        return sb.toString();
    }

    /** The 1-based number of the line last returned. */
    int lineNumber() {
        return lineNo;
    }

    Path file() {
        return file;
    }

    /** Splits on tabs only: no quoting, quotes are ordinary characters (Python's QUOTE_NONE). */
    static String[] splitTabs(String line) {
        int n = 1;
        for (int i = 0; i < line.length(); i++) {
            if (line.charAt(i) == '\t') {
                n++;
            }
        }
        String[] out = new String[n];
        int from = 0;
        int k = 0;
        for (int i = 0; i < line.length(); i++) {
            if (line.charAt(i) == '\t') {
                out[k++] = line.substring(from, i);
                from = i + 1;
            }
        }
        out[k] = line.substring(from);
        return out;
    }

    @Override
    public void close() {
        try {
            in.close();
        } catch (IOException ignored) {
            // read-only file: nothing to lose
        }
    }
}
