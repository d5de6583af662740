package dev.solder.cli;

import dev.solder.DType;
import dev.solder.Device;
import dev.solder.Tensor;
import dev.solder.bert.BertModel;
import dev.solder.io.RawTensor;
import dev.solder.io.SafetensorsWriter;
import dev.solder.tokenizer.Encoding;
import java.io.IOException;
import java.io.PrintWriter;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteOrder;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.concurrent.Callable;
import java.util.stream.IntStream;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;

/**
 * {@code solder embed}: BERT's last hidden states for each input, pooled, as a safetensors file
 * with {@code embeddings} (float32 {@code [N, H]}, or {@code [N, S, H]} with {@code --pooling none})
 * and {@code attention_mask} (int64 {@code [N, S]}, S the longest input), rows in input order.
 *
 * <ul>
 *   <li>{@code cls}: the hidden state of {@code [CLS]} (not the pooler's tanh output);</li>
 *   <li>{@code mean}: the mean over real tokens ({@code sum(h·mask) / max(sum(mask), 1e-9)}, as
 *       sentence-transformers);</li>
 *   <li>{@code none}: every token's state; positions past an input's length are zero.</li>
 * </ul>
 * Inputs are sorted by length into batches (less padding) and truncated to {@code --max-length}
 * (default: the model's maximum, 512 for BERT); results do not depend on the batching.
 *
 * <pre>
 * $ ./solder embed --model bert-base-uncased --input sentences.txt --output emb.safetensors --pooling mean
 * # python: safetensors.torch.load_file("emb.safetensors")["embeddings"].shape == (N, 768)
 * </pre>
 */
@Command(name = "embed", mixinStandardHelpOptions = true,
        description = "Write BERT embeddings of text lines or JSONL records to a safetensors file.")
final class EmbedCommand implements Callable<Integer> {
    private static final ValueLayout.OfFloat F32 = ValueLayout.JAVA_FLOAT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);
    private static final ValueLayout.OfLong I64 = ValueLayout.JAVA_LONG_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);

    /** How token states become one vector. */
    enum Pooling { cls, mean, none }

    @Spec
    CommandSpec spec;

    @Mixin
    BatchedInputOptions inputs;

    @Option(names = {"-o", "--output"}, required = true, paramLabel = "OUT", description = "the .safetensors file to write")
    Path output;

    @Option(names = "--pooling", defaultValue = "cls", paramLabel = "P",
            description = "cls, mean or none (default ${DEFAULT-VALUE})")
    Pooling pooling;

    @Override
    public Integer call() throws IOException {
        PrintWriter err = spec.commandLine().getErr();
        BatchedInputOptions.Loaded in = inputs.load(err);
        long t0 = System.nanoTime();
        try (BertModel bert = BertModel.fromPretrained(in.model(), false, in.bertOptions())) {
            List<Encoding> enc = inputs.encode(in, bert.config().maxPositionEmbeddings);
            write(bert, enc, in);
        }
        err.printf(Locale.ROOT, "embed: %d inputs -> %s (%s pooling) in %.1f s%n", in.records().size(), output, pooling,
                (System.nanoTime() - t0) / 1e9);
        err.flush();
        return 0;
    }

    private void write(BertModel bert, List<Encoding> enc, BatchedInputOptions.Loaded in) throws IOException {
        int n = enc.size();
        int h = bert.config().hiddenSize;
        int s = enc.stream().mapToInt(Encoding::length).max().orElse(1);
        long[] shape = pooling == Pooling.none ? new long[] {n, s, h} : new long[] {n, h};
        Device device = ModelDevice.of(bert);
        int[] order = IntStream.range(0, n).boxed().sorted(Comparator.comparingInt(i -> enc.get(i).length()))
                .mapToInt(Integer::intValue).toArray();
        List<Encoding> sorted = new ArrayList<>(n);
        for (int i : order) {
            sorted.add(enc.get(i));
        }
        bert.eval();
        try (Arena arena = Arena.ofConfined()) {
            RawTensor emb = RawTensor.allocate(arena, "embeddings", DType.FLOAT32, shape);   // zero-filled
            RawTensor mask = RawTensor.allocate(arena, "attention_mask", DType.INT64, n, s);
            EncodedBatch.forEach(sorted, inputs.batchSize, in.tokenizer().padId(), device, (from, b) -> {
                Tensor last = bert.forward(b.inputIds(), b.tokenTypeIds(), b.attentionMask()).lastHiddenState();
                float[] hs = last.toFloatArray();                   // [b, S_batch, H]
                for (int r = 0; r < b.size(); r++) {
                    int row = order[from + r];
                    Encoding e = sorted.get(from + r);
                    pool(hs, r, b.seqLen(), h, e.attentionMask(), emb.data(), row, s);
                    for (int j = 0; j < e.length(); j++) {
                        mask.data().setAtIndex(I64, (long) row * s + j, e.attentionMask()[j]);
                    }
                }
            });
            Map<String, String> meta = new LinkedHashMap<>(SafetensorsWriter.PT_METADATA);
            meta.put("pooling", pooling.name());
            meta.put("model", in.model());
            Path parent = output.toAbsolutePath().getParent();
            if (parent != null) {
                java.nio.file.Files.createDirectories(parent);
            }
            SafetensorsWriter.write(output, List.of(emb, mask), meta);
        }
    }

    /** Pools batch row {@code r} of {@code hs [*, sb, h]} into output row {@code row}. */
    private void pool(float[] hs, int r, int sb, int h, int[] attention, MemorySegment out, int row, int s) {
        int base = r * sb * h;
        switch (pooling) {
            case cls -> MemorySegment.copy(hs, base, out, F32, (long) row * h * 4, h);
            case mean -> {
                double[] acc = new double[h];
                double count = 0;
                for (int j = 0; j < attention.length; j++) {
                    if (attention[j] == 0) {
                        continue;
                    }
                    count += attention[j];
                    for (int k = 0; k < h; k++) {
                        acc[k] += hs[base + j * h + k] * attention[j];
                    }
                }
                double denom = Math.max(count, 1e-9);
                for (int k = 0; k < h; k++) {
                    out.setAtIndex(F32, (long) row * h + k, (float) (acc[k] / denom));
                }
            }
            case none -> {
                for (int j = 0; j < attention.length; j++) {
                    if (attention[j] != 0) {
                        MemorySegment.copy(hs, base + j * h, out, F32, ((long) row * s + j) * h * 4, h);
                    }
                }
            }
        }
    }
}
