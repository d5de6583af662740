package dev.solder.data;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.charset.CharacterCodingException;
import java.nio.charset.CodingErrorAction;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.HashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Set;

/**
 * Custom data: JSON Lines ({@code .jsonl}, one object per line) or CSV (RFC 4180: comma-separated,
 * double quotes around fields holding commas, quotes or newlines, {@code ""} for a quote; the first
 * record is the header), with a {@link ColumnMapping} naming the text and label columns.
 *
 * <p>Labels follow HF's {@code run_glue.py} for custom files: the task is a regression when every
 * label is a number and some are not whole numbers; otherwise the classes are the distinct
 * training labels, sorted (numerically when all are integers), unless {@code labelNames} fixes them.
 * Validation labels must be among them.
 *
 * <pre>{@code
 * TaskData d = TabularData.load(Path.of("train.jsonl"), Path.of("dev.jsonl"),
 *         new ColumnMapping("premise", "hypothesis", "label"), null, ReadOptions.all(), ReadOptions.all());
 * }</pre>
 */
public final class TabularData {
    private static final ObjectMapper JSON = new ObjectMapper();

    private TabularData() {
    }

    /** One row before labels are resolved. */
    record RawRow(String a, String b, String label, boolean numeric, Path file, int line) {
    }

    /** Reads a train and a validation file (format from each extension: {@code .jsonl}/{@code .json} or {@code .csv}). */
    public static TaskData load(Path train, Path validation, ColumnMapping map, List<String> labelNames, ReadOptions trainOpts,
                                ReadOptions evalOpts) {
        BadRows badTrain = new BadRows(trainOpts.skipBadRows());
        BadRows badEval = new BadRows(evalOpts.skipBadRows());
        List<RawRow> tr = readRows(train, map, badTrain);
        List<RawRow> ev = readRows(validation, map, badEval);
        TaskLabels labels = labelNames != null && !labelNames.isEmpty() ? new TaskLabels(labelNames, false) : inferLabels(tr);
        String task = formatOf(train);
        Dataset dtr = toDataset(task + "/train", tr, labels, badTrain, trainOpts);
        Dataset dev = toDataset(task + "/validation", ev, labels, badEval, evalOpts);
        return new TaskData(task, dtr, dev, null);
    }

    /** Reads one file with known labels. */
    public static Dataset read(Path file, ColumnMapping map, TaskLabels labels, ReadOptions opts) {
        BadRows bad = new BadRows(opts.skipBadRows());
        return toDataset(formatOf(file) + "/" + file.getFileName(), readRows(file, map, bad), labels, bad, opts);
    }

    static String formatOf(Path file) {
        String n = file.getFileName().toString().toLowerCase(Locale.ROOT);
        if (n.endsWith(".jsonl") || n.endsWith(".json") || n.endsWith(".ndjson")) {
            return "jsonl";
        }
        if (n.endsWith(".csv")) {
            return "csv";
        }
        throw new DataException("cannot tell the format of " + file + ": expected a .jsonl or .csv file");
    }

    static List<RawRow> readRows(Path file, ColumnMapping map, BadRows bad) {
        if (!Files.isRegularFile(file)) {
            throw new DataException("no such file " + file);
        }
        List<RawRow> rows = formatOf(file).equals("jsonl") ? readJsonl(file, map, bad) : readCsv(file, map, bad);
        if (rows.isEmpty()) {
            throw new DataException(file, 0, bad.count() > 0 ? "no usable rows (" + bad.count() + " bad rows skipped, first: "
                    + bad.firstMessages().get(0) + ")" : "empty file: no data rows");
        }
        return rows;
    }

    private static Dataset toDataset(String name, List<RawRow> rows, TaskLabels labels, BadRows bad, ReadOptions opts) {
        List<Example> out = new ArrayList<>();
        for (RawRow r : rows) {
            if (opts.full(out.size())) {
                break;
            }
            String src = r.file().getFileName() + ":" + r.line();
            if (labels.regression()) {
                float v;
                try {
                    v = Float.parseFloat(r.label());
                } catch (NumberFormatException e) {
                    v = Float.NaN;
                }
                if (!Float.isFinite(v)) {
                    bad.report(new DataException(r.file(), r.line(), "label '" + r.label() + "' is not a number (regression task)"));
                    continue;
                }
                out.add(new Example(r.a(), r.b(), -1, v, src));
            } else {
                int idx = labels.indexOf(r.label());
                if (idx < 0 && !labelsAreNumbers(labels) && r.label().matches("\\d{1,9}")) {
                    int k = Integer.parseInt(r.label());   // an index into the given label names
                    idx = k < labels.numLabels() ? k : -1;
                }
                if (idx < 0) {
                    bad.report(new DataException(r.file(), r.line(), "unknown label '" + r.label() + "', expected one of "
                            + labels.names()));
                    continue;
                }
                out.add(new Example(r.a(), r.b(), idx, Float.NaN, src));
            }
        }
        if (out.isEmpty()) {
            throw new DataException(name + ": no usable rows (" + bad.count() + " bad rows skipped"
                    + (bad.firstMessages().isEmpty() ? "" : ", first: " + bad.firstMessages().get(0)) + ")");
        }
        return new Dataset(name, out, labels, bad.count(), bad.firstMessages(), null, 0);
    }

    private static boolean labelsAreNumbers(TaskLabels labels) {
        for (String n : labels.names()) {
            if (!n.matches("-?\\d+")) {
                return false;
            }
        }
        return true;
    }

    /** HF run_glue: regression for float labels, else the sorted distinct labels. */
    static TaskLabels inferLabels(List<RawRow> rows) {
        boolean allNumeric = true;
        boolean allIntegers = true;
        Set<String> distinct = new LinkedHashSet<>();
        for (RawRow r : rows) {
            distinct.add(r.label());
            Double d = parseNumber(r.label());
            if (d == null) {
                allNumeric = false;
                allIntegers = false;
            } else if (!r.label().matches("-?\\d+")) {
                allIntegers = false;
            }
        }
        if (allNumeric && !allIntegers) {
            return TaskLabels.regressionTarget();
        }
        List<String> names = new ArrayList<>(distinct);
        if (allIntegers) {
            names.sort(Comparator.comparingLong(Long::parseLong));
        } else {
            names.sort(Comparator.naturalOrder());
        }
        return new TaskLabels(names, false);
    }

    private static Double parseNumber(String s) {
        try {
            double d = Double.parseDouble(s);
            return Double.isFinite(d) ? d : null;
        } catch (NumberFormatException e) {
            return null;
        }
    }

    // ------------------------------------------------------------------ JSON Lines

    private static List<RawRow> readJsonl(Path file, ColumnMapping map, BadRows bad) {
        List<RawRow> out = new ArrayList<>();
        String[] cols = null;
        try (TextLines lines = new TextLines(file)) {
            String line;
            while ((line = lines.next()) != null) {
                if (line.isBlank()) {
                    continue;
                }
                int ln = lines.lineNumber();
                JsonNode node;
                try {
                    node = JSON.readTree(line);
                } catch (JsonProcessingException e) {
                    bad.report(new DataException(file, ln, "not a JSON object: " + e.getOriginalMessage()));
                    continue;
                }
                if (node == null || !node.isObject()) {
                    bad.report(new DataException(file, ln, "expected a JSON object per line, found " + (node == null ? "nothing"
                            : node.getNodeType().toString().toLowerCase(Locale.ROOT))));
                    continue;
                }
                if (cols == null) {
                    List<String> keys = new ArrayList<>();
                    node.fieldNames().forEachRemaining(keys::add);
                    cols = chooseColumns(map, keys, file, ln);
                }
                String[] v = new String[3];
                boolean numericLabel = false;
                String missing = null;
                for (int k = 0; k < 3; k++) {
                    if (cols[k] == null) {
                        continue;
                    }
                    JsonNode f = node.get(cols[k]);
                    if (f == null || f.isNull() || f.isContainerNode()) {
                        missing = cols[k];
                        break;
                    }
                    v[k] = f.isTextual() ? f.textValue() : f.asText();
                    if (k == 2) {
                        numericLabel = f.isNumber() || parseNumber(v[k]) != null;
                    }
                }
                if (missing != null) {
                    bad.report(new DataException(file, ln, "missing column '" + missing + "' (or not a string/number); expected keys "
                            + present(cols)));
                    continue;
                }
                out.add(new RawRow(v[0], v[1], v[2].strip(), numericLabel, file, ln));
            }
        }
        return out;
    }

    private static List<String> present(String[] cols) {
        List<String> l = new ArrayList<>();
        for (String c : cols) {
            if (c != null) {
                l.add(c);
            }
        }
        return l;
    }

    /** Resolves the mapping against the available columns; throws (file-level) when a named column is absent. */
    static String[] chooseColumns(ColumnMapping map, List<String> columns, Path file, int line) {
        String label = map.label();
        if (!columns.contains(label)) {
            throw new DataException(file, line, "missing label column '" + label + "'; columns are " + columns
                    + " (choose one with --label-column)");
        }
        String a = map.textA();
        String b = map.noTextB() ? null : map.textB();
        if (a == null) {
            List<String> nonLabel = new ArrayList<>(columns);
            nonLabel.remove(label);
            if (nonLabel.contains("sentence1") && nonLabel.contains("sentence2") && !map.noTextB() && map.textB() == null) {
                a = "sentence1";
                b = "sentence2";
            } else if (nonLabel.isEmpty()) {
                throw new DataException(file, line, "no text column besides the label column '" + label + "'");
            } else {
                a = nonLabel.get(0);
                if (b == null && !map.noTextB() && map.textB() == null && nonLabel.size() >= 2) {
                    b = nonLabel.get(1);
                }
            }
        }
        for (String c : new String[] {a, b}) {
            if (c != null && !columns.contains(c)) {
                throw new DataException(file, line, "missing column '" + c + "'; columns are " + columns
                        + " (choose with --text-a-column / --text-b-column)");
            }
        }
        return new String[] {a, b, label};
    }

    // ------------------------------------------------------------------ CSV

    private static List<RawRow> readCsv(Path file, ColumnMapping map, BadRows bad) {
        String text;
        try {
            var dec = StandardCharsets.UTF_8.newDecoder().onMalformedInput(CodingErrorAction.REPORT)
                    .onUnmappableCharacter(CodingErrorAction.REPORT);
            text = dec.decode(java.nio.ByteBuffer.wrap(Files.readAllBytes(file))).toString();
        } catch (CharacterCodingException e) {
            throw new DataException(file, 0, "not valid UTF-8");
        } catch (IOException e) {
            throw new UncheckedIOException("cannot read " + file + ": " + e.getMessage(), e);
        }
        if (!text.isEmpty() && text.charAt(0) == '\uFEFF') {
            text = text.substring(1);
        }
        CsvRecords recs = new CsvRecords(text, file);
        List<String> header = recs.next();
        if (header == null) {
            throw new DataException(file, 0, "empty file: expected a header line naming the columns");
        }
        Map<String, Integer> idx = new HashMap<>();
        for (int i = header.size() - 1; i >= 0; i--) {
            idx.put(header.get(i).strip(), i);
        }
        List<String> names = header.stream().map(String::strip).toList();
        String[] cols = chooseColumns(map, names, file, 1);
        List<RawRow> out = new ArrayList<>();
        List<String> rec;
        while (true) {
            int ln = recs.line();
            try {
                rec = recs.next();
            } catch (DataException e) {
                bad.report(e);
                break;   // an unterminated quote swallows the rest of the file
            }
            if (rec == null) {
                break;
            }
            ln = recs.startLine();
            if (rec.size() == 1 && rec.get(0).isEmpty()) {
                continue;   // blank line
            }
            if (rec.size() != header.size()) {
                bad.report(new DataException(file, ln, "expected " + header.size() + " comma-separated columns " + names
                        + ", found " + rec.size()));
                continue;
            }
            String a = rec.get(idx.get(cols[0]));
            String b = cols[1] == null ? null : rec.get(idx.get(cols[1]));
            String l = rec.get(idx.get(cols[2])).strip();
            out.add(new RawRow(a, b, l, parseNumber(l) != null, file, ln));
        }
        return out;
    }

    /** RFC 4180 records with the line each starts on. */
    static final class CsvRecords {
        private final String s;
        private final Path file;
        private int pos;
        private int line = 1;
        private int startLine;

        CsvRecords(String s, Path file) {
            this.s = s;
            this.file = file;
        }

        int line() {
            return line;
        }

        int startLine() {
            return startLine;
        }

        List<String> next() {
            if (pos >= s.length()) {
                return null;
            }
            startLine = line;
            List<String> fields = new ArrayList<>();
            StringBuilder f = new StringBuilder();
            boolean quoted = false;
            boolean fieldStart = true;
            while (pos < s.length()) {
                char c = s.charAt(pos++);
                if (quoted) {
                    if (c == '"') {
                        if (pos < s.length() && s.charAt(pos) == '"') {
                            f.append('"');
                            pos++;
                        } else {
                            quoted = false;
                        }
                    } else {
                        if (c == '\n') {
                            line++;
                        }
                        f.append(c);
                    }
                    continue;
                }
                if (c == '"' && fieldStart) {
                    quoted = true;
                    fieldStart = false;
                } else if (c == ',') {
                    fields.add(f.toString());
                    f.setLength(0);
                    fieldStart = true;
                } else if (c == '\n' || c == '\r') {
                    if (c == '\r' && pos < s.length() && s.charAt(pos) == '\n') {
                        pos++;
                    }
                    line++;
                    fields.add(f.toString());
                    return fields;
                } else {
                    f.append(c);
                    fieldStart = false;
                }
            }
            if (quoted) {
                throw new DataException(file, startLine, "unterminated quoted field (a '\"' opened here is never closed)");
            }
            fields.add(f.toString());
            return fields;
        }
    }
}
