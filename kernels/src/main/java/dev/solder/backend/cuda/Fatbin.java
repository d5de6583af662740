package dev.solder.backend.cuda;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.ArrayList;
import java.util.List;

/**
 * Reads the table of contents of an nvcc fatbin: which cubins (per {@code sm_XX}) and which PTX
 * (per {@code compute_XX}) it holds, so the backend can tell whether the driver will find code
 * for the GPU before handing it the image, and tests can check the build without cuobjdump.
 *
 * <p>Layout (little-endian, as written by {@code fatbinary}): a 16-byte header (magic
 * {@code 0xBA55ED50}, u16 version, u16 header size, u64 size of the entries), then entries,
 * each with a header of its own ({@code u16 kind} — 1 PTX, 2 ELF cubin —, u16, u32 header size,
 * u64 payload size, u32, u32, u16 minor, u16 major, {@code u32 arch} at offset 28, ...) followed
 * by its payload. Several such blocks may follow one another.
 */
final class Fatbin {
    static final int MAGIC = 0xBA55ED50;
    static final int KIND_PTX = 1;
    static final int KIND_ELF = 2;

    /** One image inside the fatbin. */
    record Entry(int kind, int arch, long size) {
        boolean isPtx() {
            return kind == KIND_PTX;
        }

        boolean isCubin() {
            return kind == KIND_ELF;
        }

        @Override
        public String toString() {
            return (isPtx() ? "compute_" : isCubin() ? "sm_" : "kind" + kind + "_") + arch;
        }
    }

    private Fatbin() {
    }

    /** The entries of {@code data}; throws {@link IllegalArgumentException} if it is no fatbin. */
    static List<Entry> parse(byte[] data) {
        ByteBuffer bb = ByteBuffer.wrap(data).order(ByteOrder.LITTLE_ENDIAN);
        List<Entry> out = new ArrayList<>();
        int off = 0;
        while (off + 16 <= data.length) {
            int magic = bb.getInt(off);
            if (magic != MAGIC) {
                if (out.isEmpty()) {
                    throw new IllegalArgumentException(String.format("not a fatbin: magic 0x%08x at offset %d", magic, off));
                }
                break; // trailing padding
            }
            int headerSize = Short.toUnsignedInt(bb.getShort(off + 6));
            long fatSize = bb.getLong(off + 8);
            long p = off + (long) headerSize;
            long end = p + fatSize;
            if (headerSize < 16 || end > data.length) {
                throw new IllegalArgumentException("truncated fatbin: block at " + off + " claims " + fatSize + " bytes");
            }
            while (p + 32 <= end) {
                int ip = (int) p;
                int kind = Short.toUnsignedInt(bb.getShort(ip));
                long entryHeader = Integer.toUnsignedLong(bb.getInt(ip + 4));
                long size = bb.getLong(ip + 8);
                int arch = bb.getInt(ip + 28);
                if (entryHeader < 32 || size < 0) {
                    throw new IllegalArgumentException("corrupt fatbin entry at offset " + p);
                }
                out.add(new Entry(kind, arch, size));
                p += entryHeader + size;
            }
            off = (int) end;
        }
        return out;
    }

    /**
     * True when the driver can run one of the entries on a GPU of compute capability
     * {@code cc} (major·10 + minor): a cubin of the same major version and a minor version not
     * above the GPU's (binary compatibility), or PTX for an architecture not above it (JIT).
     */
    static boolean runsOn(List<Entry> entries, int cc) {
        for (Entry e : entries) {
            if (e.isCubin() && e.arch() / 10 == cc / 10 && e.arch() % 10 <= cc % 10) {
                return true;
            }
            if (e.isPtx() && e.arch() <= cc) {
                return true;
            }
        }
        return false;
    }

    /** True when an entry is a cubin made for exactly this architecture (no JIT needed). */
    static boolean hasExactCubin(List<Entry> entries, int cc) {
        return entries.stream().anyMatch(e -> e.isCubin() && e.arch() == cc);
    }
}
