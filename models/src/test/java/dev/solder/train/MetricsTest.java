package dev.solder.train;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.solder.data.GlueTask;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

/** Metrics against values computed by hand (and checked with scikit-learn / SciPy formulas). */
class MetricsTest {
    private static final double EPS = 1e-12;
    // gold: 0 0 1 1 2 2 2 ; pred: 0 1 1 1 2 0 2
    private static final int[] GOLD = {0, 0, 1, 1, 2, 2, 2};
    private static final int[] PRED = {0, 1, 1, 1, 2, 0, 2};

    @Test
    void accuracy() {
        assertEquals(5.0 / 7, Metrics.accuracy(PRED, GOLD), EPS);
    }

    @Test
    void macroF1() {
        // class 0: tp1 fp1 fn1 → 2/4; class 1: tp2 fp1 fn0 → 4/5; class 2: tp2 fp0 fn1 → 4/5
        assertEquals((0.5 + 0.8 + 0.8) / 3, Metrics.f1Macro(PRED, GOLD), EPS);
        // A class only predicted still counts (sklearn's labels = union): gold {0}, pred {0, 1}
        assertEquals((2.0 / 3 + 0) / 2, Metrics.f1Macro(new int[] {0, 1}, new int[] {0, 0}), EPS);
    }

    @Test
    void binaryF1() {
        int[] gold = {1, 1, 0, 0, 1, 0};
        int[] pred = {1, 0, 1, 0, 1, 0};
        // tp 2, fp 1, fn 1 → 4 / 6
        assertEquals(2.0 / 3, Metrics.f1Binary(pred, gold), EPS);
        assertEquals(0.0, Metrics.f1Binary(new int[] {0, 0}, new int[] {0, 0}), EPS);
    }

    @Test
    void matthews() {
        int[] gold = {1, 1, 0, 0, 1, 0};
        int[] pred = {1, 0, 1, 0, 1, 0};
        // tp 2 tn 2 fp 1 fn 1 → (4 - 1) / sqrt(3·3·3·3) = 1/3
        assertEquals(1.0 / 3, Metrics.matthews(pred, gold), EPS);
        assertEquals(0.0, Metrics.matthews(new int[] {1, 1, 1}, new int[] {0, 1, 1}), EPS);   // constant prediction
        // Multiclass (sklearn's formula): c = 5, s = 7, t = (2,2,3), p = (2,3,2)
        double cov = 5 * 7 - (2 * 2 + 2 * 3 + 3 * 2);
        double expected = cov / Math.sqrt((49 - (4 + 4 + 9)) * (49 - (4 + 9 + 4)));
        assertEquals(expected, Metrics.matthews(PRED, GOLD), EPS);
    }

    @Test
    void pearsonAndSpearmanWithTies() {
        double[] x = {1, 2, 3, 4, 5};
        double[] y = {2, 4, 5, 4, 5};
        // Pearson: mx 3, my 4; sxy = (-2)(-2)+(-1)(0)+0(1)+1(0)+2(1) = 6; sxx 10; syy 4+0+1+0+1 = 6
        assertEquals(6 / Math.sqrt(60), Metrics.pearson(x, y), EPS);
        // Ranks of y with ties averaged: 2→1, 4→2.5, 5→4.5, 4→2.5, 5→4.5
        assertArrayEquals(new double[] {1, 2.5, 4.5, 2.5, 4.5}, Metrics.ranks(y), EPS);
        // Spearman = Pearson(ranks): rx = x; ry mean 3: d = (-2, -.5, 1.5, -.5, 1.5) → sxy = 4 + .5 + 0 - .5 + 3 = 7, syy = 4+.25+2.25+.25+2.25 = 9
        assertEquals(7 / Math.sqrt(10 * 9), Metrics.spearman(x, y), EPS);
        assertTrue(Double.isNaN(Metrics.pearson(new double[] {1, 1}, new double[] {1, 2})));
    }

    @Test
    void notebookAndGlueKeys() {
        var p = new EvalPrediction(new float[][] {{2, 0, 1}, {0, 3, 1}, {0, 0, 5}}, new int[] {0, 1, 1}, null);
        Map<String, Double> m = Metrics.accuracyAndMacroF1().compute(p);
        assertEquals(List.of("F1", "Accuracy"), List.copyOf(m.keySet()));
        assertEquals(2.0 / 3, m.get("Accuracy"), EPS);
        assertEquals(List.of("accuracy", "f1", "combined_score"),
                List.copyOf(Metrics.glue(GlueTask.MRPC).compute(new EvalPrediction(new float[][] {{0, 1}}, new int[] {1}, null))
                        .keySet()));
        assertEquals(List.of("matthews_correlation"), List.copyOf(Metrics.glue(GlueTask.COLA)
                .compute(new EvalPrediction(new float[][] {{0, 1}}, new int[] {1}, null)).keySet()));
        var reg = new EvalPrediction(new float[][] {{1}, {2}, {3}}, null, new float[] {1, 2, 4});
        assertEquals(List.of("pearson", "spearmanr", "combined_score"), List.copyOf(Metrics.glue(GlueTask.STSB).compute(reg).keySet()));
        assertEquals(1.0, Metrics.glue(GlueTask.STSB).compute(reg).get("spearmanr"), EPS);
    }

    @Test
    void pythonFormatting() {
        assertEquals("4.5e-05", PyFormat.repr(4.5e-5));
        assertEquals("5e-05", PyFormat.repr(5e-5));
        assertEquals("0.0001", PyFormat.repr(1e-4));
        assertEquals("3.0", PyFormat.repr(3.0));
        assertEquals("100.0", PyFormat.repr(100));
        assertEquals("0.6931", PyFormat.repr(PyFormat.round(0.69314718, 4)));
        assertEquals("1e+16", PyFormat.repr(1e16));
        assertEquals("1e+30", PyFormat.repr(1e30));
        assertEquals("-2.5", PyFormat.repr(-2.5));
        assertEquals("nan", PyFormat.repr(Double.NaN));
        assertEquals("2.675", PyFormat.repr(PyFormat.round(2.675, 3)));
        assertEquals(2.67, PyFormat.round(2.675, 2), 0);   // as Python: 2.675 is 2.67499999... in binary
        Map<String, Object> m = new java.util.LinkedHashMap<>();
        m.put("loss", 0.5);
        m.put("epoch", 1.0);
        m.put("step", 3L);
        m.put("name", "x");
        assertEquals("{'loss': 0.5, 'epoch': 1.0, 'step': 3, 'name': 'x'}", PyFormat.dict(m));
    }
}
