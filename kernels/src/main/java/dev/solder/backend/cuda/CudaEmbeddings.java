package dev.solder.backend.cuda;

import static dev.solder.backend.cuda.DeviceTensors.code;
import static dev.solder.backend.cuda.DeviceTensors.ptr;
import static dev.solder.backend.cuda.DeviceTensors.ptrOrNull;

import dev.solder.DType;
import dev.solder.Tensor;

/**
 * BERT's embeddings on the fused path: {@code embeddingsLayerNorm} in one launch (layernorm.cu's
 * {@code solder_embeddings_layernorm_fused_forward}) and its backward as the fused LayerNorm
 * backward plus one launch that scatters into all three tables (embedding.cu's
 * {@code solder_embeddings_backward_fused}). What each supports ({@code *Unsupported}: null when
 * it can run the case, else the reason) is asked by {@link CudaBackend}, which otherwise runs the
 * composition of {@code Backend}'s default (gathers, adds, LayerNorm — the cuBLAS-only path).
 */
final class CudaEmbeddings {
    private static final String[] TABLES = {"word", "type", "position"};

    private CudaEmbeddings() {
    }

    /** Why the fused forward cannot run; null when it can. */
    static String forwardUnsupported(Tensor word, Tensor type, Tensor position, Tensor out, Tensor hOut) {
        int cols = word.dim(1);
        if (!CudaFused.fastWidth(cols)) {
            return "width " + cols + " (fast widths 384, 768, 1024)";
        }
        if (!CudaFused.vectorType(word.dtype())) {
            return "dtype " + word.dtype() + " (float32, bfloat16)";
        }
        for (Tensor t : new Tensor[] {type, position, out, hOut}) {
            if (t.dtype() != word.dtype()) {
                return "mixed dtypes (tables " + word.dtype() + ", " + type.dtype() + ", " + position.dtype() + "; out "
                        + out.dtype() + ", h " + hOut.dtype() + ")";
            }
        }
        return CudaFused.misaligned(ptr(word), ptr(type), ptr(position), ptr(out), ptr(hOut));
    }

    /** Why the fused backward cannot run; null when it can. */
    static String backwardUnsupported(Tensor dy, Tensor h, Tensor... dtables) {
        String why = CudaFused.layerNormBackwardUnsupported(h.dim(-1), dy.dtype(), h.dtype(), DType.FLOAT32, ptr(dy),
                ptr(h));
        if (why != null) {
            return why;
        }
        for (Tensor t : dtables) {
            if (t != null && t.dtype() != DType.FLOAT32) {
                return "table gradient dtype " + t.dtype() + " (float32)";
            }
        }
        return null;
    }

    private static void checkShapes(String op, Tensor ids, Tensor typeIds, Tensor positionIds, Tensor rows, int cols) {
        long n = ids.numel();
        if (typeIds.numel() != n || positionIds.numel() == 0 || n % positionIds.numel() != 0
                || rows.numel() != n * cols) {
            throw new IllegalArgumentException(op + ": ids " + ids.describe() + ", typeIds " + typeIds.describe()
                    + ", positionIds " + positionIds.describe() + " and " + rows.describe() + " must be [B, S], [B, S], "
                    + "[S] and [B, S, " + cols + "]");
        }
    }

    /** The fused forward; the caller checked {@link #forwardUnsupported}. */
    static void forward(CudaDevice d, Tensor ids, Tensor typeIds, Tensor positionIds, Tensor word, Tensor type,
                        Tensor position, Tensor gamma, Tensor beta, float eps, Tensor out, Tensor hOut, Tensor mean,
                        Tensor rstd) {
        int cols = word.dim(1);
        checkShapes("embeddingsLayerNorm", ids, typeIds, positionIds, out, cols);
        long rows = ids.numel();
        if (mean.numel() != rows || rstd.numel() != rows) {
            throw new IllegalArgumentException("embeddingsLayerNorm: mean " + mean.describe() + " / rstd "
                    + rstd.describe() + " need " + rows + " elements");
        }
        if (rows == 0) {
            return;
        }
        d.resetErrors();
        // solder_embeddings_layernorm_fused_forward(const void* ids, int idt, const void* typeIds, int tdt,
        //     const void* positionIds, int pdt, long long seq, const void* word, long long wordRows, const void* type,
        //     long long typeRows, const void* position, long long positionRows, int dt, const void* gamma, int gdt,
        //     const void* beta, int bdt, float eps, void* out, void* hOut, float* mean, float* rstd, long long rows,
        //     int cols, int* err, long long* errInfo)
        Launch.of(d, Kernel.EMBEDDINGS_LAYERNORM_FUSED_FORWARD, LaunchConfig.rows(rows))
                .ptr(ptr(ids)).i32(code(ids.dtype())).ptr(ptr(typeIds)).i32(code(typeIds.dtype()))
                .ptr(ptr(positionIds)).i32(code(positionIds.dtype())).i64(positionIds.numel())
                .ptr(ptr(word)).i64(word.dim(0)).ptr(ptr(type)).i64(type.dim(0)).ptr(ptr(position)).i64(position.dim(0))
                .i32(code(word.dtype())).ptr(ptr(gamma)).i32(code(gamma.dtype())).ptr(ptr(beta))
                .i32(code(beta.dtype())).f32(eps).ptr(ptr(out)).ptr(ptrOrNull(hOut)).ptr(ptr(mean)).ptr(ptr(rstd))
                .i64(rows).i32(cols).ptr(d.errorFlagPtr()).ptr(d.errorInfoPtr())
                .run();
        long[] err = d.readErrors();
        if (err != null) {
            int table = (int) (err[0] / rows);
            long n = err[0] % rows;
            Tensor[] idTensors = {ids, typeIds, positionIds};
            long[] tableRows = {word.dim(0), type.dim(0), position.dim(0)};
            throw new IllegalArgumentException("embeddingsLayerNorm: " + TABLES[table] + " id " + err[1] + " of token "
                    + n + " (ids " + idTensors[table].describe() + ") is outside the " + TABLES[table]
                    + " table's rows [0, " + tableRows[table] + ")");
        }
    }

    /** The fused backward; the caller checked {@link #backwardUnsupported}. */
    static void backward(CudaDevice d, Tensor dy, Tensor h, Tensor gamma, Tensor mean, Tensor rstd, Tensor ids,
                         Tensor typeIds, Tensor positionIds, int wordPaddingIdx, Tensor dword, Tensor dtype,
                         Tensor dposition, Tensor dgamma, Tensor dbeta) {
        int cols = h.dim(-1);
        checkShapes("embeddingsLayerNormBackward", ids, typeIds, positionIds, h, cols);
        long rows = ids.numel();
        Tensor[] dtables = {dword, dtype, dposition};
        for (Tensor t : dtables) {
            if (t != null && (t.rank() != 2 || t.dim(1) != cols)) {
                throw new IllegalArgumentException("embeddingsLayerNormBackward: table gradient " + t.describe()
                        + " must be [rows, " + cols + "]");
            }
            if (t != null) {
                d.api().memset(ptr(t), (byte) 0, t.numel() * Float.BYTES);
            }
        }
        if (rows == 0) {
            return;
        }
        try (Tensor dh = Tensor.empty(h.shape(), DType.FLOAT32, h.device())) {
            CudaFused.layerNormBackward(d, dy, h, gamma, mean, rstd, dh, dgamma, dbeta, rows, cols);
            if (dword == null && dtype == null && dposition == null) {
                return;
            }
            int wb = LaunchConfig.embeddingBuckets(dword == null ? 1 : dword.dim(0));
            int tb = LaunchConfig.embeddingBuckets(dtype == null ? 1 : dtype.dim(0));
            int pb = LaunchConfig.embeddingBuckets(dposition == null ? 1 : dposition.dim(0));
            // solder_embeddings_backward_fused(const float* dh, long long rows, int cols, const void* ids, int idt,
            //     float* dword, long long wordRows, long long wordPaddingIdx, int wordBuckets, const void* typeIds,
            //     int tdt, float* dtype, long long typeRows, int typeBuckets, const void* positionIds, int pdt,
            //     long long seq, float* dposition, long long positionRows, int positionBuckets)
            Launch.of(d, Kernel.EMBEDDINGS_BACKWARD_FUSED, LaunchConfig.embeddingsBackwardFused(cols, wb, tb, pb))
                    .ptr(ptr(dh)).i64(rows).i32(cols)
                    .ptr(ptr(ids)).i32(code(ids.dtype())).ptr(ptrOrNull(dword)).i64(dword == null ? 0 : dword.dim(0))
                    .i64(wordPaddingIdx < 0 ? -1L : wordPaddingIdx).i32(wb)
                    .ptr(ptr(typeIds)).i32(code(typeIds.dtype())).ptr(ptrOrNull(dtype))
                    .i64(dtype == null ? 0 : dtype.dim(0)).i32(tb)
                    .ptr(ptr(positionIds)).i32(code(positionIds.dtype())).i64(positionIds.numel())
                    .ptr(ptrOrNull(dposition)).i64(dposition == null ? 0 : dposition.dim(0)).i32(pb)
                    .run();
        }
    }
}
