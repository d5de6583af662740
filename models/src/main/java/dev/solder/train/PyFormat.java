package dev.solder.train;

import java.math.BigDecimal;
import java.math.RoundingMode;
import java.util.Iterator;
import java.util.Map;

/**
 * Numbers and dicts printed the way Python prints them, so Solder's log lines read like the
 * {@code Trainer}'s: {@code {'loss': 0.6931, 'grad_norm': 3.2, 'learning_rate': 4.5e-05, 'epoch': 0.5}}.
 */
public final class PyFormat {
    private PyFormat() {
    }

    /** Python's {@code repr(float)}: the shortest round-tripping digits, scientific below 1e-4 and from 1e16. */
    public static String repr(double x) {
        if (Double.isNaN(x)) {
            return "nan";
        }
        if (Double.isInfinite(x)) {
            return x > 0 ? "inf" : "-inf";
        }
        if (x == 0) {
            return (1 / x < 0) ? "-0.0" : "0.0";
        }
        String sign = x < 0 ? "-" : "";
        // Java's Double.toString gives the shortest round-tripping decimal (JDK 19+), as Python's repr.
        BigDecimal bd = new BigDecimal(Double.toString(Math.abs(x))).stripTrailingZeros();
        String digits = bd.unscaledValue().toString();
        int decpt = digits.length() - bd.scale();   // value = 0.DIGITS × 10^decpt
        if (decpt <= -4 || decpt > 16) {
            int exp = decpt - 1;
            String mant = digits.length() == 1 ? digits : digits.charAt(0) + "." + digits.substring(1);
            String e = Integer.toString(Math.abs(exp));
            return sign + mant + "e" + (exp < 0 ? "-" : "+") + (e.length() < 2 ? "0" + e : e);
        }
        if (decpt <= 0) {
            return sign + "0." + "0".repeat(-decpt) + digits;
        }
        if (decpt >= digits.length()) {
            return sign + digits + "0".repeat(decpt - digits.length()) + ".0";
        }
        return sign + digits.substring(0, decpt) + "." + digits.substring(decpt);
    }

    /** Python's {@code round(x, digits)}: correctly rounded from the exact binary value, half to even. */
    public static double round(double x, int digits) {
        if (!Double.isFinite(x)) {
            return x;
        }
        return new BigDecimal(x).setScale(digits, RoundingMode.HALF_EVEN).doubleValue();
    }

    /** A Python value's repr: floats as {@link #repr(double)}, integers plain, strings quoted, null as None. */
    public static String value(Object v) {
        if (v == null) {
            return "None";
        }
        if (v instanceof Double || v instanceof Float) {
            return repr(((Number) v).doubleValue());
        }
        if (v instanceof Number || v instanceof Boolean) {
            return v instanceof Boolean b ? (b ? "True" : "False") : v.toString();
        }
        return "'" + v.toString().replace("\\", "\\\\").replace("'", "\\'") + "'";
    }

    /** A Python dict repr of an ordered map. */
    public static String dict(Map<String, ?> map) {
        StringBuilder sb = new StringBuilder("{");
        for (Iterator<? extends Map.Entry<String, ?>> it = map.entrySet().iterator(); it.hasNext(); ) {
            Map.Entry<String, ?> e = it.next();
            sb.append(value(e.getKey())).append(": ").append(value(e.getValue()));
            if (it.hasNext()) {
                sb.append(", ");
            }
        }
        return sb.append('}').toString();
    }

    /** {@code H:MM:SS.ss} as HF's {@code log_metrics} shows runtimes. */
    public static String duration(double seconds) {
        long total = (long) seconds;
        double frac = seconds - total;
        long h = total / 3600;
        long m = (total % 3600) / 60;
        long s = total % 60;
        return String.format(java.util.Locale.ROOT, "%d:%02d:%02d.%02d", h, m, s, (int) Math.round(frac * 100) % 100);
    }
}
