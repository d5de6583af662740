package dev.solder.nn;

import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.solder.Autocast;
import dev.solder.Autograd;
import dev.solder.DType;
import dev.solder.Generator;
import dev.solder.Ops;
import dev.solder.Scope;
import dev.solder.Tensor;
import dev.solder.optim.AdamW;
import dev.solder.optim.GradScaler;
import dev.solder.optim.LinearSchedule;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;

/**
 * A one-layer encoder from nn pieces learns {@link MajorityTask} — counting tokens over
 * padded, variable-length sequences through the attention mask — with the Trainer's loop:
 * clip, AdamW with HF's decay groups, linear warmup/decay.
 */
class TinyEncoderTrainingTest {
    @Test
    void lossFallsAndAccuracyBeatsChance() {
        long seed = Long.getLong("solder.test.seed", System.nanoTime());
        double[] r = train(seed);
        String info = "initial loss " + r[0] + " acc " + r[1] + ", final loss " + r[2] + " acc " + r[3]
                + ", acc with padding unmasked " + r[4] + ", seed=" + seed;
        assertTrue(r[2] < 0.1 * r[0], info);
        assertTrue(r[3] > 0.9, info);
        // The padding slots hold real-looking tokens: a model that ignored the mask could not
        // score this well, and exposing them must cost accuracy.
        assertTrue(r[4] < r[3] - 0.02, info);
    }

    /** The same task under autocast: bf16 as is, fp16 with dynamic loss scaling. */
    @ParameterizedTest
    @EnumSource(value = DType.class, names = {"BFLOAT16", "FLOAT16"})
    void mixedPrecisionTrainsToo(DType low) {
        long seed = Long.getLong("solder.test.seed", System.nanoTime());
        double[] r = train(seed, low);
        String info = low + ": initial loss " + r[0] + " acc " + r[1] + ", final loss " + r[2] + " acc " + r[3]
                + ", seed=" + seed;
        assertTrue(r[2] < 0.1 * r[0], info);
        assertTrue(r[3] > 0.9, info);
    }

    static double[] train(long seed) {
        return train(seed, null);
    }

    /**
     * Trains from {@code seed}; returns, on held-out data, {initial loss, initial accuracy,
     * final loss, final accuracy, final accuracy when the padding is not masked}.
     */
    static double[] train(long seed, DType autocast) {
        var g = new Generator(seed);
        GradScaler scaler = autocast == DType.FLOAT16 ? new GradScaler() : null;
        int steps = 200;
        try (var model = new TinyEncoder(MajorityTask.VOCAB, 16, 32, 4, 2, 0.05f, g.fork());
             var opt = AdamW.builder(model.namedParameters()).lr(3e-3).weightDecay(0.01)
                     .noDecayOn(AdamW.HF_NO_DECAY).build();
             var held = Scope.open()) {
            var schedule = new LinearSchedule(opt, 20, steps);
            var eval = MajorityTask.batch(g.fork(), 256, 16);
            double[] initial = evaluate(model, eval);
            for (int i = 0; i < steps; i++) {
                try (var step = Scope.open()) {
                    var b = MajorityTask.batch(g, 32, 16);
                    Tensor loss;
                    try (var ac = autocast == null ? Autocast.disable() : Autocast.enable(autocast)) {
                        loss = Ops.crossEntropy(model.forward(b.ids(), b.mask()), b.labels());
                    }
                    (scaler == null ? loss : scaler.scale(loss)).backward();
                    boolean finite = scaler == null || scaler.unscale(opt.parameters());
                    if (finite) {
                        opt.clipGradNorm(1.0);
                        opt.step();
                        schedule.step();
                    }
                    if (scaler != null) {
                        scaler.update(finite);
                    }
                    opt.zeroGrad();
                }
            }
            double[] fin = evaluate(model, eval);
            double[] unmasked = evaluate(model, eval.unmasked());
            return new double[] {initial[0], initial[1], fin[0], fin[1], unmasked[1]};
        }
    }

    /** {loss, accuracy} in eval mode, leaving the model in training mode. */
    static double[] evaluate(TinyEncoder model, MajorityTask.Batch b) {
        model.eval();
        try (var ng = Autograd.noGrad(); var s = Scope.open()) {
            var logits = model.forward(b.ids(), b.mask());
            double loss = Ops.crossEntropy(logits, b.labels()).item();
            float[] l = logits.toFloatArray();
            int right = 0;
            for (int i = 0; i < b.labelValues().length; i++) {
                int pred = l[2 * i + 1] > l[2 * i] ? 1 : 0;
                right += pred == b.labelValues()[i] ? 1 : 0;
            }
            return new double[] {loss, (double) right / b.labelValues().length};
        } finally {
            model.train();
        }
    }
}
