package dev.solder.cli;

import dev.solder.Autograd;
import dev.solder.Device;
import dev.solder.Scope;
import dev.solder.Tensor;
import dev.solder.tokenizer.Encoding;
import java.io.IOException;
import java.util.List;

/**
 * Encodings {@code [from, to)} as model inputs padded to the longest of them (padding id, token
 * type 0, attention 0 — as {@code padding=True}), int64 like the tensors {@code transformers} gets.
 * The tensors belong to the scope open when this is built.
 */
record EncodedBatch(Tensor inputIds, Tensor tokenTypeIds, Tensor attentionMask, int[] lengths, int seqLen) {

    static EncodedBatch of(List<Encoding> encodings, int from, int to, int padId, Device device) {
        int b = to - from;
        int s = 1;
        int[] lengths = new int[b];
        for (int i = 0; i < b; i++) {
            lengths[i] = encodings.get(from + i).length();
            s = Math.max(s, lengths[i]);
        }
        long[] ids = new long[b * s];
        long[] types = new long[b * s];
        long[] mask = new long[b * s];
        java.util.Arrays.fill(ids, padId);
        for (int i = 0; i < b; i++) {
            Encoding e = encodings.get(from + i);
            for (int j = 0; j < e.length(); j++) {
                ids[i * s + j] = e.inputIds()[j];
                types[i * s + j] = e.tokenTypeIds()[j];
                mask[i * s + j] = e.attentionMask()[j];
            }
        }
        return new EncodedBatch(place(Tensor.ofLongs(ids, b, s), device), place(Tensor.ofLongs(types, b, s), device),
                place(Tensor.ofLongs(mask, b, s), device), lengths, s);
    }

    /** What is done with one batch; {@code from} is the index of its first encoding. */
    interface Body {
        void accept(int from, EncodedBatch batch) throws IOException;
    }

    /**
     * Runs {@code body} on consecutive batches of at most {@code batchSize} encodings, in order,
     * without autograd and each in its own {@link Scope} (the batch's tensors, and those
     * {@code body} makes, are released after it).
     */
    static void forEach(List<Encoding> encodings, int batchSize, int padId, Device device, Body body) throws IOException {
        try (var ng = Autograd.noGrad()) {
            for (int from = 0; from < encodings.size(); from += batchSize) {
                int to = Math.min(encodings.size(), from + batchSize);
                try (Scope scope = Scope.open()) {
                    body.accept(from, of(encodings, from, to, padId, device));
                }
            }
        }
    }

    private static Tensor place(Tensor t, Device device) {
        return device.isCpu() ? t : t.to(device);
    }

    int size() {
        return lengths.length;
    }
}
