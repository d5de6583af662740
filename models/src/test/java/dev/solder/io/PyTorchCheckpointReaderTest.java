package dev.solder.io;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

import dev.solder.DType;
import dev.solder.io.TorchCheckpointWriter.Storage;
import dev.solder.io.TorchCheckpointWriter.Tensor;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HexFormat;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class PyTorchCheckpointReaderTest {
    @TempDir
    Path dir;

    /**
     * data.pkl as CPython's pickler writes it for torch.save of the state dict built in
     * {@link #fixture}: protocol 2, persistent ids ('storage', torch.XStorage, key, 'cpu', numel),
     * {@code _rebuild_tensor_v2} reductions, and the OrderedDict's {@code _metadata} BUILD. It was
     * produced by pickling stand-in objects registered under torch's module names with Python 3's
     * {@code pickle.Pickler(protocol=2)} and a {@code persistent_id} override, exactly as
     * torch/serialization.py does.
     */
    private static final String CPYTHON_DATA_PKL = ""
            + "800263636f6c6c656374696f6e730a4f726465726564446963740a710029527101285811000000656d62656464696e67732e"
            + "776569676874710263746f7263682e5f7574696c730a5f72656275696c645f74656e736f725f76320a710328285807000000"
            + "73746f72616765710463746f7263680a466c6f617453746f726167650a71055801000000307106580300000063707571074b"
            + "06747108514b004b024b038671094b034b0186710a8968002952710b74710c52710d580e0000006465636f6465722e776569"
            + "676874710e6803282868046805680668074b0674710f514b006809680a896800295271107471115271125804000000626961"
            + "73711368032828680463746f7263680a48616c6653746f726167650a7114580100000031711568074b04747116514b024b02"
            + "8571174b018571188968002952711974711a52711b580c000000706f736974696f6e5f696473711c68032828680463746f72"
            + "63680a4c6f6e6753746f726167650a711d580100000032711e68074b0374711f514b004b014b03867120680a896800295271"
            + "21747122527123580a0000007472616e73706f73656471246803282868046805580100000033712568074b06747126514b00"
            + "4b034b0286712768208968002952712874712952712a58060000007363616c6172712b68032828680463746f7263680a4246"
            + "6c6f6174313653746f726167650a712c580100000034712d68074b0174712e514b0029298968002952712f74713052713158"
            + "05000000636f756e74713268032828680463746f7263680a496e7453746f726167650a7133580100000035713468074b0274"
            + "7135514b006817681889680029527136747137527138757d713958090000005f6d65746164617461713a68002952713b2858"
            + "00000000713c7d713d580700000076657273696f6e713e4b01735807000000656e636f646572713f7d7140683e4b01737573"
            + "622e";

    /** Storages of the fixture with fresh random bytes, and the tensors the golden pickle describes. */
    private record Fixture(List<Storage> storages, List<Tensor> tensors) {}

    private static Fixture fixture(Random rnd) {
        Storage s0 = storage(rnd, "0", "FloatStorage", 6, 4);
        Storage s1 = storage(rnd, "1", "HalfStorage", 4, 2);
        Storage s2 = storage(rnd, "2", "LongStorage", 3, 8);
        Storage s3 = storage(rnd, "3", "FloatStorage", 6, 4);
        Storage s4 = storage(rnd, "4", "BFloat16Storage", 1, 2);
        Storage s5 = storage(rnd, "5", "IntStorage", 2, 4);
        List<Tensor> tensors = List.of(
                new Tensor("embeddings.weight", s0, 0, new long[] {2, 3}, new long[] {3, 1}),
                new Tensor("decoder.weight", s0, 0, new long[] {2, 3}, new long[] {3, 1}), // tied
                new Tensor("bias", s1, 2, new long[] {2}, new long[] {1}), // storage offset
                new Tensor("position_ids", s2, 0, new long[] {1, 3}, new long[] {3, 1}),
                new Tensor("transposed", s3, 0, new long[] {3, 2}, new long[] {1, 3}), // strided
                new Tensor("scalar", s4, 0, new long[] {}, new long[] {}),
                new Tensor("count", s5, 0, new long[] {2}, new long[] {1}));
        return new Fixture(List.of(s0, s1, s2, s3, s4, s5), tensors);
    }

    private static Storage storage(Random rnd, String key, String cls, long numel, int item) {
        byte[] b = new byte[(int) numel * item];
        rnd.nextBytes(b);
        if (cls.equals("HalfStorage") || cls.equals("BFloat16Storage") || cls.equals("FloatStorage")) {
            // Keep floats finite so value comparisons are meaningful.
            ByteBuffer bb = ByteBuffer.wrap(b).order(ByteOrder.LITTLE_ENDIAN);
            for (int i = 0; i < numel; i++) {
                float v = (float) rnd.nextGaussian();
                switch (cls) {
                    case "FloatStorage" -> bb.putFloat(i * 4, v);
                    case "HalfStorage" -> bb.putShort(i * 2, DType.floatToFp16(v));
                    default -> bb.putShort(i * 2, DType.floatToBf16(v));
                }
            }
        }
        return new Storage(key, cls, numel, b);
    }

    /** Checks every tensor of the fixture against its storage bytes, element by element. */
    private static void assertFixture(WeightSet w, Fixture f, long seed) {
        String msg = "seed " + seed;
        assertEquals(List.of("embeddings.weight", "decoder.weight", "bias", "position_ids", "transposed", "scalar",
                "count"), List.copyOf(w.names()), msg);
        for (Tensor t : f.tensors()) {
            RawTensor r = w.get(t.name());
            assertArrayEquals(t.size(), r.shape(), msg + " " + t.name());
            ByteBuffer src = ByteBuffer.wrap(t.storage().bytes()).order(ByteOrder.LITTLE_ENDIAN);
            int item = r.dtype().byteSize();
            long[] idx = new long[t.size().length];
            for (long i = 0; i < r.numel(); i++) {
                long at = t.offset();
                for (int d = 0; d < idx.length; d++) {
                    at += idx[d] * t.stride()[d];
                }
                for (int b = 0; b < item; b++) {
                    assertEquals(src.get((int) (at * item + b)), r.data().get(java.lang.foreign.ValueLayout.JAVA_BYTE,
                            i * item + b), msg + " " + t.name() + " element " + i);
                }
                for (int d = idx.length - 1; d >= 0; d--) {
                    if (++idx[d] < t.size()[d]) {
                        break;
                    }
                    idx[d] = 0;
                }
            }
        }
        assertEquals(DType.FLOAT32, w.get("embeddings.weight").dtype());
        assertEquals(DType.FLOAT16, w.get("bias").dtype());
        assertEquals(DType.INT64, w.get("position_ids").dtype());
        assertEquals(DType.BFLOAT16, w.get("scalar").dtype());
        assertEquals(DType.INT32, w.get("count").dtype());
        // Tied weights share memory rather than being copied twice.
        assertEquals(w.get("embeddings.weight").data().address(), w.get("decoder.weight").data().address(), msg);
        // The offset view starts 2 halfs into its storage.
        ByteBuffer s1 = ByteBuffer.wrap(f.storages().get(1).bytes()).order(ByteOrder.LITTLE_ENDIAN);
        assertEquals(DType.fp16ToFloat(s1.getShort(4)), w.get("bias").toFloatArray()[0], 0f, msg);
        // transposed[i][j] = storage[i + 3 j]
        ByteBuffer s3 = ByteBuffer.wrap(f.storages().get(3).bytes()).order(ByteOrder.LITTLE_ENDIAN);
        float[] tr = w.get("transposed").toFloatArray();
        for (int i = 0; i < 3; i++) {
            for (int j = 0; j < 2; j++) {
                assertEquals(s3.getFloat((i + 3 * j) * 4), tr[i * 2 + j], 0f, msg);
            }
        }
    }

    @Test
    void readsTheCPythonPickleOfAStateDict() throws IOException {
        long seed = TestTensors.freshSeed();
        Fixture f = fixture(new Random(seed));
        Path file = dir.resolve("pytorch_model.bin");
        TorchCheckpointWriter.writeZip(file, "pytorch_model", HexFormat.of().parseHex(CPYTHON_DATA_PKL), f.storages());
        try (WeightSet w = PyTorchCheckpointReader.read(file)) {
            assertEquals("pytorch", w.format());
            assertFixture(w, f, seed);
        }
    }

    @Test
    void readsWhatTheTestWriterEmits() throws IOException {
        long seed = TestTensors.freshSeed();
        Fixture f = fixture(new Random(seed));
        byte[] pickle = TorchCheckpointWriter.statePickle(f.tensors());
        Path file = dir.resolve("model.pt");
        TorchCheckpointWriter.writeZip(file, "archive", pickle, f.storages());
        try (WeightSet w = PyTorchCheckpointReader.read(file)) {
            assertFixture(w, f, seed);
        }
    }

    @Test
    void readsManyTensorsOfEveryDtype() throws IOException {
        // Enough entries to push the pickle memo past 256 (LONG_BINPUT / LONG_BINGET) and to use
        // every integer opcode for sizes.
        long seed = TestTensors.freshSeed();
        Random rnd = new Random(seed);
        String[] classes = {"FloatStorage", "HalfStorage", "BFloat16Storage", "IntStorage", "LongStorage"};
        int[] items = {4, 2, 2, 4, 8};
        List<Storage> storages = new ArrayList<>();
        List<Tensor> tensors = new ArrayList<>();
        for (int i = 0; i < 150; i++) {
            int c = rnd.nextInt(classes.length);
            long[] shape = i == 7 ? new long[] {70000} : i == 8 ? new long[] {300, 2} : TestTensors.randomShape(rnd);
            long numel = RawTensor.numel(shape);
            Storage s = storage(rnd, Integer.toString(i), classes[c], numel, items[c]);
            storages.add(s);
            long[] stride = new long[shape.length];
            long st = 1;
            for (int d = shape.length - 1; d >= 0; d--) {
                stride[d] = st;
                st *= shape[d];
            }
            tensors.add(new Tensor("encoder.layer." + i + ".weight", s, 0, shape, stride));
        }
        Path file = dir.resolve("many.bin");
        TorchCheckpointWriter.writeZip(file, "many", TorchCheckpointWriter.statePickle(tensors), storages);
        try (WeightSet w = PyTorchCheckpointReader.read(file)) {
            assertEquals(150, w.size());
            for (Tensor t : tensors) {
                RawTensor r = w.get(t.name());
                assertArrayEquals(t.size(), r.shape(), "seed " + seed);
                assertArrayEquals(t.storage().bytes(), TestTensors.bytes(r), "seed " + seed + " " + t.name());
            }
        }
    }

    // ---- hostile pickles -------------------------------------------------------------------------

    @Test
    void refusesOsSystemBeforeAnythingElse() throws IOException {
        byte[] pkl = pickle(p -> p.op(0x80).op(2).global("os", "system").str("touch /tmp/pwned").op(0x85).op('R').op('.'));
        var e = assertUnsafe(checkpoint(pkl), "os.system");
        assertTrue(e.getMessage().contains("'os.system'"), e.getMessage());
    }

    @Test
    void refusesOtherDangerousGlobalsHoweverSpelled() throws IOException {
        // STACK_GLOBAL (protocol 4)
        assertUnsafe(checkpoint(pickle(p -> p.op(0x80).op(4).str("builtins").str("eval").op(0x93)
                .str("1+1").op(0x85).op('R').op('.'))), "builtins.eval");
        // INST names a class to instantiate
        assertUnsafe(checkpoint(pickle(p -> {
            p.op(0x80).op(2).op('(').str("id");
            p.op('i');
            for (byte b : "posix\nsystem\n".getBytes(StandardCharsets.US_ASCII)) {
                p.op(b);
            }
            p.op('.');
        })), "posix.system");
        // Hidden inside an otherwise ordinary state dict, after a valid tensor entry.
        assertUnsafe(checkpoint(pickle(p -> p.op(0x80).op(2).global("collections", "OrderedDict").op(')').op('R')
                .op('(').str("w").global("subprocess", "Popen").str("ls").op(0x85).op('R').op('u').op('.'))),
                "subprocess.Popen");
        // A torch function that is not a plain tensor rebuild.
        assertUnsafe(checkpoint(pickle(p -> p.op(0x80).op(2).global("torch", "load").op('.'))), "torch.load");
        // The copyreg extension registry could name anything.
        assertUnsafe(checkpoint(pickle(p -> p.op(0x80).op(2).op(0x82).op(1).op('.'))), "copyreg extension");
    }

    @Test
    void refusesInstanceCreationAndOddCalls() throws IOException {
        assertRejected(checkpoint(pickle(p -> p.op(0x80).op(2).global("collections", "OrderedDict").op(')')
                .op(0x81).op('.'))), "opcode 0x81 (NEWOBJ)");
        assertRejected(checkpoint(pickle(p -> p.op(0x80).op(2).global("torch", "FloatStorage").op(')').op('R').op('.'))),
                "calling torch.FloatStorage is not part of a state dict");
        assertRejected(checkpoint(pickle(p -> p.op(0x80).op(2).str("x").op(')').op('R').op('.'))),
                "calls a str 'x', not a global");
        assertRejected(checkpoint(pickle(p -> p.op(0x80).op(2).op(']').op('.'))), "holds a list of 0, expected a state dict");
        assertRejected(checkpoint(pickle(p -> p.op(0x80).op(2).op('}').op(']').integer(1).op('s').op('.'))),
                "unhashable dict key of type list");
        assertRejected(checkpoint(pickle(p -> p.op(0x80).op(2).op('h').op(9).op('.'))), "memo key 9 used before");
        assertRejected(checkpoint(pickle(p -> p.op(0x80).op(2).op('0').op('.'))), "stack underflow");
        assertRejected(checkpoint(pickle(p -> p.op(0x80).op(2).op('}').op('X').op(0xf0).op(0xff).op(0xff).op(0xff))),
                "length 4294967280 at offset 4 runs past the end of the pickle");
    }

    @Test
    void deepNestingAndCyclesAreHarmless() throws IOException {
        // 200k nested 1-tuples: an interpreter that recursed would overflow the stack.
        byte[] deep = pickle(p -> {
            p.op(0x80).op(2).integer(1);
            for (int i = 0; i < 200_000; i++) {
                p.op(0x85);
            }
            p.op('.');
        });
        assertRejected(checkpoint(deep), "expected a state dict");
        // ...and as a dict key, it is refused before anything hashes it.
        byte[] deepKey = pickle(p -> {
            p.op(0x80).op(2).op('}').integer(1);
            for (int i = 0; i < 200_000; i++) {
                p.op(0x85);
            }
            p.integer(2).op('s').op('.');
        });
        assertRejected(checkpoint(deepKey), "unhashable dict key of type tuple");
        // ...also when the key arrives through OrderedDict([(key, value)]).
        byte[] deepPair = pickle(p -> {
            p.op(0x80).op(2).global("collections", "OrderedDict").op(']').integer(1);
            for (int i = 0; i < 200_000; i++) {
                p.op(0x85);
            }
            p.integer(2).op(0x86).op('a').op(0x85).op('R').op('.');
        });
        assertRejected(checkpoint(deepPair), "OrderedDict expects (key, value) pairs");
        // A dict that contains itself and a list that contains itself.
        byte[] cyclic = pickle(p -> p.op(0x80).op(2).op('}').op('q').op(0).str("self").op('h').op(0).op('s')
                .str("l").op(']').op('q').op(1).op('h').op(1).op('a').op('s').op('.'));
        try (WeightSet w = PyTorchCheckpointReader.read(checkpoint(cyclic))) {
            assertEquals(0, w.size());
        }
    }

    @Test
    void everyTruncationOfTheStatePickleIsRejected() throws IOException {
        long seed = TestTensors.freshSeed();
        Fixture f = fixture(new Random(seed));
        byte[] pkl = HexFormat.of().parseHex(CPYTHON_DATA_PKL);
        Path file = dir.resolve("cut.bin");
        for (int len = 0; len < pkl.length; len++) {
            TorchCheckpointWriter.writeZip(file, "archive", Arrays.copyOf(pkl, len), f.storages());
            try (WeightSet w = PyTorchCheckpointReader.read(file)) {
                fail("data.pkl cut to " + len + " bytes was accepted: " + w);
            } catch (UnsafePickleException e) {
                fail("truncation at " + len + " reported as unsafe: " + e.getMessage());
            } catch (WeightFormatException expected) {
                assertTrue(expected.getMessage().startsWith(file.toString()), expected.getMessage());
            }
        }
    }

    @Test
    void randomCorruptionOfThePickleIsReportedNotThrownThrough() throws IOException {
        long seed = TestTensors.freshSeed();
        Random rnd = new Random(seed);
        Fixture f = fixture(rnd);
        byte[] pkl = HexFormat.of().parseHex(CPYTHON_DATA_PKL);
        Path file = dir.resolve("fuzz.bin");
        for (int round = 0; round < 400; round++) {
            byte[] b = pkl.clone();
            for (int k = 0; k < 1 + rnd.nextInt(4); k++) {
                b[rnd.nextInt(b.length)] = (byte) rnd.nextInt(256);
            }
            TorchCheckpointWriter.writeZip(file, "archive", b, f.storages());
            try (WeightSet w = PyTorchCheckpointReader.read(file)) {
                w.tensors().values().forEach(RawTensor::toFloatArray);
            } catch (WeightFormatException expected) {
                // reported as a format problem (or as unsafe)
            } catch (RuntimeException | StackOverflowError e) {
                throw new AssertionError("seed " + seed + " round " + round + ": " + e, e);
            }
        }
    }

    // ---- broken archives ------------------------------------------------------------------------

    @Test
    void rejectsArchivesThatAreNotStateDicts() throws IOException {
        Path noPkl = dir.resolve("nopkl.bin");
        TorchCheckpointWriter.writeRawZip(noPkl, Map.of("archive/data/0", new byte[8], "archive/version", "3\n".getBytes()));
        assertRejected(noPkl, "zip archive has no data.pkl: not a checkpoint written by torch.save");

        Path script = dir.resolve("script.pt");
        TorchCheckpointWriter.writeRawZip(script, Map.of("m/data.pkl", new byte[] {(byte) 0x80, 2, 'N', '.'},
                "m/constants.pkl", new byte[] {(byte) 0x80, 2, ')', '.'}, "m/code/__torch__.py", new byte[1]));
        assertRejected(script, "TorchScript archive");

        Path legacy = dir.resolve("legacy.bin");
        Files.write(legacy, HexFormat.of().parseHex("80028a0a6cfc9c46f9206aa8501900000000000000"));
        assertRejected(legacy, "unsupported legacy format");

        Path text = dir.resolve("notes.bin");
        Files.writeString(text, "hello");
        assertRejected(text, "not a PyTorch checkpoint (expected a zip archive written by torch.save, the file starts "
                + "with 68 65 6c 6c 6f)");

        Path empty = dir.resolve("empty.bin");
        Files.write(empty, new byte[0]);
        assertRejected(empty, "empty file");

        Path brokenZip = dir.resolve("broken.bin");
        Files.write(brokenZip, new byte[] {'P', 'K', 3, 4, 0, 0, 0});
        assertRejected(brokenZip, "not a readable zip archive");
    }

    @Test
    void rejectsInconsistentStorages() throws IOException {
        long seed = TestTensors.freshSeed();
        Fixture f = fixture(new Random(seed));
        byte[] pkl = TorchCheckpointWriter.statePickle(f.tensors());

        Path missing = dir.resolve("missing.bin");
        TorchCheckpointWriter.writeZip(missing, "archive", pkl, f.storages().subList(0, 1));
        assertRejected(missing, "storage '1' of tensor 'bias' is missing (archive/data/1 not in the archive)");

        List<Storage> shortened = new ArrayList<>(f.storages());
        shortened.set(2, new Storage("2", "LongStorage", 3, new byte[16]));
        Path wrongSize = dir.resolve("size.bin");
        TorchCheckpointWriter.writeZip(wrongSize, "archive", pkl, shortened);
        assertRejected(wrongSize, "archive/data/2 holds 16 bytes, but the pickle says 3 int64 elements (24 bytes)");

        Storage s = f.storages().getFirst();
        Path outOfRange = dir.resolve("range.bin");
        TorchCheckpointWriter.writeZip(outOfRange, "archive", TorchCheckpointWriter.statePickle(
                List.of(new Tensor("w", s, 4, new long[] {2, 3}, new long[] {3, 1}))), List.of(s));
        assertRejected(outOfRange, "tensor 'w' (size [2, 3], stride [3, 1], offset 4): reaches element 9 of a storage of 6");

        Storage dbl = new Storage("0", "DoubleStorage", 2, new byte[16]);
        Path doubles = dir.resolve("double.bin");
        TorchCheckpointWriter.writeZip(doubles, "archive", TorchCheckpointWriter.statePickle(
                List.of(new Tensor("scores", dbl, 0, new long[] {2}, new long[] {1}))), List.of(dbl));
        assertRejected(doubles, "tensor 'scores' is float64 (torch.DoubleStorage), which Solder does not read");

        Path bigEndian = dir.resolve("be.bin");
        Map<String, byte[]> entries = new LinkedHashMap<>();
        entries.put("archive/data.pkl", pkl);
        entries.put("archive/byteorder", "big".getBytes(StandardCharsets.US_ASCII));
        TorchCheckpointWriter.writeRawZip(bigEndian, entries);
        assertRejected(bigEndian, "checkpoint byte order is 'big'");
    }

    @Test
    void flattensNestedDictsAndSkipsNonTensors() throws IOException {
        long seed = TestTensors.freshSeed();
        Random rnd = new Random(seed);
        Storage s = storage(rnd, "0", "FloatStorage", 4, 4);
        // {"epoch": 3, "model": OrderedDict(w=tensor), "name": "run"}, with w via _rebuild_parameter
        byte[] pkl = pickle(p -> {
            p.op(0x80).op(2).op('}').op('(');
            p.str("epoch").integer(3);
            p.str("model").global("collections", "OrderedDict").op(')').op('R').op('(').str("w");
            p.global("torch._utils", "_rebuild_parameter");
            p.global("torch._utils", "_rebuild_tensor_v2").op('(');
            p.op('(').str("storage").global("torch", "FloatStorage").str("0").str("cuda:0").integer(4).op('t').op('Q');
            p.integer(0).integer(2).integer(2).op(0x86).integer(2).integer(1).op(0x86).op(0x88);
            p.global("collections", "OrderedDict").op(')').op('R').op('t').op('R');
            p.op(0x88).global("collections", "OrderedDict").op(')').op('R').op(0x87).op('R');
            p.op('u');
            p.str("name").str("run").op('u').op('.');
        });
        Path file = dir.resolve("nested.bin");
        TorchCheckpointWriter.writeZip(file, "archive", pkl, List.of(s));
        try (WeightSet w = PyTorchCheckpointReader.read(file)) {
            assertEquals(List.of("model.w"), List.copyOf(w.names()));
            assertArrayEquals(s.bytes(), TestTensors.bytes(w.get("model.w")), "seed " + seed);
        }
    }

    @Test
    void allowlistIsExactlyWhatAStateDictNeeds() {
        for (String g : PyTorchCheckpointReader.allowedGlobals()) {
            assertTrue(g.equals("collections.OrderedDict") || g.startsWith("torch._utils._rebuild_")
                    || g.matches("torch\\.[A-Za-z0-9]+Storage"), g);
        }
        assertNotEquals(0, PyTorchCheckpointReader.allowedGlobals().size());
    }

    // ---- helpers ---------------------------------------------------------------------------------

    private interface PickleBody {
        void write(TorchCheckpointWriterAccess p);
    }

    /** Raw opcode emission for hand-made pickles. */
    static final class TorchCheckpointWriterAccess {
        final ByteArrayOutputStream out = new ByteArrayOutputStream();

        TorchCheckpointWriterAccess op(int b) {
            out.write(b);
            return this;
        }

        TorchCheckpointWriterAccess str(String s) {
            byte[] b = s.getBytes(StandardCharsets.UTF_8);
            op('X');
            for (int i = 0; i < 4; i++) {
                op((b.length >>> (8 * i)) & 0xff);
            }
            out.writeBytes(b);
            return this;
        }

        TorchCheckpointWriterAccess global(String module, String name) {
            op('c');
            out.writeBytes((module + "\n" + name + "\n").getBytes(StandardCharsets.UTF_8));
            return this;
        }

        TorchCheckpointWriterAccess integer(int v) {
            return op('K').op(v);
        }
    }

    private static byte[] pickle(PickleBody body) {
        TorchCheckpointWriterAccess p = new TorchCheckpointWriterAccess();
        body.write(p);
        return p.out.toByteArray();
    }

    private Path checkpoint(byte[] pkl) throws IOException {
        Path p = Files.createTempFile(dir, "ckpt", ".bin");
        TorchCheckpointWriter.writeZip(p, "archive", pkl, List.of());
        return p;
    }

    private static UnsafePickleException assertUnsafe(Path p, String global) {
        var e = assertThrows(UnsafePickleException.class, () -> PyTorchCheckpointReader.read(p).close());
        assertEquals(global, e.global());
        assertTrue(e.getMessage().startsWith(p + ": "), e.getMessage());
        return e;
    }

    private static void assertRejected(Path p, String expected) {
        var e = assertThrows(WeightFormatException.class, () -> PyTorchCheckpointReader.read(p).close());
        assertTrue(e.getMessage().contains(expected), "expected '" + expected + "' in: " + e.getMessage());
        assertTrue(e.getMessage().startsWith(p + ": "), e.getMessage());
        assertInstanceOf(WeightFormatException.class, e);
    }
}
