package dev.solder.data;

import dev.solder.tokenizer.BertTokenizer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;

/**
 * Reads GLUE tasks from their original TSV files.
 *
 * <pre>{@code
 * // a folder holding train.tsv and dev.tsv (MNLI: dev_matched.tsv, dev_mismatched.tsv),
 * // or null to download the official zip into ~/.cache/solder/glue
 * TaskData rte = Glue.load("rte", Path.of("glue_data/RTE"), tokenizer);
 * Dataset train = rte.train().take(1000);          // HF select(range(1000))
 * }</pre>
 *
 * <p>Files are read as Python's {@code csv} module with {@code delimiter='\t',
 * quoting=QUOTE_NONE} reads them (the way HF's GLUE loader does): split on tabs only, quotes kept
 * as text, a UTF-8 byte-order mark ignored, blank lines skipped. The header decides which column is
 * which, so the extra columns of MNLI or STS-B are simply ignored. Every problem is reported with
 * {@code file:line} and what was expected; with {@link ReadOptions#skipBadRows()} ragged rows and
 * unknown labels are skipped and counted instead ({@link Dataset#skippedRows()}).
 */
public final class Glue {
    private Glue() {
    }

    /** Reads all rows of {@code task}'s splits from {@code dataDir} (null: download) and binds {@code tokenizer} (max length 128). */
    public static TaskData load(String task, Path dataDir, BertTokenizer tokenizer) {
        return load(GlueTask.parse(task), dataDir, ReadOptions.all(), ReadOptions.all()).tokenized(tokenizer, 128);
    }

    /**
     * Reads {@code task}'s train and validation files from {@code dataDir}, or from the download
     * cache when {@code dataDir} is null ({@link GlueDownloader#ensure}). {@code dataDir} may also
     * be the GLUE root holding a {@code TASK/} folder per task.
     */
    public static TaskData load(GlueTask task, Path dataDir, ReadOptions train, ReadOptions eval) {
        Path dir = dataDir == null ? GlueDownloader.fromEnvironment().ensure(task) : taskDir(task, dataDir);
        Dataset tr = read(task, dir.resolve(task.trainFile()), train);
        Dataset dev = read(task, dir.resolve(task.devFile()), eval);
        Dataset mm = null;
        if (task.devMismatchedFile() != null && Files.isRegularFile(dir.resolve(task.devMismatchedFile()))) {
            mm = read(task, dir.resolve(task.devMismatchedFile()), eval);
        }
        return new TaskData(task.id(), tr, dev, mm);
    }

    /** The folder holding the task's files: {@code dataDir} itself, or {@code dataDir/TASK} (the GLUE root). */
    static Path taskDir(GlueTask task, Path dataDir) {
        if (!Files.isDirectory(dataDir)) {
            throw new DataException("--data-dir " + dataDir + " is not a directory (expected a folder holding "
                    + expectedFiles(task) + ")");
        }
        if (Files.isRegularFile(dataDir.resolve(task.trainFile()))) {
            return dataDir;
        }
        Path sub = dataDir.resolve(task.dirName());
        if (Files.isRegularFile(sub.resolve(task.trainFile()))) {
            return sub;
        }
        throw new DataException("no " + task.trainFile() + " in " + dataDir + " (nor in " + sub + "): --data-dir must hold the GLUE "
                + task.dirName() + " files " + expectedFiles(task));
    }

    static String expectedFiles(GlueTask task) {
        List<String> f = new ArrayList<>(List.of(task.trainFile(), task.devFile()));
        if (task.devMismatchedFile() != null) {
            f.add(task.devMismatchedFile());
        }
        return String.join(", ", f);
    }

    /** Reads one GLUE file of {@code task}. */
    public static Dataset read(GlueTask task, Path file, ReadOptions opts) {
        if (!Files.isRegularFile(file)) {
            throw new DataException("no such file " + file + " (GLUE " + task.dirName() + " needs " + expectedFiles(task) + ")");
        }
        BadRows bad = new BadRows(opts.skipBadRows());
        List<Example> out = new ArrayList<>();
        String fname = file.getFileName().toString();
        try (TextLines lines = new TextLines(file)) {
            int nCols;
            int ia;
            int ib;
            int il;
            String[] names;
            if (task.hasHeader()) {
                String header = lines.next();
                if (header == null || header.isBlank()) {
                    throw new DataException(file, header == null ? 0 : 1, "empty file: expected a header line with the columns "
                            + task.columns() + " of GLUE " + task.dirName());
                }
                names = TextLines.splitTabs(header);
                Map<String, Integer> index = new HashMap<>();
                for (int i = names.length - 1; i >= 0; i--) {
                    index.put(names[i].strip(), i);
                }
                for (String want : task.columns()) {
                    if (!index.containsKey(want)) {
                        throw new DataException(file, 1, "missing column '" + want + "': the header has " + List.of(names)
                                + ", GLUE " + task.dirName() + " needs " + task.columns());
                    }
                }
                nCols = names.length;
                ia = index.get(task.textAColumn());
                ib = task.textBColumn() == null ? -1 : index.get(task.textBColumn());
                il = index.get(task.labelColumn());
            } else {
                names = new String[] {"source", "label", "original_label", "sentence"};
                nCols = GlueTask.COLA_COLUMNS;
                ia = GlueTask.COLA_SENTENCE;
                ib = -1;
                il = GlueTask.COLA_LABEL;
            }
            String line;
            while (!opts.full(out.size()) && (line = lines.next()) != null) {
                if (line.isEmpty()) {
                    continue;   // Python's csv reader yields no row for a blank line
                }
                int ln = lines.lineNumber();
                String[] cells = TextLines.splitTabs(line);
                if (cells.length != nCols) {
                    bad.report(new DataException(file, ln, "expected " + nCols + " tab-separated columns " + List.of(names)
                            + ", found " + cells.length));
                    continue;
                }
                String a = cells[ia];
                String b = ib < 0 ? null : cells[ib];
                String raw = cells[il].strip();
                String src = fname + ":" + ln;
                if (task.labels().regression()) {
                    float score;
                    try {
                        score = Float.parseFloat(raw);
                    } catch (NumberFormatException e) {
                        score = Float.NaN;
                    }
                    if (!Float.isFinite(score)) {
                        bad.report(new DataException(file, ln, "column '" + names[il] + "' holds '" + raw
                                + "', expected a number (the " + task.dirName() + " similarity score)"));
                        continue;
                    }
                    out.add(new Example(a, b, -1, score, src));
                } else {
                    int label = parseLabel(task, raw);
                    if (label < 0) {
                        bad.report(new DataException(file, ln, "unknown label '" + raw + "' in column '" + names[il]
                                + "', expected one of " + expectedLabels(task)));
                        continue;
                    }
                    out.add(new Example(a, b, label, Float.NaN, src));
                }
            }
            if (out.isEmpty()) {
                throw new DataException(file, 0, (bad.count() > 0 ? "no usable rows (" + bad.count() + " bad rows skipped, first: "
                        + bad.firstMessages().get(0) + ")" : "empty file: no data rows")
                        + (task.hasHeader() ? " after the header" : "") + "; expected GLUE " + task.dirName() + " rows");
            }
        }
        String split = fname.toLowerCase(Locale.ROOT).replace(".tsv", "");
        return new Dataset(task.id() + "/" + split, out, task.labels(), bad.count(), bad.firstMessages(), null, 0);
    }

    private static String expectedLabels(GlueTask task) {
        if (task.numericLabels()) {
            List<String> s = new ArrayList<>();
            for (int i = 0; i < task.labels().numLabels(); i++) {
                s.add(i + " (" + task.labels().names().get(i) + ")");
            }
            return s.toString();
        }
        return task.labels().names().toString();
    }

    static int parseLabel(GlueTask task, String raw) {
        if (task.numericLabels()) {
            try {
                int v = Integer.parseInt(raw);
                return v >= 0 && v < task.labels().numLabels() ? v : -1;
            } catch (NumberFormatException e) {
                return -1;
            }
        }
        return task.labels().indexOf(raw);
    }
}
