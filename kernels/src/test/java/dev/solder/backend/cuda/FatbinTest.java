package dev.solder.backend.cuda;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.List;
import org.junit.jupiter.api.Test;

/** The fatbin table-of-contents parser and the "can the driver run this here" rule. */
class FatbinTest {

    /** A fatbin with the given entries ({kind, arch, payloadBytes}). */
    static byte[] synthetic(int[]... entries) {
        int body = 0;
        for (int[] e : entries) {
            body += 64 + e[2];
        }
        ByteBuffer bb = ByteBuffer.allocate(16 + body).order(ByteOrder.LITTLE_ENDIAN);
        bb.putInt(Fatbin.MAGIC).putShort((short) 1).putShort((short) 16).putLong(body);
        for (int[] e : entries) {
            int start = bb.position();
            bb.putShort((short) e[0]).putShort((short) 0x0101).putInt(64).putLong(e[2]);
            bb.putInt(0).putInt(0).putShort((short) 0).putShort((short) 0).putInt(e[1]);
            bb.position(start + 64 + e[2]);
        }
        return bb.array();
    }

    @Test
    void parsesEntries() {
        byte[] fb = synthetic(new int[] {2, 80, 100}, new int[] {2, 90, 7}, new int[] {1, 90, 33});
        List<Fatbin.Entry> e = Fatbin.parse(fb);
        assertEquals(3, e.size());
        assertEquals("[sm_80, sm_90, compute_90]", e.toString());
        assertEquals(100, e.get(0).size());
    }

    @Test
    void rejectsOtherData() {
        assertThrows(IllegalArgumentException.class, () -> Fatbin.parse(new byte[] {0x7f, 'E', 'L', 'F', 0, 0, 0, 0, 0, 0, 0, 0,
            0, 0, 0, 0}));
    }

    @Test
    void runsOnFollowsBinaryCompatibility() {
        List<Fatbin.Entry> sm80 = Fatbin.parse(synthetic(new int[] {2, 80, 8}));
        assertTrue(Fatbin.runsOn(sm80, 80));
        assertTrue(Fatbin.runsOn(sm80, 86), "a cubin runs on later minors of its major version");
        assertFalse(Fatbin.runsOn(sm80, 75));
        assertFalse(Fatbin.runsOn(sm80, 90), "cubins do not cross major versions");
        List<Fatbin.Entry> ptx90 = Fatbin.parse(synthetic(new int[] {1, 90, 8}));
        assertTrue(Fatbin.runsOn(ptx90, 90));
        assertTrue(Fatbin.runsOn(ptx90, 120), "PTX is JIT-compiled for newer GPUs");
        assertFalse(Fatbin.runsOn(ptx90, 89));
        assertTrue(Fatbin.hasExactCubin(sm80, 80));
        assertFalse(Fatbin.hasExactCubin(sm80, 86));
    }
}
