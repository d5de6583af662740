package dev.solder.backend.cuda;

import java.util.ArrayList;
import java.util.List;
import java.util.Locale;

/**
 * Every {@code extern "C"} kernel the CUDA backend launches, with its C parameter list copied
 * from {@code src/main/cuda}.
 *
 * <p>The parameter list is the contract between a Java call site and the kernel: a
 * {@code cuLaunchKernel} argument of the wrong width (an {@code int} where the kernel reads
 * {@code long long}) does not fail, it corrupts. So {@link Launch} checks every packed argument
 * against {@link #params()} before launching, and a test checks that each list here equals the
 * kernel's declaration in the {@code .cu} sources, token for token.
 */
enum Kernel {
    // elementwise.cu
    FILL("solder_fill", "void* out, int dt, long long n, double value"),
    CONVERT("solder_convert", "const void* src, int sdt, void* dst, int ddt, long long n"),
    COPY_STRIDED("solder_copy_strided", "const void* src, int sdt, void* dst, int ddt, long long n, "
            + "long long s0, long long s1, long long s2, long long s3, long long s4, long long s5, "
            + "long long ss0, long long ss1, long long ss2, long long ss3, long long ss4, long long ss5, "
            + "long long ds0, long long ds1, long long ds2, long long ds3, long long ds4, long long ds5"),
    ADD("solder_add", "const void* a, int adt, const void* b, int bdt, float alpha, float beta, "
            + "void* out, int odt, long long n, long long nb"),
    MUL("solder_mul", "const void* a, int adt, const void* b, int bdt, void* out, int odt, long long n, long long nb"),
    SCALE("solder_scale", "const void* a, int adt, float s, void* out, int odt, long long n"),
    GELU_FORWARD("solder_gelu_forward", "const void* x, int xdt, void* out, int odt, long long n, int tanhApprox"),
    GELU_BACKWARD("solder_gelu_backward", "const void* x, int xdt, const void* dy, int dydt, "
            + "void* dx, int dxdt, long long n, int tanhApprox"),
    BIAS_GELU_FORWARD("solder_bias_gelu_forward", "void* pre, int pdt, const void* bias, int bdt, void* out, "
            + "int odt, long long rows, int cols"),
    BIAS_GELU_BACKWARD("solder_bias_gelu_backward", "const void* pre, int pdt, const void* dy, int dydt, "
            + "void* dpre, int dpdt, long long rows, int cols, long long rowsPerChunk, double* partials"),
    TANH_FORWARD("solder_tanh_forward", "const void* x, int xdt, void* out, int odt, long long n"),
    TANH_BACKWARD("solder_tanh_backward", "const void* y, int ydt, const void* dy, int dydt, "
            + "void* dx, int dxdt, long long n"),
    // reduce.cu
    REDUCE_PARTIAL("solder_reduce_partial", "const void* a, int adt, const void* b, int bdt, int mode, "
            + "long long n, double* partials"),
    REDUCE_FINISH("solder_reduce_finish", "const double* partials, int count, double scale, void* out, int odt"),
    SUMSQ_MULTI_PARTIAL("solder_sumsq_multi_partial", "const SolderSumSqTensor* tensors, int count, "
            + "long long totalPartials, double* partials"),
    SUMSQ_MULTI_FINISH("solder_sumsq_multi_finish", "const SolderSumSqTensor* tensors, int count, "
            + "const double* partials, double* out"),
    COLUMN_SUM_PARTIAL("solder_column_sum_partial", "const void* a, int adt, long long rows, long long cols, "
            + "long long rowsPerChunk, double* partials"),
    COLUMN_SUM_FINISH("solder_column_sum_finish", "const double* partials, const double* partials2, int chunks, "
            + "long long cols, void* out, void* out2, int odt"),
    // softmax.cu
    SOFTMAX_FORWARD("solder_softmax_forward", "const void* x, int xdt, const void* mask, int mdt, int maskMode, "
            + "long long rowsPerMaskRow, void* out, int odt, long long rows, int cols"),
    SOFTMAX_BACKWARD("solder_softmax_backward", "const void* y, int ydt, const void* dy, int dydt, "
            + "void* dx, int dxdt, long long rows, int cols"),
    // layernorm.cu
    LAYERNORM_FORWARD("solder_layernorm_forward", "const void* x, int xdt, const void* res, int rdt, "
            + "const void* gamma, int gdt, const void* beta, int bdt, float eps, void* out, int odt, "
            + "void* hOut, int hdt, float* mean, float* rstd, long long rows, int cols"),
    LAYERNORM_BACKWARD_INPUT("solder_layernorm_backward_input", "const void* dy, int dydt, const void* h, int hdt, "
            + "const void* gamma, int gdt, const float* mean, const float* rstd, void* dh, int dhdt, "
            + "long long rows, int cols"),
    LAYERNORM_BACKWARD_PARAMS_PARTIAL("solder_layernorm_backward_params_partial", "const void* dy, int dydt, "
            + "const void* h, int hdt, const float* mean, const float* rstd, long long rows, int cols, "
            + "long long rowsPerChunk, double* partGamma, double* partBeta"),
    LAYERNORM_FUSED_FORWARD("solder_layernorm_fused_forward", "const void* x, const void* res, int dt, "
            + "const void* gamma, int gdt, const void* beta, int bdt, float eps, void* out, void* hOut, "
            + "float* mean, float* rstd, long long rows, int cols"),
    DROPOUT_LAYERNORM_FUSED_FORWARD("solder_dropout_layernorm_fused_forward", "const void* x, int xdt, "
            + "const void* res, int dt, float p, long long seed, const void* gamma, int gdt, const void* beta, int bdt, "
            + "float eps, void* out, void* hOut, float* mean, float* rstd, long long rows, int cols, void* outLow"),
    EMBEDDINGS_LAYERNORM_FUSED_FORWARD("solder_embeddings_layernorm_fused_forward", "const void* ids, int idt, "
            + "const void* typeIds, int tdt, const void* positionIds, int pdt, long long seq, const void* word, "
            + "long long wordRows, const void* type, long long typeRows, const void* position, long long positionRows, "
            + "int dt, const void* gamma, int gdt, const void* beta, int bdt, float eps, void* out, void* hOut, "
            + "float* mean, float* rstd, long long rows, int cols, int* err, long long* errInfo"),
    LAYERNORM_FUSED_BACKWARD("solder_layernorm_fused_backward", "const void* dy, int dydt, const void* h, int hdt, "
            + "const void* gamma, int gdt, const float* mean, const float* rstd, float* dh, long long rows, int cols, "
            + "long long rowsPerChunk, double* partGamma, double* partBeta"),
    DROPOUT_LAYERNORM_FUSED_BACKWARD("solder_dropout_layernorm_fused_backward", "const void* dy, int dydt, "
            + "const void* h, int hdt, const void* gamma, int gdt, const float* mean, const float* rstd, float* dh, "
            + "void* dx, int dxdt, float p, long long seed, long long rows, int cols, long long rowsPerChunk, "
            + "double* partGamma, double* partBeta"),
    // dropout.cu
    DROPOUT("solder_dropout", "const void* x, int xdt, void* out, int odt, long long n, float p, long long seed"),
    // embedding.cu
    EMBEDDING_FORWARD("solder_embedding_forward", "const void* ids, int idt, const void* table, int tdt, "
            + "void* out, int odt, long long rows, int cols, long long vocab, int* err, long long* errInfo"),
    EMBEDDINGS_BACKWARD_FUSED("solder_embeddings_backward_fused", "const float* dh, long long rows, int cols, "
            + "const void* ids, int idt, float* dword, long long wordRows, long long wordPaddingIdx, int wordBuckets, "
            + "const void* typeIds, int tdt, float* dtype, long long typeRows, int typeBuckets, "
            + "const void* positionIds, int pdt, long long seq, float* dposition, long long positionRows, "
            + "int positionBuckets"),
    EMBEDDING_BACKWARD("solder_embedding_backward", "const void* ids, int idt, const void* dy, int dydt, "
            + "float* dtable, long long rows, int cols, long long vocab, long long paddingIdx, int buckets"),
    // attention.cu
    ATTENTION_SOFTMAX_FORWARD("solder_attention_softmax_forward", "float* scores, const void* keyMask, int mdt, "
            + "long long rowsPerBatch, long long rows, int S"),
    ATTENTION_SOFTMAX_BACKWARD("solder_attention_softmax_backward", "const float* P, float* grad, long long rows, "
            + "int S, float dropoutP, long long seed"),
    // flash_attention.cu (fused path; one kernel per head dim)
    FLASH_ATTENTION_FORWARD_D32("solder_flash_attention_forward_d32",
            "const void* q, const void* k, const void* v, int dt, const void* keyMask, int mdt, void* out, "
            + "float* lse, int H, int S, float scale, float dropoutP, long long seed"),
    FLASH_ATTENTION_FORWARD_D64("solder_flash_attention_forward_d64",
            "const void* q, const void* k, const void* v, int dt, const void* keyMask, int mdt, void* out, "
            + "float* lse, int H, int S, float scale, float dropoutP, long long seed"),
    FLASH_ATTENTION_FORWARD_D128("solder_flash_attention_forward_d128",
            "const void* q, const void* k, const void* v, int dt, const void* keyMask, int mdt, void* out, "
            + "float* lse, int H, int S, float scale, float dropoutP, long long seed"),
    FLASH_ATTENTION_BACKWARD_DOT("solder_flash_attention_backward_dot",
            "const void* dout, int dodt, "
            + "const void* out, int odt, float* delta, long long rows, int H, int S, int D"),
    FLASH_ATTENTION_BACKWARD_DKDV_D32("solder_flash_attention_backward_dkdv_d32",
            "const void* q, const void* k, const void* v, const void* dout, int dt, "
            + "const void* keyMask, int mdt, const float* lse, const float* delta, void* dk, int dkdt, void* dv, int dvdt, "
            + "int H, int S, float scale, float dropoutP, long long seed"),
    FLASH_ATTENTION_BACKWARD_DKDV_D64("solder_flash_attention_backward_dkdv_d64",
            "const void* q, const void* k, const void* v, const void* dout, int dt, "
            + "const void* keyMask, int mdt, const float* lse, const float* delta, void* dk, int dkdt, void* dv, int dvdt, "
            + "int H, int S, float scale, float dropoutP, long long seed"),
    FLASH_ATTENTION_BACKWARD_DKDV_D128("solder_flash_attention_backward_dkdv_d128",
            "const void* q, const void* k, const void* v, const void* dout, int dt, "
            + "const void* keyMask, int mdt, const float* lse, const float* delta, void* dk, int dkdt, void* dv, int dvdt, "
            + "int H, int S, float scale, float dropoutP, long long seed"),
    FLASH_ATTENTION_BACKWARD_DQ_D32("solder_flash_attention_backward_dq_d32",
            "const void* q, const void* k, const void* v, const void* dout, int dt, "
            + "const void* keyMask, int mdt, const float* lse, const float* delta, void* dq, int dqdt, int H, int S, "
            + "float scale, float dropoutP, long long seed"),
    FLASH_ATTENTION_BACKWARD_DQ_D64("solder_flash_attention_backward_dq_d64",
            "const void* q, const void* k, const void* v, const void* dout, int dt, "
            + "const void* keyMask, int mdt, const float* lse, const float* delta, void* dq, int dqdt, int H, int S, "
            + "float scale, float dropoutP, long long seed"),
    FLASH_ATTENTION_BACKWARD_DQ_D128("solder_flash_attention_backward_dq_d128",
            "const void* q, const void* k, const void* v, const void* dout, int dt, "
            + "const void* keyMask, int mdt, const float* lse, const float* delta, void* dq, int dqdt, int H, int S, "
            + "float scale, float dropoutP, long long seed"),
    // flash_attention.cu, float32 (SIMT)
    FLASH_ATTENTION_F32_FORWARD_D32("solder_flash_attention_f32_forward_d32",
            "const float* q, const float* k, const float* v, const void* keyMask, int mdt, float* out, float* lse, "
            + "int H, int S, float scale, float dropoutP, long long seed"),
    FLASH_ATTENTION_F32_FORWARD_D64("solder_flash_attention_f32_forward_d64",
            "const float* q, const float* k, const float* v, const void* keyMask, int mdt, float* out, float* lse, "
            + "int H, int S, float scale, float dropoutP, long long seed"),
    FLASH_ATTENTION_F32_FORWARD_D128("solder_flash_attention_f32_forward_d128",
            "const float* q, const float* k, const float* v, const void* keyMask, int mdt, float* out, float* lse, "
            + "int H, int S, float scale, float dropoutP, long long seed"),
    FLASH_ATTENTION_F32_BACKWARD_DKDV_D32("solder_flash_attention_f32_backward_dkdv_d32",
            "const float* q, const float* k, const float* v, const float* dout, const void* keyMask, int mdt, "
            + "const float* lse, const float* delta, void* dk, int dkdt, void* dv, int dvdt, int H, int S, float scale, "
            + "float dropoutP, long long seed"),
    FLASH_ATTENTION_F32_BACKWARD_DKDV_D64("solder_flash_attention_f32_backward_dkdv_d64",
            "const float* q, const float* k, const float* v, const float* dout, const void* keyMask, int mdt, "
            + "const float* lse, const float* delta, void* dk, int dkdt, void* dv, int dvdt, int H, int S, float scale, "
            + "float dropoutP, long long seed"),
    FLASH_ATTENTION_F32_BACKWARD_DKDV_D128("solder_flash_attention_f32_backward_dkdv_d128",
            "const float* q, const float* k, const float* v, const float* dout, const void* keyMask, int mdt, "
            + "const float* lse, const float* delta, void* dk, int dkdt, void* dv, int dvdt, int H, int S, float scale, "
            + "float dropoutP, long long seed"),
    FLASH_ATTENTION_F32_BACKWARD_DQ_D32("solder_flash_attention_f32_backward_dq_d32",
            "const float* q, const float* k, const float* v, const float* dout, const void* keyMask, int mdt, "
            + "const float* lse, const float* delta, void* dq, int dqdt, int H, int S, float scale, float dropoutP, "
            + "long long seed"),
    FLASH_ATTENTION_F32_BACKWARD_DQ_D64("solder_flash_attention_f32_backward_dq_d64",
            "const float* q, const float* k, const float* v, const float* dout, const void* keyMask, int mdt, "
            + "const float* lse, const float* delta, void* dq, int dqdt, int H, int S, float scale, float dropoutP, "
            + "long long seed"),
    FLASH_ATTENTION_F32_BACKWARD_DQ_D128("solder_flash_attention_f32_backward_dq_d128",
            "const float* q, const float* k, const float* v, const float* dout, const void* keyMask, int mdt, "
            + "const float* lse, const float* delta, void* dq, int dqdt, int H, int S, float scale, float dropoutP, "
            + "long long seed"),
    // loss.cu
    CROSS_ENTROPY_FORWARD("solder_cross_entropy_forward", "const void* logits, int ldt, const void* labels, int ydt, "
            + "long long ignoreIndex, long long rows, int classes, float* rowLoss, int* err, long long* errInfo"),
    CROSS_ENTROPY_REDUCE("solder_cross_entropy_reduce", "const float* rowLoss, const void* labels, int ydt, "
            + "long long ignoreIndex, long long rows, void* loss, int lossdt"),
    COUNT_LABELS("solder_count_labels", "const void* labels, int ydt, long long ignoreIndex, long long rows, "
            + "float* count"),
    CROSS_ENTROPY_BACKWARD("solder_cross_entropy_backward", "const void* logits, int ldt, const void* labels, "
            + "int ydt, long long ignoreIndex, const void* dloss, int dldt, const float* count, void* dlogits, "
            + "int ddt, long long rows, int classes"),
    CROSS_ENTROPY_FUSED_FORWARD("solder_cross_entropy_fused_forward", "const void* logits, int ldt, "
            + "const void* labels, int ydt, long long ignoreIndex, long long rows, int classes, const float* count, "
            + "float* rowLoss, float* dlogits, int* err, long long* errInfo"),
    MSE_BACKWARD("solder_mse_backward", "const void* pred, int pdt, const void* target, int tdt, "
            + "const void* dloss, int dldt, void* dpred, int ddt, long long n"),
    // adamw.cu
    ADAMW("solder_adamw", "float* param, const void* grad, int gdt, float* m, float* v, long long n, float lr, "
            + "float beta1, float beta2, float eps, float weightDecay, float bc1, float bc2"),
    ADAMW_MULTI("solder_adamw_multi", "const SolderAdamwTensor* tensors, const int* chunkTensor, "
            + "const long long* chunkStart, int chunks, long long chunkSize, float lr, float beta1, float beta2, "
            + "float eps, float gradScale");

    /** The argument kinds {@code cuLaunchKernel} passes: each needs its exact width. */
    enum ArgKind {
        /** Any pointer: 8 bytes. */
        PTR,
        /** {@code int}: 4 bytes. */
        I32,
        /** {@code long long}: 8 bytes. */
        I64,
        /** {@code float}: 4 bytes. */
        F32,
        /** {@code double}: 8 bytes. */
        F64
    }

    private final String cName;
    private final String params;
    private final ArgKind[] kinds;
    private final String[] paramNames;

    Kernel(String cName, String params) {
        this.cName = cName;
        this.params = params;
        List<ArgKind> k = new ArrayList<>();
        List<String> names = new ArrayList<>();
        for (String p : params.split(",")) {
            String decl = p.trim();
            int cut = decl.lastIndexOf(' ');
            String type = decl.substring(0, cut).trim();
            names.add(decl.substring(cut + 1).trim());
            k.add(kindOf(type));
        }
        this.kinds = k.toArray(new ArgKind[0]);
        this.paramNames = names.toArray(new String[0]);
    }

    /** The kind of a C parameter type: any pointer, int, long long, float or double. */
    static ArgKind kindOf(String cType) {
        String t = cType.replace("const ", "").trim();
        if (t.endsWith("*")) {
            return ArgKind.PTR;
        }
        return switch (t) {
            case "int" -> ArgKind.I32;
            case "long long" -> ArgKind.I64;
            case "float" -> ArgKind.F32;
            case "double" -> ArgKind.F64;
            default -> throw new IllegalArgumentException("unsupported kernel parameter type '" + cType + "'");
        };
    }

    /** The {@code extern "C"} name in the module. */
    String cName() {
        return cName;
    }

    /** The C parameter list, as declared in the .cu source. */
    String params() {
        return params;
    }

    /** The kind of each parameter, in order. */
    ArgKind[] kinds() {
        return kinds.clone();
    }

    ArgKind kind(int i) {
        return kinds[i];
    }

    int arity() {
        return kinds.length;
    }

    /** The name of parameter {@code i} (for messages). */
    String paramName(int i) {
        return paramNames[i];
    }

    @Override
    public String toString() {
        return cName;
    }

    /** Upper-snake enum name to the C name, e.g. for messages that cite both. */
    String describe() {
        return cName + "(" + params + ")" + " [" + name().toLowerCase(Locale.ROOT) + "]";
    }
}
