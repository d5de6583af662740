package dev.solder.cli;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.DeserializationFeature;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.JsonNodeFactory;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.solder.tokenizer.BertTokenizer;
import dev.solder.tokenizer.EncodeOptions;
import dev.solder.tokenizer.Encoding;
import dev.solder.tokenizer.TextPair;
import java.io.BufferedReader;
import java.io.IOException;
import java.nio.charset.CharacterCodingException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

/**
 * The inputs of {@code embed}, {@code predict} and {@code tokenize}: a text file (one text per line)
 * or JSONL (one object per line with {@code "text_a"} — or {@code "text"} — and an optional
 * {@code "text_b"} for pairs). JSONL is recognised by the extension {@code .jsonl} or by a first
 * non-blank character {@code '{'}. Blank lines are skipped; every other line is one record, and
 * errors name {@code file:line}.
 */
final class InputRecords {
    // Exact decimals, so a record's numbers are written back as they were read ("1.10" stays "1.10").
    static final ObjectMapper JSON = new ObjectMapper()
            .enable(DeserializationFeature.USE_BIG_DECIMAL_FOR_FLOATS)
            .setNodeFactory(JsonNodeFactory.withExactBigDecimals(true));

    /** One input: its 1-based line, its text(s), and the JSON object it came from (null for text lines). */
    record Record(int line, String textA, String textB, ObjectNode json) {
        TextPair pair() {
            return new TextPair(textA, textB);
        }
    }

    private InputRecords() {
    }

    /** Reads {@code file}; {@code jsonOnly} makes a non-JSON line an error (for {@code tokenize}). */
    static List<Record> read(Path file, boolean jsonOnly) {
        List<String> lines = readLines(file);
        boolean json = jsonOnly || file.getFileName().toString().endsWith(".jsonl") || firstNonBlankIsBrace(lines);
        List<Record> out = new ArrayList<>();
        for (int i = 0; i < lines.size(); i++) {
            String line = lines.get(i);
            if (line.isBlank()) {
                continue;
            }
            int lineNo = i + 1;
            out.add(json ? parseJson(file, lineNo, line) : new Record(lineNo, stripBom(line, i), null, null));
        }
        if (out.isEmpty()) {
            throw new CliException(file + ": no input (the file is empty)");
        }
        return out;
    }

    /** The records' texts ({@code text_a}, with {@code text_b} when set) encoded with {@code opts}, in order. */
    static List<Encoding> encode(BertTokenizer tok, List<Record> records, EncodeOptions opts) {
        return tok.encodeBatchPairs(records.stream().map(Record::pair).toList(), opts);
    }

    private static List<String> readLines(Path file) {
        if (Files.isDirectory(file)) {
            throw new CliException(file + ": is a directory, expected an input file");
        }
        List<String> lines = new ArrayList<>();
        try (BufferedReader r = Files.newBufferedReader(file, StandardCharsets.UTF_8)) {
            for (String l; (l = r.readLine()) != null; ) {
                lines.add(l);
            }
        } catch (NoSuchFileException e) {
            throw new CliException(file + ": no such input file");
        } catch (CharacterCodingException e) {
            throw new CliException(file + ":" + (lines.size() + 1) + ": not valid UTF-8 text");
        } catch (IOException e) {
            throw new CliException(file + ": cannot read: " + e.getMessage(), e);
        }
        return lines;
    }

    private static boolean firstNonBlankIsBrace(List<String> lines) {
        for (int i = 0; i < lines.size(); i++) {
            String s = stripBom(lines.get(i), i).strip();
            if (!s.isEmpty()) {
                return s.charAt(0) == '{';
            }
        }
        return false;
    }

    private static String stripBom(String line, int index) {
        return index == 0 && line.startsWith("\uFEFF") ? line.substring(1) : line;
    }

    private static Record parseJson(Path file, int lineNo, String line) {
        String where = file + ":" + lineNo + ": ";
        JsonNode node;
        try {
            node = JSON.readTree(stripBom(line, lineNo - 1));
        } catch (JsonProcessingException e) {
            throw new CliException(where + "not valid JSON (" + e.getOriginalMessage()
                    + "); expected one JSON object per line, e.g. {\"text_a\": \"...\", \"text_b\": \"...\"}");
        }
        if (node == null || !node.isObject()) {
            throw new CliException(where + "expected a JSON object such as {\"text_a\": \"...\"}, found "
                    + (node == null ? "nothing" : node.getNodeType().toString().toLowerCase(java.util.Locale.ROOT)));
        }
        ObjectNode o = (ObjectNode) node;
        JsonNode a = o.has("text_a") ? o.get("text_a") : o.get("text");
        if (a == null || !a.isTextual()) {
            throw new CliException(where + "expected a string field \"text_a\" (or \"text\")"
                    + (a == null ? ", the object has " + fieldNames(o) : ", found " + a));
        }
        JsonNode b = o.get("text_b");
        if (b != null && !b.isNull() && !b.isTextual()) {
            throw new CliException(where + "\"text_b\" must be a string or null, found " + b);
        }
        return new Record(lineNo, a.asText(), b == null || b.isNull() ? null : b.asText(), o);
    }

    private static String fieldNames(ObjectNode o) {
        List<String> names = new ArrayList<>();
        o.fieldNames().forEachRemaining(names::add);
        return names.isEmpty() ? "no fields" : names.toString();
    }
}
