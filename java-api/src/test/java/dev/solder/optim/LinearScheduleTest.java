package dev.solder.optim;

import static org.junit.jupiter.api.Assertions.assertEquals;

import org.junit.jupiter.api.Test;

class LinearScheduleTest {
    /** Records the lr it is given; the schedule needs nothing else. */
    static final class LrOnly implements Optimizer {
        double lr;

        LrOnly(double lr) {
            this.lr = lr;
        }

        @Override
        public void step() {
        }

        @Override
        public void zeroGrad() {
        }

        @Override
        public double lr() {
            return lr;
        }

        @Override
        public void setLr(double lr) {
            this.lr = lr;
        }

        @Override
        public void close() {
        }
    }

    private static void advance(LinearSchedule s, int n) {
        for (int i = 0; i < n; i++) {
            s.step();
        }
    }

    @Test
    void warmupThenLinearDecayToZero() {
        double base = 1e-3;
        var opt = new LrOnly(base);
        var s = new LinearSchedule(opt, 10, 110);
        assertEquals(0.0, opt.lr, "LambdaLR applies factor(0) at construction: the first update runs at lr 0");
        advance(s, 1);
        assertEquals(base * 0.1, opt.lr, 1e-18);
        advance(s, 4);
        assertEquals(base * 0.5, opt.lr, 1e-18);
        advance(s, 4);
        assertEquals(base * 0.9, opt.lr, 1e-18);          // step 9: last warmup step
        advance(s, 1);
        assertEquals(base, opt.lr, 1e-18);                // step 10: peak
        advance(s, 1);
        assertEquals(base * 99 / 100, opt.lr, 1e-18);     // (110 - 11) / (110 - 10)
        advance(s, 49);
        assertEquals(base * 0.5, opt.lr, 1e-18);          // step 60
        advance(s, 49);
        assertEquals(base * 0.01, opt.lr, 1e-18);         // step 109
        advance(s, 1);
        assertEquals(0.0, opt.lr);                        // step 110
        advance(s, 5);
        assertEquals(0.0, opt.lr, "clamped at 0 past the end");
        assertEquals(115, s.currentStep());
    }

    @Test
    void noWarmupStartsAtPeak() {
        var opt = new LrOnly(5e-5);
        var s = new LinearSchedule(opt, 0, 4);
        assertEquals(5e-5, opt.lr);
        advance(s, 1);
        assertEquals(5e-5 * 0.75, opt.lr, 1e-20);
        advance(s, 3);
        assertEquals(0.0, opt.lr);
    }

    @Test
    void stateRestoresStepAndLr() {
        var opt = new LrOnly(2e-3);
        var s = new LinearSchedule(opt, 5, 50);
        advance(s, 17);
        var saved = s.state();

        var opt2 = new LrOnly(123);   // whatever a fresh run starts with
        var s2 = new LinearSchedule(opt2, 5, 50);
        s2.loadState(saved);
        assertEquals(17, s2.currentStep());
        assertEquals(opt.lr, opt2.lr, 1e-18);
        s.step();
        s2.step();
        assertEquals(opt.lr, opt2.lr, 1e-18);
        assertEquals(2e-3 * (50 - 18) / 45.0, opt2.lr, 1e-15);
    }
}
