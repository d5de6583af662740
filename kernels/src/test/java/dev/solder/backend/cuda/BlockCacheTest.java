package dev.solder.backend.cuda;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.solder.Backends;
import dev.solder.Device;
import dev.solder.cuda.CudaOutOfMemoryException;
import dev.solder.spi.Backend;
import org.junit.jupiter.api.Test;

/** The device block cache ({@code -Dsolder.cuda.cacheFreed=true}) on the Java model of the GPU. */
class BlockCacheTest {
    private static final Device GPU = Device.cuda(0);

    @Test
    void aFreedBlockServesTheNextAllocationOfItsSizeClass() {
        FakeDeviceApi api = new FakeDeviceApi();
        BlockCache cache = new BlockCache(api, 1L << 20);
        long a = cache.alloc(1000);
        assertEquals(1, api.liveBlocks());
        cache.free(a, 1000);
        assertEquals(1, api.liveBlocks(), "a cached block stays allocated");
        assertEquals(1024, cache.cachedBytes());
        assertEquals(a, cache.alloc(600), "600 and 1000 bytes share the 1024-byte class");
        long b = cache.alloc(1100);
        assertNotEquals(a, b);
        assertEquals(2, api.liveBlocks());
        cache.free(a, 600);
        cache.free(b, 1100);
        cache.release();
        assertEquals(0, api.liveBlocks());
        assertEquals(0, cache.cachedBytes());
        assertTrue(cache.describe().contains("1 hits, 2 misses"), cache.describe());
    }

    @Test
    void beyondItsCapAFreedBlockGoesBackToTheDriver() {
        FakeDeviceApi api = new FakeDeviceApi();
        BlockCache cache = new BlockCache(api, 3000);
        long a = cache.alloc(2048);
        long b = cache.alloc(2048);
        cache.free(a, 2048);
        cache.free(b, 2048);
        assertEquals(2048, cache.cachedBytes());
        assertEquals(1, api.liveBlocks());
        cache.release();
    }

    @Test
    void outOfMemoryEmptiesTheCacheAndTriesOnce() {
        long capacity = 1L << 20;
        FakeDeviceApi api = new FakeDeviceApi(capacity);
        BlockCache cache = new BlockCache(api, Long.MAX_VALUE);
        long big = capacity / 2;
        long a = cache.alloc(big);
        cache.free(a, big);
        // Half the capacity is held by the cache: a request for 3/4 only fits once it is released.
        long b = cache.alloc(big + big / 2);
        assertEquals(0, cache.cachedBytes());
        assertEquals(1, api.liveBlocks());
        cache.free(b, big + big / 2);
        cache.release();
        // With nothing cached, out of memory is reported as it is without a cache.
        assertThrows(CudaOutOfMemoryException.class, () -> cache.alloc(capacity + 1));
    }

    @Test
    void trainingWithReusedBlocksGivesTheSameBits() throws Exception {
        float[] plain = trainOnFake(false);
        float[] cached = trainOnFake(true);
        // Reused blocks hold the previous tensor's bytes where fresh fake memory is zeroed, so an
        // op that reads what it did not write would show up here.
        assertArrayEquals(plain, cached, 0f);
    }

    private static float[] trainOnFake(boolean cacheFreed) throws Exception {
        String old = System.getProperty(BlockCache.PROPERTY);
        System.setProperty(BlockCache.PROPERTY, Boolean.toString(cacheFreed));
        FakeDeviceApi[] api = new FakeDeviceApi[1];
        try (AutoCloseable restore = CudaDevice.useFactory(ordinal -> api[0] = new FakeDeviceApi())) {
            Backend cuda = Backends.forKind(Device.Kind.CUDA);
            long before = cuda.liveBytes(GPU);
            float[] losses = new float[6];
            try (TinyEncoder model = new TinyEncoder(GPU, 11)) {
                for (int i = 0; i < losses.length; i++) {
                    losses[i] = model.step();
                }
            }
            assertEquals(before, cuda.liveBytes(GPU));
            BlockCache cache = CudaDevice.of(GPU).cache();
            assertEquals(cacheFreed, cache != null);
            if (cache != null) {
                String d = CudaBackend.describe(GPU);
                assertTrue(d.contains("block cache") && cache.cachedBytes() > 0 && cache.hits() > 100, d);
                synchronized (CudaDevice.of(GPU)) {
                    cache.release();
                }
            }
            return losses;
        } finally {
            if (old == null) {
                System.clearProperty(BlockCache.PROPERTY);
            } else {
                System.setProperty(BlockCache.PROPERTY, old);
            }
        }
    }
}
