package dev.solder.backend.cpu;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicIntegerArray;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

@Timeout(value = 60, unit = TimeUnit.SECONDS)   // a lost wake-up would hang, not fail
class CpuParallelTest {
    private static void coversEachIndexOnce(int n, int grain) {
        AtomicIntegerArray hits = new AtomicIntegerArray(n);
        CpuParallel.forRange(n, grain, (lo, hi) -> {
            for (int i = lo; i < hi; i++) {
                hits.incrementAndGet(i);
            }
        });
        for (int i = 0; i < n; i++) {
            assertEquals(1, hits.get(i), "index " + i + " of " + n + " (grain " + grain + ")");
        }
    }

    @Test
    void everyIndexRunsExactlyOnceAcrossManyLoops() {
        for (int n : new int[] {1, 2, 7, 1000, 100_003}) {
            for (int grain : new int[] {1, 3, 64}) {
                coversEachIndexOnce(n, grain);
            }
        }
    }

    @Test
    void workersThatParkedWakeForTheNextLoop() throws InterruptedException {
        coversEachIndexOnce(10_000, 1);
        Thread.sleep(50);                 // well past the spin time: the workers park
        coversEachIndexOnce(10_000, 1);
    }

    @Test
    void aFailingChunkPropagatesAndThePoolKeepsWorking() {
        var e = assertThrows(IllegalStateException.class, () -> CpuParallel.forRange(1000, 1, (lo, hi) -> {
            if (lo <= 500 && 500 < hi) {
                throw new IllegalStateException("chunk with 500");
            }
        }));
        assertEquals("chunk with 500", e.getMessage());
        coversEachIndexOnce(5000, 1);
    }

    @Test
    void nestedAndConcurrentLoopsComplete() {
        AtomicIntegerArray hits = new AtomicIntegerArray(64 * 64);
        CpuParallel.forRange(64, 1, (lo, hi) -> {
            for (int i = lo; i < hi; i++) {
                int row = i;
                CpuParallel.forRange(64, 1, (a, b) -> {      // runs serially inside the body
                    for (int j = a; j < b; j++) {
                        hits.incrementAndGet(row * 64 + j);
                    }
                });
            }
        });
        for (int i = 0; i < hits.length(); i++) {
            assertEquals(1, hits.get(i), "nested index " + i);
        }
        CompletableFuture<?>[] fs = new CompletableFuture<?>[4];
        for (int t = 0; t < fs.length; t++) {
            fs[t] = CompletableFuture.runAsync(() -> {
                for (int k = 0; k < 50; k++) {
                    coversEachIndexOnce(2000, 1);
                }
            });
        }
        CompletableFuture.allOf(fs).join();
        assertTrue(CpuParallel.threads() >= 1);
    }
}
