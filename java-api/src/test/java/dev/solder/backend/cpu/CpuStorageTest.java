package dev.solder.backend.cpu;

import static org.junit.jupiter.api.Assertions.assertEquals;

import org.junit.jupiter.api.Test;

class CpuStorageTest {
    @Test
    void aFreedBlockServesSlightlyDifferentSizesButNotMuchSmallerOnes() {
        CpuStorage.releaseCache();
        long big = 3_000_000;
        CpuStorage a = new CpuStorage(big);
        long blockA = CpuStorage.sizeClass(big);
        a.release();
        assertEquals(blockA, CpuStorage.cachedBytes(), "a freed block is kept");

        // A dynamically padded batch one token shorter: served from the cached block.
        CpuStorage b = new CpuStorage(big - 40_000);
        assertEquals(big - 40_000, b.segment().byteSize(), "the segment is exactly the size asked for");
        assertEquals(0, CpuStorage.cachedBytes(), "taken from the cache");

        // Far smaller requests do not pin a large block: they get a fresh one.
        b.release();
        CpuStorage c = new CpuStorage(big / 4);
        assertEquals(blockA, CpuStorage.cachedBytes(), "the large block stays cached");
        c.release();
        CpuStorage.releaseCache();
        assertEquals(0, CpuStorage.cachedBytes());
    }
}
