package dev.solder.train;

import dev.solder.Device;
import dev.solder.Scope;
import dev.solder.Tensor;
import dev.solder.io.RawTensor;
import dev.solder.io.SafetensorsReader;
import dev.solder.io.SafetensorsWriter;
import dev.solder.io.WeightSet;
import java.io.IOException;
import java.lang.foreign.MemorySegment;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.function.BiConsumer;

/** Named tensors to and from safetensors files, byte for byte (float32 stays float32). */
final class TensorFiles {
    private TensorFiles() {
    }

    /**
     * Writes {@code tensors} (any device) to {@code file} atomically, each copied to the host only
     * as its turn comes: a checkpoint of BERT-Base's optimizer state (880 MB) never sits in host
     * memory whole.
     */
    static void write(Path file, Map<String, Tensor> tensors, Map<String, String> metadata) throws IOException {
        List<SafetensorsWriter.Pending> pending = new ArrayList<>(tensors.size());
        for (Map.Entry<String, Tensor> e : tensors.entrySet()) {
            String name = e.getKey();
            Tensor t = e.getValue();
            t.checkOpen("save '" + name + "'");
            pending.add(new SafetensorsWriter.Pending(name, t.dtype(), shapeOf(t), t::copyTo));
        }
        SafetensorsWriter.writePending(file, pending, metadata);
    }

    static long[] shapeOf(Tensor t) {
        return java.util.Arrays.stream(t.shape()).asLongStream().toArray();
    }

    /**
     * Reads {@code file} and hands each tensor, as a CPU {@link Tensor} alive only during the call,
     * to {@code sink} — all in one go, so that a consumer such as {@code loadStateDict} sees them together.
     */
    @SuppressWarnings("try") // the scope frees the loaded tensors after the sink ran
    static void read(Path file, java.util.function.Consumer<Map<String, Tensor>> sink) throws IOException {
        try (WeightSet w = SafetensorsReader.readFile(file); Scope s = Scope.open()) {
            Map<String, Tensor> out = new LinkedHashMap<>();
            for (RawTensor r : w.tensors().values()) {
                out.put(r.name(), fromRaw(r));
            }
            sink.accept(out);
        }
    }

    /** As {@link #read(Path, java.util.function.Consumer)} with the file's metadata too. */
    @SuppressWarnings("try") // the scope frees the loaded tensors after the sink ran
    static void read(Path file, BiConsumer<Map<String, Tensor>, Map<String, String>> sink) throws IOException {
        try (WeightSet w = SafetensorsReader.readFile(file); Scope s = Scope.open()) {
            Map<String, Tensor> out = new LinkedHashMap<>();
            for (RawTensor r : w.tensors().values()) {
                out.put(r.name(), fromRaw(r));
            }
            sink.accept(out, w.metadata());
        }
    }

    static Tensor fromRaw(RawTensor r) {
        long[] ls = r.shape();
        int[] shape = new int[ls.length];
        for (int i = 0; i < ls.length; i++) {
            shape[i] = Math.toIntExact(ls[i]);
        }
        MemorySegment data = r.data();
        return Tensor.fromSegment(data, r.dtype(), Device.cpu(), shape);
    }
}
