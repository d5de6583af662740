package dev.solder.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.solder.cuda.CudaOutOfMemoryException;
import java.io.PrintWriter;
import java.io.StringWriter;
import java.util.concurrent.Callable;
import org.junit.jupiter.api.Test;
import picocli.CommandLine;

/** How the command line reports a failure: one line, a hint where the user can act, status 1. */
class SolderCliTest {

    /** A command that fails with what it is given. */
    @CommandLine.Command(name = "fails")
    static final class Fails implements Callable<Integer> {
        private final Throwable failure;

        Fails(Throwable failure) {
            this.failure = failure;
        }

        @Override
        public Integer call() throws Exception {
            if (failure instanceof Error e) {
                throw e;
            }
            throw (Exception) failure;
        }
    }

    private static String[] run(Throwable failure) {
        StringWriter err = new StringWriter();
        int code = SolderCli.run(new CommandLine(new Fails(failure)).setErr(new PrintWriter(err)), new String[0]);
        return new String[] {Integer.toString(code), err.toString()};
    }

    @Test
    void theJavaHeapRunningOutIsReportedNotThrown() {
        // picocli lets an Error through; the CLI still prints one line and a hint
        String[] r = run(new OutOfMemoryError("cpu: cannot allocate 3221225472 bytes for a tensor"));
        assertEquals("1", r[0], r[1]);
        assertTrue(r[1].startsWith("solder fails: cpu: cannot allocate 3221225472 bytes for a tensor"), r[1]);
        assertTrue(r[1].contains("hint: the Java heap ran out: give it more (SOLDER_JAVA_OPTS=-Xmx24g"), r[1]);
    }

    @Test
    void theGpuRunningOutGetsItsOwnHintAndOtherFailuresNone() {
        var oom = new CudaOutOfMemoryException("CudaDriver.memAllocAsync", "cuMemAllocAsync", 2,
                "CUDA_ERROR_OUT_OF_MEMORY", "out of memory", "bytes=1024", 1024, 512, 4096);
        String[] r = run(new IllegalStateException("linear(x [8, 768], w [768, 768]): " + oom.getMessage(), oom));
        assertEquals("1", r[0], r[1]);
        assertTrue(r[1].contains("hint: the GPU ran out of memory"), r[1]);
        assertNull(SolderCli.hintFor(new IllegalArgumentException("unknown label 'maybe' at train.tsv:3")));
        String[] other = run(new IllegalArgumentException("unknown label 'maybe' at train.tsv:3"));
        assertEquals("solder fails: unknown label 'maybe' at train.tsv:3", other[1].trim());
    }
}
