package dev.solder.hub;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.net.ServerSocket;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Random;
import java.util.stream.Stream;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class HubClientTest {

    static final String REPO = "test-org/tiny-bert";
    static final String COMMIT = "0123456789abcdef0123456789abcdef01234567";
    static final String CONFIG = "{\"model_type\": \"bert\", \"hidden_size\": 8}\n";

    @TempDir
    Path tmp;

    FakeHub hub;
    byte[] weights;

    @BeforeEach
    void start() throws IOException {
        hub = new FakeHub();
        weights = new byte[300_000];
        new Random(42).nextBytes(weights);
        hub.repo(REPO, COMMIT)
                .file("config.json", CONFIG)
                .file("vocab.txt", "[PAD]\n[UNK]\n[CLS]\n[SEP]\n[MASK]\nhello\n")
                .lfsFile("model.safetensors", weights);
    }

    @AfterEach
    void stop() {
        hub.close();
    }

    Path cacheDir() {
        return tmp.resolve("hf/hub");
    }

    HubClient client(String... extraEnv) {
        Map<String, String> env = new HashMap<>();
        env.put("HF_HOME", tmp.resolve("hf").toString());
        env.put("HF_ENDPOINT", hub.endpoint());
        for (int i = 0; i < extraEnv.length; i += 2) {
            env.put(extraEnv[i], extraEnv[i + 1]);
        }
        return HubClient.builder().env(env).home(tmp.resolve("home")).build();
    }

    Path repoDir() {
        return cacheDir().resolve("models--test-org--tiny-bert");
    }

    @Test
    void freshDownloadLaysOutBlobsSnapshotsRefsLikeHuggingfaceHub() throws Exception {
        HubClient c = client();
        assertEquals(cacheDir(), c.cache().cacheDir());
        Path config = c.download(REPO, "config.json");
        Path model = c.download(REPO, "main", "model.safetensors");

        String configEtag = FakeHub.gitSha1(CONFIG.getBytes());
        String modelEtag = FakeHub.sha256(weights);
        Path snap = repoDir().resolve("snapshots").resolve(COMMIT);
        assertEquals(snap.resolve("config.json"), config);
        assertEquals(snap.resolve("model.safetensors"), model);
        assertTrue(Files.isSymbolicLink(config));
        assertEquals(Path.of("../../blobs/" + configEtag), Files.readSymbolicLink(config));
        assertEquals(Path.of("../../blobs/" + modelEtag), Files.readSymbolicLink(model));
        assertEquals(CONFIG, Files.readString(repoDir().resolve("blobs").resolve(configEtag)));
        assertArrayEquals(weights, Files.readAllBytes(model));
        assertEquals(COMMIT, Files.readString(repoDir().resolve("refs/main")));
        assertTrue(Files.exists(cacheDir().resolve(".locks/models--test-org--tiny-bert/" + modelEtag + ".lock")));
        try (Stream<Path> s = Files.list(repoDir().resolve("blobs"))) {
            assertEquals(List.of(modelEtag, configEtag).stream().sorted().toList(),
                    s.map(p -> p.getFileName().toString()).sorted().toList(), "no .incomplete left behind");
        }
        // The LFS file was fetched through the redirect, the small one directly.
        assertTrue(hub.log.contains("HEAD /" + REPO + "/resolve/main/model.safetensors"));
        assertTrue(hub.log.contains("GET /lfs/" + modelEtag));
        assertEquals(weights.length, hub.lfsBytesSent.get());
    }

    @Test
    void secondCallIsServedFromTheCacheWithoutAnyRequest() {
        HubClient c = client();
        Path first = c.download(REPO, "model.safetensors");
        int hits = hub.hits.get();
        Path again = client().download(REPO, "model.safetensors");
        assertEquals(first, again);
        assertEquals(hits, hub.hits.get());
        assertEquals(first, client().download(REPO, COMMIT, "model.safetensors"), "by commit hash too");
        assertEquals(hits, hub.hits.get());
    }

    @Test
    void checkForUpdatesAsksTheHubButReusesTheBlob() {
        client().download(REPO, "model.safetensors");
        long sent = hub.lfsBytesSent.get();
        HubClient c = HubClient.builder().env(Map.of("HF_HOME", tmp.resolve("hf").toString(), "HF_ENDPOINT", hub.endpoint()))
                .home(tmp).checkForUpdates(true).build();
        int hits = hub.hits.get();
        c.download(REPO, "model.safetensors");
        assertEquals(hits + 1, hub.hits.get(), "one HEAD, no body");
        assertEquals(sent, hub.lfsBytesSent.get());
    }

    @Test
    void concurrentDownloadsOfOneFileTransferItOnce() throws Exception {
        HubClient c = client();
        try (var pool = java.util.concurrent.Executors.newFixedThreadPool(4)) {
            List<java.util.concurrent.Future<Path>> fs = new java.util.ArrayList<>();
            for (int i = 0; i < 4; i++) {
                fs.add(pool.submit(() -> c.download(REPO, "model.safetensors")));
            }
            Path first = fs.getFirst().get();
            for (var f : fs) {
                assertEquals(first, f.get());
            }
            assertArrayEquals(weights, Files.readAllBytes(first));
        }
        assertEquals(weights.length, hub.lfsBytesSent.get());
    }

    @Test
    void resumesAPartialDownloadWithARangeRequest() throws Exception {
        String etag = FakeHub.sha256(weights);
        Path partial = repoDir().resolve("blobs").resolve(etag + ".incomplete");
        Files.createDirectories(partial.getParent());
        int have = 123_457;
        Files.write(partial, Arrays.copyOf(weights, have));

        Path model = client().download(REPO, "model.safetensors");
        assertArrayEquals(weights, Files.readAllBytes(model));
        assertEquals(List.of("bytes=" + have + "-"), hub.rangeHeaders);
        assertEquals(weights.length - have, hub.lfsBytesSent.get(), "only the missing bytes were transferred");
        assertFalse(Files.exists(partial));
    }

    @Test
    void aCompletePartialIsAcceptedOn416() throws Exception {
        String etag = FakeHub.sha256(weights);
        Path partial = repoDir().resolve("blobs").resolve(etag + ".incomplete");
        Files.createDirectories(partial.getParent());
        Files.write(partial, weights);
        Path model = client().download(REPO, "model.safetensors");
        assertArrayEquals(weights, Files.readAllBytes(model));
        assertEquals(0, hub.lfsBytesSent.get());
    }

    @Test
    void sha256MismatchIsDetectedAndNothingIsCached() throws Exception {
        hub.corruptAt = 1000;
        HubException.Integrity e = assertThrows(HubException.Integrity.class, () -> client().download(REPO, "model.safetensors"));
        assertTrue(e.getMessage().contains("SHA-256 mismatch"), e.getMessage());
        assertTrue(e.getMessage().contains("model.safetensors"), e.getMessage());
        assertFalse(Files.exists(repoDir().resolve("snapshots").resolve(COMMIT).resolve("model.safetensors")));
        try (Stream<Path> s = Files.list(repoDir().resolve("blobs"))) {
            assertEquals(List.of(), s.toList(), "neither the blob nor the partial remains");
        }
        // A resumed download whose old part is corrupt is caught too.
        hub.corruptAt = -1;
        Path partial = repoDir().resolve("blobs").resolve(FakeHub.sha256(weights) + ".incomplete");
        byte[] bad = Arrays.copyOf(weights, 5000);
        bad[10] ^= 1;
        Files.write(partial, bad);
        assertThrows(HubException.Integrity.class, () -> client().download(REPO, "model.safetensors"));
        assertFalse(Files.exists(partial));
        // and the next try succeeds from scratch
        assertArrayEquals(weights, Files.readAllBytes(client().download(REPO, "model.safetensors")));
    }

    @Test
    void offlineUsesTheCacheAndNeverTheNetwork() {
        client().download(REPO, "config.json");
        int hits = hub.hits.get();
        HubClient offline = client("HF_HUB_OFFLINE", "1");
        assertTrue(offline.isOffline());
        assertEquals(CONFIG, read(offline.download(REPO, "config.json")));
        HubException.Offline e = assertThrows(HubException.Offline.class, () -> offline.download(REPO, "vocab.txt"));
        assertTrue(e.getMessage().contains("HF_HUB_OFFLINE"), e.getMessage());
        assertTrue(e.getMessage().contains("vocab.txt"), e.getMessage());
        assertThrows(HubException.Offline.class, () -> offline.download("other/repo", "config.json"));
        assertEquals(Optional.empty(), offline.tryDownload(REPO, "main", "tokenizer.json"),
                "an optional file absent from a cached snapshot is just absent");
        assertEquals(hits, hub.hits.get());
    }

    @Test
    void offlineWithAnEmptyCacheFailsClearly() {
        HubClient offline = client("HF_HUB_OFFLINE", "true");
        HubException.Offline e = assertThrows(HubException.Offline.class, () -> offline.download(REPO, "config.json"));
        assertTrue(e.getMessage().contains(cacheDir().toString()), e.getMessage());
        assertEquals(0, hub.hits.get());
    }

    @Test
    void missingOptionalFileIsEmptyAndRememberedInNoExist() {
        HubClient c = client();
        assertEquals(Optional.empty(), c.tryDownload(REPO, "main", "tokenizer.json"));
        assertTrue(Files.exists(repoDir().resolve(".no_exist").resolve(COMMIT).resolve("tokenizer.json")));
        assertEquals(COMMIT, read(repoDir().resolve("refs/main")));
        int hits = hub.hits.get();
        assertEquals(Optional.empty(), c.tryDownload(REPO, "main", "tokenizer.json"));
        assertEquals(hits, hub.hits.get(), "the .no_exist marker saves the request");

        HubException.NotFound e = assertThrows(HubException.NotFound.class, () -> c.download(REPO, "main", "pytorch_model.bin"));
        assertEquals(HubException.Missing.FILE, e.missing());
        assertTrue(e.getMessage().contains("'pytorch_model.bin' not found in repo '" + REPO + "'"), e.getMessage());
    }

    @Test
    void unknownRevisionIsNotAnOptionalFileMiss() {
        HubException.NotFound e = assertThrows(HubException.NotFound.class, () -> client().tryDownload(REPO, "v9", "config.json"));
        assertEquals(HubException.Missing.REVISION, e.missing());
    }

    @Test
    void privateRepoNeedsHfToken() {
        hub.repos.get(REPO).requiredToken = "hf_secret";
        HubException.Unauthorized e = assertThrows(HubException.Unauthorized.class, () -> client().download(REPO, "config.json"));
        assertTrue(e.getMessage().contains("HF_TOKEN"), e.getMessage());
        assertTrue(e.getMessage().contains("401"), e.getMessage());
        assertFalse(e.getMessage().contains("hf_secret"));

        assertEquals(CONFIG, read(client("HF_TOKEN", "hf_secret").download(REPO, "config.json")));
        assertTrue(hub.authHeaders.contains("Bearer hf_secret"));

        Path tokenFile = tmp.resolve("hf/token");
        write(tokenFile, "hf_secret\n");
        assertArrayEquals(weights, bytes(client().download(REPO, "model.safetensors")), "token file written by `hf auth login`");
    }

    @Test
    void gatedRepoSays403AndWhatToDo() {
        hub.repos.get(REPO).requiredToken = "hf_granted";
        hub.repos.get(REPO).gated = true;
        HubException.Unauthorized e = assertThrows(HubException.Unauthorized.class,
                () -> client("HF_TOKEN", "hf_other").download(REPO, "config.json"));
        assertTrue(e.getMessage().contains("403") && e.getMessage().contains("gated"), e.getMessage());
        assertTrue(e.getMessage().contains("HF_TOKEN"), e.getMessage());
    }

    @Test
    void renamedRepoIsFollowedButCachedUnderTheRequestedName() {
        hub.renamed.put("tiny-bert", REPO);
        Path p = client().download("tiny-bert", "config.json");
        assertEquals(cacheDir().resolve("models--tiny-bert/snapshots").resolve(COMMIT).resolve("config.json"), p);
        assertEquals(CONFIG, read(p));
    }

    @Test
    void unreachableHubNamesTheUrlAndSuggestsOffline() throws Exception {
        int port;
        try (ServerSocket s = new ServerSocket(0)) {
            port = s.getLocalPort();
        }
        HubClient c = client("HF_ENDPOINT", "http://127.0.0.1:" + port + "/");
        HubException.Network e = assertThrows(HubException.Network.class, () -> c.download(REPO, "config.json"));
        assertTrue(e.getMessage().contains("http://127.0.0.1:" + port + "/" + REPO + "/resolve/main/config.json"), e.getMessage());
        assertTrue(e.getMessage().contains("HF_HUB_OFFLINE=1"), e.getMessage());
        assertTrue(e.getMessage().contains("local directory"), e.getMessage());
    }

    @Test
    void pythonWrittenCacheIsReusedWithoutRequests() throws Exception {
        // Lay the cache out as huggingface_hub does: blobs, a relative symlink, refs/main.
        Path repo = cacheDir().resolve("models--test-org--tiny-bert");
        String pyCommit = "fedcba9876543210fedcba9876543210fedcba98";
        Path blob = repo.resolve("blobs/aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa");
        write(blob, "{\"from\": \"python\"}");
        Path snap = Files.createDirectories(repo.resolve("snapshots").resolve(pyCommit));
        Files.createSymbolicLink(snap.resolve("config.json"), Path.of("../../blobs/aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"));
        write(repo.resolve("refs/main"), pyCommit);

        Path p = client().download(REPO, "config.json");
        assertEquals(snap.resolve("config.json"), p);
        assertEquals("{\"from\": \"python\"}", read(p));
        assertEquals(0, hub.hits.get());
    }

    @Test
    void fileUrlsEncodeRevisionsAndPaths() {
        HubClient c = client();
        assertEquals(hub.endpoint() + "/org/m/resolve/refs%2Fpr%2F1/sub%20dir/a.json",
                c.fileUrl("org/m", "refs/pr/1", "sub dir/a.json").toString());
        assertEquals("abc", HubClient.normalizeEtag("W/\"abc\""));
        assertEquals("abc", HubClient.normalizeEtag("\"abc\""));
        assertEquals(5, HubClient.contentRangeStart("bytes 5-9/10"));
    }

    static String read(Path p) {
        try {
            return Files.readString(p);
        } catch (IOException e) {
            throw new java.io.UncheckedIOException(e);
        }
    }

    static byte[] bytes(Path p) {
        try {
            return Files.readAllBytes(p);
        } catch (IOException e) {
            throw new java.io.UncheckedIOException(e);
        }
    }

    static void write(Path p, String s) {
        try {
            Files.createDirectories(p.getParent());
            Files.writeString(p, s);
        } catch (IOException e) {
            throw new java.io.UncheckedIOException(e);
        }
    }
}
