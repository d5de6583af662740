package dev.solder.backend.cpu;

import static org.junit.jupiter.api.Assertions.assertEquals;

import org.junit.jupiter.api.Test;

class CpuStorageTest {
    @Test
    void aFreedBlockServesSlightlyDifferentSizesButNotMuchSmallerOnes() {
        CpuStorage.releaseCache();
        long big = 3_000_000;
        CpuStorage a = new CpuStorage(big);
        // Size classes are quarters of the power of two below: 3,000,000 needs 6 × 524,288 bytes.
        long blockA = 6 * 524_288;
        assertEquals(blockA, CpuStorage.sizeClass(big));
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

    @Test
    void sizeClassesAreHandComputedRoundings() {
        assertEquals(64, CpuStorage.sizeClass(1), "at least 64 bytes");
        assertEquals(128, CpuStorage.sizeClass(100), "up to 4 KiB: multiples of 64");
        assertEquals(4096, CpuStorage.sizeClass(4096));
        assertEquals(5120, CpuStorage.sizeClass(4097), "above: quarters of 4096");
        assertEquals(8192, CpuStorage.sizeClass(8192));
        assertEquals(10240, CpuStorage.sizeClass(8193), "quarters of 8192");
    }
}
