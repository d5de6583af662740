package dev.solder.train;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import org.junit.jupiter.api.Test;

class ProgressReporterTest {
    private long now;

    private ProgressReporter reporter(ByteArrayOutputStream out, long total) {
        return new ProgressReporter(new PrintStream(out, true, StandardCharsets.UTF_8), false, total, 8, 1e9,
                () -> now);
    }

    @Test
    void aSlowFirstStepDoesNotKeepTheEtaHigh() {
        // A 30 s first step (the JIT warming up), then 5 s steps: after ten steps the ETA of the 90
        // left is near 90 × 5 s, where the average since the start (7.5 s a step) would say 675 s.
        var r = reporter(new ByteArrayOutputStream(), 100);
        now = 0;
        r.start(0);
        now += 30_000_000_000L;
        r.update(1, 0.01);
        for (int step = 2; step <= 10; step++) {
            now += 5_000_000_000L;
            r.update(step, step / 100.0);
        }
        double eta = r.eta(10);
        assertTrue(eta > 450 && eta < 520, "ETA " + eta + " s for 90 steps of 5 s");
        assertEquals(0.2, r.rate(10), 0.03);
    }

    @Test
    void theRateFollowsTqdmsMovingAverage() {
        var r = reporter(new ByteArrayOutputStream(), 10);
        now = 0;
        r.start(0);
        now += 1_000_000_000L;
        r.update(1, 0.1);                     // 1 step/s: the first rate is taken as it is
        assertEquals(1.0, r.rate(1), 1e-12);
        now += 500_000_000L;
        r.update(2, 0.2);                     // 2 steps/s: 0.3 · 2 + 0.7 · 1
        assertEquals(1.3, r.rate(2), 1e-12);
        assertEquals(8 / 1.3, r.eta(2), 1e-9);
        r.update(2, 0.2);                     // no new step: the rate stays
        assertEquals(1.3, r.rate(2), 1e-12);
    }

    @Test
    void beforeAnyStepTheEtaIsUnknown() {
        var out = new ByteArrayOutputStream();
        var r = reporter(out, 10);
        now = 0;
        r.start(0);
        assertEquals("?", ProgressReporter.clock(r.eta(0)));
        assertEquals("00:05", ProgressReporter.clock(5.2));
        assertEquals("1:01:01", ProgressReporter.clock(3661));
    }
}
