package dev.solder.io;

import java.nio.file.Path;

/**
 * Just enough of the protobuf wire format to read TensorFlow's bundle messages (and the varints
 * of the leveldb table format, which uses the same encoding): varints, fixed32/64,
 * length-delimited fields, and skipping of unknown fields. Every read is bounds-checked against
 * the message, so a corrupt entry yields a {@link WeightFormatException} naming what was being read.
 */
final class ProtoReader {
    static final int VARINT = 0;
    static final int FIXED64 = 1;
    static final int LEN = 2;
    static final int FIXED32 = 5;

    private final Path file;
    private final String what;
    private final byte[] buf;
    private final int end;
    private int pos;

    ProtoReader(Path file, String what, byte[] buf, int offset, int length) {
        this.file = file;
        this.what = what;
        this.buf = buf;
        this.pos = offset;
        this.end = offset + length;
        if (offset < 0 || length < 0 || end > buf.length || end < 0) {
            throw new IllegalArgumentException("slice [" + offset + ", +" + length + ") outside " + buf.length);
        }
    }

    boolean hasMore() {
        return pos < end;
    }

    int position() {
        return pos;
    }

    /** The next field's tag ({@code field << 3 | wireType}). */
    int readTag() throws WeightFormatException {
        long tag = readVarint();
        if (tag <= 0 || tag > Integer.MAX_VALUE || (tag >>> 3) == 0) {
            throw fail("invalid field tag " + tag);
        }
        return (int) tag;
    }

    long readVarint() throws WeightFormatException {
        long v = 0;
        for (int shift = 0; shift < 64; shift += 7) {
            if (pos >= end) {
                throw fail("truncated varint");
            }
            byte b = buf[pos++];
            v |= (long) (b & 0x7f) << shift;
            if (b >= 0) {
                return v;
            }
        }
        throw fail("varint longer than 10 bytes");
    }

    /** A varint that must fit a non-negative int (lengths, counts). */
    int readLength() throws WeightFormatException {
        long v = readVarint();
        if (v < 0 || v > Integer.MAX_VALUE) {
            throw fail("length " + v + " out of range");
        }
        return (int) v;
    }

    int readFixed32() throws WeightFormatException {
        need(4);
        int v = (buf[pos] & 0xff) | (buf[pos + 1] & 0xff) << 8 | (buf[pos + 2] & 0xff) << 16 | (buf[pos + 3] & 0xff) << 24;
        pos += 4;
        return v;
    }

    long readFixed64() throws WeightFormatException {
        long lo = readFixed32() & 0xffffffffL;
        long hi = readFixed32() & 0xffffffffL;
        return lo | hi << 32;
    }

    /** A length-delimited field as a reader over its bytes. */
    ProtoReader readMessage(String inner) throws WeightFormatException {
        int n = readLength();
        need(n);
        ProtoReader r = new ProtoReader(file, inner, buf, pos, n);
        pos += n;
        return r;
    }

    /** {@code n} raw bytes (for leveldb keys and values). */
    byte[] readBytes(int n) throws WeightFormatException {
        need(n);
        byte[] b = java.util.Arrays.copyOfRange(buf, pos, pos + n);
        pos += n;
        return b;
    }

    void skip(int wireType) throws WeightFormatException {
        switch (wireType) {
            case VARINT -> readVarint();
            case FIXED64 -> readFixed64();
            case LEN -> {
                int n = readLength();
                need(n);
                pos += n;
            }
            case FIXED32 -> readFixed32();
            default -> throw fail("unsupported wire type " + wireType);
        }
    }

    /** Fails unless the field has the wire type the schema gives it. */
    void expect(int tag, int wireType) throws WeightFormatException {
        if ((tag & 7) != wireType) {
            throw fail("field " + (tag >>> 3) + " has wire type " + (tag & 7) + ", expected " + wireType);
        }
    }

    private void need(int n) throws WeightFormatException {
        if (n < 0 || n > end - pos) {
            throw fail("needs " + n + " bytes, " + (end - pos) + " left");
        }
    }

    WeightFormatException fail(String message) {
        return new WeightFormatException(file, what + ": " + message);
    }
}
