package dev.solder.backend.cuda;

import dev.solder.Tensor;
import dev.solder.cuda.CudaException;
import dev.solder.cuda.CudaOutOfMemoryException;
import dev.solder.cuda.NvrtcCompilationException;

/**
 * Puts the op and its tensors in front of a CUDA or cuBLAS failure, so that
 * "cuMemAllocAsync returned CUDA_ERROR_OUT_OF_MEMORY" reads as
 * "cuda op attention(q Tensor[8, 128, 768] bfloat16 cuda:0, ...): CudaDriver.memAllocAsync: ...".
 * Out-of-memory stays a {@link CudaOutOfMemoryException} (with the requested size and the
 * device's free memory); other driver errors stay {@link CudaException}s; the native exception
 * is the cause. Anything else (argument checks) passes through unchanged.
 */
final class CudaErrors {
    private CudaErrors() {
    }

    /** The op with its tensors, e.g. {@code matmul(a Tensor[2, 3] float32 cuda:0, ...)}. */
    static String describe(String op, Object... namesAndTensors) {
        StringBuilder sb = new StringBuilder("cuda op ").append(op).append('(');
        for (int i = 0; i + 1 < namesAndTensors.length; i += 2) {
            Object v = namesAndTensors[i + 1];
            if (v == null) {
                continue;
            }
            if (sb.charAt(sb.length() - 1) != '(') {
                sb.append(", ");
            }
            sb.append(namesAndTensors[i]).append(' ');
            sb.append(v instanceof Tensor t ? safeDescribe(t) : String.valueOf(v));
        }
        return sb.append(')').toString();
    }

    private static String safeDescribe(Tensor t) {
        try {
            return t.describe();
        } catch (RuntimeException e) {
            return "<tensor>";
        }
    }

    /** {@code e} with the op's description in front when it is a CUDA failure; else {@code e}. */
    static RuntimeException inOp(RuntimeException e, String op, Object... namesAndTensors) {
        if (e instanceof NvrtcCompilationException || (e.getMessage() != null && e.getMessage().startsWith("cuda op "))) {
            return e; // already says what it is (the compiler log), or already wrapped by an enclosing op
        }
        if (e instanceof CudaOutOfMemoryException oom) {
            CudaOutOfMemoryException w = new CudaOutOfMemoryException(describe(op, namesAndTensors) + ": " + oom.wrapper(),
                    oom.function(), oom.status(), oom.statusName(), oom.statusText(), oom.details(),
                    oom.requestedBytes(), oom.freeBytes(), oom.totalBytes());
            w.initCause(e);
            return w;
        }
        if (e instanceof CudaException ce) {
            CudaException w = new CudaException(describe(op, namesAndTensors) + ": " + ce.wrapper(), ce.function(),
                    ce.status(), ce.statusName(), ce.statusText(), ce.details());
            w.initCause(e);
            return w;
        }
        return e;
    }
}
