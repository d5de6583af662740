package dev.solder.backend.cuda;

import static dev.solder.backend.cuda.DeviceTensors.code;
import static dev.solder.backend.cuda.DeviceTensors.ptr;

import dev.solder.Tensor;

/** add, mul, scale, GELU, tanh and dropout (elementwise.cu, dropout.cu). */
final class CudaElementwise {
    private CudaElementwise() {
    }

    private static long broadcastCount(String op, Tensor a, Tensor b) {
        long n = a.numel();
        long nb = b.numel();
        if (n > 0 && (nb == 0 || n % nb != 0)) {
            throw new IllegalArgumentException(op + ": " + b.describe() + " does not repeat evenly over " + a.describe());
        }
        return nb;
    }

    private static void sameSize(String op, Tensor x, Tensor out) {
        if (x.numel() != out.numel()) {
            throw new IllegalArgumentException(op + ": " + x.describe() + " and " + out.describe() + " differ in size");
        }
    }

    /** {@code out = alpha·a + beta·b}, b repeated along a's leading elements. */
    static void add(CudaDevice d, Tensor a, Tensor b, float alpha, float beta, Tensor out) {
        sameSize("add", a, out);
        long n = a.numel();
        long nb = broadcastCount("add", a, b);
        // solder_add(const void* a, int adt, const void* b, int bdt, float alpha, float beta,
        //            void* out, int odt, long long n, long long nb)
        Launch.of(d, Kernel.ADD, LaunchConfig.vec8(n))
                .ptr(ptr(a)).i32(code(a.dtype())).ptr(ptr(b)).i32(code(b.dtype())).f32(alpha).f32(beta)
                .ptr(ptr(out)).i32(code(out.dtype())).i64(n).i64(nb)
                .run();
    }

    /** {@code out = a·b}, b repeated along a's leading elements. */
    static void mul(CudaDevice d, Tensor a, Tensor b, Tensor out) {
        sameSize("mul", a, out);
        long n = a.numel();
        long nb = broadcastCount("mul", a, b);
        // solder_mul(const void* a, int adt, const void* b, int bdt, void* out, int odt, long long n, long long nb)
        Launch.of(d, Kernel.MUL, LaunchConfig.vec8(n))
                .ptr(ptr(a)).i32(code(a.dtype())).ptr(ptr(b)).i32(code(b.dtype()))
                .ptr(ptr(out)).i32(code(out.dtype())).i64(n).i64(nb)
                .run();
    }

    /** {@code out = s·a}. */
    static void scale(CudaDevice d, Tensor a, float s, Tensor out) {
        sameSize("scale", a, out);
        long n = a.numel();
        // solder_scale(const void* a, int adt, float s, void* out, int odt, long long n)
        Launch.of(d, Kernel.SCALE, LaunchConfig.vec8(n))
                .ptr(ptr(a)).i32(code(a.dtype())).f32(s).ptr(ptr(out)).i32(code(out.dtype())).i64(n)
                .run();
    }

    static void gelu(CudaDevice d, Tensor x, boolean tanhApprox, Tensor out) {
        sameSize("gelu", x, out);
        long n = x.numel();
        // solder_gelu_forward(const void* x, int xdt, void* out, int odt, long long n, int tanhApprox)
        Launch.of(d, Kernel.GELU_FORWARD, LaunchConfig.vec8(n))
                .ptr(ptr(x)).i32(code(x.dtype())).ptr(ptr(out)).i32(code(out.dtype())).i64(n).i32(tanhApprox ? 1 : 0)
                .run();
    }

    static void geluBackward(CudaDevice d, Tensor x, Tensor dy, boolean tanhApprox, Tensor dx) {
        sameSize("geluBackward", x, dy);
        sameSize("geluBackward", x, dx);
        long n = x.numel();
        // solder_gelu_backward(const void* x, int xdt, const void* dy, int dydt, void* dx, int dxdt,
        //                      long long n, int tanhApprox)
        Launch.of(d, Kernel.GELU_BACKWARD, LaunchConfig.vec8(n))
                .ptr(ptr(x)).i32(code(x.dtype())).ptr(ptr(dy)).i32(code(dy.dtype()))
                .ptr(ptr(dx)).i32(code(dx.dtype())).i64(n).i32(tanhApprox ? 1 : 0)
                .run();
    }

    static void tanh(CudaDevice d, Tensor x, Tensor out) {
        sameSize("tanh", x, out);
        long n = x.numel();
        // solder_tanh_forward(const void* x, int xdt, void* out, int odt, long long n)
        Launch.of(d, Kernel.TANH_FORWARD, LaunchConfig.linear(n))
                .ptr(ptr(x)).i32(code(x.dtype())).ptr(ptr(out)).i32(code(out.dtype())).i64(n)
                .run();
    }

    static void tanhBackward(CudaDevice d, Tensor y, Tensor dy, Tensor dx) {
        sameSize("tanhBackward", y, dy);
        sameSize("tanhBackward", y, dx);
        long n = y.numel();
        // solder_tanh_backward(const void* y, int ydt, const void* dy, int dydt, void* dx, int dxdt, long long n)
        Launch.of(d, Kernel.TANH_BACKWARD, LaunchConfig.linear(n))
                .ptr(ptr(y)).i32(code(y.dtype())).ptr(ptr(dy)).i32(code(dy.dtype()))
                .ptr(ptr(dx)).i32(code(dx.dtype())).i64(n)
                .run();
    }

    /** Inverted dropout, forward and backward alike: {@code out = keep(seed, i, p) ? x/(1−p) : 0}. */
    static void dropout(CudaDevice d, Tensor x, float p, long seed, Tensor out) {
        sameSize("dropout", x, out);
        if (!(p >= 0f && p < 1f)) {
            throw new IllegalArgumentException("dropout: p must be in [0, 1), got " + p);
        }
        dropoutRaw(d, ptr(x), x.dtype(), ptr(out), out.dtype(), x.numel(), p, seed);
    }

    static void dropoutRaw(CudaDevice d, long x, dev.solder.DType xt, long out, dev.solder.DType ot, long n,
                           float p, long seed) {
        // solder_dropout(const void* x, int xdt, void* out, int odt, long long n, float p, long long seed)
        Launch.of(d, Kernel.DROPOUT, LaunchConfig.linear(n))
                .ptr(x).i32(code(xt)).ptr(out).i32(code(ot)).i64(n).f32(p).i64(seed)
                .run();
    }
}
