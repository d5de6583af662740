package dev.solder.bench;

import dev.solder.Autocast;
import dev.solder.DType;
import dev.solder.Device;
import dev.solder.Generator;
import dev.solder.OpProfiler;
import dev.solder.Scope;
import dev.solder.Tensor;
import dev.solder.backend.cuda.CudaBackend;
import dev.solder.bert.BertConfig;
import dev.solder.bert.BertForSequenceClassification;
import dev.solder.optim.AdamW;
import dev.solder.optim.GradClip;
import dev.solder.optim.GradScaler;
import java.util.Locale;
import java.util.SplittableRandom;

/**
 * One BERT fine-tuning step as the Trainer runs it — forward, cross-entropy, backward,
 * gradient clipping to norm 1, AdamW — timed end to end on random tokens, so that a change to
 * a kernel can be judged by what it does to the step rather than to itself.
 *
 * <pre>
 * java -cp bench/target/benchmarks.jar dev.solder.bench.BertTrainStep [--device cpu|cuda]
 *      [--batch 8] [--seq 64] [--steps 5] [--warmup 2] [--layers 12] [--labels 3] [--precision fp32|bf16|fp16]
 * # add -Dsolder.profile=shapes (before -cp) for the time of every op and GEMM shape
 * # add -Dsolder.cuda.dryRun=true with --device cuda for the host side of a GPU step, on any machine
 * </pre>
 *
 * The model is BERT-Base's shape with random weights (the weights do not change the time);
 * every sequence is {@code --seq} tokens long with the last quarter of the batch padded to
 * half length, as a dynamically padded batch is. The peak memory printed is the most the
 * backend held live during the timed steps ({@code Backend.peakLiveBytes}, as PyTorch's
 * {@code max_memory_allocated}). The peer for these numbers is
 * {@code bench/python/bert_step.py} (PyTorch + transformers), run on the same machine.
 */
public final class BertTrainStep {
    private BertTrainStep() {
    }

    public static void main(String[] argv) throws InterruptedException {
        Device device = Device.cpu();
        int batch = 8;
        int seq = 64;
        int steps = 5;
        int warmup = 2;
        int layers = 12;
        int labels = 3;
        String precision = "fp32";
        for (int i = 0; i < argv.length; i += 2) {
            String v = i + 1 < argv.length ? argv[i + 1] : null;
            if (v == null) {
                throw new IllegalArgumentException("option " + argv[i] + " needs a value");
            }
            switch (argv[i]) {
                case "--device" -> device = Device.parse(v);
                case "--batch" -> batch = Integer.parseInt(v);
                case "--seq" -> seq = Integer.parseInt(v);
                case "--steps" -> steps = Integer.parseInt(v);
                case "--warmup" -> warmup = Integer.parseInt(v);
                case "--layers" -> layers = Integer.parseInt(v);
                case "--labels" -> labels = Integer.parseInt(v);
                case "--precision" -> precision = v;
                default -> throw new IllegalArgumentException("unknown option " + argv[i]
                        + " (expected --device, --batch, --seq, --steps, --warmup, --layers, --labels, --precision)");
            }
        }
        DType low = switch (precision) {
            case "fp32" -> null;
            case "bf16" -> DType.BFLOAT16;
            case "fp16" -> DType.FLOAT16;
            default -> throw new IllegalArgumentException("--precision " + precision + " is not one of fp32, bf16, fp16");
        };
        GradScaler scaler = low == DType.FLOAT16 ? new GradScaler() : null;
        BertConfig config = BertConfig.builder().numHiddenLayers(layers).numLabels(labels).build();
        SplittableRandom rnd = new SplittableRandom(42);
        long[] ids = new long[batch * seq];
        long[] mask = new long[batch * seq];
        long[] gold = new long[batch];
        for (int b = 0; b < batch; b++) {
            int len = b >= batch - batch / 4 ? seq / 2 : seq;
            for (int t = 0; t < seq; t++) {
                ids[b * seq + t] = t < len ? 1000 + rnd.nextInt(29000) : 0;
                mask[b * seq + t] = t < len ? 1 : 0;
            }
            gold[b] = rnd.nextInt(labels);
        }
        try (var model = new BertForSequenceClassification(config, new Generator(42));
             Tensor tIds = Tensor.ofLongs(ids, batch, seq).to(device);
             Tensor tTypes = Tensor.ofLongs(new long[batch * seq], batch, seq).to(device);
             Tensor tMask = Tensor.ofLongs(mask, batch, seq).to(device);
             Tensor tGold = Tensor.ofLongs(gold, batch).to(device)) {
            model.to(device);
            model.train();
            var opt = AdamW.builder(model.namedParameters()).lr(5e-5).weightDecay(0.0)
                    .noDecayOn(AdamW.HF_NO_DECAY).build();
            var params = opt.parameters();
            System.out.printf(Locale.ROOT, "BERT step: %d layers, batch %d x %d tokens, %s, %s, %s%n",
                    layers, batch, seq, precision, device, device.isCpu() ? Runtime.getRuntime().availableProcessors() + " cores" : "");
            if (device.isCpu()) {
                System.out.println("before: " + HostFmaProbe.describe());
            }
            double total = 0;
            double[] timed = new double[steps];
            var backend = tGold.backend();
            for (int s = 0; s < warmup + steps; s++) {
                if (s == warmup) {
                    OpProfiler.reset();
                    backend.resetPeakLiveBytes(device);
                    if (device.isCuda()) {
                        System.out.println("after warm-up: " + CudaBackend.describe(device));
                    }
                }
                long t0 = System.nanoTime();
                float loss;
                boolean finite = true;
                try (Scope scope = Scope.open()) {
                    Tensor l;
                    try (Autocast ac = low == null ? Autocast.disable() : Autocast.enable(low)) {
                        l = model.loss(model.forward(tIds, tTypes, tMask), tGold);
                    }
                    (scaler == null ? l : scaler.scale(l)).backward();
                    loss = l.item();
                }
                if (scaler != null) {
                    finite = scaler.unscale(params);
                    scaler.update(finite);
                }
                // As the Trainer does: the clip coefficient is fused into the AdamW update.
                double norm = GradClip.totalNorm(params);
                if (finite) {
                    opt.step(GradClip.coefficient(norm, 1.0));
                }
                opt.zeroGrad();
                tGold.backend().synchronize(device);
                double ms = (System.nanoTime() - t0) / 1e6;
                System.out.printf(Locale.ROOT, "%s step %d: %.1f ms (loss %.4f)%n", s < warmup ? "warm-up" : "timed", s, ms, loss);
                if (s >= warmup) {
                    total += ms;
                    timed[s - warmup] = ms;
                }
            }
            double mean = total / steps;
            java.util.Arrays.sort(timed);
            double median = steps % 2 == 1 ? timed[steps / 2] : (timed[steps / 2 - 1] + timed[steps / 2]) / 2;
            long nonEmbedding = model.namedParameters().entrySet().stream()
                    .filter(e -> !e.getKey().contains("embeddings")).mapToLong(e -> e.getValue().numel()).sum();
            System.out.printf(Locale.ROOT, "mean %.2f ms/step, median %.2f ms/step, %.0f samples/s (median), %.0f tokens/s, "
                            + "%.1f GFLOP/s (6 x tokens x non-embedding parameters), peak %s memory %.1f MiB%n",
                    mean, median, batch / (median / 1e3), batch * seq / (mean / 1e3),
                    6.0 * batch * seq * nonEmbedding / (mean / 1e3) / 1e9, device, backend.peakLiveBytes(device) / 1048576.0);
            if (device.isCuda()) {
                System.out.println("at the end: " + CudaBackend.describe(device));
            } else {
                System.out.println("after: " + HostFmaProbe.describe());
            }
            opt.close();
        }
    }
}
