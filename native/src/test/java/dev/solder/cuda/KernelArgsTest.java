package dev.solder.cuda;

import static java.lang.foreign.ValueLayout.ADDRESS;
import static java.lang.foreign.ValueLayout.JAVA_DOUBLE;
import static java.lang.foreign.ValueLayout.JAVA_FLOAT;
import static java.lang.foreign.ValueLayout.JAVA_INT;
import static java.lang.foreign.ValueLayout.JAVA_LONG;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotSame;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.util.concurrent.CompletableFuture;
import org.junit.jupiter.api.Test;

/** The void** array handed to cuLaunchKernel, checked on the host. */
class KernelArgsTest {

    /** Follows kernelParams[i] the way the driver does. */
    private static MemorySegment deref(KernelArgs a, int i) {
        return a.pointers().getAtIndex(ADDRESS, i).reinterpret(KernelArgs.SLOT_BYTES);
    }

    @Test
    void eachSlotPointsAtItsValue() {
        KernelArgs a = KernelArgs.begin().ptr(0x7f12_3456_7800L).i32(-37).f32(2.5f).f64(Math.PI).i64(1L << 40)
                .i32(Integer.MAX_VALUE);
        assertEquals(6, a.count());
        assertEquals(0x7f12_3456_7800L, deref(a, 0).get(JAVA_LONG, 0));
        assertEquals(-37, deref(a, 1).get(JAVA_INT, 0));
        assertEquals(2.5f, deref(a, 2).get(JAVA_FLOAT, 0));
        assertEquals(Math.PI, deref(a, 3).get(JAVA_DOUBLE, 0));
        assertEquals(1L << 40, deref(a, 4).get(JAVA_LONG, 0));
        assertEquals(Integer.MAX_VALUE, deref(a, 5).get(JAVA_INT, 0));
        // 32-bit values leave the rest of their slot zero
        assertEquals(0, deref(a, 1).get(JAVA_INT, 4));
        assertEquals(deref(a, 2).address(), a.slot(2).address());
        // distinct, 8-byte aligned slots
        for (int i = 0; i < a.count(); i++) {
            assertEquals(0, deref(a, i).address() % 8);
            if (i > 0) assertEquals(KernelArgs.SLOT_BYTES, deref(a, i).address() - deref(a, i - 1).address());
        }
    }

    @Test
    void beginReusesThisThreadsInstanceWithoutMovingSlots() throws Exception {
        KernelArgs first = KernelArgs.begin().f32(1f).f32(2f);
        long slot0 = first.pointers().getAtIndex(ADDRESS, 0).address();
        KernelArgs second = KernelArgs.begin();
        assertSame(first, second);
        assertEquals(0, second.count());
        second.i32(7);
        assertEquals(slot0, second.pointers().getAtIndex(ADDRESS, 0).address());
        assertEquals(7, deref(second, 0).get(JAVA_INT, 0));
        KernelArgs other = CompletableFuture.supplyAsync(KernelArgs::begin).get();
        assertNotSame(first, other);
    }

    @Test
    void limitsAreChecked() {
        KernelArgs a = KernelArgs.begin();
        for (int i = 0; i < KernelArgs.MAX_ARGS; i++) a.i32(i);
        assertThrows(IllegalStateException.class, () -> a.i32(0));
        assertEquals(KernelArgs.MAX_ARGS - 1, deref(a, KernelArgs.MAX_ARGS - 1).get(JAVA_INT, 0));
        a.clear().ptr(1);
        assertThrows(IndexOutOfBoundsException.class, () -> a.slot(1));
    }

    @Test
    void privateInstancesLiveInTheirArena() {
        try (Arena arena = Arena.ofConfined()) {
            KernelArgs a = new KernelArgs(arena).f64(-0.5);
            assertEquals(-0.5, deref(a, 0).get(JAVA_DOUBLE, 0));
        }
    }
}
