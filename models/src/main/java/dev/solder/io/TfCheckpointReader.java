package dev.solder.io;

import dev.solder.DType;
import java.io.IOException;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.function.Predicate;
import java.util.stream.Stream;
import java.util.zip.CRC32C;

/**
 * Reads a TensorFlow V2 checkpoint ("tensor bundle"), the format Google released BERT in:
 * {@code PREFIX.index} plus data shards {@code PREFIX.data-00000-of-00001}, ...
 *
 * <p>The index is a leveldb-format table ({@link SsTable}). Its entry under the empty key is a
 * {@code BundleHeaderProto} (number of shards, endianness, version); every other entry maps a
 * tensor name to a {@code BundleEntryProto}: dtype, shape, shard id, byte offset and size in that
 * shard, and the masked CRC32C of the tensor's bytes. Tensor bytes are stored little-endian and
 * row-major, exactly as {@link RawTensor} wants them, so each tensor is a slice of the
 * memory-mapped shard (copied only if its offset is not a multiple of its element size).
 *
 * <p>Verified while reading: every table block's CRC, the header (little-endian, known version),
 * each entry's dtype, shape and size, shard bounds, and the CRC32C of every tensor read.
 * String tensors (TF's object graph and other bookkeeping) are skipped; dtypes Solder has no
 * {@link DType} for, and partitioned variables, are errors naming the tensor — exclude them with
 * the filter of {@link #read(Path, Predicate)}.
 *
 * <pre>{@code
 * try (WeightSet w = TfCheckpointReader.read(Path.of("bert/bert_model.ckpt"),
 *         name -> !name.contains("adam_"))) {          // Google's checkpoints carry optimizer slots
 *     RawTensor q = w.get("bert/encoder/layer_0/attention/self/query/kernel");   // [in, out]
 * }
 * }</pre>
 */
public final class TfCheckpointReader {
    private static final int DT_STRING = 7;

    private TfCheckpointReader() {}

    /** Reads every tensor of the checkpoint. See {@link #read(Path, Predicate)} for {@code path}. */
    public static WeightSet read(Path path) throws IOException {
        return read(path, name -> true);
    }

    /**
     * Reads the tensors whose names {@code include} accepts.
     *
     * @param path the checkpoint prefix ({@code dir/model.ckpt}), its {@code .index} file, or a
     *     directory holding {@code variables/variables.index} (a SavedModel) or exactly one
     *     {@code *.index}
     */
    public static WeightSet read(Path path, Predicate<String> include) throws IOException {
        Path index = indexFile(path);
        String prefix = index.toString().substring(0, index.toString().length() - ".index".length());
        byte[] table = Files.readAllBytes(index);
        List<SsTable.Entry> entries = SsTable.readAll(index, table);
        if (entries.isEmpty() || entries.getFirst().key().length != 0) {
            throw new WeightFormatException(index, "checkpoint index has no header entry (empty key)");
        }
        int numShards = parseHeader(index, entries.getFirst().value());

        Arena arena = Arena.ofShared();
        try {
            Map<Integer, MemorySegment> shards = new HashMap<>();
            Map<String, RawTensor> tensors = new LinkedHashMap<>();
            for (SsTable.Entry e : entries.subList(1, entries.size())) {
                if (e.key()[0] == 0) {
                    continue; // slice keys of partitioned variables; their full entry reports them
                }
                String name = new String(e.key(), StandardCharsets.UTF_8);
                BundleEntry be = parseEntry(index, name, e.value());
                if (be.dtype == DT_STRING || !include.test(name)) {
                    continue;
                }
                if (be.slices > 0) {
                    throw new WeightFormatException(index, "tensor '" + name + "' is a partitioned variable ("
                            + be.slices + " slices), which is not supported");
                }
                DType dtype = dtype(be.dtype);
                if (dtype == null) {
                    throw new WeightFormatException(index, "tensor '" + name + "' has dtype " + dtypeName(be.dtype)
                            + ", which Solder does not read (supported: DT_FLOAT, DT_HALF, DT_BFLOAT16, DT_INT32, "
                            + "DT_INT64); exclude it with a name filter");
                }
                long expected;
                try {
                    expected = Math.multiplyExact(RawTensor.numel(be.shape), (long) dtype.byteSize());
                } catch (ArithmeticException ex) {
                    expected = -1;
                }
                if (expected != be.size) {
                    throw new WeightFormatException(index, "tensor '" + name + "': " + dtype + Arrays.toString(be.shape)
                            + " needs " + expected + " bytes, the entry says " + be.size);
                }
                if (be.shard < 0 || be.shard >= numShards) {
                    throw new WeightFormatException(index, "tensor '" + name + "' is in shard " + be.shard
                            + ", but the checkpoint has " + numShards);
                }
                int shardId = (int) be.shard;
                Path shardFile = Path.of(String.format("%s.data-%05d-of-%05d", prefix, shardId, numShards));
                MemorySegment shard = shards.get(shardId);
                if (shard == null) {
                    shard = mapShard(shardFile, arena);
                    shards.put(shardId, shard);
                }
                if (be.offset < 0 || be.offset > shard.byteSize() || be.size > shard.byteSize() - be.offset) {
                    throw new WeightFormatException(shardFile, "tensor '" + name + "' at [" + be.offset + ", +" + be.size
                            + ") reaches past the end of the shard (" + shard.byteSize() + " bytes; truncated?)");
                }
                MemorySegment data = shard.asSlice(be.offset, be.size);
                int crc = crc32c(data);
                if (SsTable.mask(crc) != be.crc) {
                    throw new WeightFormatException(shardFile, String.format("tensor '%s': CRC32C mismatch (index says "
                            + "0x%08x masked, data gives 0x%08x); the data file is corrupt", name, be.crc, SsTable.mask(crc)));
                }
                if (be.offset % dtype.byteSize() != 0) {
                    MemorySegment aligned = arena.allocate(be.size, 64);
                    aligned.copyFrom(data);
                    data = aligned;
                }
                tensors.put(name, new RawTensor(name, dtype, be.shape, data));
            }
            return new WeightSet(index, "tensorflow", arena, tensors, Map.of());
        } catch (IOException | RuntimeException | Error e) {
            arena.close();
            throw e;
        }
    }

    /** Finds the {@code .index} file that {@code path} designates. */
    static Path indexFile(Path path) throws IOException {
        if (Files.isDirectory(path)) {
            Path saved = path.resolve("variables").resolve("variables.index");
            if (Files.isRegularFile(saved)) {
                return saved;
            }
            List<Path> found;
            try (Stream<Path> s = Files.list(path)) {
                found = s.filter(p -> p.getFileName().toString().endsWith(".index") && Files.isRegularFile(p))
                        .sorted().toList();
            }
            if (found.size() != 1) {
                throw new WeightFormatException(path, found.isEmpty()
                        ? "directory holds no TensorFlow checkpoint (*.index or variables/variables.index)"
                        : "directory holds several checkpoints " + found.stream().map(p -> p.getFileName().toString())
                                .toList() + "; name one by its prefix");
            }
            return found.getFirst();
        }
        if (path.getFileName() != null && path.getFileName().toString().endsWith(".index")) {
            return path;
        }
        Path index = Path.of(path + ".index");
        if (!Files.isRegularFile(index)) {
            throw new WeightFormatException(path, "no checkpoint index " + index.getFileName()
                    + " (give the checkpoint prefix, its .index file, or its directory)");
        }
        return index;
    }

    private static MemorySegment mapShard(Path shard, Arena arena) throws IOException {
        if (!Files.isRegularFile(shard)) {
            throw new WeightFormatException(shard, "data shard is missing");
        }
        try (FileChannel ch = FileChannel.open(shard, StandardOpenOption.READ)) {
            long size = ch.size();
            return size == 0 ? MemorySegment.NULL : ch.map(FileChannel.MapMode.READ_ONLY, 0, size, arena);
        }
    }

    private static int crc32c(MemorySegment data) {
        CRC32C c = new CRC32C();
        long chunk = 1L << 30;
        for (long at = 0; at < data.byteSize(); at += chunk) {
            c.update(data.asSlice(at, Math.min(chunk, data.byteSize() - at)).asByteBuffer());
        }
        return (int) c.getValue();
    }

    /** Parses BundleHeaderProto {num_shards = 1, endianness = 2, version = 3}; returns num_shards. */
    private static int parseHeader(Path file, byte[] value) throws WeightFormatException {
        ProtoReader r = new ProtoReader(file, "bundle header", value, 0, value.length);
        long numShards = 0;
        long endianness = 0;
        long minConsumer = 0;
        while (r.hasMore()) {
            int tag = r.readTag();
            switch (tag >>> 3) {
                case 1 -> {
                    r.expect(tag, ProtoReader.VARINT);
                    numShards = r.readVarint();
                }
                case 2 -> {
                    r.expect(tag, ProtoReader.VARINT);
                    endianness = r.readVarint();
                }
                case 3 -> {
                    r.expect(tag, ProtoReader.LEN);
                    ProtoReader v = r.readMessage("bundle version");
                    while (v.hasMore()) {
                        int t = v.readTag();
                        if (t >>> 3 == 2 && (t & 7) == ProtoReader.VARINT) {
                            minConsumer = v.readVarint();
                        } else {
                            v.skip(t & 7);
                        }
                    }
                }
                default -> r.skip(tag & 7);
            }
        }
        if (endianness != 0) {
            throw new WeightFormatException(file, "checkpoint is big-endian; only little-endian checkpoints are read");
        }
        if (minConsumer > 1) {
            throw new WeightFormatException(file, "checkpoint format version needs a reader of version >= "
                    + minConsumer + "; this one reads version 1");
        }
        if (numShards < 0 || numShards > 99_999) {
            throw new WeightFormatException(file, "bundle header says " + numShards + " shards");
        }
        return (int) numShards;
    }

    private record BundleEntry(int dtype, long[] shape, long shard, long offset, long size, int crc, int slices) {}

    /**
     * Parses BundleEntryProto {dtype = 1, shape = 2 (TensorShapeProto {dim = 2 {size = 1}},
     * unknown_rank = 3), shard_id = 3, offset = 4, size = 5, crc32c = 6 (fixed32), slices = 7}.
     */
    private static BundleEntry parseEntry(Path file, String name, byte[] value) throws WeightFormatException {
        ProtoReader r = new ProtoReader(file, "entry of tensor '" + name + "'", value, 0, value.length);
        long dtype = 0;
        List<Long> dims = new ArrayList<>();
        long shard = 0;
        long offset = 0;
        long size = 0;
        int crc = 0;
        boolean hasCrc = false;
        int slices = 0;
        while (r.hasMore()) {
            int tag = r.readTag();
            switch (tag >>> 3) {
                case 1 -> {
                    r.expect(tag, ProtoReader.VARINT);
                    dtype = r.readVarint();
                }
                case 2 -> {
                    r.expect(tag, ProtoReader.LEN);
                    ProtoReader s = r.readMessage("shape of tensor '" + name + "'");
                    while (s.hasMore()) {
                        int t = s.readTag();
                        if (t >>> 3 == 2 && (t & 7) == ProtoReader.LEN) {
                            ProtoReader d = s.readMessage("dimension of tensor '" + name + "'");
                            long dimSize = 0;
                            while (d.hasMore()) {
                                int dt = d.readTag();
                                if (dt >>> 3 == 1 && (dt & 7) == ProtoReader.VARINT) {
                                    dimSize = d.readVarint();
                                } else {
                                    d.skip(dt & 7);
                                }
                            }
                            if (dimSize < 0) {
                                throw r.fail("shape has an unknown (" + dimSize + ") dimension");
                            }
                            dims.add(dimSize);
                        } else if (t >>> 3 == 3 && (t & 7) == ProtoReader.VARINT) {
                            if (s.readVarint() != 0) {
                                throw r.fail("shape has unknown rank");
                            }
                        } else {
                            s.skip(t & 7);
                        }
                    }
                }
                case 3 -> {
                    r.expect(tag, ProtoReader.VARINT);
                    shard = r.readVarint();
                }
                case 4 -> {
                    r.expect(tag, ProtoReader.VARINT);
                    offset = r.readVarint();
                }
                case 5 -> {
                    r.expect(tag, ProtoReader.VARINT);
                    size = r.readVarint();
                }
                case 6 -> {
                    r.expect(tag, ProtoReader.FIXED32);
                    crc = r.readFixed32();
                    hasCrc = true;
                }
                case 7 -> {
                    r.skip(tag & 7);
                    slices++;
                }
                default -> r.skip(tag & 7);
            }
        }
        if (!hasCrc && dtype != DT_STRING && slices == 0 && size > 0) {
            throw r.fail("has no crc32c");
        }
        if (dtype < 0 || dtype > Integer.MAX_VALUE) {
            throw r.fail("dtype " + dtype + " out of range");
        }
        long[] shape = dims.stream().mapToLong(Long::longValue).toArray();
        return new BundleEntry((int) dtype, shape, shard, offset, size, crc, slices);
    }

    private static DType dtype(int tfType) {
        return switch (tfType) {
            case 1 -> DType.FLOAT32; // DT_FLOAT
            case 3 -> DType.INT32; // DT_INT32
            case 9 -> DType.INT64; // DT_INT64
            case 14 -> DType.BFLOAT16; // DT_BFLOAT16
            case 19 -> DType.FLOAT16; // DT_HALF
            default -> null;
        };
    }

    private static String dtypeName(int tfType) {
        String[] names = {"DT_INVALID", "DT_FLOAT", "DT_DOUBLE", "DT_INT32", "DT_UINT8", "DT_INT16", "DT_INT8",
            "DT_STRING", "DT_COMPLEX64", "DT_INT64", "DT_BOOL", "DT_QINT8", "DT_QUINT8", "DT_QINT32", "DT_BFLOAT16",
            "DT_QINT16", "DT_QUINT16", "DT_UINT16", "DT_COMPLEX128", "DT_HALF", "DT_RESOURCE", "DT_VARIANT",
            "DT_UINT32", "DT_UINT64"};
        return tfType < names.length ? names[tfType] + " (" + tfType + ")" : "enum value " + tfType;
    }
}
