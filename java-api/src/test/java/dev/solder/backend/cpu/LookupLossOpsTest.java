package dev.solder.backend.cpu;

import static org.junit.jupiter.api.Assertions.assertEquals;

import dev.solder.DType;
import dev.solder.Device;
import dev.solder.Ops;
import dev.solder.Scope;
import dev.solder.Tensor;
import org.junit.jupiter.api.Test;

/** Embedding (padding row, repeated ids), cross-entropy (ignore_index) and MSE. */
class LookupLossOpsTest {
    private final GradCheck gc = new GradCheck();

    private static final int V = 7;
    private static final int HID = 3;
    /** Repeats (4 three times, 2 twice) and the padding id 0 twice. */
    private static final int[] IDS = {4, 2, 0, 4, 6, 1, 2, 4, 0, 3};
    private static final int PAD = 0;

    private static double[] gather(double[] table, int[] ids) {
        double[] y = new double[ids.length * HID];
        for (int n = 0; n < ids.length; n++) {
            System.arraycopy(table, ids[n] * HID, y, n * HID, HID);
        }
        return y;
    }

    @Test
    void embeddingWithPaddingIdx() {
        double[][] g = gc.op("embedding int32 ids").input("table", V, HID)
                // padding_idx: the row is read in the forward but never receives a gradient.
                .adjustNumeric((i, num) -> java.util.Arrays.fill(num, PAD * HID, PAD * HID + HID, 0))
                .run(t -> Ops.embedding(Tensor.ofInts(IDS, 2, 5), t[0], PAD), x -> gather(x[0], IDS));
        for (int j = 0; j < HID; j++) {
            assertEquals(0.0, g[0][PAD * HID + j], 0.0, "padding row gradient must be exactly zero (" + gc.tag() + ")");
        }
        // Row 5 is never looked up: exactly zero too.
        for (int j = 0; j < HID; j++) {
            assertEquals(0.0, g[0][5 * HID + j], 0.0, "unused row 5 (" + gc.tag() + ")");
        }
    }

    @Test
    void embeddingWithInt64IdsAndNoPadding() {
        long[] ids = new long[IDS.length];
        for (int i = 0; i < ids.length; i++) {
            ids[i] = IDS[i];
        }
        gc.op("embedding int64 ids").input("table", V, HID)
                .run(t -> Ops.embedding(Tensor.ofLongs(ids, 10), t[0], -1), x -> gather(x[0], IDS));
    }

    @Test
    void gatherRowsOfAnActivationScattersItsGradientBack() {
        // Packing-style use: the source is an activation, row 0 is picked three times (the
        // spread of a padded batch) and rows 1 and 5 never (their gradient must be exactly 0).
        int[] rows = {0, 3, 0, 2, 6, 0, 4};
        double[][] g = gc.op("gatherRows [7,3] by 7 rows").input("x", V, HID)
                .run(t -> Ops.gatherRows(Ops.scale(t[0], 2f), Tensor.ofInts(rows)), x -> {
                    double[] y = gather(x[0], rows);
                    for (int i = 0; i < y.length; i++) {
                        y[i] *= 2;
                    }
                    return y;
                });
        for (int r : new int[] {1, 5}) {
            for (int j = 0; j < HID; j++) {
                assertEquals(0.0, g[0][r * HID + j], 0.0, "row " + r + " is never picked (" + gc.tag() + ")");
            }
        }
    }

    @Test
    void gatherRowsWantsAOneDimensionalIndex() {
        try (Scope s = Scope.open()) {
            var e = org.junit.jupiter.api.Assertions.assertThrows(IllegalArgumentException.class,
                    () -> Ops.gatherRows(Tensor.zeros(4, 2), Tensor.ofInts(new int[] {0, 1, 2, 3}, 2, 2)));
            org.junit.jupiter.api.Assertions.assertTrue(e.getMessage().startsWith("gatherRows: rows Tensor[2, 2]") && e.getMessage().contains("1-D"), e.getMessage());
        }
    }

    @Test
    void embeddingGradientSumsRepeatsDeterministically() {
        int n = 5000;
        int[] ids = new int[n];
        for (int i = 0; i < n; i++) {
            ids[i] = i % 3;
        }
        double[] dy = gc.randn(n * 8);
        double[] expected = new double[3 * 8];
        for (int i = 0; i < n; i++) {
            for (int j = 0; j < 8; j++) {
                expected[ids[i] * 8 + j] += dy[i * 8 + j];
            }
        }
        float[] first = null;
        for (int run = 0; run < 2; run++) {
            try (Scope s = Scope.open()) {
                Tensor table = Tensor.zeros(3, 8).requiresGrad(true);
                Ops.embedding(Tensor.ofInts(ids), table, -1).backward(GradCheck.tensor(dy, n, 8));
                float[] g = table.grad().toFloatArray();
                for (int j = 0; j < g.length; j++) {
                    // Summed in float64, rounded once: the float nearest the exact sum.
                    assertEquals((float) expected[j], g[j], 0f, "row " + j / 8 + " col " + j % 8 + " (" + gc.tag() + ")");
                }
                if (first != null) {
                    org.junit.jupiter.api.Assertions.assertArrayEquals(first, g, 0f, "deterministic (" + gc.tag() + ")");
                }
                first = g;
            }
        }
    }

    @Test
    void crossEntropyWithIgnoredRows() {
        int[] labels = {3, -100, 0, 4, -100, 1};
        gc.op("crossEntropy [6,5] ignore -100").input("logits", 6, 5)
                .run(t -> Ops.crossEntropy(t[0], Tensor.ofInts(labels)),
                        x -> new double[] {Reference.crossEntropy(x[0], labels, 5, -100)});
    }

    @Test
    void crossEntropyWithCustomIgnoreIndexAndInt64Labels() {
        int[] labels = {2, 7, 0, 1, 2};
        long[] longs = {2, 7, 0, 1, 2};
        gc.op("crossEntropy [5,3] ignore 7").input("logits", 5, 3)
                .run(t -> Ops.crossEntropy(t[0], Tensor.ofLongs(longs), 7),
                        x -> new double[] {Reference.crossEntropy(x[0], labels, 3, 7)});
    }

    @Test
    void crossEntropyOfOnlyIgnoredRowsIsZero() {
        try (Scope s = Scope.open()) {
            Tensor logits = GradCheck.tensor(gc.randn(6), 2, 3).requiresGrad(true);
            Tensor loss = Ops.crossEntropy(logits, Tensor.ofInts(new int[] {-100, -100}));
            assertEquals(0f, loss.item());
            loss.backward();
            for (float g : logits.grad().toFloatArray()) {
                assertEquals(0f, g);
            }
        }
    }

    @Test
    void crossEntropyOfLargeLogitsStaysFinite() {
        try (Scope s = Scope.open()) {
            Tensor logits = GradCheck.tensor(new double[] {1000, -1000, 0}, 1, 3);
            assertEquals(2000f, Ops.crossEntropy(logits, Tensor.ofInts(new int[] {1})).item(), 1e-3f);
            assertEquals(0f, Ops.crossEntropy(logits, Tensor.ofInts(new int[] {0})).item(), 1e-6f);
        }
    }

    @Test
    void mse() {
        gc.op("mse").input("pred", 3, 4).input("target", 3, 4)
                .run(t -> Ops.mse(t[0], t[1]), x -> {
                    double s = 0;
                    for (int i = 0; i < x[0].length; i++) {
                        s += (x[0][i] - x[1][i]) * (x[0][i] - x[1][i]);
                    }
                    return new double[] {s / x[0].length};
                });
    }

    @Test
    void embeddingOfBf16TableKeepsItsValues() {
        double[] table = GradCheck.roundTo(DType.BFLOAT16, gc.randn(V * HID));
        try (Scope s = Scope.open()) {
            Tensor t = Tensor.fromDoubles(table, DType.BFLOAT16, Device.cpu(), V, HID);
            Tensor y = Ops.embedding(Tensor.ofInts(IDS), t, PAD);
            assertEquals(DType.BFLOAT16, y.dtype());
            double[] expected = gather(table, IDS);
            double[] actual = y.toDoubleArray();
            for (int i = 0; i < expected.length; i++) {
                assertEquals(expected[i], actual[i], 0.0, "element " + i);
            }
        }
    }
}
