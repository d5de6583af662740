package dev.solder.nn;

import static org.junit.jupiter.api.Assertions.assertEquals;

import dev.solder.Backends;
import dev.solder.Device;
import dev.solder.Generator;
import dev.solder.Ops;
import dev.solder.Scope;
import dev.solder.optim.AdamW;
import dev.solder.optim.LinearSchedule;
import dev.solder.spi.Backend;
import org.junit.jupiter.api.Test;

/**
 * Memory discipline of the training loop: once parameters and optimizer state exist,
 * 1,000 steps each inside a scope leave CPU live bytes exactly where they were, and
 * closing model and optimizer returns to where we started.
 */
class LiveBytesTest {
    private static final Backend CPU = Backends.forKind(Device.Kind.CPU);

    @Test
    void thousandStepsLeakNothing() {
        long seed = Long.getLong("solder.test.seed", System.nanoTime());
        var g = new Generator(seed);
        long start = CPU.liveBytes(Device.cpu());
        var model = new TinyEncoder(MajorityTask.VOCAB, 8, 16, 2, 2, 0.1f, g.fork());
        var opt = AdamW.builder(model.namedParameters()).lr(1e-3).noDecayOn(AdamW.HF_NO_DECAY).build();
        var schedule = new LinearSchedule(opt, 10, 1000);
        long baseline = -1;
        for (int i = 0; i <= 1000; i++) {
            try (var step = Scope.open()) {
                var b = MajorityTask.batch(g, 4, 8);
                Ops.crossEntropy(model.forward(b.ids(), b.mask()), b.labels()).backward();
                opt.clipGradNorm(1.0);
                opt.step();
                opt.zeroGrad();
                schedule.step();
            }
            if (i == 0) {
                baseline = CPU.liveBytes(Device.cpu());   // parameters + moments now exist
            }
        }
        assertEquals(baseline, CPU.liveBytes(Device.cpu()), "bytes leaked over 1000 steps, seed=" + seed);
        opt.close();
        model.close();
        assertEquals(start, CPU.liveBytes(Device.cpu()), "bytes left after closing model and optimizer, seed=" + seed);
    }
}
