package dev.solder.backend.cuda;

import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import org.junit.jupiter.api.Test;

/** Argument packing is checked against the kernel's C parameter list before any launch. */
class LaunchTest {

    @Test
    void wrongKindNamesTheParameter() {
        // solder_scale(const void* a, int adt, float s, void* out, int odt, long long n)
        IllegalStateException e = assertThrows(IllegalStateException.class,
                () -> Launch.of(null, Kernel.SCALE, LaunchConfig.linear(4)).ptr(1).i32(0).f32(2f).ptr(2).i32(0).i32(4));
        assertTrue(e.getMessage().contains("'n'") && e.getMessage().contains("I64"), e.getMessage());
        e = assertThrows(IllegalStateException.class,
                () -> Launch.of(null, Kernel.SCALE, LaunchConfig.linear(4)).ptr(1).i32(0).f64(2.0));
        assertTrue(e.getMessage().contains("'s'"), e.getMessage());
    }

    @Test
    void missingOrExtraArgumentsAreCaught() {
        IllegalStateException e = assertThrows(IllegalStateException.class,
                () -> Launch.of(null, Kernel.FILL, LaunchConfig.linear(4)).ptr(1).i32(0).i64(4).run());
        assertTrue(e.getMessage().contains("3 of its 4"), e.getMessage());
        assertThrows(IllegalStateException.class,
                () -> Launch.of(null, Kernel.FILL, LaunchConfig.linear(4)).ptr(1).i32(0).i64(4).f64(1).f64(2));
    }

    @Test
    void emptyGridLaunchesNothing() {
        // device null: a launch would throw a NullPointerException, so not throwing is the check
        org.junit.jupiter.api.Assertions.assertDoesNotThrow(
                () -> Launch.of(null, Kernel.FILL, LaunchConfig.linear(0)).ptr(1).i32(0).i64(0).f64(1).run());
    }
}
