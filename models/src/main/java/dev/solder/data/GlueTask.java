package dev.solder.data;

import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;

/**
 * The nine GLUE tasks as the original GLUE distribution lays them out ({@code glue_data/TASK/*.tsv}:
 * tab-separated, no quoting, a header line except for CoLA) and with the label names of Hugging
 * Face's {@code datasets} GLUE configs, which fine-tuned models carry as {@code id2label}.
 *
 * <table>
 * <caption>Columns read and labels</caption>
 * <tr><th>task</th><th>text a</th><th>text b</th><th>label column</th><th>labels (index order)</th></tr>
 * <tr><td>CoLA</td><td>column 3 (no header)</td><td>-</td><td>column 1</td><td>unacceptable, acceptable (0/1)</td></tr>
 * <tr><td>SST-2</td><td>sentence</td><td>-</td><td>label</td><td>negative, positive (0/1)</td></tr>
 * <tr><td>MRPC</td><td>#1 String</td><td>#2 String</td><td>Quality</td><td>not_equivalent, equivalent (0/1)</td></tr>
 * <tr><td>STS-B</td><td>sentence1</td><td>sentence2</td><td>score</td><td>regression, 0..5</td></tr>
 * <tr><td>QQP</td><td>question1</td><td>question2</td><td>is_duplicate</td><td>not_duplicate, duplicate (0/1)</td></tr>
 * <tr><td>MNLI</td><td>sentence1</td><td>sentence2</td><td>gold_label</td><td>entailment, neutral, contradiction</td></tr>
 * <tr><td>QNLI</td><td>question</td><td>sentence</td><td>label</td><td>entailment, not_entailment</td></tr>
 * <tr><td>RTE</td><td>sentence1</td><td>sentence2</td><td>label</td><td>entailment, not_entailment</td></tr>
 * <tr><td>WNLI</td><td>sentence1</td><td>sentence2</td><td>label</td><td>not_entailment, entailment (0/1)</td></tr>
 * </table>
 *
 * <p>Where the file holds numbers (0/1) they are the class index; where it holds names they are
 * looked up in the list. MNLI's validation files are {@code dev_matched.tsv} and
 * {@code dev_mismatched.tsv}; every other task has {@code dev.tsv}.
 */
public enum GlueTask {
    COLA("cola", "CoLA", null, null, null, TaskLabels.of("unacceptable", "acceptable"), true, "CoLA.zip"),
    SST2("sst2", "SST-2", "sentence", null, "label", TaskLabels.of("negative", "positive"), true, "SST-2.zip"),
    MRPC("mrpc", "MRPC", "#1 String", "#2 String", "Quality", TaskLabels.of("not_equivalent", "equivalent"), true, null),
    STSB("stsb", "STS-B", "sentence1", "sentence2", "score", TaskLabels.regressionTarget(), false, "STS-B.zip"),
    QQP("qqp", "QQP", "question1", "question2", "is_duplicate", TaskLabels.of("not_duplicate", "duplicate"), true,
            "QQP-clean.zip"),
    MNLI("mnli", "MNLI", "sentence1", "sentence2", "gold_label", TaskLabels.of("entailment", "neutral", "contradiction"),
            false, "MNLI.zip"),
    QNLI("qnli", "QNLI", "question", "sentence", "label", TaskLabels.of("entailment", "not_entailment"), false,
            "QNLIv2.zip"),
    RTE("rte", "RTE", "sentence1", "sentence2", "label", TaskLabels.of("entailment", "not_entailment"), false, "RTE.zip"),
    WNLI("wnli", "WNLI", "sentence1", "sentence2", "label", TaskLabels.of("not_entailment", "entailment"), true, "WNLI.zip");

    /** CoLA's headerless columns: source code, label, the author's original mark, sentence. */
    static final int COLA_COLUMNS = 4;
    static final int COLA_LABEL = 1;
    static final int COLA_SENTENCE = 3;

    private final String id;
    private final String dirName;
    private final String textA;
    private final String textB;
    private final String labelColumn;
    private final TaskLabels labels;
    private final boolean numericLabels;
    private final String zipName;

    GlueTask(String id, String dirName, String textA, String textB, String labelColumn, TaskLabels labels,
             boolean numericLabels, String zipName) {
        this.id = id;
        this.dirName = dirName;
        this.textA = textA;
        this.textB = textB;
        this.labelColumn = labelColumn;
        this.labels = labels;
        this.numericLabels = numericLabels;
        this.zipName = zipName;
    }

    /** The HF {@code datasets} config name: {@code cola}, {@code sst2}, {@code stsb}, {@code mnli}, ... */
    public String id() {
        return id;
    }

    /** The folder name in the GLUE distribution: {@code CoLA}, {@code SST-2}, {@code STS-B}, ... */
    public String dirName() {
        return dirName;
    }

    public TaskLabels labels() {
        return labels;
    }

    /** False for CoLA, whose files have no header line. */
    public boolean hasHeader() {
        return this != COLA;
    }

    /** The header names read: text a, text b (null for single-sentence tasks), label. Null for CoLA. */
    public List<String> columns() {
        if (!hasHeader()) {
            return null;
        }
        return textB == null ? List.of(textA, labelColumn) : List.of(textA, textB, labelColumn);
    }

    String textAColumn() {
        return textA;
    }

    String textBColumn() {
        return textB;
    }

    String labelColumn() {
        return labelColumn;
    }

    /** True when the file holds class indexes (0/1) rather than class names. */
    boolean numericLabels() {
        return numericLabels;
    }

    /** The file name of the official zip on the GLUE download host, null for MRPC (built from the MSR files). */
    String zipName() {
        return zipName;
    }

    /** The training file name. */
    public String trainFile() {
        return "train.tsv";
    }

    /** The validation file name ({@code dev_matched.tsv} for MNLI). */
    public String devFile() {
        return this == MNLI ? "dev_matched.tsv" : "dev.tsv";
    }

    /** MNLI's mismatched validation file, null for the other tasks. */
    public String devMismatchedFile() {
        return this == MNLI ? "dev_mismatched.tsv" : null;
    }

    /** The metric names HF's {@code evaluate.load("glue", task)} reports. */
    public List<String> metricNames() {
        return switch (this) {
            case COLA -> List.of("matthews_correlation");
            case STSB -> List.of("pearson", "spearmanr");
            case MRPC, QQP -> List.of("accuracy", "f1");
            default -> List.of("accuracy");
        };
    }

    private static final Map<String, GlueTask> BY_NAME = new LinkedHashMap<>();

    static {
        for (GlueTask t : values()) {
            BY_NAME.put(norm(t.id), t);
            BY_NAME.put(norm(t.dirName), t);
        }
    }

    /** Parses {@code mnli}, {@code MNLI}, {@code sst2}, {@code SST-2}, {@code sts-b}, ... */
    public static GlueTask parse(String name) {
        GlueTask t = BY_NAME.get(norm(name));
        if (t == null) {
            throw new IllegalArgumentException("unknown GLUE task '" + name + "' (known: cola, sst2, mrpc, stsb, qqp, mnli, "
                    + "qnli, rte, wnli)");
        }
        return t;
    }

    /** True when {@code name} names a GLUE task. */
    public static boolean isGlue(String name) {
        return BY_NAME.containsKey(norm(name));
    }

    private static String norm(String s) {
        return s.toLowerCase(Locale.ROOT).replace("-", "").replace("_", "");
    }
}
