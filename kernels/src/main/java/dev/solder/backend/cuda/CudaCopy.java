package dev.solder.backend.cuda;

import static dev.solder.backend.cuda.DeviceTensors.code;
import static dev.solder.backend.cuda.DeviceTensors.ptr;

import dev.solder.DType;
import dev.solder.Tensor;
import java.util.ArrayList;
import java.util.List;

/** Fills, dtype conversions and strided copies (elementwise.cu). */
final class CudaCopy {
    /** Dims the strided-copy kernel takes; views with more (after merging) are split by launches. */
    static final int MAX_STRIDED_RANK = 6;

    private CudaCopy() {
    }

    /** Sets every element of {@code dst} (any layout) to {@code value}. */
    static void fill(CudaDevice d, Tensor dst, double value) {
        long n = dst.numel();
        if (n == 0) {
            return;
        }
        if (!dst.isContiguous()) {
            try (CudaDevice.Temps tmp = d.temps()) {
                long buf = tmp.alloc(n * dst.dtype().byteSize());
                fillRaw(d, buf, dst.dtype(), n, value);
                Strided s = Strided.of(dst.shape(), contiguousStrides(dst.shape()), dst.strides());
                launchStrided(d, buf, dst.dtype(), ptr(dst), dst.dtype(), s);
            }
            return;
        }
        fillRaw(d, ptr(dst), dst.dtype(), n, value);
    }

    /** {@code n} contiguous elements of dtype {@code dt} at {@code p} set to {@code value}. */
    static void fillRaw(CudaDevice d, long p, DType dt, long n, double value) {
        if (n == 0) {
            return;
        }
        if (Double.doubleToRawLongBits(value) == 0L) {
            d.api().memset(p, (byte) 0, n * dt.byteSize()); // +0.0 is all-zero bits in every dtype
            return;
        }
        // solder_fill(void* out, int dt, long long n, double value)
        Launch.of(d, Kernel.FILL, LaunchConfig.linear(n))
                .ptr(p).i32(code(dt)).i64(n).f64(value)
                .run();
    }

    /** {@code n} contiguous elements converted from {@code st} at {@code src} to {@code dt} at {@code dst}. */
    static void convert(CudaDevice d, long src, DType st, long dst, DType dt, long n) {
        if (n == 0) {
            return;
        }
        if (st == dt) {
            if (src != dst) {
                d.api().copyDeviceToDevice(dst, src, n * st.byteSize());
            }
            return;
        }
        // solder_convert(const void* src, int sdt, void* dst, int ddt, long long n)
        Launch.of(d, Kernel.CONVERT, LaunchConfig.vec8(n))
                .ptr(src).i32(code(st)).ptr(dst).i32(code(dt)).i64(n)
                .run();
    }

    /** {@code dst = src} element by element, any strides on either side, converting dtype. */
    static void copy(CudaDevice d, Tensor src, Tensor dst) {
        if (!src.device().equals(dst.device())) {
            throw new IllegalArgumentException("copy: " + src.describe() + " and " + dst.describe()
                    + " are on different devices (copy through the host: Tensor.to(device))");
        }
        long n = src.numel();
        if (n != dst.numel()) {
            throw new IllegalArgumentException("copy: " + src.describe() + " and " + dst.describe() + " differ in size");
        }
        if (n == 0) {
            return;
        }
        if (src.isContiguous() && dst.isContiguous()) {
            convert(d, ptr(src), src.dtype(), ptr(dst), dst.dtype(), n);
            return;
        }
        Strided s = Strided.of(src.shape(), src.strides(), dst.strides());
        launchStrided(d, ptr(src), src.dtype(), ptr(dst), dst.dtype(), s);
    }

    static long[] contiguousStrides(int[] shape) {
        long[] s = new long[shape.length];
        long acc = 1;
        for (int i = shape.length - 1; i >= 0; i--) {
            s[i] = acc;
            acc *= shape[i];
        }
        return s;
    }

    /**
     * The geometry of a strided copy after dropping size-1 dims and merging neighbours that
     * are contiguous in both source and destination; outermost first, at least one dim.
     */
    record Strided(long[] sizes, long[] srcStrides, long[] dstStrides) {
        static Strided of(int[] shape, long[] ss, long[] ds) {
            List<long[]> dims = new ArrayList<>(); // innermost first: {size, ss, ds}
            for (int i = shape.length - 1; i >= 0; i--) {
                if (shape[i] == 1) {
                    continue;
                }
                if (!dims.isEmpty()) {
                    long[] in = dims.getLast();
                    if (ss[i] == in[1] * in[0] && ds[i] == in[2] * in[0]) {
                        in[0] *= shape[i];
                        continue;
                    }
                }
                dims.add(new long[] {shape[i], ss[i], ds[i]});
            }
            if (dims.isEmpty()) {
                dims.add(new long[] {1, 0, 0});
            }
            int r = dims.size();
            long[] sz = new long[r];
            long[] s = new long[r];
            long[] dd = new long[r];
            for (int i = 0; i < r; i++) {
                long[] dim = dims.get(r - 1 - i);
                sz[i] = dim[0];
                s[i] = dim[1];
                dd[i] = dim[2];
            }
            return new Strided(sz, s, dd);
        }

        int rank() {
            return sizes.length;
        }

        long numel() {
            long n = 1;
            for (long v : sizes) {
                n *= v;
            }
            return n;
        }

        /** The geometry without its outermost dim. */
        Strided inner() {
            int r = sizes.length;
            return new Strided(java.util.Arrays.copyOfRange(sizes, 1, r), java.util.Arrays.copyOfRange(srcStrides, 1, r),
                    java.util.Arrays.copyOfRange(dstStrides, 1, r));
        }
    }

    /** Launches solder_copy_strided, splitting off leading dims beyond {@value #MAX_STRIDED_RANK}. */
    static void launchStrided(CudaDevice d, long src, DType st, long dst, DType dt, Strided s) {
        if (s.rank() > MAX_STRIDED_RANK) {
            Strided in = s.inner();
            for (long i = 0; i < s.sizes()[0]; i++) {
                launchStrided(d, src + i * s.srcStrides()[0] * st.byteSize(), st,
                        dst + i * s.dstStrides()[0] * dt.byteSize(), dt, in);
            }
            return;
        }
        long[] sz = new long[MAX_STRIDED_RANK];
        long[] ss = new long[MAX_STRIDED_RANK];
        long[] ds = new long[MAX_STRIDED_RANK];
        int pad = MAX_STRIDED_RANK - s.rank();
        for (int i = 0; i < MAX_STRIDED_RANK; i++) {
            if (i < pad) {
                sz[i] = 1;
            } else {
                sz[i] = s.sizes()[i - pad];
                ss[i] = s.srcStrides()[i - pad];
                ds[i] = s.dstStrides()[i - pad];
            }
        }
        long n = s.numel();
        // solder_copy_strided(const void* src, int sdt, void* dst, int ddt, long long n,
        //                     long long s0..s5, long long ss0..ss5, long long ds0..ds5)
        Launch l = Launch.of(d, Kernel.COPY_STRIDED, LaunchConfig.linear(n))
                .ptr(src).i32(code(st)).ptr(dst).i32(code(dt)).i64(n);
        for (long v : sz) {
            l.i64(v);
        }
        for (long v : ss) {
            l.i64(v);
        }
        for (long v : ds) {
            l.i64(v);
        }
        l.run();
    }
}
