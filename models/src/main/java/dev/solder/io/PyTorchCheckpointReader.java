package dev.solder.io;

import dev.solder.DType;
import dev.solder.io.RestrictedUnpickler.Global;
import dev.solder.io.RestrictedUnpickler.Tuple;
import java.io.IOException;
import java.io.InputStream;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.math.BigInteger;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayDeque;
import java.util.Arrays;
import java.util.Collections;
import java.util.Deque;
import java.util.Enumeration;
import java.util.HashMap;
import java.util.IdentityHashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.zip.ZipEntry;
import java.util.zip.ZipException;
import java.util.zip.ZipFile;

/**
 * Reads a PyTorch state dict saved by {@code torch.save} (the zip format, PyTorch 1.6 and later),
 * e.g. {@code pytorch_model.bin}, without executing its pickle.
 *
 * <p>The file is a zip archive: {@code NAME/data.pkl} is the pickled dict, each storage's bytes
 * are in {@code NAME/data/KEY}, plus {@code NAME/version} and (newer) {@code NAME/byteorder};
 * {@code NAME} varies with the file name it was saved under. The pickle refers to storages through
 * persistent ids {@code ('storage', torch.FloatStorage, KEY, LOCATION, NUMEL)} and builds each
 * tensor with {@code torch._utils._rebuild_tensor_v2(storage, offset, size, stride, ...)}.
 *
 * <p>The pickle is interpreted by a restricted unpickler that knows only these globals:
 * {@code collections.OrderedDict}, {@code torch._utils._rebuild_tensor_v2},
 * {@code torch._utils._rebuild_tensor}, {@code torch._utils._rebuild_parameter} and the typed
 * storage classes {@code torch.*Storage}. Any other global (such as {@code os.system} or
 * {@code builtins.eval}) raises {@link UnsafePickleException} naming it; nothing is ever executed.
 *
 * <p>Tensors that share a storage (tied weights) share memory in the result; a tensor at a
 * storage offset is a slice of its storage; a non-contiguous (strided) tensor is copied into
 * row-major order. Nested dicts (e.g. {@code {"model": state_dict}}) are flattened with
 * {@code .}-joined names; non-tensor values are skipped. Storage bytes are copied once out of
 * the zip into memory owned by the returned {@link WeightSet}.
 *
 * <p>Not read: the legacy (pre-1.6, non-zip) {@code torch.save} format, TorchScript archives,
 * big-endian checkpoints, and storages of types Solder has no {@link DType} for (float64, int8,
 * uint8, bool, int16): each is reported with a {@link WeightFormatException} that says so.
 */
public final class PyTorchCheckpointReader {

    private static final Map<String, StorageType> STORAGE_TYPES = storageTypes();

    private static final Set<String> ALLOWED_GLOBALS = buildAllowedGlobals();

    private static final int MAX_FLATTEN_DEPTH = 16;

    // Legacy torch.save files start with the pickled magic number 0x1950a86a20f9469cfc6c:
    // PROTO 2, LONG1 of 10 bytes, then those bytes little-endian.
    private static final byte[] LEGACY_MAGIC = {(byte) 0x80, 0x02, (byte) 0x8a, 0x0a, 0x6c, (byte) 0xfc,
        (byte) 0x9c, 0x46, (byte) 0xf9, 0x20, 0x6a, (byte) 0xa8, 0x50, 0x19};

    private PyTorchCheckpointReader() {}

    /** A torch typed-storage class: its element type, or {@code null} when Solder has none. */
    private record StorageType(String className, String torchDtype, DType dtype, int itemSize) {}

    private static Map<String, StorageType> storageTypes() {
        Map<String, StorageType> m = new LinkedHashMap<>();
        for (StorageType t : List.of(
                new StorageType("FloatStorage", "float32", DType.FLOAT32, 4),
                new StorageType("HalfStorage", "float16", DType.FLOAT16, 2),
                new StorageType("BFloat16Storage", "bfloat16", DType.BFLOAT16, 2),
                new StorageType("IntStorage", "int32", DType.INT32, 4),
                new StorageType("LongStorage", "int64", DType.INT64, 8),
                // Known so that the error says "float64 is not supported" instead of "unsafe".
                new StorageType("DoubleStorage", "float64", null, 8),
                new StorageType("ShortStorage", "int16", null, 2),
                new StorageType("CharStorage", "int8", null, 1),
                new StorageType("ByteStorage", "uint8", null, 1),
                new StorageType("BoolStorage", "bool", null, 1))) {
            m.put("torch." + t.className, t);
        }
        return Collections.unmodifiableMap(m);
    }

    private static Set<String> buildAllowedGlobals() {
        java.util.HashSet<String> s = new java.util.HashSet<>(STORAGE_TYPES.keySet());
        s.add("collections.OrderedDict");
        s.add("torch._utils._rebuild_tensor_v2");
        s.add("torch._utils._rebuild_tensor");
        s.add("torch._utils._rebuild_parameter");
        return Set.copyOf(s);
    }

    /** The globals a pickle may reference; everything else is refused. */
    public static Set<String> allowedGlobals() {
        return ALLOWED_GLOBALS;
    }

    /** A storage as the pickle describes it; its bytes are loaded after the pickle is read. */
    private record StorageRef(String key, StorageType type, long numel) {}

    /** A tensor as {@code _rebuild_tensor_v2} describes it. */
    private record TensorRef(StorageRef storage, long offset, long[] size, long[] stride) {}

    /** Reads {@code file} (a {@code torch.save} zip archive). */
    public static WeightSet read(Path file) throws IOException {
        checkMagic(file);
        ZipFile zip;
        try {
            zip = new ZipFile(file.toFile());
        } catch (ZipException e) {
            throw new WeightFormatException(file, "not a readable zip archive: " + e.getMessage(), e);
        }
        try (zip) {
            String prefix = archivePrefix(file, zip);
            checkByteOrder(file, zip, prefix);
            ZipEntry pklEntry = zip.getEntry(prefix + "data.pkl");
            byte[] pickle = readSmallEntry(file, zip, pklEntry, 1 << 30);

            Map<String, StorageRef> storages = new HashMap<>();
            Object root = new RestrictedUnpickler(file, pickle, ALLOWED_GLOBALS, new TorchResolver(file, storages))
                    .load();
            if (!(root instanceof Map<?, ?> dict)) {
                throw new WeightFormatException(file, "data.pkl holds a " + RestrictedUnpickler.describe(root)
                        + ", expected a state dict");
            }
            Map<String, TensorRef> refs = new LinkedHashMap<>();
            flatten(file, dict, "", refs);

            Arena arena = Arena.ofShared();
            try {
                Map<String, MemorySegment> loaded = new HashMap<>();
                Map<String, RawTensor> tensors = new LinkedHashMap<>();
                for (Map.Entry<String, TensorRef> e : refs.entrySet()) {
                    TensorRef ref = e.getValue();
                    StorageRef s = ref.storage;
                    if (s.type.dtype == null) {
                        throw new WeightFormatException(file, "tensor '" + e.getKey() + "' is " + s.type.torchDtype
                                + " (torch." + s.type.className + "), which Solder does not read"
                                + " (supported: float32, float16, bfloat16, int32, int64)");
                    }
                    MemorySegment storage = loaded.get(s.key);
                    if (storage == null) {
                        storage = loadStorage(file, zip, prefix, s, e.getKey(), arena);
                        loaded.put(s.key, storage);
                    }
                    tensors.put(e.getKey(), materialize(file, e.getKey(), ref, storage, arena));
                }
                return new WeightSet(file, "pytorch", arena, tensors, Map.of());
            } catch (IOException | RuntimeException | Error ex) {
                arena.close();
                throw ex;
            }
        }
    }

    private static void checkMagic(Path file) throws IOException {
        byte[] head = new byte[LEGACY_MAGIC.length];
        int n;
        try (InputStream in = Files.newInputStream(file)) {
            n = in.readNBytes(head, 0, head.length);
        }
        if (n >= 4 && head[0] == 'P' && head[1] == 'K' && head[2] == 3 && head[3] == 4) {
            return;
        }
        if (n == LEGACY_MAGIC.length && Arrays.equals(head, LEGACY_MAGIC)) {
            throw new WeightFormatException(file, "unsupported legacy format: this checkpoint was written by "
                    + "torch.save before PyTorch 1.6 (not a zip archive); re-save it with a newer PyTorch or "
                    + "convert it to safetensors");
        }
        throw new WeightFormatException(file, "not a PyTorch checkpoint (expected a zip archive written by "
                + "torch.save, the file starts with " + hex(head, n) + ")");
    }

    /** The archive's top folder ({@code "archive/"}, {@code "pytorch_model/"}, ...). */
    private static String archivePrefix(Path file, ZipFile zip) throws WeightFormatException {
        String prefix = null;
        boolean torchScript = false;
        for (Enumeration<? extends ZipEntry> en = zip.entries(); en.hasMoreElements(); ) {
            String name = en.nextElement().getName();
            int slash = name.indexOf('/');
            String rest = slash < 0 ? name : name.substring(slash + 1);
            if (rest.equals("constants.pkl") || rest.startsWith("code/")) {
                torchScript = true;
            }
            if (rest.equals("data.pkl") && rest.indexOf('/') < 0) {
                String p = slash < 0 ? "" : name.substring(0, slash + 1);
                if (prefix != null && !prefix.equals(p)) {
                    throw new WeightFormatException(file, "archive holds two state dicts ('" + prefix
                            + "data.pkl' and '" + name + "')");
                }
                prefix = p;
            }
        }
        if (torchScript) {
            throw new WeightFormatException(file, "this is a TorchScript archive (torch.jit.save), not a state dict "
                    + "saved with torch.save");
        }
        if (prefix == null) {
            throw new WeightFormatException(file, "zip archive has no data.pkl: not a checkpoint written by torch.save");
        }
        return prefix;
    }

    private static void checkByteOrder(Path file, ZipFile zip, String prefix) throws IOException {
        ZipEntry e = zip.getEntry(prefix + "byteorder");
        if (e == null) {
            return; // older writers did not record it; they ran on little-endian machines
        }
        String order = new String(readSmallEntry(file, zip, e, 64), StandardCharsets.US_ASCII).trim();
        if (!order.equals("little")) {
            throw new WeightFormatException(file, "checkpoint byte order is '" + order
                    + "'; only little-endian checkpoints are read");
        }
    }

    private static byte[] readSmallEntry(Path file, ZipFile zip, ZipEntry e, int limit) throws IOException {
        if (e.getSize() > limit) {
            throw new WeightFormatException(file, e.getName() + " is " + e.getSize() + " bytes, more than the "
                    + limit + " expected");
        }
        try (InputStream in = zip.getInputStream(e)) {
            byte[] b = in.readNBytes(limit);
            if (b.length == limit && in.read() >= 0) {
                throw new WeightFormatException(file, e.getName() + " is larger than " + limit + " bytes");
            }
            return b;
        } catch (ZipException ex) {
            throw new WeightFormatException(file, "cannot read " + e.getName() + ": " + ex.getMessage(), ex);
        }
    }

    /** Collects tensors of a (possibly nested) dict, iteratively so a deep or cyclic pickle cannot hurt. */
    private static void flatten(Path file, Map<?, ?> root, String rootPrefix, Map<String, TensorRef> out)
            throws WeightFormatException {
        record Pending(Map<?, ?> dict, String prefix, int depth) {}
        Deque<Pending> todo = new ArrayDeque<>();
        Set<Object> seen = Collections.newSetFromMap(new IdentityHashMap<>());
        todo.add(new Pending(root, rootPrefix, 0));
        seen.add(root);
        while (!todo.isEmpty()) {
            Pending p = todo.removeFirst();
            for (Map.Entry<?, ?> e : p.dict.entrySet()) {
                Object k = e.getKey();
                String key = k instanceof String s ? s : k instanceof Long l ? Long.toString(l) : null;
                if (key == null) {
                    continue; // not a name we could address a tensor by
                }
                String name = p.prefix + key;
                if (e.getValue() instanceof TensorRef t) {
                    if (out.putIfAbsent(name, t) != null) {
                        throw new WeightFormatException(file, "two tensors flatten to the name '" + name + "'");
                    }
                } else if (e.getValue() instanceof Map<?, ?> inner && p.depth < MAX_FLATTEN_DEPTH && seen.add(inner)) {
                    todo.add(new Pending(inner, name + ".", p.depth + 1));
                }
            }
        }
    }

    private static MemorySegment loadStorage(Path file, ZipFile zip, String prefix, StorageRef s, String tensor,
            Arena arena) throws IOException {
        String entryName = prefix + "data/" + s.key;
        ZipEntry e = zip.getEntry(entryName);
        if (e == null) {
            throw new WeightFormatException(file, "storage '" + s.key + "' of tensor '" + tensor + "' is missing ("
                    + entryName + " not in the archive)");
        }
        long bytes = Math.multiplyExact(s.numel, (long) s.type.itemSize);
        if (e.getSize() >= 0 && e.getSize() != bytes) {
            throw new WeightFormatException(file, entryName + " holds " + e.getSize() + " bytes, but the pickle says "
                    + s.numel + " " + s.type.torchDtype + " elements (" + bytes + " bytes)");
        }
        MemorySegment seg = arena.allocate(bytes, 64);
        byte[] buf = new byte[(int) Math.min(1 << 20, Math.max(bytes, 1))];
        long at = 0;
        try (InputStream in = zip.getInputStream(e)) {
            while (at < bytes) {
                int n = in.read(buf, 0, (int) Math.min(buf.length, bytes - at));
                if (n < 0) {
                    break;
                }
                MemorySegment.copy(buf, 0, seg, java.lang.foreign.ValueLayout.JAVA_BYTE, at, n);
                at += n;
            }
            if (at < bytes || in.read() >= 0) {
                throw new WeightFormatException(file, entryName + " does not hold the " + bytes
                        + " bytes the pickle says (truncated or inconsistent archive)");
            }
        } catch (ZipException ex) {
            throw new WeightFormatException(file, "cannot read " + entryName + ": " + ex.getMessage(), ex);
        }
        return seg;
    }

    /** A contiguous view of a tensor: a slice of its storage, or a row-major copy when strided. */
    private static RawTensor materialize(Path file, String name, TensorRef t, MemorySegment storage, Arena arena)
            throws WeightFormatException {
        DType dtype = t.storage.type.dtype;
        int item = dtype.byteSize();
        long[] size = t.size;
        long[] stride = t.stride;
        String where = "tensor '" + name + "' (size " + Arrays.toString(size) + ", stride "
                + Arrays.toString(stride) + ", offset " + t.offset + "): ";
        if (stride.length != size.length) {
            throw new WeightFormatException(file, where + "size and stride differ in length");
        }
        long numel = 1;
        long lastIndex = t.offset;
        try {
            for (int i = 0; i < size.length; i++) {
                if (size[i] < 0 || stride[i] < 0) {
                    throw new WeightFormatException(file, where + "negative size or stride");
                }
                numel = Math.multiplyExact(numel, size[i]);
                if (size[i] > 0) {
                    lastIndex = Math.addExact(lastIndex, Math.multiplyExact(size[i] - 1, stride[i]));
                }
            }
        } catch (ArithmeticException e) {
            throw new WeightFormatException(file, where + "overflows");
        }
        if (t.offset < 0) {
            throw new WeightFormatException(file, where + "negative storage offset");
        }
        if (numel == 0) {
            return new RawTensor(name, dtype, size, storage.asSlice(0, 0));
        }
        if (lastIndex >= t.storage.numel) {
            throw new WeightFormatException(file, where + "reaches element " + lastIndex + " of a storage of "
                    + t.storage.numel);
        }
        if (isContiguous(size, stride)) {
            return new RawTensor(name, dtype, size, storage.asSlice(t.offset * item, numel * item));
        }
        MemorySegment out = arena.allocate(numel * item, 64);
        long[] idx = new long[size.length];
        for (long i = 0; i < numel; i++) {
            long src = t.offset;
            for (int d = 0; d < size.length; d++) {
                src += idx[d] * stride[d];
            }
            MemorySegment.copy(storage, src * item, out, i * item, item);
            for (int d = size.length - 1; d >= 0; d--) {
                if (++idx[d] < size[d]) {
                    break;
                }
                idx[d] = 0;
            }
        }
        return new RawTensor(name, dtype, size, out);
    }

    private static boolean isContiguous(long[] size, long[] stride) {
        long expected = 1;
        for (int i = size.length - 1; i >= 0; i--) {
            if (size[i] != 1 && stride[i] != expected) {
                return false; // a dimension of size 1 may carry any stride
            }
            expected *= size[i];
        }
        return true;
    }

    private static String hex(byte[] b, int n) {
        StringBuilder sb = new StringBuilder();
        for (int i = 0; i < Math.min(n, 8); i++) {
            sb.append(String.format("%02x ", b[i] & 0xff));
        }
        return n == 0 ? "nothing (empty file)" : sb.toString().trim();
    }

    /** Gives the allowlisted globals their meaning for a state dict. */
    private static final class TorchResolver implements RestrictedUnpickler.Resolver {
        private final Path file;
        private final Map<String, StorageRef> storages;

        TorchResolver(Path file, Map<String, StorageRef> storages) {
            this.file = file;
            this.storages = storages;
        }

        @Override
        public Object persistentLoad(Object pid) throws WeightFormatException {
            if (!(pid instanceof Tuple t) || t.size() != 5 || !"storage".equals(t.get(0))) {
                throw new WeightFormatException(file, "persistent id " + RestrictedUnpickler.describe(pid)
                        + " is not ('storage', type, key, location, numel)");
            }
            StorageType type = t.get(1) instanceof Global g ? STORAGE_TYPES.get(g.toString()) : null;
            if (type == null || !(t.get(2) instanceof String key) || !(t.get(3) instanceof String)
                    || !(t.get(4) instanceof Long numel) || numel < 0) {
                throw new WeightFormatException(file, "malformed storage id (" + RestrictedUnpickler.describe(t.get(1))
                        + ", " + RestrictedUnpickler.describe(t.get(2)) + ", " + RestrictedUnpickler.describe(t.get(3))
                        + ", " + RestrictedUnpickler.describe(t.get(4)) + ")");
            }
            StorageRef ref = new StorageRef(key, type, numel);
            StorageRef previous = storages.putIfAbsent(key, ref);
            if (previous != null && !previous.equals(ref)) {
                throw new WeightFormatException(file, "storage '" + key + "' is described twice, as "
                        + previous.type.className + "[" + previous.numel + "] and " + type.className + "[" + numel + "]");
            }
            return previous != null ? previous : ref;
        }

        @Override
        public Object call(Global fn, Tuple args) throws WeightFormatException {
            String f = fn.toString();
            switch (f) {
                case "collections.OrderedDict" -> {
                    Map<Object, Object> m = new LinkedHashMap<>();
                    if (args.size() == 1 && args.get(0) instanceof List<?> pairs) {
                        for (Object p : pairs) {
                            if (!(p instanceof Tuple kv) || kv.size() != 2 || !RestrictedUnpickler.isHashable(kv.get(0))) {
                                throw new WeightFormatException(file, "OrderedDict expects (key, value) pairs");
                            }
                            m.put(kv.get(0), kv.get(1));
                        }
                    } else if (args.size() != 0) {
                        throw new WeightFormatException(file, "OrderedDict called with " + args.size() + " arguments");
                    }
                    return m;
                }
                case "torch._utils._rebuild_tensor_v2", "torch._utils._rebuild_tensor" -> {
                    // v2: (storage, offset, size, stride, requires_grad, hooks[, metadata]);
                    // the old form: (storage, offset, size, stride).
                    boolean ok = f.endsWith("v2") ? args.size() == 6 || args.size() == 7 : args.size() == 4;
                    if (!ok) {
                        throw new WeightFormatException(file, f + " called with " + args.size() + " arguments");
                    }
                    if (!(args.get(0) instanceof StorageRef s)) {
                        throw new WeightFormatException(file, f + " expects a storage, got "
                                + RestrictedUnpickler.describe(args.get(0)));
                    }
                    long offset = asLong(args.get(1), f + " storage_offset");
                    return new TensorRef(s, offset, longs(args.get(2), f + " size"), longs(args.get(3), f + " stride"));
                }
                case "torch._utils._rebuild_parameter" -> {
                    if (args.size() != 3 || !(args.get(0) instanceof TensorRef t)) {
                        throw new WeightFormatException(file, f + " expects (tensor, requires_grad, hooks)");
                    }
                    return t;
                }
                default -> throw new WeightFormatException(file, "calling " + f + " is not part of a state dict");
            }
        }

        @Override
        public Object build(Object obj, Object state) throws WeightFormatException {
            // OrderedDict state is the state dict's `_metadata` (module versions); tensors get
            // state only through subclasses, whose rebuild functions are not allowlisted.
            if (obj instanceof Map<?, ?> || obj instanceof TensorRef) {
                return obj;
            }
            throw new WeightFormatException(file, "BUILD on a " + RestrictedUnpickler.describe(obj)
                    + " is not part of a state dict");
        }

        private long asLong(Object o, String what) throws WeightFormatException {
            if (o instanceof Long l) {
                return l;
            }
            throw new WeightFormatException(file, what + " must be an int, got " + RestrictedUnpickler.describe(o)
                    + (o instanceof BigInteger ? " (too large)" : ""));
        }

        private long[] longs(Object o, String what) throws WeightFormatException {
            if (!(o instanceof Tuple t)) {
                throw new WeightFormatException(file, what + " must be a tuple, got " + RestrictedUnpickler.describe(o));
            }
            long[] r = new long[t.size()];
            for (int i = 0; i < r.length; i++) {
                r[i] = asLong(t.get(i), what);
            }
            return r;
        }
    }
}
