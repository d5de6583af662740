package dev.solder.backend.cuda;

import static dev.solder.backend.cuda.DeviceTensors.code;
import static dev.solder.backend.cuda.DeviceTensors.ptr;

import dev.solder.Tensor;

/** The AdamW step (adamw.cu) and the global-norm helper. */
final class CudaOptim {
    private CudaOptim() {
    }

    static void adamw(CudaDevice d, Tensor param, Tensor grad, Tensor m, Tensor v, float lr, float beta1, float beta2,
                      float eps, float weightDecay, float bc1, float bc2) {
        DeviceTensors.requireFloat32("adamw", "param", param);
        DeviceTensors.requireFloat32("adamw", "m", m);
        DeviceTensors.requireFloat32("adamw", "v", v);
        long n = param.numel();
        if (grad.numel() != n || m.numel() != n || v.numel() != n) {
            throw new IllegalArgumentException("adamw: param " + param.describe() + ", grad " + grad.describe() + ", m "
                    + m.describe() + ", v " + v.describe() + " differ in size");
        }
        // solder_adamw(float* param, const void* grad, int gdt, float* m, float* v, long long n, float lr,
        //              float beta1, float beta2, float eps, float weightDecay, float bc1, float bc2)
        Launch.of(d, Kernel.ADAMW, LaunchConfig.linear(n))
                .ptr(ptr(param)).ptr(ptr(grad)).i32(code(grad.dtype())).ptr(ptr(m)).ptr(ptr(v)).i64(n)
                .f32(lr).f32(beta1).f32(beta2).f32(eps).f32(weightDecay).f32(bc1).f32(bc2)
                .run();
    }

    static double sumSquares(CudaDevice d, Tensor x) {
        return CudaReduce.sumSquares(d, x);
    }
}
