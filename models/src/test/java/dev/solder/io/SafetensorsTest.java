package dev.solder.io;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

import com.fasterxml.jackson.databind.JsonNode;
import dev.solder.DType;
import java.io.IOException;
import java.lang.foreign.Arena;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Comparator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class SafetensorsTest {
    @TempDir
    Path dir;

    @Test
    void roundTripsEveryDtype() throws IOException {
        long seed = TestTensors.freshSeed();
        Random rnd = new Random(seed);
        try (Arena arena = Arena.ofConfined()) {
            List<RawTensor> tensors = TestTensors.mixed(arena, rnd);
            Path file = dir.resolve("model.safetensors");
            SafetensorsWriter.write(file, tensors);
            try (WeightSet w = SafetensorsReader.read(file)) {
                assertEquals(tensors.size(), w.size(), "seed " + seed);
                assertEquals(Map.of("format", "pt"), w.metadata());
                assertEquals("safetensors", w.format());
                for (RawTensor t : tensors) {
                    RawTensor back = w.get(t.name());
                    assertEquals(t, back, "seed " + seed + " tensor " + t);
                    assertArrayEquals(TestTensors.bytes(t), TestTensors.bytes(back), "seed " + seed + " " + t);
                    assertEquals(0, back.data().address() % back.dtype().byteSize(), "aligned: " + t);
                }
                // File order is the writer's layout order.
                assertEquals(SafetensorsWriter.layout(tensors).stream().map(RawTensor::name).toList(),
                        List.copyOf(w.names()), "seed " + seed);
            }
            // Reading the directory finds model.safetensors.
            try (WeightSet w = SafetensorsReader.read(dir)) {
                assertEquals(tensors.size(), w.size());
            }
        }
    }

    @Test
    void pendingTensorsWriteTheSameFileByteForByte() throws IOException {
        long seed = TestTensors.freshSeed();
        Random rnd = new Random(seed);
        try (Arena arena = Arena.ofConfined()) {
            List<RawTensor> tensors = TestTensors.mixed(arena, rnd);
            Path direct = dir.resolve("direct.safetensors");
            Path pending = dir.resolve("pending.safetensors");
            Map<String, String> meta = Map.of("format", "pt", "step", "7");
            SafetensorsWriter.write(direct, tensors, meta);
            List<SafetensorsWriter.Pending> lazy = new ArrayList<>();
            int[] filled = new int[1];
            for (RawTensor t : tensors) {
                lazy.add(new SafetensorsWriter.Pending(t.name(), t.dtype(), t.shape(), dst -> {
                    assertEquals(t.byteSize(), dst.byteSize(), "buffer for " + t.name());
                    dst.copyFrom(t.data());
                    filled[0]++;
                }));
            }
            SafetensorsWriter.writePending(pending, lazy, meta);
            assertEquals(tensors.size(), filled[0], "every tensor filled once");
            assertArrayEquals(Files.readAllBytes(direct), Files.readAllBytes(pending), "seed " + seed);
        }
        var bad = assertThrows(IllegalArgumentException.class,
                () -> new SafetensorsWriter.Pending("w", DType.FLOAT32, new long[] {2, -1}, dst -> { }));
        assertTrue(bad.getMessage().contains("'w'"), bad.getMessage());
    }

    /** Byte-exact outputs of Hugging Face's reference implementation (from its own unit tests). */
    @Test
    void matchesReferenceImplementationBytes() throws IOException {
        try (Arena arena = Arena.ofConfined()) {
            float[] v = {0, 1, 2, 3, 4, 5};
            Path a = dir.resolve("a.safetensors");
            SafetensorsWriter.write(a, List.of(RawTensor.ofFloats(arena, "attn.0", v, 1, 2, 3)), Map.of());
            byte[] expectedA = concat(le(64), ascii("{\"attn.0\":{\"dtype\":\"F32\",\"shape\":[1,2,3],"
                    + "\"data_offsets\":[0,24]}}"), floats(v));
            assertArrayEquals(expectedA, Files.readAllBytes(a));

            Path b = dir.resolve("b.safetensors");
            SafetensorsWriter.write(b, List.of(RawTensor.ofFloats(arena, "attn0", v, 1, 1, 2, 3)), Map.of());
            byte[] expectedB = concat(le(72), ascii("{\"attn0\":{\"dtype\":\"F32\",\"shape\":[1,1,2,3],"
                    + "\"data_offsets\":[0,24]}}       "), floats(v));
            assertArrayEquals(expectedB, Files.readAllBytes(b));

            Path c = dir.resolve("c.safetensors");
            SafetensorsWriter.write(c, List.of(), Map.of("framework", "pt"));
            assertArrayEquals(concat(le(40), ascii("{\"__metadata__\":{\"framework\":\"pt\"}}     ")),
                    Files.readAllBytes(c));
        }
    }

    @Test
    void layoutSortsByAlignmentThenNameAndPadsHeader() throws IOException {
        long seed = TestTensors.freshSeed();
        Random rnd = new Random(seed);
        try (Arena arena = Arena.ofConfined()) {
            List<RawTensor> tensors = new ArrayList<>();
            String[] names = {"b", "a", "c.weight", "A", "z"};
            for (DType dt : DType.values()) {
                for (String n : names) {
                    tensors.add(TestTensors.random(arena, rnd, n + "_" + dt.label(), dt, 1 + rnd.nextInt(3)));
                }
            }
            java.util.Collections.shuffle(tensors, rnd);
            Path file = dir.resolve("sorted.safetensors");
            SafetensorsWriter.write(file, tensors);
            byte[] bytes = Files.readAllBytes(file);
            long n = ByteBuffer.wrap(bytes).order(ByteOrder.LITTLE_ENDIAN).getLong(0);
            assertEquals(0, n % 8, "header padded to 8");
            String header = new String(bytes, 8, (int) n, StandardCharsets.UTF_8);
            String json = header.stripTrailing();
            assertTrue(json.endsWith("}") && n - json.length() < 8, "only padding spaces after the JSON");
            JsonNode root = Json.MAPPER.readTree(header);
            List<String> keys = new ArrayList<>();
            root.fieldNames().forEachRemaining(keys::add);
            assertEquals("__metadata__", keys.getFirst());
            List<DType> order = List.of(DType.INT64, DType.FLOAT32, DType.INT32, DType.BFLOAT16, DType.FLOAT16);
            List<String> expected = tensors.stream()
                    .sorted(Comparator.comparingInt((RawTensor t) -> order.indexOf(t.dtype())).thenComparing(RawTensor::name))
                    .map(RawTensor::name).toList();
            assertEquals(expected, keys.subList(1, keys.size()), "seed " + seed);
            long offset = 0;
            for (String k : expected) {
                JsonNode off = root.get(k).get("data_offsets");
                assertEquals(offset, off.get(0).asLong(), k);
                assertEquals(0, (8 + n + offset) % DType.parse(k.substring(k.indexOf('_') + 1)).byteSize(), k);
                offset = off.get(1).asLong();
            }
            assertEquals(bytes.length, 8 + n + offset);
        }
    }

    @Test
    void writeIsAtomicAndReplaces() throws IOException {
        long seed = TestTensors.freshSeed();
        Random rnd = new Random(seed);
        try (Arena arena = Arena.ofConfined()) {
            Path file = dir.resolve("m.safetensors");
            SafetensorsWriter.write(file, List.of(TestTensors.random(arena, rnd, "x", DType.FLOAT32, 4)));
            RawTensor y = TestTensors.random(arena, rnd, "y", DType.BFLOAT16, 2, 2);
            SafetensorsWriter.write(file, List.of(y));
            try (WeightSet w = SafetensorsReader.read(file)) {
                assertEquals(List.of("y"), List.copyOf(w.names()));
                assertEquals(y, w.get("y"), "seed " + seed);
            }
            try (Stream<Path> s = Files.list(dir)) {
                assertEquals(List.of(file), s.toList(), "no temporary file left behind");
            }
            assertThrows(IllegalArgumentException.class, () -> SafetensorsWriter.write(file, List.of(y, y)));
            assertThrows(IllegalArgumentException.class, () -> SafetensorsWriter.write(file,
                    List.of(RawTensor.allocate(arena, "__metadata__", DType.FLOAT32, 1))));
        }
    }

    @Test
    void readsShardedCheckpointInIndexOrder() throws IOException {
        long seed = TestTensors.freshSeed();
        Random rnd = new Random(seed);
        try (Arena arena = Arena.ofConfined()) {
            List<RawTensor> all = TestTensors.mixed(arena, rnd);
            List<RawTensor> s1 = all.subList(0, all.size() / 2);
            List<RawTensor> s2 = all.subList(all.size() / 2, all.size());
            SafetensorsWriter.write(dir.resolve("model-00001-of-00002.safetensors"), s1);
            SafetensorsWriter.write(dir.resolve("model-00002-of-00002.safetensors"), s2);
            // The index lists tensors in an order unrelated to the shards' layouts.
            List<RawTensor> shuffled = new ArrayList<>(all);
            java.util.Collections.shuffle(shuffled, rnd);
            Map<String, String> weightMap = new LinkedHashMap<>();
            for (RawTensor t : shuffled) {
                weightMap.put(t.name(), (s1.contains(t) ? "model-00001-of-00002" : "model-00002-of-00002") + ".safetensors");
            }
            Path index = writeIndex(weightMap);
            for (Path p : List.of(index, dir)) {
                try (WeightSet w = SafetensorsReader.read(p)) {
                    assertEquals(shuffled.stream().map(RawTensor::name).toList(), List.copyOf(w.names()), "seed " + seed);
                    for (RawTensor t : all) {
                        assertEquals(t, w.get(t.name()), "seed " + seed);
                    }
                    assertEquals("123", w.metadata().get("total_size"));
                    assertEquals("pt", w.metadata().get("format"));
                }
            }

            // Inconsistent indexes are reported, naming tensor and shard.
            String first = all.getFirst().name();
            Map<String, String> wrong = new LinkedHashMap<>(weightMap);
            wrong.put(first, "model-00002-of-00002.safetensors");
            var e = assertThrows(WeightFormatException.class, () -> SafetensorsReader.read(writeIndex(wrong)));
            assertTrue(e.getMessage().contains("'" + first + "' in 'model-00002-of-00002.safetensors', which does not "
                    + "contain it"), e.getMessage());

            Map<String, String> escape = new LinkedHashMap<>(weightMap);
            escape.put(first, "../elsewhere.safetensors");
            e = assertThrows(WeightFormatException.class, () -> SafetensorsReader.read(writeIndex(escape)));
            assertTrue(e.getMessage().contains("not a file in"), e.getMessage());

            Map<String, String> missing = new LinkedHashMap<>(weightMap);
            missing.put(first, "model-00003-of-00002.safetensors");
            e = assertThrows(WeightFormatException.class, () -> SafetensorsReader.read(writeIndex(missing)));
            assertTrue(e.getMessage().contains("does not exist"), e.getMessage());

            Files.write(dir.resolve(SafetensorsReader.INDEX_FILE), "{\"metadata\":{}}".getBytes(StandardCharsets.UTF_8));
            e = assertThrows(WeightFormatException.class, () -> SafetensorsReader.read(dir.resolve(SafetensorsReader.INDEX_FILE)));
            assertTrue(e.getMessage().contains("weight_map"), e.getMessage());
        }
    }

    @Test
    void duplicateTensorAcrossShardsIsAnError() throws IOException {
        try (Arena arena = Arena.ofConfined()) {
            RawTensor t = RawTensor.ofFloats(arena, "w", new float[] {1, 2}, 2);
            SafetensorsWriter.write(dir.resolve("s1.safetensors"), List.of(t));
            SafetensorsWriter.write(dir.resolve("s2.safetensors"),
                    List.of(t, RawTensor.ofFloats(arena, "v", new float[] {3}, 1)));
            var e = assertThrows(WeightFormatException.class,
                    () -> SafetensorsReader.read(writeIndex(Map.of("w", "s1.safetensors", "v", "s2.safetensors"))));
            assertTrue(e.getMessage().contains("'w' is in both"), e.getMessage());
        }
    }

    // ---- hostile and broken files -------------------------------------------------------------

    @Test
    void rejectsTruncatedAndOversizedHeaders() throws IOException {
        assertRejected(new byte[0], "too short for the 8-byte header length");
        assertRejected(new byte[5], "too short for the 8-byte header length");
        assertRejected(concat(le(1000), ascii("{}")), "header length 1000 reaches past the end of the file (10 bytes");
        assertRejected(concat(le(-2), ascii("{}")), "header length 18446744073709551614 exceeds");
        assertRejected(concat(le(200_000_000), ascii("{}")), "exceeds the 100000000-byte limit");
    }

    @Test
    void rejectsMalformedJson() throws IOException {
        assertRejected(file("[1, 2]", 0), "header must be a JSON object, found array");
        assertRejected(file("\"text\"", 0), "header must be a JSON object");
        assertRejected(file("{\"a\": {\"dtype\": \"F32\"", 0), "header is not well-formed JSON");
        assertRejected(file("{} trailing", 0), "header is not well-formed JSON");
        assertRejected(file("{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]},"
                + "\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]}}", 4), "Duplicate field 'a'");
        assertRejected(file("{\"__metadata__\": {\"n\": 3}}", 0), "__metadata__ value 'n' must be a string");
        assertRejected(file("{\"a\": 7}", 0), "tensor 'a': expected {dtype, shape, data_offsets}");
        assertRejected(file("{\"a\":{\"shape\":[1],\"data_offsets\":[0,4]}}", 4), "tensor 'a': missing \"dtype\"");
        assertRejected(file("{\"a\":{\"dtype\":\"F32\",\"shape\":[-1],\"data_offsets\":[0,4]}}", 4),
                "tensor 'a': shape [-1] must hold non-negative integers");
        assertRejected(file("{\"a\":{\"dtype\":\"F32\",\"shape\":[1.5],\"data_offsets\":[0,4]}}", 4),
                "must hold non-negative integers");
        assertRejected(file("{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0]}}", 4),
                "tensor 'a': missing \"data_offsets\" [begin, end]");
    }

    @Test
    void rejectsBadOffsetsAndSizes() throws IOException {
        assertRejected(file("{\"w\":{\"dtype\":\"F32\",\"shape\":[2,3],\"data_offsets\":[0,24]}}", 20),
                "tensor 'w': data_offsets [0,24] reach past the data area (20 bytes");
        assertRejected(file("{\"w\":{\"dtype\":\"F32\",\"shape\":[2,3],\"data_offsets\":[0,20]}}", 24),
                "tensor 'w': F32 [2, 3] needs 24 bytes, data_offsets [0,20] hold 20");
        assertRejected(file("{\"w\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[8,4]}}", 24),
                "tensor 'w': data_offsets [8,4] has begin > end");
        assertRejected(file("{\"w\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]},"
                + "\"v\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[4,12]}}", 12), "'w' [0, 8) and 'v' [4, 12) overlap");
        assertRejected(file("{\"w\":{\"dtype\":\"F32\",\"shape\":[4294967296,4294967296],\"data_offsets\":[0,8]}}", 8),
                "needs more than 2^63 bytes");
        assertRejected(file("{\"w\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,99999999999999999999999]}}", 8),
                "must be non-negative integers");
    }

    @Test
    void rejectsUnsupportedDtypesNamingTheTensor() throws IOException {
        assertRejected(file("{\"scores\":{\"dtype\":\"F64\",\"shape\":[1],\"data_offsets\":[0,8]}}", 8),
                "tensor 'scores': dtype F64 is not supported by Solder (supported: F32, BF16, F16, I32, I64)");
        assertRejected(file("{\"mask\":{\"dtype\":\"BOOL\",\"shape\":[1],\"data_offsets\":[0,1]}}", 1),
                "tensor 'mask': dtype BOOL is not supported");
        assertRejected(file("{\"q\":{\"dtype\":\"Q7\",\"shape\":[1],\"data_offsets\":[0,1]}}", 1),
                "tensor 'q': unknown dtype 'Q7'");
    }

    @Test
    void everyTruncationOfAValidFileIsRejected() throws IOException {
        long seed = TestTensors.freshSeed();
        Random rnd = new Random(seed);
        try (Arena arena = Arena.ofConfined()) {
            Path good = dir.resolve("good.safetensors");
            SafetensorsWriter.write(good, List.of(TestTensors.random(arena, rnd, "a", DType.FLOAT32, 3),
                    TestTensors.random(arena, rnd, "b", DType.INT64, 2)));
            byte[] bytes = Files.readAllBytes(good);
            for (int len = 0; len < bytes.length; len++) {
                Path cut = dir.resolve("cut.safetensors");
                Files.write(cut, Arrays.copyOf(bytes, len));
                try (WeightSet w = SafetensorsReader.read(cut)) {
                    fail("a file cut to " + len + " of " + bytes.length + " bytes was accepted: " + w);
                } catch (WeightFormatException expected) {
                    assertTrue(expected.getMessage().startsWith(cut.toString()), expected.getMessage());
                }
            }
        }
    }

    @Test
    void randomCorruptionNeverEscapesAsAnotherException() throws IOException {
        long seed = TestTensors.freshSeed();
        Random rnd = new Random(seed);
        try (Arena arena = Arena.ofConfined()) {
            Path good = dir.resolve("good.safetensors");
            SafetensorsWriter.write(good, TestTensors.mixed(arena, rnd));
            byte[] bytes = Files.readAllBytes(good);
            int headerEnd = 8 + (int) ByteBuffer.wrap(bytes).order(ByteOrder.LITTLE_ENDIAN).getLong(0);
            Path bad = dir.resolve("bad.safetensors");
            for (int round = 0; round < 300; round++) {
                byte[] b = bytes.clone();
                for (int k = 0; k < 1 + rnd.nextInt(3); k++) {
                    b[rnd.nextInt(headerEnd)] = (byte) rnd.nextInt(256);
                }
                Files.write(bad, b);
                try (WeightSet w = SafetensorsReader.read(bad)) {
                    w.tensors().values().forEach(RawTensor::toFloatArray);
                } catch (WeightFormatException expected) {
                    // fine: reported as a format problem
                } catch (RuntimeException e) {
                    throw new AssertionError("seed " + seed + " round " + round + ": " + e, e);
                }
            }
        }
    }

    @Test
    void closedSetRefusesAccess() throws IOException {
        try (Arena arena = Arena.ofConfined()) {
            Path file = dir.resolve("c.safetensors");
            SafetensorsWriter.write(file, List.of(RawTensor.ofFloats(arena, "w", new float[] {1, 2, 3}, 3)));
            WeightSet w = SafetensorsReader.read(file);
            RawTensor t = w.get("w");
            assertArrayEquals(new float[] {1, 2, 3}, t.toFloatArray());
            w.close();
            assertFalse(w.isOpen());
            assertThrows(IllegalStateException.class, t::toFloatArray);
            w.close(); // idempotent
            var e = assertThrows(java.util.NoSuchElementException.class, () -> SafetensorsReader.read(file).get("x.w"));
            assertTrue(e.getMessage().contains("similar: w"), e.getMessage());
        }
    }

    // ---- helpers ---------------------------------------------------------------------------------

    private Path writeIndex(Map<String, String> weightMap) throws IOException {
        Map<String, Object> root = new LinkedHashMap<>();
        root.put("metadata", Map.of("total_size", 123));
        root.put("weight_map", weightMap);
        Path index = dir.resolve(SafetensorsReader.INDEX_FILE);
        Files.write(index, Json.MAPPER.writeValueAsBytes(root));
        return index;
    }

    private Path file(String header, int dataBytes) throws IOException {
        byte[] h = ascii(header);
        return write(concat(le(h.length), h, new byte[dataBytes]));
    }

    private Path write(byte[] bytes) throws IOException {
        Path p = Files.createTempFile(dir, "hostile", ".safetensors");
        Files.write(p, bytes);
        return p;
    }

    private void assertRejected(byte[] bytes, String expected) throws IOException {
        assertRejected(write(bytes), expected);
    }

    private static void assertRejected(Path p, String expected) {
        var e = assertThrows(WeightFormatException.class, () -> SafetensorsReader.read(p).close());
        assertTrue(e.getMessage().startsWith(p + ": "), e.getMessage());
        assertTrue(e.getMessage().contains(expected), "expected '" + expected + "' in: " + e.getMessage());
        assertEquals(p, e.file());
    }

    static byte[] le(long v) {
        return ByteBuffer.allocate(8).order(ByteOrder.LITTLE_ENDIAN).putLong(v).array();
    }

    static byte[] ascii(String s) {
        return s.getBytes(StandardCharsets.UTF_8);
    }

    static byte[] floats(float... v) {
        ByteBuffer b = ByteBuffer.allocate(v.length * 4).order(ByteOrder.LITTLE_ENDIAN);
        for (float f : v) {
            b.putFloat(f);
        }
        return b.array();
    }

    static byte[] concat(byte[]... parts) {
        int n = 0;
        for (byte[] p : parts) {
            n += p.length;
        }
        byte[] out = new byte[n];
        int at = 0;
        for (byte[] p : parts) {
            System.arraycopy(p, 0, out, at, p.length);
            at += p.length;
        }
        return out;
    }
}
