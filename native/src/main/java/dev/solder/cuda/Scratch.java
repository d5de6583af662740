package dev.solder.cuda;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;

/**
 * Per-thread native scratch space for out-parameters ({@code CUdeviceptr*}, {@code int*}) and
 * by-pointer scalars ({@code const float* alpha}), so that hot wrappers allocate nothing per call.
 *
 * <p>Every wrapper writes its arguments and reads its results within one call, and no wrapper
 * calls another wrapper while it holds values here, so one block per thread is enough. Error
 * paths (which may call other wrappers) use a confined arena instead.
 */
final class Scratch {
    /** Bytes per thread: room for the largest by-pointer arguments (two doubles, a few out-params). */
    static final long SIZE = 256;

    private static final ThreadLocal<MemorySegment> BLOCK =
            ThreadLocal.withInitial(() -> Arena.ofAuto().allocate(SIZE, 16));

    private Scratch() {}

    /** This thread's scratch block. */
    static MemorySegment get() {
        return BLOCK.get();
    }
}
