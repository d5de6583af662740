package dev.solder.io;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.OutputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.zip.CRC32;
import java.util.zip.ZipEntry;
import java.util.zip.ZipOutputStream;

/**
 * Test-only writer of what {@code torch.save(state_dict, f)} produces: a zip archive with
 * {@code NAME/data.pkl} (pickle protocol 2, memoized like CPython's pickler: every string,
 * global and container gets a BINPUT, repeats become BINGETs), {@code NAME/data/KEY} for each
 * storage (stored, uncompressed), {@code NAME/version}, {@code NAME/byteorder}.
 */
final class TorchCheckpointWriter {

    /** One storage: {@code torch.<storageClass>} of {@code numel} elements. */
    record Storage(String key, String storageClass, long numel, byte[] bytes) {}

    /** One state-dict entry: {@code _rebuild_tensor_v2(storage, offset, size, stride, False, OrderedDict())}. */
    record Tensor(String name, Storage storage, long offset, long[] size, long[] stride) {}

    private final ByteArrayOutputStream out = new ByteArrayOutputStream();
    private final Map<Object, Integer> memo = new HashMap<>();

    private TorchCheckpointWriter() {}

    /** The data.pkl of a state dict (an OrderedDict with {@code _metadata}, as module.state_dict() returns). */
    static byte[] statePickle(List<Tensor> tensors) {
        TorchCheckpointWriter p = new TorchCheckpointWriter();
        p.op(0x80).op(2); // PROTO 2
        p.global("collections", "OrderedDict").op(')').op('R').put(new Object());
        p.op('(');
        for (Tensor t : tensors) {
            p.str(t.name());
            p.tensor(t);
        }
        p.op('u'); // SETITEMS
        // state: {'_metadata': OrderedDict([('', {'version': 1})])}, then BUILD
        p.op('}').put(new Object());
        p.str("_metadata");
        p.global("collections", "OrderedDict").op(')').op('R').put(new Object());
        p.op('(').str("").op('}').put(new Object()).str("version").integer(1).op('s').op('u');
        p.op('s').op('b');
        p.op('.');
        return p.out.toByteArray();
    }

    private void tensor(Tensor t) {
        global("torch._utils", "_rebuild_tensor_v2");
        op('(');
        op('(').str("storage").global("torch", t.storage().storageClass()).str(t.storage().key()).str("cpu")
                .integer(t.storage().numel()).op('t').put(new Object());
        op('Q'); // BINPERSID
        integer(t.offset());
        tuple(t.size());
        tuple(t.stride());
        op(0x89); // NEWFALSE: requires_grad
        global("collections", "OrderedDict").op(')').op('R').put(new Object()); // backward hooks
        op('t').put(new Object());
        op('R').put(new Object());
    }

    private TorchCheckpointWriter tuple(long[] v) {
        switch (v.length) {
            case 0 -> op(')');
            case 1, 2, 3 -> {
                for (long x : v) {
                    integer(x);
                }
                op(0x84 + v.length); // TUPLE1..3
            }
            default -> {
                op('(');
                for (long x : v) {
                    integer(x);
                }
                op('t');
            }
        }
        return put(new Object());
    }

    TorchCheckpointWriter integer(long v) {
        if (v >= 0 && v < 256) {
            op('K').op((int) v);
        } else if (v >= 0 && v < 65536) {
            op('M').op((int) v & 0xff).op((int) (v >>> 8));
        } else if (v >= Integer.MIN_VALUE && v <= Integer.MAX_VALUE) {
            op('J');
            for (int i = 0; i < 4; i++) {
                op((int) (v >>> (8 * i)) & 0xff);
            }
        } else {
            op(0x8a).op(8); // LONG1, 8 bytes little-endian
            for (int i = 0; i < 8; i++) {
                op((int) (v >>> (8 * i)) & 0xff);
            }
        }
        return this;
    }

    TorchCheckpointWriter str(String s) {
        Integer m = memo.get("str:" + s);
        if (m != null) {
            return get(m);
        }
        byte[] b = s.getBytes(StandardCharsets.UTF_8);
        op('X');
        for (int i = 0; i < 4; i++) {
            op((b.length >>> (8 * i)) & 0xff);
        }
        out.writeBytes(b);
        return put("str:" + s);
    }

    TorchCheckpointWriter global(String module, String name) {
        Integer m = memo.get("global:" + module + "." + name);
        if (m != null) {
            return get(m);
        }
        op('c');
        out.writeBytes((module + "\n" + name + "\n").getBytes(StandardCharsets.UTF_8));
        return put("global:" + module + "." + name);
    }

    private TorchCheckpointWriter put(Object key) {
        int id = memo.size();
        memo.put(key, id);
        if (id < 256) {
            op('q').op(id);
        } else {
            op('r');
            for (int i = 0; i < 4; i++) {
                op((id >>> (8 * i)) & 0xff);
            }
        }
        return this;
    }

    private TorchCheckpointWriter get(int id) {
        if (id < 256) {
            return op('h').op(id);
        }
        op('j');
        for (int i = 0; i < 4; i++) {
            op((id >>> (8 * i)) & 0xff);
        }
        return this;
    }

    TorchCheckpointWriter op(int b) {
        out.write(b);
        return this;
    }

    /** Writes the zip archive under top folder {@code folder}. */
    static void writeZip(Path file, String folder, byte[] pickle, List<Storage> storages) throws IOException {
        Map<String, byte[]> entries = new LinkedHashMap<>();
        entries.put(folder + "/data.pkl", pickle);
        entries.put(folder + "/byteorder", "little".getBytes(StandardCharsets.US_ASCII));
        for (Storage s : storages) {
            entries.put(folder + "/data/" + s.key(), s.bytes());
        }
        entries.put(folder + "/version", "3\n".getBytes(StandardCharsets.US_ASCII));
        writeRawZip(file, entries);
    }

    /** A zip of STORED entries, as torch's writer produces. */
    static void writeRawZip(Path file, Map<String, byte[]> entries) throws IOException {
        try (OutputStream os = Files.newOutputStream(file); ZipOutputStream zip = new ZipOutputStream(os)) {
            for (Map.Entry<String, byte[]> e : entries.entrySet()) {
                ZipEntry z = new ZipEntry(e.getKey());
                z.setMethod(ZipEntry.STORED);
                z.setSize(e.getValue().length);
                CRC32 crc = new CRC32();
                crc.update(e.getValue());
                z.setCrc(crc.getValue());
                zip.putNextEntry(z);
                zip.write(e.getValue());
                zip.closeEntry();
            }
        }
    }
}
