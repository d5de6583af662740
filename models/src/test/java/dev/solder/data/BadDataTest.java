package dev.solder.data;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Bad data: errors name file:line and what was expected; --skip-bad-rows skips and counts. */
class BadDataTest {
    @TempDir
    Path dir;

    private Path write(String name, String content) throws IOException {
        Path p = dir.resolve(name);
        Files.writeString(p, content);
        return p;
    }

    @Test
    void missingColumnNamesTheHeader() throws IOException {
        Path f = write("rte.tsv", "index\tsentence1\tlabel\n0\ta\tentailment\n");
        DataException e = assertThrows(DataException.class, () -> Glue.read(GlueTask.RTE, f, ReadOptions.all()));
        assertTrue(e.getMessage().startsWith(f + ":1: missing column 'sentence2'"), e.getMessage());
        assertTrue(e.getMessage().contains("[sentence1, sentence2, label]"), e.getMessage());
        assertEquals(1, e.line());
    }

    @Test
    void unknownLabelNamesLineAndChoices() throws IOException {
        Path f = write("rte.tsv", "index\tsentence1\tsentence2\tlabel\n0\ta\tb\tentailment\n1\ta\tb\tmaybe\n");
        DataException e = assertThrows(DataException.class, () -> Glue.read(GlueTask.RTE, f, ReadOptions.all()));
        assertEquals(f + ":3: unknown label 'maybe' in column 'label', expected one of [entailment, not_entailment]",
                e.getMessage());
    }

    @Test
    void numericLabelOutOfRange() throws IOException {
        Path f = write("sst.tsv", "sentence\tlabel\ngood\t1\nodd\t2\n");
        DataException e = assertThrows(DataException.class, () -> Glue.read(GlueTask.SST2, f, ReadOptions.all()));
        assertTrue(e.getMessage().startsWith(f + ":3: unknown label '2'"), e.getMessage());
        assertTrue(e.getMessage().contains("0 (negative), 1 (positive)"), e.getMessage());
    }

    @Test
    void raggedRow() throws IOException {
        Path f = write("rte.tsv", "index\tsentence1\tsentence2\tlabel\n0\ta\tb\tentailment\n1\ta with\ttab\tb\tentailment\n");
        DataException e = assertThrows(DataException.class, () -> Glue.read(GlueTask.RTE, f, ReadOptions.all()));
        assertEquals(f + ":3: expected 4 tab-separated columns [index, sentence1, sentence2, label], found 5", e.getMessage());
        assertEquals(3, e.line());
    }

    @Test
    void emptyFileAndHeaderOnly() throws IOException {
        Path empty = write("empty.tsv", "");
        DataException e = assertThrows(DataException.class, () -> Glue.read(GlueTask.SST2, empty, ReadOptions.all()));
        assertTrue(e.getMessage().contains("empty file"), e.getMessage());
        assertTrue(e.getMessage().startsWith(empty.toString()), e.getMessage());
        Path headerOnly = write("h.tsv", "sentence\tlabel\n");
        e = assertThrows(DataException.class, () -> Glue.read(GlueTask.SST2, headerOnly, ReadOptions.all()));
        assertTrue(e.getMessage().contains("empty file: no data rows"), e.getMessage());
        Path cola = write("cola.tsv", "");
        assertThrows(DataException.class, () -> Glue.read(GlueTask.COLA, cola, ReadOptions.all()));
    }

    @Test
    void badScore() throws IOException {
        Path f = write("sts.tsv", "sentence1\tsentence2\tscore\na\tb\tfive\n");
        DataException e = assertThrows(DataException.class, () -> Glue.read(GlueTask.STSB, f, ReadOptions.all()));
        assertTrue(e.getMessage().startsWith(f + ":2: column 'score' holds 'five', expected a number"), e.getMessage());
    }

    @Test
    void skipBadRowsCountsThem() throws IOException {
        Path f = write("rte.tsv", "index\tsentence1\tsentence2\tlabel\n"
                + "0\ta\tb\tentailment\n"
                + "1\tragged\tentailment\n"
                + "2\tc\td\tunknown\n"
                + "3\te\tf\tnot_entailment\n");
        Dataset d = Glue.read(GlueTask.RTE, f, new ReadOptions(0, true));
        assertEquals(2, d.size());
        assertEquals(2, d.skippedRows());
        assertTrue(d.skippedMessages().get(0).startsWith(f + ":3:"), d.skippedMessages().toString());
        assertTrue(d.skippedMessages().get(1).startsWith(f + ":4:"), d.skippedMessages().toString());
        assertEquals("f", d.get(1).textB());
    }

    @Test
    void allRowsBadIsStillAnError() throws IOException {
        Path f = write("rte.tsv", "index\tsentence1\tsentence2\tlabel\n0\ta\tb\tx\n");
        DataException e = assertThrows(DataException.class, () -> Glue.read(GlueTask.RTE, f, new ReadOptions(0, true)));
        assertTrue(e.getMessage().contains("no usable rows (1 bad rows skipped"), e.getMessage());
    }

    @Test
    void invalidUtf8NamesTheLine() throws IOException {
        Path f = dir.resolve("bin.tsv");
        Files.write(f, new byte[] {'s', 'e', 'n', 't', 'e', 'n', 'c', 'e', '\t', 'l', 'a', 'b', 'e', 'l', '\n',
            'o', 'k', '\t', '1', '\n', (byte) 0xC3, (byte) 0x28, '\t', '0', '\n'});
        DataException e = assertThrows(DataException.class, () -> Glue.read(GlueTask.SST2, f, ReadOptions.all()));
        assertTrue(e.getMessage().contains("not valid UTF-8"), e.getMessage());
    }

    @Test
    void missingDataDirFilesSayWhatIsNeeded() {
        DataException e = assertThrows(DataException.class,
                () -> Glue.load(GlueTask.MNLI, dir, ReadOptions.all(), ReadOptions.all()));
        assertTrue(e.getMessage().contains("train.tsv, dev_matched.tsv, dev_mismatched.tsv"), e.getMessage());
    }
}
