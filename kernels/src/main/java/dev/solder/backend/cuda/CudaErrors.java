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
 * is the cause. A fault inside a kernel, which the driver reports at the next call of whatever
 * op comes after it, says so and how to find the op that caused it ({@link KernelFault}).
 * Anything else (argument checks) passes through unchanged.
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
        if (e instanceof CudaException ce && isKernelFault(ce) && !CudaDevice.syncAfterLaunch) {
            return new KernelFault(describe(op, namesAndTensors) + ": " + ce.getMessage() + KernelFault.WHERE, ce);
        }
        if (e instanceof CudaException ce) {
            CudaException w = new CudaException(describe(op, namesAndTensors) + ": " + ce.wrapper(), ce.function(),
                    ce.status(), ce.statusName(), ce.statusText(), ce.details());
            w.initCause(e);
            return w;
        }
        return e;
    }

    /**
     * The driver's statuses for a fault inside a kernel (illegal or misaligned address, illegal
     * instruction, a trap, a timeout): the kernel leaves them in the context, and the next driver
     * call of any op returns them.
     */
    static boolean isKernelFault(CudaException e) {
        int s = e.status();
        return e.statusName() != null && e.statusName().startsWith("CUDA_ERROR_")
                && (s == 700 || s == 702 || (s >= 714 && s <= 719));
    }

    /**
     * A kernel's fault, reported by whichever op made the next driver call: the op named in the
     * message is where it surfaced, not necessarily where it happened.
     */
    static final class KernelFault extends CudaException {
        private static final long serialVersionUID = 1L;
        static final String WHERE = ". GPU work runs asynchronously, so this fault may come from an earlier op's kernel;"
                + " rerun with -Dsolder.cuda.syncLaunches=true (for ./solder: SOLDER_JAVA_OPTS=-Dsolder.cuda.syncLaunches=true)"
                + " to have the op that faulted report it. The device is unusable for the rest of this process.";

        KernelFault(String message, CudaException cause) {
            super(message, cause.wrapper(), cause.function(), cause.status(), cause.statusName(), cause.statusText(),
                    cause.details());
            initCause(cause);
        }
    }
}
