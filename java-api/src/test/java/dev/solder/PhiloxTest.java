package dev.solder;

import static org.junit.jupiter.api.Assertions.assertEquals;

import org.junit.jupiter.api.Test;

/**
 * Philox4x32-10 against the published known answer (Salmon et al., Random123's
 * {@code kat_vectors}), not against itself: every dropout test elsewhere uses {@link Philox}
 * as its reference, so only this one would notice a change to the generator itself.
 */
class PhiloxTest {
    @Test
    void zeroCounterAndKeyGiveRandom123sFirstWord() {
        // philox4x32_10, counter {0, 0, 0, 0}, key {0, 0} -> {0x6627e8d5, 0xe169c58d, 0xbc57ac4c, 0x9b00dbd8}
        assertEquals(0x6627e8d5, Philox.bits(0L, 0L));
    }

    @Test
    void uniformAndKeepFollowFromTheBits() {
        int b = 0x6627e8d5;
        float u = (b >>> 8) * 0x1.0p-24f;      // 24 high bits, as the CUDA kernels take them
        assertEquals(u, Philox.uniform(0L, 0L));
        assertEquals(u >= 0.3f, Philox.keep(0L, 0L, 0.3f));
        assertEquals(u >= 0.5f, Philox.keep(0L, 0L, 0.5f));
    }
}
