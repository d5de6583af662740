package dev.solder.backend.cuda;

import dev.solder.DType;
import dev.solder.Tensor;

/** Device addresses and dtype codes of tensors, as the kernels take them. */
final class DeviceTensors {
    private DeviceTensors() {
    }

    /**
     * The dtype code the kernels switch on ({@code SOLDER_F32 .. SOLDER_I64} in
     * solder_common.cuh); a test checks these against the header's defines.
     */
    static int code(DType t) {
        return switch (t) {
            case FLOAT32 -> 0;
            case BFLOAT16 -> 1;
            case FLOAT16 -> 2;
            case INT32 -> 3;
            case INT64 -> 4;
        };
    }

    /** The code of float64, used only for reductions' internal results. */
    static final int F64 = 5;

    /** The device address of the tensor's first element (its storage plus its offset). */
    static long ptr(Tensor t) {
        if (!(t.storage() instanceof CudaStorage s)) {
            throw new IllegalArgumentException("cuda backend got " + t.describe() + ", which is not in CUDA memory");
        }
        if (s.isFreed()) {
            throw new IllegalStateException("cuda backend got " + t.describe() + ", whose device memory was already freed");
        }
        return s.ptr() + t.offset() * t.dtype().byteSize();
    }

    /** {@link #ptr}, or 0 for a null tensor (an optional argument). */
    static long ptrOrNull(Tensor t) {
        return t == null ? 0L : ptr(t);
    }

    /** {@link #code}, or the float32 code for a null tensor (the kernel ignores it). */
    static int codeOrF32(Tensor t) {
        return t == null ? 0 : code(t.dtype());
    }

    /** Bytes of the tensor's elements. */
    static long bytes(Tensor t) {
        return t.numel() * t.dtype().byteSize();
    }

    /** The size of the last dimension (1 for a 0-d tensor). */
    static int lastDim(Tensor t) {
        return t.rank() == 0 ? 1 : t.dim(-1);
    }

    /** Throws unless {@code t} is float32 (for buffers the kernels read as {@code float*}). */
    static void requireFloat32(String op, String what, Tensor t) {
        if (t.dtype() != DType.FLOAT32) {
            throw new IllegalArgumentException(op + ": " + what + " " + t.describe() + " must be float32");
        }
    }
}
