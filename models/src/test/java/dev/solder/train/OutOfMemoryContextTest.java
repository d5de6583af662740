package dev.solder.train;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.solder.cuda.CudaOutOfMemoryException;
import dev.solder.data.Features;
import java.util.List;
import org.junit.jupiter.api.Test;

class OutOfMemoryContextTest {
    private static final List<Features> BATCH = List.of(new Features(new int[7], new int[7], 0, 0f),
            new Features(new int[12], new int[12], 1, 0f), new Features(new int[3], new int[3], 0, 0f));

    @Test
    void outOfMemoryFailuresSayWhereAndOnWhatBatch() {
        OutOfMemoryError heap = OutOfMemoryContext.explain(new OutOfMemoryError("cpu: cannot allocate 96 bytes"),
                "training step 4 of 9 (epoch 1.33)", BATCH);
        assertEquals("training step 4 of 9 (epoch 1.33) ran out of memory on a batch of 3 sequences × 12 tokens: "
                + "cpu: cannot allocate 96 bytes", heap.getMessage());
        assertTrue(heap.getCause() instanceof OutOfMemoryError);

        var gpu = new CudaOutOfMemoryException("CudaDriver.memAllocAsync", "cuMemAllocAsync", 2,
                "CUDA_ERROR_OUT_OF_MEMORY", "out of memory", "bytes=4096", 4096, 100, 8192);
        RuntimeException wrapped = OutOfMemoryContext.explain(new IllegalStateException("cuda op linear: x", gpu),
                "evaluation batch 2 of 5", BATCH);
        assertTrue(wrapped.getMessage().startsWith("evaluation batch 2 of 5 ran out of memory on a batch of 3 sequences"
                + " × 12 tokens: cuda op linear: x"), wrapped.getMessage());
        assertTrue(OutOfMemoryContext.isDeviceOutOfMemory(wrapped));
    }

    @Test
    void otherFailuresPassThroughUnchanged() {
        RuntimeException other = new IllegalArgumentException("unknown label 'maybe'");
        assertSame(other, OutOfMemoryContext.explain(other, "training step 1 of 2 (epoch 0.50)", BATCH));
    }
}
