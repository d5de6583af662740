package dev.solder;

/** Renders tensor values for {@link Tensor#toString()}: nested brackets, elided when large. */
final class TensorFormat {
    private static final int EDGE = 3;

    private TensorFormat() {
    }

    static void appendValues(StringBuilder sb, double[] v, int[] shape, long numel, DType dt) {
        if (numel > v.length) {
            // Preview of a large tensor: first and last six flat elements.
            sb.append('[');
            for (int i = 0; i < 6; i++) {
                sb.append(fmt(v[i], dt)).append(", ");
            }
            sb.append("..., ");
            for (int i = 6; i < 12; i++) {
                sb.append(fmt(v[i], dt)).append(i < 11 ? ", " : "");
            }
            sb.append(']');
            return;
        }
        if (shape.length == 0) {
            sb.append(fmt(v[0], dt));
            return;
        }
        append(sb, v, shape, 0, 0, dt);
    }

    private static long append(StringBuilder sb, double[] v, int[] shape, int dim, long pos, DType dt) {
        sb.append('[');
        int n = shape[dim];
        long inner = 1;
        for (int d = dim + 1; d < shape.length; d++) {
            inner *= shape[d];
        }
        for (int i = 0; i < n; i++) {
            if (n > 2 * EDGE && i == EDGE) {
                sb.append("..., ");
                i = n - EDGE;
            }
            long at = pos + i * inner;
            if (dim == shape.length - 1) {
                sb.append(fmt(v[(int) at], dt));
            } else {
                append(sb, v, shape, dim + 1, at, dt);
            }
            if (i < n - 1) {
                sb.append(", ");
            }
        }
        sb.append(']');
        return pos + n * inner;
    }

    private static String fmt(double x, DType dt) {
        if (!dt.isFloating()) {
            return Long.toString((long) x);
        }
        return String.format(java.util.Locale.ROOT, "%.4g", x);
    }
}
