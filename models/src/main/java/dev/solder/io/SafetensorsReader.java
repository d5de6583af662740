package dev.solder.io;

import com.fasterxml.jackson.databind.JsonNode;
import dev.solder.DType;
import java.io.IOException;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Comparator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * Reads safetensors checkpoints, single-file or sharded, by memory-mapping them.
 *
 * <p>A safetensors file is an 8-byte little-endian header length {@code N}, {@code N} bytes of
 * JSON ({@code {"name": {"dtype": "F32", "shape": [..], "data_offsets": [begin, end]}, ...,
 * "__metadata__": {..}}}) and the data area the offsets index into. The whole file is mapped
 * once; each {@link RawTensor} is a slice of the map, so reading a checkpoint costs a header
 * parse, not a copy (a tensor whose offset is not a multiple of its element size — which the
 * reference writer never produces — is copied into aligned memory instead).
 *
 * <p>Checked before any tensor is handed out: the header length lies within the file and under
 * 100 MB, the header is a well-formed JSON object without duplicate keys, every dtype is known,
 * {@code begin <= end <= data size}, {@code end - begin == numel * element size}, and no two
 * tensors overlap. Dtypes Solder's {@link DType} cannot hold (F64, I8, U8, BOOL, ...) are
 * rejected with the tensor's name.
 *
 * <pre>{@code
 * try (WeightSet w = SafetensorsReader.read(snapshotDir)) {   // model.safetensors or the index
 *     RawTensor q = w.get("bert.encoder.layer.0.attention.self.query.weight");
 * }
 * }</pre>
 */
public final class SafetensorsReader {
    /** The single-file name Hugging Face uses. */
    public static final String SINGLE_FILE = "model.safetensors";
    /** The index of a sharded checkpoint. */
    public static final String INDEX_FILE = "model.safetensors.index.json";

    private SafetensorsReader() {}

    /**
     * Reads a safetensors file, a {@code *.safetensors.index.json} index, or a directory holding
     * {@value #SINGLE_FILE} or {@value #INDEX_FILE}.
     */
    public static WeightSet read(Path path) throws IOException {
        if (Files.isDirectory(path)) {
            Path single = path.resolve(SINGLE_FILE);
            Path index = path.resolve(INDEX_FILE);
            if (Files.isRegularFile(single)) {
                return readFile(single);
            }
            if (Files.isRegularFile(index)) {
                return readSharded(index);
            }
            throw new WeightFormatException(path, "directory has neither " + SINGLE_FILE + " nor " + INDEX_FILE);
        }
        if (path.getFileName() != null && path.getFileName().toString().endsWith(".index.json")) {
            return readSharded(path);
        }
        return readFile(path);
    }

    /** Reads one {@code .safetensors} file. */
    public static WeightSet readFile(Path file) throws IOException {
        Arena arena = Arena.ofShared();
        try {
            Map<String, String> metadata = new LinkedHashMap<>();
            Map<String, RawTensor> tensors = readInto(file, arena, metadata);
            return new WeightSet(file, "safetensors", arena, tensors, metadata);
        } catch (IOException | RuntimeException | Error e) {
            arena.close();
            throw e;
        }
    }

    /**
     * Reads a sharded checkpoint from its index ({@code {"metadata": {..}, "weight_map": {name:
     * file}}}). Tensors come in {@code weight_map} order; shard files must lie in the index's
     * directory and must hold every tensor the index assigns to them.
     */
    public static WeightSet readSharded(Path indexFile) throws IOException {
        JsonNode root = Json.parseObject(indexFile, Files.readAllBytes(indexFile), "index");
        JsonNode weightMap = root.get("weight_map");
        if (weightMap == null || !weightMap.isObject()) {
            throw new WeightFormatException(indexFile, "index has no \"weight_map\" object");
        }
        Path dir = indexFile.toAbsolutePath().getParent().normalize();
        Map<String, List<String>> byShard = new LinkedHashMap<>();
        Map<String, String> shardOf = new LinkedHashMap<>();
        for (Map.Entry<String, JsonNode> e : weightMap.properties()) {
            if (!e.getValue().isTextual()) {
                throw new WeightFormatException(indexFile, "weight_map entry '" + e.getKey()
                        + "' must name a file, found " + e.getValue());
            }
            String shard = e.getValue().asText();
            Path resolved = dir.resolve(shard).normalize();
            // A hostile index must not make us map files outside the checkpoint's directory.
            if (!resolved.getParent().equals(dir)) {
                throw new WeightFormatException(indexFile, "weight_map entry '" + e.getKey() + "' names '"
                        + shard + "', which is not a file in " + dir);
            }
            byShard.computeIfAbsent(shard, k -> new ArrayList<>()).add(e.getKey());
            shardOf.put(e.getKey(), shard);
        }
        Map<String, String> metadata = new LinkedHashMap<>();
        Arena arena = Arena.ofShared();
        try {
            Map<String, RawTensor> all = new LinkedHashMap<>();
            Map<String, String> foundIn = new LinkedHashMap<>();
            for (Map.Entry<String, List<String>> s : byShard.entrySet()) {
                Path shardFile = dir.resolve(s.getKey());
                if (!Files.isRegularFile(shardFile)) {
                    throw new WeightFormatException(indexFile, "shard '" + s.getKey() + "' (holding "
                            + s.getValue().size() + " tensors, e.g. '" + s.getValue().getFirst()
                            + "') does not exist");
                }
                Map<String, String> shardMeta = new LinkedHashMap<>();
                Map<String, RawTensor> shardTensors = readInto(shardFile, arena, shardMeta);
                shardMeta.forEach(metadata::putIfAbsent);
                for (String name : s.getValue()) {
                    if (!shardTensors.containsKey(name)) {
                        throw new WeightFormatException(indexFile, "weight_map puts tensor '" + name + "' in '"
                                + s.getKey() + "', which does not contain it");
                    }
                }
                for (RawTensor t : shardTensors.values()) {
                    String previous = foundIn.putIfAbsent(t.name(), s.getKey());
                    if (previous != null) {
                        throw new WeightFormatException(indexFile, "tensor '" + t.name() + "' is in both '"
                                + previous + "' and '" + s.getKey() + "'");
                    }
                    all.put(t.name(), t);
                }
            }
            Map<String, RawTensor> ordered = new LinkedHashMap<>();
            for (String name : shardOf.keySet()) {
                ordered.put(name, all.get(name));
            }
            all.forEach(ordered::putIfAbsent); // tensors a shard holds beyond the index, last
            JsonNode meta = root.get("metadata");
            if (meta != null && meta.isObject()) {
                meta.properties().forEach(e -> metadata.put(e.getKey(), e.getValue().asText()));
            }
            return new WeightSet(indexFile, "safetensors", arena, ordered, metadata);
        } catch (IOException | RuntimeException | Error e) {
            arena.close();
            throw e;
        }
    }

    private record Entry(String name, DType dtype, long[] shape, long begin, long end) {}

    /** Parses and validates one file, maps it into {@code arena}, returns its tensors by offset. */
    static Map<String, RawTensor> readInto(Path file, Arena arena, Map<String, String> metadataOut)
            throws IOException {
        try (FileChannel ch = FileChannel.open(file, StandardOpenOption.READ)) {
            long size = ch.size();
            if (size < 8) {
                throw new WeightFormatException(file, "file is " + size
                        + " bytes, too short for the 8-byte header length of a safetensors file");
            }
            ByteBuffer lenBuf = ByteBuffer.allocate(8).order(ByteOrder.LITTLE_ENDIAN);
            readFully(ch, lenBuf, 0, file);
            long n = lenBuf.getLong(0); // u64: a negative long means > 2^63, also too large
            if (n < 0 || n > SafetensorsFormat.MAX_HEADER_BYTES) {
                throw new WeightFormatException(file, "header length " + Long.toUnsignedString(n)
                        + " exceeds the " + SafetensorsFormat.MAX_HEADER_BYTES + "-byte limit (not a safetensors file?)");
            }
            if (8 + n > size) {
                throw new WeightFormatException(file, "header length " + n + " reaches past the end of the file ("
                        + size + " bytes; truncated download?)");
            }
            ByteBuffer header = ByteBuffer.allocate((int) n);
            readFully(ch, header, 8, file);
            long dataStart = 8 + n;
            long dataSize = size - dataStart;
            List<Entry> entries = parseHeader(file, header.array(), dataSize, metadataOut);

            // Map only when the header is sound; one map for the whole file keeps it cheap.
            MemorySegment map = size == 0 ? MemorySegment.NULL : ch.map(FileChannel.MapMode.READ_ONLY, 0, size, arena);
            Map<String, RawTensor> out = new LinkedHashMap<>();
            for (Entry e : entries) {
                long at = dataStart + e.begin;
                long len = e.end - e.begin;
                MemorySegment data = map.asSlice(at, len);
                if (at % e.dtype.byteSize() != 0) {
                    MemorySegment aligned = arena.allocate(len, 64);
                    aligned.copyFrom(data);
                    data = aligned;
                }
                out.put(e.name, new RawTensor(e.name, e.dtype, e.shape, data));
            }
            return out;
        }
    }

    private static List<Entry> parseHeader(Path file, byte[] bytes, long dataSize, Map<String, String> metadataOut)
            throws WeightFormatException {
        JsonNode root = Json.parseObject(file, bytes, "header");
        List<Entry> entries = new ArrayList<>();
        for (Map.Entry<String, JsonNode> f : root.properties()) {
            String name = f.getKey();
            JsonNode v = f.getValue();
            if (name.equals(SafetensorsFormat.METADATA_KEY)) {
                if (!v.isObject()) {
                    throw new WeightFormatException(file, "__metadata__ must be an object of strings, found " + v);
                }
                for (Map.Entry<String, JsonNode> kv : v.properties()) {
                    if (!kv.getValue().isTextual()) {
                        throw new WeightFormatException(file, "__metadata__ value '" + kv.getKey()
                                + "' must be a string, found " + kv.getValue());
                    }
                    metadataOut.put(kv.getKey(), kv.getValue().asText());
                }
                continue;
            }
            entries.add(parseEntry(file, name, v, dataSize));
        }
        // Sorting by offset gives file order and makes the overlap check one pass.
        entries.sort(Comparator.comparingLong(Entry::begin).thenComparingLong(Entry::end));
        Entry prev = null;
        for (Entry e : entries) {
            if (prev != null && e.begin < prev.end) {
                throw new WeightFormatException(file, "tensors '" + prev.name + "' [" + prev.begin + ", " + prev.end
                        + ") and '" + e.name + "' [" + e.begin + ", " + e.end + ") overlap");
            }
            if (e.end > e.begin) {
                prev = e;
            }
        }
        return entries;
    }

    private static Entry parseEntry(Path file, String name, JsonNode v, long dataSize) throws WeightFormatException {
        String where = "tensor '" + name + "': ";
        if (!v.isObject()) {
            throw new WeightFormatException(file, where + "expected {dtype, shape, data_offsets}, found " + v);
        }
        JsonNode dt = v.get("dtype");
        if (dt == null || !dt.isTextual()) {
            throw new WeightFormatException(file, where + "missing \"dtype\" string");
        }
        DType dtype = SafetensorsFormat.parse(dt.asText());
        if (dtype == null) {
            throw new WeightFormatException(file, where + (SafetensorsFormat.KNOWN_DTYPES.contains(dt.asText())
                    ? "dtype " + dt.asText() + " is not supported by Solder"
                    : "unknown dtype '" + dt.asText() + "'")
                    + " (supported: F32, BF16, F16, I32, I64)");
        }
        JsonNode sh = v.get("shape");
        if (sh == null || !sh.isArray()) {
            throw new WeightFormatException(file, where + "missing \"shape\" array");
        }
        long[] shape = new long[sh.size()];
        long numel = 1;
        for (int i = 0; i < shape.length; i++) {
            shape[i] = Json.nonNegativeLong(sh.get(i));
            if (shape[i] < 0) {
                throw new WeightFormatException(file, where + "shape " + sh + " must hold non-negative integers");
            }
            numel = multiplyOrMinusOne(numel, shape[i]);
        }
        JsonNode off = v.get("data_offsets");
        if (off == null || !off.isArray() || off.size() != 2) {
            throw new WeightFormatException(file, where + "missing \"data_offsets\" [begin, end]");
        }
        long begin = Json.nonNegativeLong(off.get(0));
        long end = Json.nonNegativeLong(off.get(1));
        if (begin < 0 || end < 0) {
            throw new WeightFormatException(file, where + "data_offsets " + off + " must be non-negative integers");
        }
        if (begin > end) {
            throw new WeightFormatException(file, where + "data_offsets " + off + " has begin > end");
        }
        if (end > dataSize) {
            throw new WeightFormatException(file, where + "data_offsets " + off + " reach past the data area ("
                    + dataSize + " bytes; truncated file?)");
        }
        long bytes = multiplyOrMinusOne(numel, dtype.byteSize());
        if (numel < 0 || bytes != end - begin) {
            throw new WeightFormatException(file, where + dt.asText() + " " + Arrays.toString(shape) + " needs "
                    + (bytes < 0 ? "more than 2^63" : Long.toString(bytes)) + " bytes, data_offsets " + off
                    + " hold " + (end - begin));
        }
        return new Entry(name, dtype, shape, begin, end);
    }

    private static long multiplyOrMinusOne(long a, long b) {
        if (a < 0) {
            return -1;
        }
        try {
            return Math.multiplyExact(a, b);
        } catch (ArithmeticException e) {
            return -1;
        }
    }

    private static void readFully(FileChannel ch, ByteBuffer buf, long position, Path file) throws IOException {
        long pos = position;
        while (buf.hasRemaining()) {
            int r = ch.read(buf, pos);
            if (r < 0) {
                throw new WeightFormatException(file, "unexpected end of file at byte " + pos);
            }
            pos += r;
        }
    }
}
