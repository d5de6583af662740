package dev.solder.backend.cuda;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import org.junit.jupiter.api.Test;

/** The launch-shape arithmetic, which decides coverage (every element visited) and determinism. */
class LaunchConfigTest {

    @Test
    void linearCoversEveryElement() {
        assertTrue(LaunchConfig.linear(0).empty());
        assertEquals(1, LaunchConfig.linear(1).gridX());
        assertEquals(1, LaunchConfig.linear(256).gridX());
        assertEquals(2, LaunchConfig.linear(257).gridX());
        assertEquals(LaunchConfig.MAX_LINEAR_BLOCKS, LaunchConfig.linear(1L << 40).gridX(), "capped: the kernels grid-stride");
        for (long n : new long[] {1, 7, 255, 256, 257, 1000003, 1L << 33}) {
            LaunchConfig c = LaunchConfig.linear(n);
            assertEquals(256, c.blockX());
            assertTrue((long) c.gridX() * c.blockX() >= Math.min(n, (long) LaunchConfig.MAX_LINEAR_BLOCKS * 256));
        }
        assertThrows(IllegalArgumentException.class, () -> LaunchConfig.linear(-1));
    }

    @Test
    void vec8GivesAThreadEveryEightElements() {
        assertTrue(LaunchConfig.vec8(0).empty());
        assertEquals(1, LaunchConfig.vec8(1).gridX());
        assertEquals(1, LaunchConfig.vec8(8 * 256).gridX());
        assertEquals(2, LaunchConfig.vec8(8 * 256 + 1).gridX(), "the tail element needs a thread of its own unit");
        assertEquals(1536, LaunchConfig.vec8(4096L * 768).gridX(), "BERT-Base's [4096, 768] at batch 32 x 128");
        for (long n : new long[] {1, 7, 8, 9, 2047, 2048, 2049, 1000003, 1L << 33}) {
            LaunchConfig c = LaunchConfig.vec8(n);
            assertEquals(256, c.blockX());
            assertTrue((long) c.gridX() * c.blockX() * 8 >= Math.min(n, (long) LaunchConfig.MAX_LINEAR_BLOCKS * 256 * 8),
                    "units of " + n + " covered (or the grid capped: the kernels grid-stride)");
        }
        assertThrows(IllegalArgumentException.class, () -> LaunchConfig.vec8(-1));
    }

    @Test
    void biasGeluBackwardTilesAreTwoHundredFiftySixColumns() {
        // BERT-Base's up-projection at batch 32 x 128: 12 column tiles, rows split to reach ~1024 blocks.
        LaunchConfig.ColumnSplit s = LaunchConfig.columnSplit(4096, 3072, LaunchConfig.BIAS_GELU_TILE);
        assertEquals(12, s.colTiles());
        assertTrue((long) s.chunks() * s.rowsPerChunk() >= 4096);
        assertTrue((long) (s.chunks() - 1) * s.rowsPerChunk() < 4096);
        assertTrue((long) s.colTiles() * s.chunks() <= LaunchConfig.COLUMN_TARGET_BLOCKS);
        assertTrue((long) s.colTiles() * s.chunks() > LaunchConfig.COLUMN_TARGET_BLOCKS / 2);
        assertEquals(32, s.partial().blockX());
        assertEquals(8, s.partial().blockY());
        assertEquals(1, LaunchConfig.columnSplit(5, 200, LaunchConfig.BIAS_GELU_TILE).colTiles());
        assertEquals(2, LaunchConfig.columnSplit(5, 257, LaunchConfig.BIAS_GELU_TILE).colTiles());
    }

    @Test
    void rowsGiveOneWarpPerRow() {
        LaunchConfig c = LaunchConfig.rows(17);
        assertEquals(256, c.blockX());
        assertEquals(3, c.gridX());
        assertTrue(LaunchConfig.rows(0).empty());
        assertEquals(LaunchConfig.MAX_LINEAR_BLOCKS, LaunchConfig.rows(1L << 36).gridX());
    }

    @Test
    void reductionsDependOnlyOnSize() {
        assertEquals(1, LaunchConfig.reducePartial(0).gridX(), "one partial even for an empty input");
        assertEquals(1, LaunchConfig.reducePartial(256).gridX());
        assertEquals(4, LaunchConfig.reducePartial(1000).gridX());
        assertEquals(LaunchConfig.MAX_REDUCE_BLOCKS, LaunchConfig.reducePartial(1L << 30).gridX());
        assertEquals(1, LaunchConfig.single().gridX());
    }

    @Test
    void columnSplitCoversEveryRowOnce() {
        long[][] cases = {{1, 1}, {1, 768}, {4096, 768}, {7, 3}, {100003, 5}, {33, 1}, {1 << 20, 1}, {3, 100000},
            {4097, 30522}};
        for (long[] c : cases) {
            long rows = c[0];
            long cols = c[1];
            LaunchConfig.ColumnSplit s = LaunchConfig.columnSplit(rows, cols);
            assertEquals(LaunchConfig.ceilDiv(cols, 32), s.colTiles(), "tiles of " + rows + "x" + cols);
            assertTrue((long) s.chunks() * s.rowsPerChunk() >= rows, "rows covered for " + rows + "x" + cols);
            assertTrue((long) (s.chunks() - 1) * s.rowsPerChunk() < rows, "no empty chunk for " + rows + "x" + cols);
            assertTrue(s.chunks() >= 1 && s.chunks() <= LaunchConfig.MAX_GRID_Y);
            LaunchConfig p = s.partial();
            assertEquals(32, p.blockX());
            assertEquals(8, p.blockY());
        }
        assertThrows(IllegalArgumentException.class, () -> LaunchConfig.columnSplit(0, 4));
    }

    @Test
    void columnFinishHasATileOfThirtyTwoColumnsByEightSlicesPerBlockAndOnePlanePerOutput() {
        LaunchConfig ln = LaunchConfig.columnFinish(768, 2);   // LayerNorm's dgamma and dbeta
        assertEquals(24, ln.gridX());
        assertEquals(2, ln.gridY());
        assertEquals(32, ln.blockX());
        assertEquals(8, ln.blockY());
        assertEquals(1, LaunchConfig.columnFinish(3, 1).gridX());
        assertEquals(1, LaunchConfig.columnFinish(3, 1).gridY());
        assertEquals(2, LaunchConfig.columnFinish(33, 1).gridX());
        // the kernel strides over column tiles past the 1-D cap
        assertEquals(LaunchConfig.MAX_LINEAR_BLOCKS, LaunchConfig.columnFinish(1L << 40, 1).gridX());
        assertThrows(IllegalArgumentException.class, () -> LaunchConfig.columnFinish(0, 1));
        assertThrows(IllegalArgumentException.class, () -> LaunchConfig.columnFinish(8, 3));
    }

    @Test
    void embeddingBuckets() {
        assertEquals(1, LaunchConfig.embeddingBuckets(1));
        assertEquals(2, LaunchConfig.embeddingBuckets(2));
        assertEquals(256, LaunchConfig.embeddingBuckets(30522));
        LaunchConfig c = LaunchConfig.embeddingBackward(768, 30522);
        assertEquals(6, c.gridX());
        assertEquals(256, c.gridY());
        assertEquals(128, c.blockX());
        assertEquals(1, LaunchConfig.embeddingBackward(1, 5).gridX());
    }

    @Test
    void rejectsImpossibleShapes() {
        assertThrows(IllegalArgumentException.class, () -> new LaunchConfig(1, 1, 2048, 1, 0));
        assertThrows(IllegalArgumentException.class, () -> new LaunchConfig(1, 70000, 32, 1, 0));
        assertThrows(IllegalArgumentException.class, () -> new LaunchConfig(1, 0, 32, 1, 0));
    }
}
