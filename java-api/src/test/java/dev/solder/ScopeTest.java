package dev.solder;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import org.junit.jupiter.api.Test;

class ScopeTest {
    private static long live() {
        return Backends.forKind(Device.Kind.CPU).liveBytes(Device.cpu());
    }

    @Test
    void scopeFreesWhatItOwns() {
        long before = live();
        Tensor a;
        try (var s = Scope.open()) {
            a = Tensor.ones(1000);
            Tensor v = a.reshape(10, 100);
            assertEquals(2, s.size());
            assertTrue(live() >= before + 4000);
            assertFalse(v.isClosed());
        }
        assertTrue(a.isClosed());
        assertEquals(before, live(), "all bytes returned");
    }

    @Test
    void viewsKeepStorageAliveUntilTheLastHolderCloses() {
        long before = live();
        Tensor view;
        try (var s = Scope.open()) {
            Tensor base = Tensor.ones(64);
            view = s.keep(base.narrow(0, 8, 8));
            base.close();
            assertEquals(before + 256, live(), "storage still held by the view");
            assertEquals(8, view.toFloatArray().length);
        }
        assertFalse(view.isClosed(), "kept tensor survives its scope");
        view.close();
        assertEquals(before, live());
    }

    @Test
    void keepMovesToTheEnclosingScope() {
        long before = live();
        try (var outer = Scope.open()) {
            Tensor kept;
            try (var inner = Scope.open()) {
                kept = inner.keep(Tensor.ones(3));
            }
            assertFalse(kept.isClosed());
            assertEquals(1, outer.size());
        }
        assertEquals(before, live());
    }

    @Test
    void scopesCloseInnermostFirst() {
        var outer = Scope.open();
        var inner = Scope.open();
        assertThrows(IllegalStateException.class, outer::close);
        inner.close();
        outer.close();
        assertEquals(null, Scope.current());
    }

    @Test
    void keepRejectsForeignTensors() {
        Tensor loose = Tensor.ones(2);
        try (var s = Scope.open()) {
            assertThrows(IllegalArgumentException.class, () -> s.keep(loose));
        }
        loose.close();
    }
}
