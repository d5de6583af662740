package dev.solder.data;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class TabularDataTest {
    @TempDir
    Path dir;

    private Path write(String name, String content) throws IOException {
        Path p = dir.resolve(name);
        Files.writeString(p, content);
        return p;
    }

    @Test
    void jsonlWithColumnMapping() throws IOException {
        Path tr = write("train.jsonl", "{\"premise\": \"A man sleeps.\", \"hypothesis\": \"A man rests.\", \"gold\": \"yes\"}\n"
                + "\n{\"premise\": \"A cat.\", \"hypothesis\": \"A dog.\", \"gold\": \"no\"}\n");
        Path ev = write("dev.jsonl", "{\"premise\": \"x\", \"hypothesis\": \"y\", \"gold\": \"no\"}\n");
        TaskData d = TabularData.load(tr, ev, new ColumnMapping("premise", "hypothesis", "gold"), null,
                ReadOptions.all(), ReadOptions.all());
        assertEquals(List.of("no", "yes"), d.labels().names());
        assertEquals(1, d.train().get(0).label());
        assertEquals("A man rests.", d.train().get(0).textB());
        assertEquals(0, d.validation().get(0).label());
    }

    @Test
    void jsonlIntegerLabelsAndRegression() throws IOException {
        Path tr = write("t.jsonl", "{\"text\": \"a\", \"label\": 2}\n{\"text\": \"b\", \"label\": 10}\n");
        TaskData d = TabularData.load(tr, tr, ColumnMapping.auto(), null, ReadOptions.all(), ReadOptions.all());
        assertEquals(List.of("2", "10"), d.labels().names());   // numeric sort
        assertNull(d.train().get(0).textB());
        Path reg = write("r.jsonl", "{\"sentence1\": \"a\", \"sentence2\": \"b\", \"label\": 0.5}\n"
                + "{\"sentence1\": \"c\", \"sentence2\": \"d\", \"label\": 3}\n");
        TaskData r = TabularData.load(reg, reg, ColumnMapping.auto(), null, ReadOptions.all(), ReadOptions.all());
        assertTrue(r.labels().regression());
        assertEquals(0.5f, r.train().get(0).score());
        assertEquals("b", r.train().get(0).textB());
    }

    @Test
    void jsonlBadRows() throws IOException {
        Path tr = write("t.jsonl", "{\"text\": \"a\", \"label\": \"x\"}\nnot json\n{\"label\": \"x\"}\n");
        DataException e = assertThrows(DataException.class, () -> TabularData.load(tr, tr,
                new ColumnMapping("text", "", "label"), null, ReadOptions.all(), ReadOptions.all()));
        assertTrue(e.getMessage().startsWith(tr + ":2: not a JSON object"), e.getMessage());
        TaskData d = TabularData.load(tr, tr, new ColumnMapping("text", "", "label"), null, new ReadOptions(0, true),
                new ReadOptions(0, true));
        assertEquals(1, d.train().size());
        assertEquals(2, d.train().skippedRows());
        assertTrue(d.train().skippedMessages().get(1).startsWith(tr + ":3: missing column 'text'"),
                d.train().skippedMessages().toString());
    }

    @Test
    void csvQuotingAndLabelNames() throws IOException {
        Path tr = write("train.csv", "\uFEFFid,sentence,label\n1,\"Hello, \"\"world\"\"\",positive\n"
                + "2,\"two\nlines\",negative\n3,plain,positive\n");
        Path ev = write("dev.csv", "id,sentence,label\n1,x,neutral\n");
        TaskData d = TabularData.load(tr, tr, new ColumnMapping("sentence", "none", "label"),
                List.of("negative", "positive"), ReadOptions.all(), ReadOptions.all());
        assertEquals("Hello, \"world\"", d.train().get(0).textA());
        assertEquals("two\nlines", d.train().get(1).textA());
        assertEquals(1, d.train().get(0).label());
        assertEquals(0, d.train().get(1).label());
        assertEquals("train.csv:5", d.train().get(2).source());
        DataException e = assertThrows(DataException.class, () -> TabularData.load(tr, ev,
                new ColumnMapping("sentence", "none", "label"), null, ReadOptions.all(), ReadOptions.all()));
        assertEquals(ev + ":2: unknown label 'neutral', expected one of [negative, positive]", e.getMessage());
    }

    @Test
    void csvMissingColumnAndRaggedRow() throws IOException {
        Path tr = write("a.csv", "text,label\nx,1\ny\n");
        DataException e = assertThrows(DataException.class, () -> TabularData.load(tr, tr,
                new ColumnMapping("sentence", null, "label"), null, ReadOptions.all(), ReadOptions.all()));
        assertTrue(e.getMessage().contains("missing column 'sentence'"), e.getMessage());
        e = assertThrows(DataException.class, () -> TabularData.load(tr, tr, ColumnMapping.auto(), null,
                ReadOptions.all(), ReadOptions.all()));
        assertEquals(tr + ":3: expected 2 comma-separated columns [text, label], found 1", e.getMessage());
    }
}
