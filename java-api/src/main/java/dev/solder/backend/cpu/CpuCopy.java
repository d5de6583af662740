package dev.solder.backend.cpu;

import dev.solder.DType;
import dev.solder.Tensor;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;

/** Strided copies with dtype conversion, and fills. */
final class CpuCopy {
    private CpuCopy() {
    }

    static void copy(Tensor src, Tensor dst) {
        MemorySegment s = CpuBackend.seg(src);
        MemorySegment d = CpuBackend.seg(dst);
        long n = src.numel();
        if (n == 0) {
            return;
        }
        if (src.isContiguous() && dst.isContiguous()) {
            if (src.dtype() == dst.dtype()) {
                int es = src.dtype().byteSize();
                MemorySegment.copy(s, src.offset() * es, d, dst.offset() * es, n * es);
                return;
            }
            long so = src.offset();
            long dOff = dst.offset();
            DType st = src.dtype();
            DType dt = dst.dtype();
            CpuParallel.forRange((int) Math.min(n, Integer.MAX_VALUE), 1 << 16, (lo, hi) -> {
                for (int i = lo; i < hi; i++) {
                    convert(s, st, so + i, d, dt, dOff + i);
                }
            });
            return;
        }
        // General strided walk: iterate the shape as an odometer, rows in parallel.
        int[] shape = src.shape();
        long[] ss = src.strides();
        long[] ds = dst.strides();
        int r = shape.length;
        int inner = shape[r - 1];
        long rows = n / inner;
        long so = src.offset();
        long dOff = dst.offset();
        DType st = src.dtype();
        DType dt = dst.dtype();
        CpuParallel.forRange((int) rows, Math.max(1, 4096 / Math.max(1, inner)), (lo, hi) -> {
            for (int row = lo; row < hi; row++) {
                long sBase = so;
                long dBase = dOff;
                long rem = row;
                for (int dim = r - 2; dim >= 0; dim--) {
                    long idx = rem % shape[dim];
                    rem /= shape[dim];
                    sBase += idx * ss[dim];
                    dBase += idx * ds[dim];
                }
                for (int j = 0; j < inner; j++) {
                    convert(s, st, sBase + j * ss[r - 1], d, dt, dBase + j * ds[r - 1]);
                }
            }
        });
    }

    private static void convert(MemorySegment s, DType st, long si, MemorySegment d, DType dt, long di) {
        if (st == dt) {
            switch (st) {
                case FLOAT32, INT32 -> d.setAtIndex(ValueLayout.JAVA_INT_UNALIGNED, di, s.getAtIndex(ValueLayout.JAVA_INT_UNALIGNED, si));
                case BFLOAT16, FLOAT16 -> d.setAtIndex(ValueLayout.JAVA_SHORT_UNALIGNED, di, s.getAtIndex(ValueLayout.JAVA_SHORT_UNALIGNED, si));
                case INT64 -> d.setAtIndex(ValueLayout.JAVA_LONG_UNALIGNED, di, s.getAtIndex(ValueLayout.JAVA_LONG_UNALIGNED, si));
            }
            return;
        }
        if (!st.isFloating() && !dt.isFloating()) {
            long v = st == DType.INT32 ? s.getAtIndex(ValueLayout.JAVA_INT_UNALIGNED, si) : s.getAtIndex(ValueLayout.JAVA_LONG_UNALIGNED, si);
            if (dt == DType.INT32) {
                d.setAtIndex(ValueLayout.JAVA_INT_UNALIGNED, di, (int) v);
            } else {
                d.setAtIndex(ValueLayout.JAVA_LONG_UNALIGNED, di, v);
            }
            return;
        }
        double v = read(s, st, si);
        write(d, dt, di, v);
    }

    static double read(MemorySegment s, DType t, long i) {
        return switch (t) {
            case FLOAT32 -> s.getAtIndex(ValueLayout.JAVA_FLOAT_UNALIGNED, i);
            case BFLOAT16 -> DType.bf16ToFloat(s.getAtIndex(ValueLayout.JAVA_SHORT_UNALIGNED, i));
            case FLOAT16 -> DType.fp16ToFloat(s.getAtIndex(ValueLayout.JAVA_SHORT_UNALIGNED, i));
            case INT32 -> s.getAtIndex(ValueLayout.JAVA_INT_UNALIGNED, i);
            case INT64 -> s.getAtIndex(ValueLayout.JAVA_LONG_UNALIGNED, i);
        };
    }

    static void write(MemorySegment d, DType t, long i, double v) {
        switch (t) {
            case FLOAT32 -> d.setAtIndex(ValueLayout.JAVA_FLOAT_UNALIGNED, i, (float) v);
            case BFLOAT16 -> d.setAtIndex(ValueLayout.JAVA_SHORT_UNALIGNED, i, DType.floatToBf16((float) v));
            case FLOAT16 -> d.setAtIndex(ValueLayout.JAVA_SHORT_UNALIGNED, i, DType.floatToFp16((float) v));
            case INT32 -> d.setAtIndex(ValueLayout.JAVA_INT_UNALIGNED, i, (int) v);
            case INT64 -> d.setAtIndex(ValueLayout.JAVA_LONG_UNALIGNED, i, (long) v);
        }
    }

    static void fill(Tensor dst, double value) {
        MemorySegment d = CpuBackend.seg(dst);
        int es = dst.dtype().byteSize();
        long n = dst.numel();
        long off = dst.offset() * es;
        if (n == 0) {
            return;
        }
        MemorySegment region = d.asSlice(off, n * es);
        switch (dst.dtype()) {
            case FLOAT32 -> {
                if (value == 0) {
                    region.fill((byte) 0);
                } else {
                    float f = (float) value;
                    for (long i = 0; i < n; i++) {
                        region.setAtIndex(ValueLayout.JAVA_FLOAT_UNALIGNED, i, f);
                    }
                }
            }
            case BFLOAT16, FLOAT16 -> {
                short h = dst.dtype() == DType.BFLOAT16 ? DType.floatToBf16((float) value) : DType.floatToFp16((float) value);
                for (long i = 0; i < n; i++) {
                    region.setAtIndex(ValueLayout.JAVA_SHORT_UNALIGNED, i, h);
                }
            }
            case INT32 -> {
                int v = (int) value;
                for (long i = 0; i < n; i++) {
                    region.setAtIndex(ValueLayout.JAVA_INT_UNALIGNED, i, v);
                }
            }
            case INT64 -> {
                long v = (long) value;
                for (long i = 0; i < n; i++) {
                    region.setAtIndex(ValueLayout.JAVA_LONG_UNALIGNED, i, v);
                }
            }
        }
    }
}
