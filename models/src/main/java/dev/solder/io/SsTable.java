package dev.solder.io;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.zip.CRC32C;

/**
 * Reads the immutable sorted table ("SSTable", leveldb's table format) that TensorFlow uses for a
 * checkpoint's {@code .index} file.
 *
 * <p>Layout: data blocks, a metaindex block, an index block, and a 48-byte footer holding the
 * metaindex and index block handles (varint offset + size), zero padding, and the magic number
 * {@code 0xdb4775248b80fb57}. The index block maps a separator key to each data block's handle.
 * A block is a run of entries ({@code shared}, {@code non_shared}, {@code value_length} varints,
 * the key's unshared suffix, the value), then restart offsets (fixed32 each) and their count;
 * keys share prefixes with the previous key except at restart points. Each block is followed by
 * a 5-byte trailer: compression type (0 = none) and a masked CRC32C of the block and type byte.
 *
 * <p>The index files TensorFlow writes are small (kilobytes), so the table is read whole and
 * every block's CRC is verified. Keys must ascend strictly, as the format guarantees.
 */
final class SsTable {
    static final long MAGIC = 0xdb4775248b80fb57L;
    static final int FOOTER_LENGTH = 48;
    static final int TRAILER_LENGTH = 5;
    private static final int MASK_DELTA = 0xa282ead8;

    private SsTable() {}

    /** A key-value pair of the table. */
    record Entry(byte[] key, byte[] value) {}

    /** leveldb/TF's CRC masking: a CRC of data that holds CRCs is itself a poor CRC otherwise. */
    static int mask(int crc) {
        return ((crc >>> 15) | (crc << 17)) + MASK_DELTA;
    }

    static int crc32c(byte[] b, int off, int len) {
        CRC32C c = new CRC32C();
        c.update(b, off, len);
        return (int) c.getValue();
    }

    /** All entries of the table, in key order. */
    static List<Entry> readAll(Path file, byte[] table) throws WeightFormatException {
        if (table.length < FOOTER_LENGTH) {
            throw new WeightFormatException(file, "index is " + table.length
                    + " bytes, shorter than the 48-byte table footer (truncated?)");
        }
        int footer = table.length - FOOTER_LENGTH;
        ProtoReader magic = new ProtoReader(file, "table footer", table, table.length - 8, 8);
        long m = magic.readFixed64();
        if (m != MAGIC) {
            throw new WeightFormatException(file, String.format(
                    "bad table magic number 0x%016x, expected 0x%016x (not a TensorFlow checkpoint index, or truncated)",
                    m, MAGIC));
        }
        ProtoReader f = new ProtoReader(file, "table footer", table, footer, FOOTER_LENGTH - 8);
        readHandle(f, "metaindex"); // TF writes no filters or stats we need
        long[] index = readHandle(f, "index");

        List<Entry> out = new ArrayList<>();
        byte[] previous = null;
        for (Entry ie : readBlock(file, table, index, footer, "index block")) {
            ProtoReader h = new ProtoReader(file, "index entry", ie.value(), 0, ie.value().length);
            long[] handle = readHandle(h, "data block");
            for (Entry e : readBlock(file, table, handle, footer, "data block at " + handle[0])) {
                if (previous != null && Arrays.compareUnsigned(previous, e.key()) >= 0) {
                    throw new WeightFormatException(file, "table keys out of order at '" + printable(e.key()) + "'");
                }
                previous = e.key();
                out.add(e);
            }
        }
        return out;
    }

    private static long[] readHandle(ProtoReader r, String what) throws WeightFormatException {
        long offset = r.readVarint();
        long size = r.readVarint();
        if (offset < 0 || size < 0) {
            throw r.fail(what + " handle out of range");
        }
        return new long[] {offset, size};
    }

    private static List<Entry> readBlock(Path file, byte[] table, long[] handle, int limit, String what)
            throws WeightFormatException {
        long off = handle[0];
        long size = handle[1];
        if (off > limit || size > limit - off - TRAILER_LENGTH) {
            throw new WeightFormatException(file, what + " [" + off + ", +" + size
                    + ") reaches past the table's data (truncated or corrupt index)");
        }
        int o = (int) off;
        int n = (int) size;
        int type = table[o + n] & 0xff;
        ProtoReader trailer = new ProtoReader(file, what + " trailer", table, o + n + 1, 4);
        int stored = trailer.readFixed32();
        int actual = mask(crc32c(table, o, n + 1));
        if (stored != actual) {
            throw new WeightFormatException(file, String.format("%s: CRC32C mismatch (stored 0x%08x, computed 0x%08x); "
                    + "the index file is corrupt", what, stored, actual));
        }
        if (type != 0) {
            throw new WeightFormatException(file, what + " is " + (type == 1 ? "snappy-compressed" : "compressed (type "
                    + type + ")") + "; TensorFlow writes checkpoint indexes uncompressed and only those are read");
        }
        return parseBlock(file, table, o, n, what);
    }

    private static List<Entry> parseBlock(Path file, byte[] table, int off, int len, String what)
            throws WeightFormatException {
        if (len < 4) {
            throw new WeightFormatException(file, what + " is too short (" + len + " bytes)");
        }
        long restarts = new ProtoReader(file, what, table, off + len - 4, 4).readFixed32() & 0xffffffffL;
        long entriesEnd = len - 4 - 4 * restarts;
        if (entriesEnd < 0) {
            throw new WeightFormatException(file, what + " claims " + restarts + " restart points, more than fit");
        }
        ProtoReader r = new ProtoReader(file, what, table, off, (int) entriesEnd);
        List<Entry> out = new ArrayList<>();
        byte[] last = new byte[0];
        while (r.hasMore()) {
            int shared = r.readLength();
            int unshared = r.readLength();
            int valueLength = r.readLength();
            if (shared > last.length) {
                throw r.fail("entry shares " + shared + " key bytes with a key of " + last.length);
            }
            byte[] suffix = r.readBytes(unshared);
            byte[] key = new byte[shared + unshared];
            System.arraycopy(last, 0, key, 0, shared);
            System.arraycopy(suffix, 0, key, shared, unshared);
            out.add(new Entry(key, r.readBytes(valueLength)));
            last = key;
        }
        return out;
    }

    /** A key for messages: printable ASCII kept, other bytes escaped. */
    static String printable(byte[] key) {
        StringBuilder sb = new StringBuilder();
        for (byte b : key) {
            if (b >= 0x20 && b < 0x7f) {
                sb.append((char) b);
            } else {
                sb.append(String.format("\\x%02x", b & 0xff));
            }
        }
        return sb.toString();
    }
}
