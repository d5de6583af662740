package dev.solder.io;

import com.fasterxml.jackson.core.JsonGenerator;
import dev.solder.DType;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Collection;
import java.util.Comparator;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Set;
import java.util.function.Consumer;

/**
 * Writes a single safetensors file laid out the way Hugging Face's reference implementation lays
 * it out, so the result loads in {@code transformers} (and diffs cleanly against a file Python
 * wrote).
 *
 * <p>Layout: tensors sorted by element alignment, largest first (I64, F32, I32, BF16, F16 — the
 * reference sorts by its {@code Dtype} enum, which is declared in alignment order), then by name
 * (byte-wise UTF-8); a compact JSON header with {@code __metadata__} first, then the tensors in
 * that order as {@code {"dtype", "shape", "data_offsets"}}; the header padded with spaces to a
 * multiple of 8 bytes so the data area, and with it every tensor, is aligned.
 *
 * <p>The file is written to a temporary sibling, synced, and renamed over {@code file}
 * atomically: readers see the old file or the complete new one, never a torn one.
 *
 * <pre>{@code
 * SafetensorsWriter.write(Path.of("out/model.safetensors"), tensors);   // __metadata__ {"format": "pt"}
 * }</pre>
 */
public final class SafetensorsWriter {
    /** The metadata {@code transformers} expects on a PyTorch-flavoured file. */
    public static final Map<String, String> PT_METADATA = Map.of("format", "pt");

    // Large tensors go out in slices: ByteBuffer views are limited to 2 GiB.
    private static final long CHUNK = 1L << 26;

    private SafetensorsWriter() {}

    /** What the layout and the header need of a tensor: a {@link RawTensor} or a {@link Pending} one. */
    interface Described {
        String name();

        DType dtype();

        long[] shape();

        long byteSize();
    }

    /**
     * A tensor whose bytes are produced while the file is written ({@link #writePending}):
     * {@code fill} gets a buffer of exactly {@link #byteSize()} bytes and must write all of them,
     * little-endian and row-major — a device tensor copied down, say. The file then never needs
     * all its tensors on the host at once: one buffer, the size of the largest, serves them all.
     */
    public record Pending(String name, DType dtype, long[] shape, Consumer<MemorySegment> fill) implements Described {
        public Pending {
            Objects.requireNonNull(name, "name");
            Objects.requireNonNull(dtype, "dtype");
            Objects.requireNonNull(fill, "fill");
            shape = shape.clone();
            byteSize(name, dtype, shape);   // rejects negative or overflowing shapes here
        }

        @Override
        public long[] shape() {
            return shape.clone();
        }

        @Override
        public long byteSize() {
            return byteSize(name, dtype, shape);
        }

        private static long byteSize(String name, DType dtype, long[] shape) {
            long n = 1;
            for (long d : shape) {
                if (d < 0) {
                    throw new IllegalArgumentException("tensor '" + name + "': negative dimension in "
                            + java.util.Arrays.toString(shape));
                }
                n = Math.multiplyExact(n, d);
            }
            return Math.multiplyExact(n, (long) dtype.byteSize());
        }
    }

    /**
     * Writes {@code tensors}, each filled into one reused buffer just before its bytes go out:
     * the same file {@link #write(Path, Collection, Map)} writes for the same names, types,
     * shapes and bytes.
     */
    public static void writePending(Path file, Collection<Pending> tensors, Map<String, String> metadata)
            throws IOException {
        List<Pending> sorted = layout(tensors);
        byte[] header = header(sorted, metadata);
        long largest = sorted.stream().mapToLong(Pending::byteSize).max().orElse(0);
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment buffer = arena.allocate(Math.max(1, largest), 64);
            AtomicFiles.write(file, ch -> {
                writeHeader(ch, header);
                for (Pending t : sorted) {
                    MemorySegment slice = buffer.asSlice(0, t.byteSize());
                    t.fill().accept(slice);
                    writeData(ch, slice);
                }
            });
        }
    }

    /** Writes {@code tensors} with {@code __metadata__ = {"format": "pt"}}. */
    public static void write(Path file, Collection<RawTensor> tensors) throws IOException {
        write(file, tensors, PT_METADATA);
    }

    /**
     * Writes {@code tensors} with the given {@code __metadata__} (omitted when empty).
     *
     * @throws IllegalArgumentException on duplicate names or the reserved name {@code __metadata__}
     */
    public static void write(Path file, Collection<RawTensor> tensors, Map<String, String> metadata)
            throws IOException {
        List<RawTensor> sorted = layout(tensors);
        byte[] header = header(sorted, metadata);
        AtomicFiles.write(file, ch -> {
            writeHeader(ch, header);
            for (RawTensor t : sorted) {
                writeData(ch, t.data());
            }
        });
    }

    private static void writeHeader(FileChannel ch, byte[] header) throws IOException {
        ByteBuffer len = ByteBuffer.allocate(8).order(ByteOrder.LITTLE_ENDIAN).putLong(0, header.length);
        writeFully(ch, len);
        writeFully(ch, ByteBuffer.wrap(header));
    }

    private static void writeData(FileChannel ch, MemorySegment data) throws IOException {
        for (long at = 0; at < data.byteSize(); at += CHUNK) {
            writeFully(ch, data.asSlice(at, Math.min(CHUNK, data.byteSize() - at)).asByteBuffer());
        }
    }

    /** The tensors in the order the reference implementation writes them. */
    static <T extends Described> List<T> layout(Collection<T> tensors) {
        Set<String> seen = new HashSet<>();
        for (T t : tensors) {
            if (t.name().equals(SafetensorsFormat.METADATA_KEY)) {
                throw new IllegalArgumentException("'__metadata__' is reserved and cannot name a tensor");
            }
            if (!seen.add(t.name())) {
                throw new IllegalArgumentException("duplicate tensor name '" + t.name() + "'");
            }
        }
        List<T> sorted = new ArrayList<>(tensors);
        sorted.sort(Comparator.comparingInt((T t) -> -SafetensorsFormat.alignmentRank(t.dtype()))
                .thenComparing((a, b) -> Arrays.compareUnsigned(utf8(a.name()), utf8(b.name()))));
        return sorted;
    }

    /** The JSON header, padded with spaces to a multiple of 8 bytes. */
    static byte[] header(List<? extends Described> sorted, Map<String, String> metadata) {
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        try (JsonGenerator g = Json.MAPPER.getFactory().createGenerator(out)) {
            g.writeStartObject();
            if (metadata != null && !metadata.isEmpty()) {
                g.writeObjectFieldStart(SafetensorsFormat.METADATA_KEY);
                for (Map.Entry<String, String> e : metadata.entrySet()) {
                    g.writeStringField(e.getKey(), e.getValue());
                }
                g.writeEndObject();
            }
            long offset = 0;
            for (Described t : sorted) {
                g.writeObjectFieldStart(t.name());
                g.writeStringField("dtype", SafetensorsFormat.name(t.dtype()));
                g.writeArrayFieldStart("shape");
                for (long d : t.shape()) {
                    g.writeNumber(d);
                }
                g.writeEndArray();
                g.writeArrayFieldStart("data_offsets");
                g.writeNumber(offset);
                g.writeNumber(offset + t.byteSize());
                g.writeEndArray();
                g.writeEndObject();
                offset += t.byteSize();
            }
            g.writeEndObject();
        } catch (IOException e) {
            throw new UncheckedIOException(e); // a ByteArrayOutputStream does not fail
        }
        int pad = (8 - out.size() % 8) % 8;
        for (int i = 0; i < pad; i++) {
            out.write(' ');
        }
        return out.toByteArray();
    }

    private static byte[] utf8(String s) {
        return s.getBytes(StandardCharsets.UTF_8);
    }

    private static void writeFully(FileChannel ch, ByteBuffer buf) throws IOException {
        while (buf.hasRemaining()) {
            ch.write(buf);
        }
    }
}
