package dev.solder.backend.cuda;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;

import org.junit.jupiter.api.Test;

/** Merging of strided-copy dims (fewer dims: fewer divisions per element, and rank ≤ 6). */
class CopyGeometryTest {

    @Test
    void contiguousCollapsesToOneDim() {
        CudaCopy.Strided s = CudaCopy.Strided.of(new int[] {2, 3, 4}, new long[] {12, 4, 1}, new long[] {12, 4, 1});
        assertArrayEquals(new long[] {24}, s.sizes());
        assertArrayEquals(new long[] {1}, s.srcStrides());
    }

    @Test
    void transposeKeepsTwoDims() {
        // src is the transpose view of a [4, 3] matrix: shape [3, 4], strides [1, 3]
        CudaCopy.Strided s = CudaCopy.Strided.of(new int[] {3, 4}, new long[] {1, 3}, new long[] {4, 1});
        assertArrayEquals(new long[] {3, 4}, s.sizes());
        assertArrayEquals(new long[] {1, 3}, s.srcStrides());
        assertArrayEquals(new long[] {4, 1}, s.dstStrides());
    }

    @Test
    void sizeOneDimsDropAndNarrowedRowsMerge() {
        // narrow(1, 2, 5) of [2, 1, 10, 8]: shape [2, 1, 5, 8], strides [80, 80, 8, 1]
        CudaCopy.Strided s = CudaCopy.Strided.of(new int[] {2, 1, 5, 8}, new long[] {80, 80, 8, 1}, new long[] {40, 40, 8, 1});
        assertArrayEquals(new long[] {2, 40}, s.sizes());
        assertArrayEquals(new long[] {80, 1}, s.srcStrides());
        assertArrayEquals(new long[] {40, 1}, s.dstStrides());
        assertEquals(80, s.numel());
    }

    @Test
    void scalarIsOneElement() {
        CudaCopy.Strided s = CudaCopy.Strided.of(new int[0], new long[0], new long[0]);
        assertArrayEquals(new long[] {1}, s.sizes());
        assertEquals(1, s.numel());
    }

    @Test
    void broadcastStrideZeroStays() {
        CudaCopy.Strided s = CudaCopy.Strided.of(new int[] {5, 3}, new long[] {0, 1}, new long[] {3, 1});
        assertArrayEquals(new long[] {5, 3}, s.sizes());
        assertArrayEquals(new long[] {0, 1}, s.srcStrides());
    }
}
