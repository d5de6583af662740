package dev.solder.backend.cpu;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;

/**
 * One GEMM input seen as the logical matrix {@code op(X)}: element {@code (row, col)} of
 * {@code op(X)} lives at element index {@code off + row·ld + col}, or {@code off + col·ld + row}
 * when {@code trans}. Elements are float32 or bfloat16 ({@code bf16}).
 */
record SgemmOperand(MemorySegment seg, long off, int ld, boolean trans, boolean bf16) {

    /** Element {@code (row, col)} of {@code op(X)}, widened to float32. */
    float get(long row, long col) {
        long idx = trans ? off + col * ld + row : off + row * ld + col;
        return load(idx);
    }

    /** Element at a raw element index, widened to float32. */
    float load(long idx) {
        if (bf16) {
            // bfloat16 is the top half of a float32, so widening is a shift.
            return Float.intBitsToFloat(seg.get(ValueLayout.JAVA_SHORT_UNALIGNED, idx << 1) << 16);
        }
        return seg.get(ValueLayout.JAVA_FLOAT_UNALIGNED, idx << 2);
    }

    /**
     * Whether packing may read this operand a vector at a time: float32 in a segment the
     * Vector API can read. bfloat16 goes through {@link #load}'s widening.
     */
    boolean vectorLoads() {
        return !bf16 && vectorAccessible(seg);
    }

    /** Whether the Vector API can read and write {@code seg}: native memory, or a heap segment over a {@code byte[]}. */
    static boolean vectorAccessible(MemorySegment seg) {
        return seg.isNative() || seg.heapBase().map(o -> o instanceof byte[]).orElse(false);
    }

    /** The operand whose element (0, 0) is element {@code (row, col)} of this one's {@code op(X)}. */
    SgemmOperand at(long row, long col) {
        return shifted(trans ? col * ld + row : row * ld + col);
    }

    /** The same operand moved by {@code elems} elements (one matrix of a batch). */
    SgemmOperand shifted(long elems) {
        return elems == 0 ? this : new SgemmOperand(seg, off + elems, ld, trans, bf16);
    }
}
