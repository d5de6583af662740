package dev.solder.io;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;

/**
 * Test-only writer of a TensorFlow V2 checkpoint bundle, built from the format description
 * (leveldb table format + tensor_bundle.proto), so the reader can be checked against files whose
 * every byte the test controls: {@code PREFIX.index} (a table whose "" entry is the
 * BundleHeaderProto and whose other entries are BundleEntryProtos) and
 * {@code PREFIX.data-0000K-of-0000N} shards.
 */
final class TfBundleWriter {
    static final int DT_FLOAT = 1;
    static final int DT_DOUBLE = 2;
    static final int DT_INT32 = 3;
    static final int DT_STRING = 7;
    static final int DT_INT64 = 9;
    static final int DT_BFLOAT16 = 14;
    static final int DT_HALF = 19;

    private TfBundleWriter() {}

    /** A tensor to write; {@code data} are its little-endian bytes. */
    record Entry(String name, int dtype, long[] shape, byte[] data) {}

    /** A table and where its data blocks ended up ({offset, size} each). */
    record Table(byte[] bytes, List<long[]> dataBlocks) {}

    static int tfDtype(dev.solder.DType d) {
        return switch (d) {
            case FLOAT32 -> DT_FLOAT;
            case BFLOAT16 -> DT_BFLOAT16;
            case FLOAT16 -> DT_HALF;
            case INT32 -> DT_INT32;
            case INT64 -> DT_INT64;
        };
    }

    /**
     * Writes the bundle: entry {@code i} goes to shard {@code i % numShards}; the table is cut
     * into data blocks of about {@code blockSize} bytes with a restart point every 16 keys.
     */
    static Table write(Path prefix, List<Entry> entries, int numShards, int blockSize) throws IOException {
        ByteArrayOutputStream[] shards = new ByteArrayOutputStream[numShards];
        for (int s = 0; s < numShards; s++) {
            shards[s] = new ByteArrayOutputStream();
        }
        List<byte[][]> kvs = new ArrayList<>();
        kvs.add(new byte[][] {new byte[0], header(numShards, 0)});
        for (int i = 0; i < entries.size(); i++) {
            Entry e = entries.get(i);
            int shard = i % numShards;
            long offset = shards[shard].size();
            shards[shard].writeBytes(e.data());
            int crc = SsTable.mask(SsTable.crc32c(e.data(), 0, e.data().length));
            kvs.add(new byte[][] {e.name().getBytes(StandardCharsets.UTF_8),
                entryProto(e.dtype(), e.shape(), shard, offset, e.data().length, crc, 0)});
        }
        for (int s = 0; s < numShards; s++) {
            Files.write(Path.of(String.format("%s.data-%05d-of-%05d", prefix, s, numShards)), shards[s].toByteArray());
        }
        Table t = table(kvs, blockSize);
        Files.write(Path.of(prefix + ".index"), t.bytes());
        return t;
    }

    /** BundleHeaderProto {num_shards = 1, endianness = 2, version = 3 {producer = 1}}. */
    static byte[] header(int numShards, int endianness) {
        Proto p = new Proto();
        p.tag(1, 0).varint(numShards);
        if (endianness != 0) {
            p.tag(2, 0).varint(endianness);
        }
        p.tag(3, 2).bytes(new Proto().tag(1, 0).varint(1).toByteArray());
        return p.toByteArray();
    }

    /** BundleEntryProto, omitting zero fields as proto3 does. */
    static byte[] entryProto(int dtype, long[] shape, int shard, long offset, long size, int maskedCrc, int slices) {
        Proto shapeProto = new Proto();
        for (long d : shape) {
            shapeProto.tag(2, 2).bytes(d == 0 ? new byte[0] : new Proto().tag(1, 0).varint(d).toByteArray());
        }
        Proto p = new Proto();
        p.tag(1, 0).varint(dtype);
        p.tag(2, 2).bytes(shapeProto.toByteArray());
        if (shard != 0) {
            p.tag(3, 0).varint(shard);
        }
        if (offset != 0) {
            p.tag(4, 0).varint(offset);
        }
        if (size != 0) {
            p.tag(5, 0).varint(size);
        }
        p.tag(6, 5).fixed32(maskedCrc);
        for (int i = 0; i < slices; i++) {
            p.tag(7, 2).bytes(new byte[0]);
        }
        return p.toByteArray();
    }

    /** A leveldb table of {@code kvs} (sorted here by key), uncompressed, with block CRCs. */
    static Table table(List<byte[][]> kvs, int blockSize) {
        List<byte[][]> sorted = new ArrayList<>(kvs);
        sorted.sort((a, b) -> Arrays.compareUnsigned(a[0], b[0]));
        ByteArrayOutputStream file = new ByteArrayOutputStream();
        List<byte[][]> index = new ArrayList<>();
        List<long[]> dataBlocks = new ArrayList<>();
        BlockBuilder block = new BlockBuilder(16);
        byte[] lastKey = null;
        for (byte[][] kv : sorted) {
            block.add(kv[0], kv[1]);
            lastKey = kv[0];
            if (block.size() >= blockSize) {
                long[] h = writeBlock(file, block.finish());
                dataBlocks.add(h);
                index.add(new byte[][] {lastKey, handle(h)});
                block = new BlockBuilder(16);
            }
        }
        if (!block.isEmpty()) {
            long[] h = writeBlock(file, block.finish());
            dataBlocks.add(h);
            index.add(new byte[][] {lastKey, handle(h)});
        }
        long[] meta = writeBlock(file, new BlockBuilder(16).finish());
        BlockBuilder ib = new BlockBuilder(1);
        for (byte[][] e : index) {
            ib.add(e[0], e[1]);
        }
        long[] idx = writeBlock(file, ib.finish());
        Proto footer = new Proto().varint(meta[0]).varint(meta[1]).varint(idx[0]).varint(idx[1]);
        byte[] f = Arrays.copyOf(footer.toByteArray(), 48);
        for (int i = 0; i < 8; i++) {
            f[40 + i] = (byte) (SsTable.MAGIC >>> (8 * i));
        }
        file.writeBytes(f);
        return new Table(file.toByteArray(), dataBlocks);
    }

    private static byte[] handle(long[] h) {
        return new Proto().varint(h[0]).varint(h[1]).toByteArray();
    }

    private static long[] writeBlock(ByteArrayOutputStream file, byte[] block) {
        long offset = file.size();
        file.writeBytes(block);
        byte[] withType = Arrays.copyOf(block, block.length + 1); // type 0: uncompressed
        int crc = SsTable.mask(SsTable.crc32c(withType, 0, withType.length));
        file.write(0);
        for (int i = 0; i < 4; i++) {
            file.write(crc >>> (8 * i));
        }
        return new long[] {offset, block.length};
    }

    /** Re-seals the block at {@code h} after a test changed its bytes or type. */
    static void reseal(byte[] table, long[] h, int type) {
        int o = (int) h[0];
        int n = (int) h[1];
        table[o + n] = (byte) type;
        int crc = SsTable.mask(SsTable.crc32c(table, o, n + 1));
        for (int i = 0; i < 4; i++) {
            table[o + n + 1 + i] = (byte) (crc >>> (8 * i));
        }
    }

    private static final class BlockBuilder {
        private final int restartInterval;
        private final ByteArrayOutputStream out = new ByteArrayOutputStream();
        private final List<Integer> restarts = new ArrayList<>();
        private byte[] last = new byte[0];
        private int count;

        BlockBuilder(int restartInterval) {
            this.restartInterval = restartInterval;
        }

        void add(byte[] key, byte[] value) {
            int shared = 0;
            if (count % restartInterval == 0) {
                restarts.add(out.size());
            } else {
                while (shared < Math.min(last.length, key.length) && last[shared] == key[shared]) {
                    shared++;
                }
            }
            Proto p = new Proto().varint(shared).varint(key.length - shared).varint(value.length);
            out.writeBytes(p.toByteArray());
            out.write(key, shared, key.length - shared);
            out.writeBytes(value);
            last = key;
            count++;
        }

        boolean isEmpty() {
            return count == 0;
        }

        int size() {
            return out.size();
        }

        byte[] finish() {
            if (restarts.isEmpty()) {
                restarts.add(0);
            }
            Proto p = new Proto();
            for (int r : restarts) {
                p.fixed32(r);
            }
            p.fixed32(restarts.size());
            out.writeBytes(p.toByteArray());
            return out.toByteArray();
        }
    }

    /** Protobuf / leveldb encoding helpers. */
    static final class Proto {
        private final ByteArrayOutputStream out = new ByteArrayOutputStream();

        Proto tag(int field, int wire) {
            return varint((long) field << 3 | wire);
        }

        Proto varint(long v) {
            while ((v & ~0x7fL) != 0) {
                out.write((int) (v & 0x7f) | 0x80);
                v >>>= 7;
            }
            out.write((int) v);
            return this;
        }

        Proto fixed32(int v) {
            for (int i = 0; i < 4; i++) {
                out.write(v >>> (8 * i));
            }
            return this;
        }

        Proto bytes(byte[] b) {
            varint(b.length);
            out.writeBytes(b);
            return this;
        }

        byte[] toByteArray() {
            return out.toByteArray();
        }
    }
}
