package dev.solder.io;

import java.io.IOException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.IdentityHashMap;
import java.util.List;
import java.util.Map;

/**
 * A public face for the test-only format writers of this package ({@link TorchCheckpointWriter},
 * {@link TfBundleWriter} are package-private), so tests elsewhere — the BERT loader's — can write
 * PyTorch and TensorFlow checkpoints of real models. It only adapts; the writers are unchanged.
 */
public final class TestCheckpointWriters {
    private TestCheckpointWriters() {}

    /**
     * Writes what {@code torch.save(state_dict, file)} writes, entries in map order. The same
     * {@link RawTensor} instance under several names shares one storage, as tied weights do in a
     * real {@code pytorch_model.bin}.
     */
    public static void writePyTorch(Path file, Map<String, RawTensor> stateDict) throws IOException {
        Map<RawTensor, TorchCheckpointWriter.Storage> storages = new IdentityHashMap<>();
        List<TorchCheckpointWriter.Storage> ordered = new ArrayList<>();
        List<TorchCheckpointWriter.Tensor> tensors = new ArrayList<>();
        for (Map.Entry<String, RawTensor> e : stateDict.entrySet()) {
            RawTensor t = e.getValue();
            TorchCheckpointWriter.Storage s = storages.get(t);
            if (s == null) {
                s = new TorchCheckpointWriter.Storage(Integer.toString(ordered.size()), storageClass(t.dtype()), t.numel(),
                        t.data().toArray(java.lang.foreign.ValueLayout.JAVA_BYTE));
                storages.put(t, s);
                ordered.add(s);
            }
            long[] shape = t.shape();
            long[] stride = new long[shape.length];
            long st = 1;
            for (int i = shape.length - 1; i >= 0; i--) {
                stride[i] = st;
                st *= shape[i];
            }
            tensors.add(new TorchCheckpointWriter.Tensor(e.getKey(), s, 0, shape, stride));
        }
        String folder = file.getFileName().toString().replaceFirst("\\.[^.]*$", "");
        TorchCheckpointWriter.writeZip(file, folder, TorchCheckpointWriter.statePickle(tensors), ordered);
    }

    /** Writes a TensorFlow V2 checkpoint {@code prefix.index} + {@code prefix.data-00000-of-00001}. */
    public static void writeTf(Path prefix, List<RawTensor> tensors) throws IOException {
        List<TfBundleWriter.Entry> entries = new ArrayList<>();
        for (RawTensor t : tensors) {
            entries.add(new TfBundleWriter.Entry(t.name(), TfBundleWriter.tfDtype(t.dtype()), t.shape(),
                    t.data().toArray(java.lang.foreign.ValueLayout.JAVA_BYTE)));
        }
        TfBundleWriter.write(prefix, entries, 1, 4096);
    }

    private static String storageClass(dev.solder.DType d) {
        return switch (d) {
            case FLOAT32 -> "FloatStorage";
            case BFLOAT16 -> "BFloat16Storage";
            case FLOAT16 -> "HalfStorage";
            case INT32 -> "IntStorage";
            case INT64 -> "LongStorage";
        };
    }
}
