package dev.solder.backend.cuda;

import static dev.solder.backend.cuda.DeviceTensors.code;
import static dev.solder.backend.cuda.DeviceTensors.ptr;

import dev.solder.DType;
import dev.solder.Tensor;

/** Embedding gather with id checks, and its deterministic scatter-add (embedding.cu). */
final class CudaLookup {
    private CudaLookup() {
    }

    /** {@code out[n, :] = table[ids[n], :]}; throws naming the first id outside {@code [0, rows)}. */
    static void embedding(CudaDevice d, Tensor ids, Tensor table, Tensor out) {
        if (table.rank() != 2) {
            throw new IllegalArgumentException("embedding: table " + table.describe() + " must be [vocab, hidden]");
        }
        long rows = ids.numel();
        int cols = table.dim(1);
        long vocab = table.dim(0);
        if (out.numel() != rows * cols) {
            throw new IllegalArgumentException("embedding: out " + out.describe() + " does not fit ids " + ids.describe()
                    + " and table " + table.describe());
        }
        if (rows == 0 || cols == 0) {
            return;
        }
        d.resetErrors();
        // solder_embedding_forward(const void* ids, int idt, const void* table, int tdt, void* out, int odt,
        //                          long long rows, int cols, long long vocab, int* err, long long* errInfo)
        Launch.of(d, Kernel.EMBEDDING_FORWARD, LaunchConfig.linear(rows * cols))
                .ptr(ptr(ids)).i32(code(ids.dtype())).ptr(ptr(table)).i32(code(table.dtype()))
                .ptr(ptr(out)).i32(code(out.dtype())).i64(rows).i32(cols).i64(vocab)
                .ptr(d.errorFlagPtr()).ptr(d.errorInfoPtr())
                .run();
        long[] err = d.readErrors();
        if (err != null) {
            throw new IllegalArgumentException("embedding: id " + err[1] + " at position " + err[0] + " of ids "
                    + ids.describe() + " is outside the table's rows [0, " + vocab + ")");
        }
    }

    /** {@code dtable} (overwritten) = scatter-add of dy rows at ids, skipping {@code paddingIdx}. */
    static void embeddingBackward(CudaDevice d, Tensor ids, Tensor dy, int paddingIdx, Tensor dtable) {
        if (dtable.rank() != 2) {
            throw new IllegalArgumentException("embeddingBackward: dtable " + dtable.describe() + " must be 2-D");
        }
        long rows = ids.numel();
        int cols = dtable.dim(1);
        long vocab = dtable.dim(0);
        if (dy.numel() != rows * cols) {
            throw new IllegalArgumentException("embeddingBackward: dy " + dy.describe() + " does not fit ids "
                    + ids.describe() + " and " + dtable.describe());
        }
        long n = dtable.numel();
        if (n == 0) {
            return;
        }
        try (CudaDevice.Temps tmp = d.temps()) {
            boolean direct = dtable.dtype() == DType.FLOAT32;
            long acc = direct ? ptr(dtable) : tmp.alloc(n * Float.BYTES);
            d.api().memset(acc, (byte) 0, n * Float.BYTES);
            if (rows > 0 && cols > 0) {
                // solder_embedding_backward(const void* ids, int idt, const void* dy, int dydt, float* dtable,
                //                           long long rows, int cols, long long vocab, long long paddingIdx,
                //                           int buckets)
                Launch.of(d, Kernel.EMBEDDING_BACKWARD, LaunchConfig.embeddingBackward(cols, vocab))
                        .ptr(ptr(ids)).i32(code(ids.dtype())).ptr(ptr(dy)).i32(code(dy.dtype())).ptr(acc)
                        .i64(rows).i32(cols).i64(vocab).i64(paddingIdx < 0 ? -1L : paddingIdx)
                        .i32(LaunchConfig.embeddingBuckets(vocab))
                        .run();
            }
            if (!direct) {
                CudaCopy.convert(d, acc, DType.FLOAT32, ptr(dtable), dtable.dtype(), n);
            }
        }
    }
}
