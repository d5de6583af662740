package dev.solder.train;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.solder.Generator;
import dev.solder.backend.cuda.FakeCuda;
import dev.solder.bert.BertConfig;
import dev.solder.bert.BertForSequenceClassification;
import dev.solder.cli.SolderCli;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.PrintStream;
import java.io.PrintWriter;
import java.io.StringWriter;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;
import picocli.CommandLine;

/**
 * {@code solder finetune --device cuda} end to end without a GPU: the CUDA backend runs on
 * {@link FakeCuda} (the kernels module's Java model of a GPU, which computes what each kernel and
 * cuBLAS product is documented to compute), so everything a GPU run goes through on the Java side
 * — the Trainer moving batches to the device, autocast, the optimizer on device tensors, the
 * gradient-norm clip, evaluation, checkpoints read back from the device, {@code --resume} onto the
 * device, freeing device memory — runs here and is compared with the same run on the CPU.
 */
class FinetuneOnFakeCudaTest {
    @TempDir
    static Path tmp;
    private static AutoCloseable gpu;
    private static Path model;
    private static Path noHiddenDropout;

    @BeforeAll
    static void setUp() throws IOException {
        gpu = FakeCuda.install();
        model = TinyBert.savedModel(tmp.resolve("tiny-model"), tmp.resolve("tok"));
        noHiddenDropout = save("tiny-no-hidden-dropout", 32, 2, 64);
        Files.writeString(tmp.resolve("train.csv"), TinyBert.sentimentCsv(40, 3));
        Files.writeString(tmp.resolve("dev.csv"),
                "sentence,label\n\"good nice film\",pos\n\"bad sad day\",neg\n\"the plot was lovely\",pos\n"
                        + "\"a boring and ugly movie\",neg\n");
    }

    /**
     * A fresh random 2-layer BERT saved with the tiny tokenizer, hidden dropout off and attention
     * dropout 0.1. The comparisons with the CPU need the hidden dropout off: the CPU runs the
     * per-token work on the real tokens only ({@code PackedTokens}), so its hidden-dropout masks
     * fall on other element indices than the padded GPU layout's (the attention's do not).
     */
    private static Path save(String name, int hidden, int heads, int ffn) throws IOException {
        var tok = TinyBert.tokenizer(tmp.resolve("tok"));
        BertConfig c = BertConfig.builder().vocabSize(tok.vocabSize()).hiddenSize(hidden).numHiddenLayers(2)
                .numAttentionHeads(heads).intermediateSize(ffn).maxPositionEmbeddings(64).dropout(0f, 0.1f)
                .numLabels(2).build();
        Path dir = tmp.resolve(name);
        try (var m = new BertForSequenceClassification(c, new Generator(5))) {
            m.save(dir, tok);
        }
        return dir;
    }

    @AfterAll
    static void tearDown() throws Exception {
        gpu.close();
    }

    /** What a run printed and wrote. */
    private record Run(String out, JsonNode results, Path dir) {
    }

    private static Run finetune(String name, String... extra) throws IOException {
        Path out = tmp.resolve(name);
        var options = new java.util.LinkedHashMap<String, String>();
        for (String[] o : new String[][] {{"--model", model.toString()}, {"--task", "csv"},
            {"--data-dir", tmp.toString()}, {"--output-dir", out.toString()}, {"--num-train-epochs", "2"},
            {"--per-device-train-batch-size", "8"}, {"--learning-rate", "1e-3"}, {"--logging-steps", "1"},
            {"--save-steps", "5"}, {"--eval-strategy", "epoch"}, {"--seed", "7"}}) {
            options.put(o[0], o[1]);
        }
        List<String> flags = new ArrayList<>();
        for (int i = 0; i < extra.length; i++) {
            if (i + 1 < extra.length && !extra[i + 1].startsWith("--")) {
                options.put(extra[i], extra[++i]);   // overrides the default above
            } else {
                flags.add(extra[i]);
            }
        }
        List<String> args = new ArrayList<>(List.of("finetune"));
        options.forEach((k, v) -> args.addAll(List.of(k, v)));
        args.addAll(flags);
        PrintStream old = System.out;
        var captured = new ByteArrayOutputStream();
        StringWriter err = new StringWriter();
        int code;
        try {
            System.setOut(new PrintStream(captured, true, StandardCharsets.UTF_8));
            code = new CommandLine(new SolderCli()).setErr(new PrintWriter(err)).execute(args.toArray(String[]::new));
        } finally {
            System.setOut(old);
        }
        String text = captured.toString(StandardCharsets.UTF_8) + err;
        assertEquals(0, code, name + ":\n" + text);
        JsonNode results = new ObjectMapper().readTree(out.resolve("all_results.json").toFile());
        return new Run(text, results, out);
    }

    /** The per-step losses of a run, from trainer_state.json's log history. */
    private static List<Double> losses(Run r) throws IOException {
        JsonNode hist = new ObjectMapper().readTree(r.dir().resolve("trainer_state.json").toFile()).get("log_history");
        List<Double> out = new ArrayList<>();
        for (JsonNode e : hist) {
            if (e.has("loss")) {
                out.add(e.get("loss").asDouble());
            }
        }
        return out;
    }

    private static void assertClose(double want, double got, double rel, String what) {
        assertTrue(Math.abs(want - got) <= rel * Math.max(1, Math.abs(want)), what + ": cpu " + want + ", cuda " + got);
    }

    @Test
    void float32RunOnCudaFollowsTheCpuRunAndFreesItsMemory() throws IOException {
        long before = FakeCuda.liveBytes();
        Run cpu = finetune("cpu-fp32", "--model", noHiddenDropout.toString(), "--device", "cpu");
        Run cuda = finetune("cuda-fp32", "--model", noHiddenDropout.toString(), "--device", "cuda");
        assertTrue(cuda.out().contains("cuda"), "the run names its device:\n" + cuda.out());
        List<Double> a = losses(cpu);
        List<Double> b = losses(cuda);
        assertEquals(a.size(), b.size(), "logged steps");
        assertTrue(a.size() >= 10, "steps logged: " + a.size());
        for (int i = 0; i < a.size(); i++) {
            assertClose(a.get(i), b.get(i), 2e-4, "loss at logged step " + (i + 1));   // logged to 4 decimals
        }
        assertClose(cpu.results().get("train_loss").asDouble(), cuda.results().get("train_loss").asDouble(), 1e-5,
                "train_loss");
        assertClose(cpu.results().get("eval_loss").asDouble(), cuda.results().get("eval_loss").asDouble(), 1e-5,
                "eval_loss");
        assertEquals(cpu.results().get("eval_Accuracy").asDouble(), cuda.results().get("eval_Accuracy").asDouble(),
                "eval_Accuracy");
        assertTrue(Files.isDirectory(cuda.dir().resolve("checkpoint-5")), "checkpoint written from the device");
        assertEquals(before, FakeCuda.liveBytes(), "device memory back to where it was once the run ended");
    }

    /** bf16 autocast; fp16 autocast with dynamic loss scaling (GradScaler's unscale and check on the device). */
    @ParameterizedTest
    @ValueSource(strings = {"bf16", "fp16"})
    void autocastRunOnCudaFollowsTheCpuRun(String precision) throws IOException {
        Run cpu = finetune("cpu-" + precision, "--model", noHiddenDropout.toString(), "--device", "cpu", "--precision",
                precision);
        Run cuda = finetune("cuda-" + precision, "--model", noHiddenDropout.toString(), "--device", "cuda",
                "--precision", precision);
        assertFollows(cpu, cuda, 1e-2);
    }

    /**
     * The fused path, every kernel of it: a MiniLM-shaped model (hidden 384, 6 heads of 64,
     * FFN 1,536) is the smallest whose widths and head dim the fused kernels take, and
     * {@code -Dsolder.kernels=fused} selects those not yet validated on a card too (flash
     * attention, the fused LayerNorms and embeddings, the bias epilogues, cross-entropy, AdamW and
     * the gradient norm over every tensor in one launch). The bf16 run must follow the CPU's (seen:
     * within 0.5 % over the 10 steps).
     */
    @Test
    void fusedKernelsRunTheWholeFineTuningAndFollowTheCpu() throws IOException {
        Path wide = save("minilm-shaped", 384, 6, 1536);
        long t0 = System.nanoTime();
        Run cpu = finetune("cpu-fused-shape", "--model", wide.toString(), "--device", "cpu", "--precision", "bf16",
                "--num-train-epochs", "1");
        long t1 = System.nanoTime();
        String[] kernels = {"solder_flash_attention_forward_d64", "solder_flash_attention_backward_dq_d64",
            "solder_layernorm_fused_forward", "solder_layernorm_fused_backward",
            "solder_embeddings_layernorm_fused_forward", "solder_embeddings_backward_fused",
            "solder_cross_entropy_fused_forward", "solder_adamw_multi", "solder_sumsq_multi_partial"};
        int[] before = new int[kernels.length];
        for (int i = 0; i < kernels.length; i++) {
            before[i] = FakeCuda.launches(kernels[i]);
        }
        Run cuda;
        try (AutoCloseable fused = FakeCuda.forceFusedKernels()) {
            cuda = finetune("cuda-fused", "--model", wide.toString(), "--device", "cuda", "--precision", "bf16",
                    "--num-train-epochs", "1");
        } catch (IOException | RuntimeException | Error e) {
            throw e;
        } catch (Exception e) {
            throw new IllegalStateException(e);
        }
        System.out.printf("fused-shape fine-tuning: cpu %.1f s, fake cuda %.1f s%n", (t1 - t0) / 1e9,
                (System.nanoTime() - t1) / 1e9);
        for (int i = 0; i < kernels.length; i++) {
            assertTrue(FakeCuda.launches(kernels[i]) > before[i], kernels[i] + " never ran in the fused run");
        }
        assertFollows(cpu, cuda, 1e-2);
    }

    /** Every logged loss and the eval loss of {@code cuda} within {@code rel} of {@code cpu}'s (bf16 roundings differ). */
    private static void assertFollows(Run cpu, Run cuda, double rel) throws IOException {
        List<Double> a = losses(cpu);
        List<Double> b = losses(cuda);
        assertEquals(a.size(), b.size(), "logged steps");
        for (int i = 0; i < a.size(); i++) {
            assertClose(a.get(i), b.get(i), rel, "loss at logged step " + (i + 1) + "\ncpu  " + a + "\ncuda " + b);
        }
        assertClose(cpu.results().get("eval_loss").asDouble(), cuda.results().get("eval_loss").asDouble(), rel,
                "eval_loss");
    }

    @Test
    void runningOutOfDeviceMemoryStopsWithTheOpAndAHint() throws Exception {
        StringWriter err = new StringWriter();
        int code;
        // 1 MiB: the tiny model's weights fit, its first training step on 32 sequences does not
        try (AutoCloseable small = FakeCuda.install(1 << 20)) {
            code = SolderCli.run(new CommandLine(new SolderCli()).setOut(new PrintWriter(new StringWriter()))
                    .setErr(new PrintWriter(err)), new String[] {"finetune", "--model", model.toString(), "--task", "csv",
                        "--data-dir", tmp.toString(), "--output-dir", tmp.resolve("oom").toString(), "--device", "cuda",
                        "--num-train-epochs", "1", "--per-device-train-batch-size", "32"});
        }
        String text = err.toString();
        assertEquals(1, code, text);
        assertTrue(text.startsWith("solder finetune: training step 1 of 2 (epoch 0.50) ran out of memory on a batch of"
                + " 32 sequences × "), text);
        assertTrue(text.contains("out of memory") && text.contains("requested"), text);
        assertTrue(text.contains("hint: the GPU ran out of memory: lower --per-device-train-batch-size"), text);
    }

    @Test
    void resumeOnCudaFromACheckpointEndsWhereTheUninterruptedRunEnds() throws IOException {
        Run whole = finetune("cuda-whole", "--device", "cuda");
        // A run that stopped after its first checkpoint (step 5 of 10): that checkpoint, written
        // from the device by the whole run, alone in a fresh output folder, resumed onto the device.
        Path stopped = tmp.resolve("cuda-resumed");
        copyTree(whole.dir().resolve("checkpoint-5"), stopped.resolve("checkpoint-5"));
        Run resumed = finetune("cuda-resumed", "--device", "cuda", "--resume");
        assertTrue(resumed.out().contains("resuming from " + stopped.resolve("checkpoint-5")), resumed.out());
        assertEquals(whole.results().get("eval_loss").asDouble(), resumed.results().get("eval_loss").asDouble(),
                "eval_loss of the resumed run");
        byte[] a = Files.readAllBytes(whole.dir().resolve("model.safetensors"));
        byte[] b = Files.readAllBytes(resumed.dir().resolve("model.safetensors"));
        assertTrue(java.util.Arrays.equals(a, b), "final weights differ between the resumed and the whole run");
    }

    private static void copyTree(Path from, Path to) throws IOException {
        try (var files = Files.walk(from)) {
            for (Path p : (Iterable<Path>) files::iterator) {
                Path t = to.resolve(from.relativize(p).toString());
                if (Files.isDirectory(p)) {
                    Files.createDirectories(t);
                } else {
                    Files.copy(p, t);
                }
            }
        }
    }
}
