package dev.solder.io;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

import dev.solder.DType;
import dev.solder.io.TfBundleWriter.Entry;
import java.io.IOException;
import java.lang.foreign.Arena;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Random;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class TfCheckpointReaderTest {
    @TempDir
    Path dir;

    /** BERT-like names (shared prefixes exercise key compression) with random shapes and values. */
    private static List<RawTensor> bertLike(Arena arena, Random rnd) {
        List<RawTensor> out = new ArrayList<>();
        DType[] types = DType.values();
        for (int layer = 0; layer < 3; layer++) {
            for (String part : List.of("attention/self/query/kernel", "attention/self/query/bias",
                    "attention/output/LayerNorm/gamma", "intermediate/dense/kernel")) {
                out.add(TestTensors.random(arena, rnd, "bert/encoder/layer_" + layer + "/" + part,
                        types[rnd.nextInt(types.length)], TestTensors.randomShape(rnd)));
            }
        }
        out.add(TestTensors.random(arena, rnd, "bert/embeddings/word_embeddings", DType.FLOAT32, 50, 8));
        out.add(TestTensors.random(arena, rnd, "global_step", DType.INT64));
        out.add(TestTensors.random(arena, rnd, "bert/embeddings/word_embeddings/adam_m", DType.FLOAT32, 50, 8));
        out.add(TestTensors.random(arena, rnd, "empty", DType.FLOAT32, 0));
        return out;
    }

    private static List<Entry> entries(List<RawTensor> tensors) {
        return tensors.stream().map(t -> new Entry(t.name(), TfBundleWriter.tfDtype(t.dtype()), t.shape(),
                TestTensors.bytes(t))).toList();
    }

    @Test
    void readsBundleWithSeveralShardsAndBlocks() throws IOException {
        long seed = TestTensors.freshSeed();
        Random rnd = new Random(seed);
        try (Arena arena = Arena.ofConfined()) {
            List<RawTensor> tensors = bertLike(arena, rnd);
            List<Entry> entries = new ArrayList<>(entries(tensors));
            // TF's object graph is a string tensor: not a weight, skipped.
            entries.add(new Entry("_CHECKPOINTABLE_OBJECT_GRAPH", TfBundleWriter.DT_STRING, new long[0],
                    "graph".getBytes(StandardCharsets.UTF_8)));
            Path prefix = dir.resolve("model.ckpt-100");
            TfBundleWriter.Table table = TfBundleWriter.write(prefix, entries, 3, 96);
            assertTrue(table.dataBlocks().size() > 3, "several data blocks");
            List<String> sortedNames = tensors.stream().map(RawTensor::name).sorted().toList();
            for (Path p : List.of(prefix, Path.of(prefix + ".index"), dir)) {
                try (WeightSet w = TfCheckpointReader.read(p)) {
                    assertEquals("tensorflow", w.format());
                    assertEquals(sortedNames, List.copyOf(w.names()), "table order; seed " + seed);
                    for (RawTensor t : tensors) {
                        assertEquals(t, w.get(t.name()), "seed " + seed + " " + t);
                        assertEquals(0, w.get(t.name()).data().address() % t.dtype().byteSize());
                    }
                }
            }
            try (WeightSet w = TfCheckpointReader.read(prefix, n -> !n.contains("adam_") && !n.equals("global_step"))) {
                assertEquals(tensors.size() - 2, w.size());
            }
        }
    }

    @Test
    void readsSavedModelLayoutFromItsDirectory() throws IOException {
        long seed = TestTensors.freshSeed();
        Random rnd = new Random(seed);
        try (Arena arena = Arena.ofConfined()) {
            RawTensor k = TestTensors.random(arena, rnd, "module/bert/pooler/dense/kernel", DType.FLOAT32, 4, 4);
            Files.createDirectories(dir.resolve("variables"));
            TfBundleWriter.write(dir.resolve("variables/variables"), entries(List.of(k)), 1, 4096);
            try (WeightSet w = TfCheckpointReader.read(dir)) {
                assertEquals(k, w.get(k.name()), "seed " + seed);
            }
        }
    }

    @Test
    void rejectsUnsupportedDtypesAndPartitionedVariablesByName() throws IOException {
        Path prefix = dir.resolve("ckpt");
        TfBundleWriter.write(prefix, List.of(new Entry("probs", TfBundleWriter.DT_DOUBLE, new long[] {2}, new byte[16]),
                new Entry("w", TfBundleWriter.DT_FLOAT, new long[] {1}, new byte[4])), 1, 4096);
        var e = assertThrows(WeightFormatException.class, () -> TfCheckpointReader.read(prefix));
        assertTrue(e.getMessage().contains("tensor 'probs' has dtype DT_DOUBLE (2), which Solder does not read"),
                e.getMessage());
        try (WeightSet w = TfCheckpointReader.read(prefix, n -> !n.equals("probs"))) {
            assertEquals(List.of("w"), List.copyOf(w.names()));
        }

        List<byte[][]> kvs = List.of(new byte[][] {new byte[0], TfBundleWriter.header(1, 0)},
                new byte[][] {"part".getBytes(StandardCharsets.UTF_8),
                    TfBundleWriter.entryProto(TfBundleWriter.DT_FLOAT, new long[] {4}, 0, 0, 0, 0, 2)});
        Path part = dir.resolve("part");
        Files.write(Path.of(part + ".index"), TfBundleWriter.table(kvs, 4096).bytes());
        e = assertThrows(WeightFormatException.class, () -> TfCheckpointReader.read(part));
        assertTrue(e.getMessage().contains("tensor 'part' is a partitioned variable (2 slices)"), e.getMessage());
    }

    // ---- corrupt indexes --------------------------------------------------------------------------

    private Path goodBundle(Random rnd, Arena arena, String name) throws IOException {
        Path prefix = dir.resolve(name);
        TfBundleWriter.write(prefix, entries(bertLike(arena, rnd)), 2, 128);
        return prefix;
    }

    @Test
    void detectsBlockCorruptionWithItsCrc() throws IOException {
        long seed = TestTensors.freshSeed();
        Random rnd = new Random(seed);
        try (Arena arena = Arena.ofConfined()) {
            Path prefix = goodBundle(rnd, arena, "crc");
            Path index = Path.of(prefix + ".index");
            byte[] bytes = Files.readAllBytes(index);
            bytes[3] ^= 0x10; // inside the first data block
            Files.write(index, bytes);
            assertRejected(prefix, index, "data block at 0: CRC32C mismatch");
            assertRejected(prefix, index, "the index file is corrupt");
        }
    }

    @Test
    void rejectsTruncatedFooterAndWrongMagic() throws IOException {
        long seed = TestTensors.freshSeed();
        Random rnd = new Random(seed);
        try (Arena arena = Arena.ofConfined()) {
            Path prefix = goodBundle(rnd, arena, "magic");
            Path index = Path.of(prefix + ".index");
            byte[] good = Files.readAllBytes(index);

            Files.write(index, Arrays.copyOf(good, 30));
            assertRejected(prefix, index, "index is 30 bytes, shorter than the 48-byte table footer (truncated?)");

            Files.write(index, Arrays.copyOf(good, good.length - 5));
            assertRejected(prefix, index, "bad table magic number");

            byte[] wrong = good.clone();
            wrong[wrong.length - 1] = 0x00;
            Files.write(index, wrong);
            assertRejected(prefix, index, "bad table magic number 0x0047752");

            // Every prefix of the index is rejected, never accepted or thrown through.
            for (int len = 0; len < good.length; len++) {
                Files.write(index, Arrays.copyOf(good, len));
                try (WeightSet w = TfCheckpointReader.read(prefix)) {
                    fail("index cut to " + len + " bytes was accepted: " + w);
                } catch (WeightFormatException expected) {
                    assertTrue(expected.getMessage().startsWith(index.toString()), expected.getMessage());
                }
            }
        }
    }

    @Test
    void rejectsCompressedBlocks() throws IOException {
        long seed = TestTensors.freshSeed();
        Random rnd = new Random(seed);
        try (Arena arena = Arena.ofConfined()) {
            Path prefix = dir.resolve("snappy");
            TfBundleWriter.Table t = TfBundleWriter.write(prefix, entries(bertLike(arena, rnd)), 1, 128);
            byte[] bytes = t.bytes().clone();
            TfBundleWriter.reseal(bytes, t.dataBlocks().get(1), 1); // valid CRC, snappy type
            Path index = Path.of(prefix + ".index");
            Files.write(index, bytes);
            assertRejected(prefix, index, "is snappy-compressed; TensorFlow writes checkpoint indexes uncompressed");
        }
    }

    @Test
    void detectsCorruptAndMissingTensorData() throws IOException {
        long seed = TestTensors.freshSeed();
        Random rnd = new Random(seed);
        try (Arena arena = Arena.ofConfined()) {
            RawTensor a = TestTensors.random(arena, rnd, "a", DType.FLOAT32, 8);
            RawTensor b = TestTensors.random(arena, rnd, "b", DType.BFLOAT16, 4);
            Path prefix = dir.resolve("data");
            TfBundleWriter.write(prefix, entries(List.of(a, b)), 1, 4096);
            Path shard = dir.resolve("data.data-00000-of-00001");
            byte[] good = Files.readAllBytes(shard);

            byte[] flipped = good.clone();
            flipped[33] ^= 1; // inside b, which follows a's 32 bytes
            Files.write(shard, flipped);
            var e = assertThrows(WeightFormatException.class, () -> TfCheckpointReader.read(prefix));
            assertEquals(shard, e.file());
            assertTrue(e.getMessage().contains("tensor 'b': CRC32C mismatch"), e.getMessage());

            Files.write(shard, Arrays.copyOf(good, 36));
            e = assertThrows(WeightFormatException.class, () -> TfCheckpointReader.read(prefix));
            assertTrue(e.getMessage().contains("tensor 'b' at [32, +8) reaches past the end of the shard (36 bytes"),
                    e.getMessage());

            Files.delete(shard);
            e = assertThrows(WeightFormatException.class, () -> TfCheckpointReader.read(prefix));
            assertTrue(e.getMessage().contains("data shard is missing"), e.getMessage());

            e = assertThrows(WeightFormatException.class, () -> TfCheckpointReader.read(dir.resolve("nothing")));
            assertTrue(e.getMessage().contains("no checkpoint index nothing.index"), e.getMessage());
        }
    }

    @Test
    void rejectsInconsistentEntriesAndHeaders() throws IOException {
        Path p = dir.resolve("bad");
        Path index = Path.of(p + ".index");
        byte[] four = new byte[4];
        int crc = SsTable.mask(SsTable.crc32c(four, 0, 4));
        Files.write(Path.of(p + ".data-00000-of-00001"), four);

        writeIndex(index, TfBundleWriter.header(1, 0),
                TfBundleWriter.entryProto(TfBundleWriter.DT_FLOAT, new long[] {2}, 0, 0, 4, crc, 0));
        assertRejected(p, index, "tensor 'x': float32[2] needs 8 bytes, the entry says 4");

        writeIndex(index, TfBundleWriter.header(1, 0),
                TfBundleWriter.entryProto(TfBundleWriter.DT_FLOAT, new long[] {1}, 3, 0, 4, crc, 0));
        assertRejected(p, index, "tensor 'x' is in shard 3, but the checkpoint has 1");

        writeIndex(index, TfBundleWriter.header(1, 1),
                TfBundleWriter.entryProto(TfBundleWriter.DT_FLOAT, new long[] {1}, 0, 0, 4, crc, 0));
        assertRejected(p, index, "checkpoint is big-endian");

        List<byte[][]> noHeader = List.<byte[][]>of(new byte[][] {"x".getBytes(StandardCharsets.UTF_8),
            TfBundleWriter.entryProto(TfBundleWriter.DT_FLOAT, new long[] {1}, 0, 0, 4, crc, 0)});
        Files.write(index, TfBundleWriter.table(noHeader, 4096).bytes());
        assertRejected(p, index, "checkpoint index has no header entry");

        writeIndex(index, TfBundleWriter.header(1, 0), new byte[] {0x12, 0x02, 0x12, 0x7f});
        assertRejected(p, index, "shape of tensor 'x': needs 127 bytes, 0 left");

        writeIndex(index, TfBundleWriter.header(1, 0), new byte[] {(byte) 0x80});
        assertRejected(p, index, "entry of tensor 'x': truncated varint");
    }

    @Test
    void randomIndexCorruptionIsReportedNotThrownThrough() throws IOException {
        long seed = TestTensors.freshSeed();
        Random rnd = new Random(seed);
        try (Arena arena = Arena.ofConfined()) {
            Path prefix = goodBundle(rnd, arena, "fuzz");
            Path index = Path.of(prefix + ".index");
            byte[] good = Files.readAllBytes(index);
            for (int round = 0; round < 300; round++) {
                byte[] b = good.clone();
                for (int k = 0; k < 1 + rnd.nextInt(3); k++) {
                    b[rnd.nextInt(b.length)] = (byte) rnd.nextInt(256);
                }
                Files.write(index, b);
                try (WeightSet w = TfCheckpointReader.read(prefix)) {
                    w.tensors().values().forEach(RawTensor::toFloatArray);
                } catch (WeightFormatException expected) {
                    // reported as a format problem
                } catch (RuntimeException e) {
                    throw new AssertionError("seed " + seed + " round " + round + ": " + e, e);
                }
            }
        }
    }

    private static void writeIndex(Path index, byte[] header, byte[] entry) throws IOException {
        Files.write(index, TfBundleWriter.table(List.of(new byte[][] {new byte[0], header},
                new byte[][] {"x".getBytes(StandardCharsets.UTF_8), entry}), 4096).bytes());
    }

    private static void assertRejected(Path prefix, Path file, String expected) {
        var e = assertThrows(WeightFormatException.class, () -> TfCheckpointReader.read(prefix).close());
        assertTrue(e.getMessage().contains(expected), "expected '" + expected + "' in: " + e.getMessage());
        assertEquals(file, e.file());
    }
}
