package dev.solder.backend.cuda;

import dev.solder.DType;

/**
 * How far from 0 a correct flash attention backward may put dq and dk where the exact answer is
 * 0: a query that sees a single key (S = 1), whose softmax is the constant 1.
 *
 * <p>The kernels compute dS = P·(dP − δ) with dP = dO·v (a float32 sum of D products) and
 * δ = Σ dO·O. Without dropout O is v itself, bit for bit (P = 1), so dP − δ is the difference of
 * two float32 sums of the same D products taken in different orders: at most 2·D·2⁻²³ of
 * Σ|dO·v| ≤ D·max|dO|·max|v|. With dropout O is v·1/(1−p) rounded to the operand type, which
 * adds that type's rounding (2⁻⁸ bf16, 2⁻¹¹ fp16, 2⁻²⁴ float32) of the same sum. dq and dk are
 * then scale·dS times k or q. The old bound used the whole comparison tolerance in place of
 * that relative error: 1,000 times looser without dropout, loose enough to pass a δ off by a
 * sizeable fraction.
 */
final class FlashZeroBound {
    private FlashZeroBound() {
    }

    /**
     * The bound on |dq|, |dk| for head dim {@code d}, softmax {@code scale}, dropout
     * {@code p}, operands of type {@code dt}, and {@code product} = max|dO|·max|v|·max(max|k|, max|q|).
     */
    static double of(DType dt, int d, double scale, double p, double product) {
        double sums = 2.0 * d * 0x1p-23;
        double rounding = p == 0 ? 0 : dt == DType.BFLOAT16 ? 0x1p-8 : dt == DType.FLOAT16 ? 0x1p-11 : 0x1p-24;
        return (sums + rounding) * scale * d * product / (1 - p);
    }
}
