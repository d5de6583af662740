package dev.solder.cuda;

/**
 * {@code cudaDataType} values (from {@code library_types.h}), shared by cuBLAS and cuBLASLt, with
 * the size of one element.
 */
public enum CudaDataType {
    /** float. */
    R_32F(0, 4),
    /** double. */
    R_64F(1, 8),
    /** IEEE half. */
    R_16F(2, 2),
    /** signed 8-bit int. */
    R_8I(3, 1),
    /** signed 32-bit int. */
    R_32I(10, 4),
    /** bfloat16. */
    R_16BF(14, 2),
    /** FP8 e4m3. */
    R_8F_E4M3(28, 1),
    /** FP8 e5m2. */
    R_8F_E5M2(29, 1);

    /** The value in {@code library_types.h}. */
    public final int value;
    /** Bytes per element. */
    public final int bytes;

    CudaDataType(int value, int bytes) {
        this.value = value;
        this.bytes = bytes;
    }
}
