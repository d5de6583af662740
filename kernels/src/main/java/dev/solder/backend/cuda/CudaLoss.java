package dev.solder.backend.cuda;

import static dev.solder.backend.cuda.DeviceTensors.code;
import static dev.solder.backend.cuda.DeviceTensors.ptr;

import dev.solder.DType;
import dev.solder.Tensor;

/** Cross-entropy with an ignore index, and MSE (loss.cu, reduce.cu). */
final class CudaLoss {
    private CudaLoss() {
    }

    private static void checkLogits(String op, Tensor logits, Tensor labels) {
        if (logits.rank() != 2 || labels.numel() != logits.dim(0)) {
            throw new IllegalArgumentException(op + ": logits " + logits.describe() + " and labels " + labels.describe()
                    + " must be [N, C] and [N]");
        }
        if (labels.dtype().isFloating()) {
            throw new IllegalArgumentException(op + ": labels " + labels.describe() + " must be int32 or int64");
        }
    }

    /** Mean cross-entropy over the rows whose label is not {@code ignoreIndex} (0 when none). */
    static void crossEntropy(CudaDevice d, Tensor logits, Tensor labels, int ignoreIndex, Tensor loss) {
        checkLogits("crossEntropy", logits, labels);
        long rows = logits.dim(0);
        int classes = logits.dim(1);
        if (rows == 0) {
            CudaCopy.fillRaw(d, ptr(loss), loss.dtype(), 1, 0.0);
            return;
        }
        try (CudaDevice.Temps tmp = d.temps()) {
            long rowLoss = tmp.alloc(rows * Float.BYTES);
            d.resetErrors();
            // solder_cross_entropy_forward(const void* logits, int ldt, const void* labels, int ydt,
            //     long long ignoreIndex, long long rows, int classes, float* rowLoss, int* err, long long* errInfo)
            Launch.of(d, Kernel.CROSS_ENTROPY_FORWARD, LaunchConfig.rows(rows))
                    .ptr(ptr(logits)).i32(code(logits.dtype())).ptr(ptr(labels)).i32(code(labels.dtype()))
                    .i64(ignoreIndex).i64(rows).i32(classes).ptr(rowLoss).ptr(d.errorFlagPtr()).ptr(d.errorInfoPtr())
                    .run();
            reduceAndCheck(d, rowLoss, labels, ignoreIndex, rows, classes, loss);
        }
    }

    /**
     * {@link #crossEntropy} that, on the fused path, also returns the gradient for dloss = 1 from
     * the same pass (loss.cu's solder_cross_entropy_fused_forward): count, fused rows, reduce —
     * three launches where forward plus backward take four, and the logits read three times
     * instead of five. Off the fused path it runs {@link #crossEntropy} and returns null.
     */
    static Tensor crossEntropyWithGrad(CudaDevice d, Tensor logits, Tensor labels, int ignoreIndex, Tensor loss) {
        checkLogits("crossEntropy", logits, labels);
        long rows = logits.dim(0);
        int classes = logits.dim(1);
        String unsupported = rows == 0 || classes == 0 ? "empty logits " + logits.describe() : null;
        if (!KernelPaths.useFused(KernelPaths.FusedOp.CROSS_ENTROPY, unsupported)) {
            crossEntropy(d, logits, labels, ignoreIndex, loss);
            return null;
        }
        Tensor unit = Tensor.empty(logits.shape(), DType.FLOAT32, logits.device());
        try (CudaDevice.Temps tmp = d.temps()) {
            long count = tmp.alloc(Float.BYTES);
            long rowLoss = tmp.alloc(rows * Float.BYTES);
            countLabels(d, labels, ignoreIndex, rows, count);
            d.resetErrors();
            // solder_cross_entropy_fused_forward(const void* logits, int ldt, const void* labels, int ydt,
            //     long long ignoreIndex, long long rows, int classes, const float* count, float* rowLoss,
            //     float* dlogits, int* err, long long* errInfo)
            Launch.of(d, Kernel.CROSS_ENTROPY_FUSED_FORWARD, LaunchConfig.rows(rows))
                    .ptr(ptr(logits)).i32(code(logits.dtype())).ptr(ptr(labels)).i32(code(labels.dtype()))
                    .i64(ignoreIndex).i64(rows).i32(classes).ptr(count).ptr(rowLoss).ptr(ptr(unit))
                    .ptr(d.errorFlagPtr()).ptr(d.errorInfoPtr())
                    .run();
            reduceAndCheck(d, rowLoss, labels, ignoreIndex, rows, classes, loss);
            return unit;
        } catch (RuntimeException | Error e) {
            unit.close();
            throw e;
        }
    }

    /** count[0] = the number of labels that are not {@code ignoreIndex}, as a float, on the device. */
    private static void countLabels(CudaDevice d, Tensor labels, int ignoreIndex, long rows, long count) {
        // solder_count_labels(const void* labels, int ydt, long long ignoreIndex, long long rows, float* count)
        Launch.of(d, Kernel.COUNT_LABELS, LaunchConfig.single())
                .ptr(ptr(labels)).i32(code(labels.dtype())).i64(ignoreIndex).i64(rows).ptr(count)
                .run();
    }

    /** loss = the mean of the row losses over counted rows; then throws on a label a kernel reported. */
    private static void reduceAndCheck(CudaDevice d, long rowLoss, Tensor labels, int ignoreIndex, long rows,
                                       int classes, Tensor loss) {
        // solder_cross_entropy_reduce(const float* rowLoss, const void* labels, int ydt, long long ignoreIndex,
        //                             long long rows, void* loss, int lossdt)
        Launch.of(d, Kernel.CROSS_ENTROPY_REDUCE, LaunchConfig.single())
                .ptr(rowLoss).ptr(ptr(labels)).i32(code(labels.dtype())).i64(ignoreIndex).i64(rows)
                .ptr(ptr(loss)).i32(code(loss.dtype()))
                .run();
        long[] err = d.readErrors();
        if (err != null) {
            throw new IllegalArgumentException("crossEntropy: label " + err[1] + " at row " + err[0] + " of "
                    + labels.describe() + " is outside [0, " + classes + ") and is not the ignore index " + ignoreIndex);
        }
    }

    /** {@code dlogits = dloss·(softmax − onehot)/count}, zero rows for ignored labels. */
    static void crossEntropyBackward(CudaDevice d, Tensor logits, Tensor labels, int ignoreIndex, Tensor dloss,
                                     Tensor dlogits) {
        checkLogits("crossEntropyBackward", logits, labels);
        long rows = logits.dim(0);
        int classes = logits.dim(1);
        if (rows == 0 || classes == 0) {
            return;
        }
        try (CudaDevice.Temps tmp = d.temps()) {
            long count = tmp.alloc(Float.BYTES);
            countLabels(d, labels, ignoreIndex, rows, count);
            // solder_cross_entropy_backward(const void* logits, int ldt, const void* labels, int ydt,
            //     long long ignoreIndex, const void* dloss, int dldt, const float* count, void* dlogits, int ddt,
            //     long long rows, int classes)
            Launch.of(d, Kernel.CROSS_ENTROPY_BACKWARD, LaunchConfig.rows(rows))
                    .ptr(ptr(logits)).i32(code(logits.dtype())).ptr(ptr(labels)).i32(code(labels.dtype()))
                    .i64(ignoreIndex).ptr(ptr(dloss)).i32(code(dloss.dtype())).ptr(count)
                    .ptr(ptr(dlogits)).i32(code(dlogits.dtype())).i64(rows).i32(classes)
                    .run();
        }
    }

    /** Mean squared error into a one-element tensor (float64 accumulation). */
    static void mse(CudaDevice d, Tensor pred, Tensor target, Tensor loss) {
        long n = pred.numel();
        if (target.numel() != n) {
            throw new IllegalArgumentException("mse: " + pred.describe() + " and " + target.describe() + " differ in size");
        }
        CudaReduce.reduceAll(d, ptr(pred), pred.dtype(), ptr(target), target.dtype(), CudaReduce.MODE_SQDIFF, n,
                1.0 / n, ptr(loss), code(loss.dtype()));
    }

    /** {@code dpred = dloss·2(pred − target)/N}. */
    static void mseBackward(CudaDevice d, Tensor pred, Tensor target, Tensor dloss, Tensor dpred) {
        long n = pred.numel();
        // solder_mse_backward(const void* pred, int pdt, const void* target, int tdt, const void* dloss, int dldt,
        //                     void* dpred, int ddt, long long n)
        Launch.of(d, Kernel.MSE_BACKWARD, LaunchConfig.linear(n))
                .ptr(ptr(pred)).i32(code(pred.dtype())).ptr(ptr(target)).i32(code(target.dtype()))
                .ptr(ptr(dloss)).i32(code(dloss.dtype())).ptr(ptr(dpred)).i32(code(dpred.dtype())).i64(n)
                .run();
    }
}
