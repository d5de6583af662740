package dev.solder.backend.cuda;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import dev.solder.DType;
import org.junit.jupiter.api.Test;

/** The cuBLASLt problem record: what is checked before cuBLASLt is called, and what a refusal is remembered by. */
class LtGemmTest {

    private static DeviceApi.LtGemm linear(long x, long w, long y, long bias) {
        // y[6, 5] = x[6, 7]·w[5, 7]ᵀ + bias[5], bf16 operands, float32 out (CudaGemm's forward with bias)
        return new DeviceApi.LtGemm(false, true, 6, 5, 7, x, w, DType.BFLOAT16, 7, 7, y, DType.FLOAT32, 5,
                DeviceApi.LtEpilogue.BIAS, bias, DType.FLOAT32, false);
    }

    @Test
    void aRefusalIsRememberedPerShapeAndAlignmentNotPerAddress() {
        DeviceApi.LtGemm a = linear(0x10000, 0x20000, 0x30000, 0x40000);
        DeviceApi.LtGemm movedAligned = linear(0x50000, 0x60010, 0x70020, 0x80030);
        assertEquals(a.shapeKey(), movedAligned.shapeKey(), "other 16-byte aligned buffers: the same problem");
        DeviceApi.LtGemm offBy4 = linear(0x10004, 0x20000, 0x30000, 0x40000);
        assertNotEquals(a.shapeKey(), offBy4.shapeKey(),
                "a 4-byte aligned operand may be refused where 16-byte aligned ones are not");
        assertNotEquals(a.shapeKey(), linear(0x10000, 0x20000, 0x30000, 0x40002).shapeKey(), "the bias counts too");
    }

    @Test
    void badProblemsAreRejectedBeforeCuBlasLtSeesThem() {
        assertThrows(IllegalArgumentException.class, () -> new DeviceApi.LtGemm(false, true, 6, 5, 7, 1, 2,
                DType.BFLOAT16, 6, 7, 3, DType.FLOAT32, 5, DeviceApi.LtEpilogue.BIAS, 4, DType.FLOAT32, false).validate(),
                "lda 6 < k 7");
        assertThrows(IllegalArgumentException.class, () -> linear(1, 2, 3, 0).validate(), "no bias");
        linear(16, 32, 48, 64).validate();
    }
}
