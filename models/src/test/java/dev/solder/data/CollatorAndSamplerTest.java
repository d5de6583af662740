package dev.solder.data;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;

import dev.solder.DType;
import dev.solder.Device;
import dev.solder.Scope;
import java.util.Arrays;
import java.util.List;
import org.junit.jupiter.api.Test;

class CollatorAndSamplerTest {
    @Test
    @SuppressWarnings("try")
    void padsToTheLongestRow() {
        var rows = List.of(new Features(new int[] {2, 7, 3}, new int[] {0, 0, 0}, 1, Float.NaN),
                new Features(new int[] {2, 8, 9, 3, 5, 3}, new int[] {0, 0, 0, 0, 1, 1}, 0, Float.NaN));
        try (Scope s = Scope.open()) {
            Batch b = new DataCollatorWithPadding(0).collate(rows, Device.cpu());
            assertArrayEquals(new int[] {2, 6}, b.inputIds().shape());
            assertArrayEquals(new long[] {2, 7, 3, 0, 0, 0, 2, 8, 9, 3, 5, 3}, b.inputIds().toLongArray());
            assertArrayEquals(new long[] {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 1}, b.tokenTypeIds().toLongArray());
            assertArrayEquals(new long[] {1, 1, 1, 0, 0, 0, 1, 1, 1, 1, 1, 1}, b.attentionMask().toLongArray());
            assertArrayEquals(new long[] {1, 0}, b.labels().toLongArray());
            assertEquals(DType.INT64, b.labels().dtype());
            assertEquals(9, b.tokens());
            Batch m = new DataCollatorWithPadding(0, 8).collate(rows, Device.cpu());
            assertEquals(8, m.seqLength());
        }
    }

    @Test
    @SuppressWarnings("try")
    void regressionLabelsAreFloat() {
        var rows = List.of(new Features(new int[] {2, 3}, new int[] {0, 0}, -1, 4.5f));
        try (Scope s = Scope.open()) {
            Batch b = new DataCollatorWithPadding(0).collate(rows, Device.cpu());
            assertEquals(DType.FLOAT32, b.labels().dtype());
            assertEquals(4.5f, b.labels().item());
        }
    }

    @Test
    void randomSamplerIsAPermutationFixedBySeedAndEpoch() {
        RandomSampler s = new RandomSampler(100, 42);
        int[] e0 = s.order(0);
        assertArrayEquals(e0, new RandomSampler(100, 42).order(0));
        assertFalse(Arrays.equals(e0, s.order(1)));
        assertFalse(Arrays.equals(e0, new RandomSampler(100, 43).order(0)));
        int[] sorted = e0.clone();
        Arrays.sort(sorted);
        assertArrayEquals(new SequentialSampler(100).order(0), sorted);
    }

    @Test
    void lengthGroupedPutsTheLongestFirstAndGroupsLengths() {
        int n = 400;
        int[] lengths = new int[n];
        for (int i = 0; i < n; i++) {
            lengths[i] = 5 + (i * 37) % 100;
        }
        int[] o = new LengthGroupedSampler(lengths, 4, 42).order(0);
        int[] sorted = o.clone();
        Arrays.sort(sorted);
        assertArrayEquals(new SequentialSampler(n).order(0), sorted);
        assertEquals(Arrays.stream(lengths).max().getAsInt(), lengths[o[0]]);
        // Within a mega-batch (min(400 / 16, 50) × 4 = 100 rows) lengths descend after the first.
        for (int i = 2; i < 100; i++) {
            assertFalse(lengths[o[i]] > lengths[o[i - 1]], "not sorted at " + i);
        }
    }
}
