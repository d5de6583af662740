package dev.solder.data;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Each GLUE reader on files written here in the original GLUE layout. */
class GlueReaderTest {
    @TempDir
    Path dir;

    private Path write(String name, String... lines) throws IOException {
        Path p = dir.resolve(name);
        Files.createDirectories(p.getParent());
        Files.writeString(p, String.join("\n", lines) + "\n", StandardCharsets.UTF_8);
        return p;
    }

    @Test
    void colaHasNoHeader() throws IOException {
        Path f = write("cola.tsv",
                "gj04\t1\t\tOur friends won't buy this analysis, let alone the next one we propose.",
                "gj04\t0\t*\tThey drank the pub.");
        Dataset d = Glue.read(GlueTask.COLA, f, ReadOptions.all());
        assertEquals(2, d.size());
        assertEquals("Our friends won't buy this analysis, let alone the next one we propose.", d.get(0).textA());
        assertNull(d.get(0).textB());
        assertEquals(1, d.get(0).label());
        assertEquals(0, d.get(1).label());
        assertEquals(List.of("unacceptable", "acceptable"), d.labels().names());
    }

    @Test
    void sst2KeepsQuotesAndSpaces() throws IOException {
        Path f = write("sst.tsv", "sentence\tlabel", "it 's a \"charming\" and often affecting journey . \t1",
                "\"unflinchingly bleak and desperate \t0");
        Dataset d = Glue.read(GlueTask.SST2, f, ReadOptions.all());
        assertEquals("it 's a \"charming\" and often affecting journey . ", d.get(0).textA());
        assertEquals("\"unflinchingly bleak and desperate ", d.get(1).textA());
        assertEquals(1, d.get(0).label());
        assertEquals(List.of("negative", "positive"), d.labels().names());
    }

    @Test
    void mrpcWithBomAndQuotes() throws IOException {
        Path f = write("dev.tsv", "\uFEFFQuality\t#1 ID\t#2 ID\t#1 String\t#2 String",
                "1\t1355540\t1355592\tHe said the pie business doesn 't fit .\t\" The pie business does not fit our strategy .",
                "0\t2029631\t2029565\tMagnarelli said \" 100 percent \" .\tHis wife said he was \" 100 percent behind \" .");
        Dataset d = Glue.read(GlueTask.MRPC, f, ReadOptions.all());
        assertEquals(2, d.size());
        assertEquals("\" The pie business does not fit our strategy .", d.get(0).textB());
        assertEquals(1, d.get(0).label());
        assertEquals(0, d.get(1).label());
        assertEquals(List.of("not_equivalent", "equivalent"), d.labels().names());
    }

    @Test
    void stsbIsRegression() throws IOException {
        Path f = write("sts.tsv", "index\tgenre\tfilename\tyear\told_index\tsource1\tsource2\tsentence1\tsentence2\tscore",
                "0\tmain-captions\tMSRvid\t2012test\t0001\tnone\tnone\tA plane is taking off.\tAn air plane is taking off.\t5.000",
                "1\tmain-captions\tMSRvid\t2012test\t0004\tnone\tnone\tA man is playing a flute.\tA man is eating.\t0.500");
        Dataset d = Glue.read(GlueTask.STSB, f, ReadOptions.all());
        assertTrue(d.labels().regression());
        assertEquals(5.0f, d.get(0).score());
        assertEquals(0.5f, d.get(1).score());
        assertEquals(-1, d.get(1).label());
        assertEquals("An air plane is taking off.", d.get(0).textB());
    }

    @Test
    void qqpQnliWnliRte() throws IOException {
        Dataset qqp = Glue.read(GlueTask.QQP, write("qqp.tsv", "id\tqid1\tqid2\tquestion1\tquestion2\tis_duplicate",
                "1\t3\t4\tHow do I learn Java?\tWhat's the best way to learn Java?\t1"), ReadOptions.all());
        assertEquals("What's the best way to learn Java?", qqp.get(0).textB());
        assertEquals(1, qqp.get(0).label());
        assertEquals(List.of("not_duplicate", "duplicate"), qqp.labels().names());

        Dataset qnli = Glue.read(GlueTask.QNLI, write("qnli.tsv", "index\tquestion\tsentence\tlabel",
                "0\tWhat came into force?\tThe law came into force in 2010.\tentailment",
                "1\tWho?\tNobody knows.\tnot_entailment"), ReadOptions.all());
        assertEquals(0, qnli.get(0).label());
        assertEquals(1, qnli.get(1).label());

        Dataset wnli = Glue.read(GlueTask.WNLI, write("wnli.tsv", "index\tsentence1\tsentence2\tlabel",
                "0\tI stuck a pin through a carrot.\tThe carrot has a hole.\t1"), ReadOptions.all());
        assertEquals(1, wnli.get(0).label());
        assertEquals("entailment", wnli.labels().names().get(1));

        Dataset rte = Glue.read(GlueTask.RTE, write("rte.tsv", "index\tsentence1\tsentence2\tlabel",
                "0\tNo Weapons Found.\tWeapons Found.\tnot_entailment", "1\tA place.\tA \"place\".\tentailment"),
                ReadOptions.all());
        assertEquals(1, rte.get(0).label());
        assertEquals(0, rte.get(1).label());
        assertEquals("A \"place\".", rte.get(1).textB());
    }

    @Test
    void mnliMatchedAndMismatchedFromDataDir() throws IOException {
        String header = "index\tpromptID\tpairID\tgenre\tsentence1_binary_parse\tsentence2_binary_parse\tsentence1_parse"
                + "\tsentence2_parse\tsentence1\tsentence2\tlabel1\tgold_label";
        String row = "0\t1\t1e\tgov\t( x )\t( y )\t(ROOT x)\t(ROOT y)\tThe cat sat.\tA cat sat.\tentailment\t";
        write("MNLI/train.tsv", header, row + "entailment", row + "contradiction", row + "neutral");
        write("MNLI/dev_matched.tsv", header, row + "neutral");
        write("MNLI/dev_mismatched.tsv", header, row + "contradiction", row + "entailment");
        // The GLUE root (holding MNLI/) works as --data-dir too.
        TaskData d = Glue.load(GlueTask.MNLI, dir, ReadOptions.all(), ReadOptions.all());
        assertEquals(3, d.train().size());
        assertEquals(List.of(0, 2, 1), d.train().examples().stream().map(Example::label).toList());
        assertEquals(1, d.validation().size());
        assertEquals(1, d.validation().get(0).label());
        assertEquals(2, d.validationMismatched().size());
        assertEquals("A cat sat.", d.train().get(0).textB());
        assertEquals(List.of("entailment", "neutral", "contradiction"), d.labels().names());
    }

    @Test
    void maxRowsTakesTheFirstRowsInFileOrder() throws IOException {
        Path f = write("sst.tsv", "sentence\tlabel", "a\t0", "b\t1", "c\t0", "d\t1");
        Dataset d = Glue.read(GlueTask.SST2, f, ReadOptions.all().withMaxRows(2));
        assertEquals(List.of("a", "b"), d.examples().stream().map(Example::textA).toList());
        assertEquals(List.of("a", "b", "c"), Glue.read(GlueTask.SST2, f, ReadOptions.all()).take(3).examples().stream()
                .map(Example::textA).toList());
    }

    @Test
    void crlfAndBlankLinesAreTolerated() throws IOException {
        Path f = dir.resolve("crlf.tsv");
        Files.writeString(f, "sentence\tlabel\r\nfine movie\t1\r\n\r\nbad one\t0\r\n");
        Dataset d = Glue.read(GlueTask.SST2, f, ReadOptions.all());
        assertEquals(2, d.size());
        assertEquals("bad one", d.get(1).textA());
    }

    @Test
    void glueTaskNames() {
        assertEquals(GlueTask.SST2, GlueTask.parse("SST-2"));
        assertEquals(GlueTask.STSB, GlueTask.parse("sts-b"));
        assertEquals(GlueTask.MNLI, GlueTask.parse("mnli"));
        assertThrows(IllegalArgumentException.class, () -> GlueTask.parse("squad"));
    }
}
