package dev.solder.train;

import dev.solder.data.GlueTask;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.TreeSet;

/**
 * Evaluation metrics as scikit-learn and SciPy compute them (the functions behind HF's
 * {@code evaluate} GLUE metric), and ready-made {@link MetricFn}s.
 *
 * <pre>{@code
 * MetricFn m = Metrics.accuracyAndMacroF1();   // {"F1": ..., "Accuracy": ...}, the MNLI notebook's
 * MetricFn g = Metrics.glue(GlueTask.MRPC);      // {"accuracy", "f1", "combined_score"}
 * }</pre>
 */
public final class Metrics {
    private Metrics() {
    }

    // ------------------------------------------------------------------ metric functions

    /** Fraction of equal entries ({@code accuracy_score}). */
    public static double accuracy(int[] pred, int[] gold) {
        check(pred.length, gold.length);
        int ok = 0;
        for (int i = 0; i < pred.length; i++) {
            if (pred[i] == gold[i]) {
                ok++;
            }
        }
        return pred.length == 0 ? 0.0 : (double) ok / pred.length;
    }

    /**
     * Macro-averaged F1 ({@code f1_score(average="macro")}): the unweighted mean, over every class
     * that occurs in the gold labels or the predictions, of {@code 2·tp / (2·tp + fp + fn)}.
     */
    public static double f1Macro(int[] pred, int[] gold) {
        check(pred.length, gold.length);
        TreeSet<Integer> classes = new TreeSet<>();
        for (int i = 0; i < pred.length; i++) {
            classes.add(pred[i]);
            classes.add(gold[i]);
        }
        if (classes.isEmpty()) {
            return 0.0;
        }
        double sum = 0;
        for (int c : classes) {
            sum += f1For(pred, gold, c);
        }
        return sum / classes.size();
    }

    /** Binary F1 of the positive class 1 ({@code f1_score(average="binary")}); 0 when it never occurs in either. */
    public static double f1Binary(int[] pred, int[] gold) {
        check(pred.length, gold.length);
        return f1For(pred, gold, 1);
    }

    private static double f1For(int[] pred, int[] gold, int c) {
        long tp = 0;
        long fp = 0;
        long fn = 0;
        for (int i = 0; i < pred.length; i++) {
            boolean p = pred[i] == c;
            boolean g = gold[i] == c;
            if (p && g) {
                tp++;
            } else if (p) {
                fp++;
            } else if (g) {
                fn++;
            }
        }
        long den = 2 * tp + fp + fn;
        return den == 0 ? 0.0 : 2.0 * tp / den;
    }

    /** Matthews correlation coefficient, multiclass form ({@code matthews_corrcoef}); 0 when undefined. */
    public static double matthews(int[] pred, int[] gold) {
        check(pred.length, gold.length);
        TreeSet<Integer> cls = new TreeSet<>();
        for (int i = 0; i < pred.length; i++) {
            cls.add(pred[i]);
            cls.add(gold[i]);
        }
        Integer[] classes = cls.toArray(new Integer[0]);
        int k = classes.length;
        double[] t = new double[k];
        double[] p = new double[k];
        double correct = 0;
        for (int i = 0; i < pred.length; i++) {
            int gi = Arrays.binarySearch(classes, gold[i]);
            int pi = Arrays.binarySearch(classes, pred[i]);
            t[gi]++;
            p[pi]++;
            if (gi == pi) {
                correct++;
            }
        }
        double n = pred.length;
        double tp = 0;
        double pp = 0;
        double tt = 0;
        for (int c = 0; c < k; c++) {
            tp += t[c] * p[c];
            pp += p[c] * p[c];
            tt += t[c] * t[c];
        }
        double covYtYp = correct * n - tp;
        double covYpYp = n * n - pp;
        double covYtYt = n * n - tt;
        if (covYpYp * covYtYt == 0) {
            return 0.0;
        }
        return covYtYp / Math.sqrt(covYtYt * covYpYp);
    }

    /** Pearson's r ({@code scipy.stats.pearsonr}); NaN when either side is constant. */
    public static double pearson(double[] x, double[] y) {
        check(x.length, y.length);
        int n = x.length;
        if (n < 2) {
            return Double.NaN;
        }
        double mx = 0;
        double my = 0;
        for (int i = 0; i < n; i++) {
            mx += x[i];
            my += y[i];
        }
        mx /= n;
        my /= n;
        double sxy = 0;
        double sxx = 0;
        double syy = 0;
        for (int i = 0; i < n; i++) {
            double dx = x[i] - mx;
            double dy = y[i] - my;
            sxy += dx * dy;
            sxx += dx * dx;
            syy += dy * dy;
        }
        if (sxx == 0 || syy == 0) {
            return Double.NaN;
        }
        double r = sxy / (Math.sqrt(sxx) * Math.sqrt(syy));
        return Math.max(-1.0, Math.min(1.0, r));
    }

    /** Spearman's rho ({@code scipy.stats.spearmanr}): Pearson's r of the ranks, ties given their average rank. */
    public static double spearman(double[] x, double[] y) {
        check(x.length, y.length);
        return pearson(ranks(x), ranks(y));
    }

    /** 1-based ranks, ties averaged ({@code scipy.stats.rankdata(method="average")}). */
    public static double[] ranks(double[] v) {
        int n = v.length;
        Integer[] idx = new Integer[n];
        for (int i = 0; i < n; i++) {
            idx[i] = i;
        }
        Arrays.sort(idx, (a, b) -> Double.compare(v[a], v[b]));
        double[] r = new double[n];
        int i = 0;
        while (i < n) {
            int j = i;
            while (j + 1 < n && v[idx[j + 1]] == v[idx[i]]) {
                j++;
            }
            double avg = (i + j) / 2.0 + 1;
            for (int k = i; k <= j; k++) {
                r[idx[k]] = avg;
            }
            i = j + 1;
        }
        return r;
    }

    private static void check(int a, int b) {
        if (a != b) {
            throw new IllegalArgumentException("predictions (" + a + ") and labels (" + b + ") differ in length");
        }
    }

    // ------------------------------------------------------------------ metric sets

    /**
     * The MNLI notebook's {@code compute_metrics}: {@code {"F1": macro F1, "Accuracy": accuracy}},
     * reported as {@code eval_F1} and {@code eval_Accuracy}.
     */
    public static MetricFn accuracyAndMacroF1() {
        return p -> {
            int[] pred = p.predictedClasses();
            Map<String, Double> m = new LinkedHashMap<>();
            m.put("F1", f1Macro(pred, p.labelIds()));
            m.put("Accuracy", accuracy(pred, p.labelIds()));
            return m;
        };
    }

    /** {@code {"accuracy": ...}}. */
    public static MetricFn accuracy() {
        return p -> {
            Map<String, Double> m = new LinkedHashMap<>();
            m.put("accuracy", accuracy(p.predictedClasses(), p.labelIds()));
            return m;
        };
    }

    /** {@code {"pearson", "spearmanr", "combined_score"}} for a regression head. */
    public static MetricFn regression() {
        return p -> {
            double[] pred = p.predictedValues();
            double[] gold = p.goldValues();
            Map<String, Double> m = new LinkedHashMap<>();
            m.put("pearson", pearson(pred, gold));
            m.put("spearmanr", spearman(pred, gold));
            m.put("combined_score", (m.get("pearson") + m.get("spearmanr")) / 2);
            return m;
        };
    }

    /**
     * HF's {@code evaluate.load("glue", task)} as {@code run_glue.py} reports it: CoLA
     * {@code matthews_correlation}; STS-B {@code pearson}, {@code spearmanr}; MRPC and QQP
     * {@code accuracy}, {@code f1} (binary); the rest {@code accuracy}; with several metrics, their
     * mean as {@code combined_score}.
     */
    public static MetricFn glue(GlueTask task) {
        if (task == GlueTask.STSB) {
            return regression();
        }
        return p -> {
            int[] pred = p.predictedClasses();
            int[] gold = p.labelIds();
            Map<String, Double> m = new LinkedHashMap<>();
            switch (task) {
                case COLA -> m.put("matthews_correlation", matthews(pred, gold));
                case MRPC, QQP -> {
                    m.put("accuracy", accuracy(pred, gold));
                    m.put("f1", f1Binary(pred, gold));
                    m.put("combined_score", (m.get("accuracy") + m.get("f1")) / 2);
                }
                default -> m.put("accuracy", accuracy(pred, gold));
            }
            return m;
        };
    }
}
