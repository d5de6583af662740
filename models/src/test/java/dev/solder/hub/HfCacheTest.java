package dev.solder.hub;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Map;
import java.util.Optional;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class HfCacheTest {

    static final String COMMIT = "86b5e0934494bd15c9632b12f734a8a67f723594";
    static final String COMMIT2 = "1dbc166cf8765166998eff31ade2eb64c8a40076";

    @TempDir
    Path tmp;

    @Test
    void cacheDirFollowsHuggingfaceHubPrecedence() {
        Path home = tmp.resolve("home");
        assertEquals(home.resolve(".cache/huggingface/hub"), HfCache.cacheDir(Map.of(), home));
        assertEquals(Path.of("/x/hf/hub"), HfCache.cacheDir(Map.of("HF_HOME", "/x/hf"), home));
        assertEquals(Path.of("/xdg/huggingface/hub"), HfCache.cacheDir(Map.of("XDG_CACHE_HOME", "/xdg"), home));
        assertEquals(Path.of("/c"), HfCache.cacheDir(Map.of("HF_HOME", "/x/hf", "HF_HUB_CACHE", "/c"), home));
        assertEquals(Path.of("/legacy"), HfCache.cacheDir(Map.of("HF_HOME", "/x/hf", "HUGGINGFACE_HUB_CACHE", "/legacy"), home));
        assertEquals(home.resolve("hfc"), HfCache.cacheDir(Map.of("HF_HUB_CACHE", "~/hfc"), home));
        assertEquals(home.resolve(".cache/huggingface/hub"), HfCache.cacheDir(Map.of("HF_HOME", "  "), home));
    }

    @Test
    void repoFolderNamesMatchPython() {
        assertEquals("models--google-bert--bert-base-uncased", HfCache.repoFolderName("google-bert/bert-base-uncased"));
        assertEquals("models--bert-base-uncased", HfCache.repoFolderName("bert-base-uncased"));
        assertThrows(IllegalArgumentException.class, () -> HfCache.repoFolderName("../etc"));
        assertThrows(IllegalArgumentException.class, () -> HfCache.repoFolderName("a/b/c"));
        assertThrows(IllegalArgumentException.class, () -> HfCache.repoFolderName("a--b"));
    }

    @Test
    void resolvesFilesThroughRefsOrCommitAndRefusesEscapes() throws Exception {
        HfCache cache = new HfCache(tmp);
        String repo = "org/model";
        Path blobs = Files.createDirectories(cache.repoDir(repo).resolve("blobs"));
        Files.writeString(blobs.resolve("abc123"), "{}");
        Path snap = Files.createDirectories(cache.snapshotDir(repo, COMMIT).resolve("sub"));
        Files.createSymbolicLink(snap.getParent().resolve("config.json"), Path.of("../../blobs/abc123"));
        Files.createSymbolicLink(snap.resolve("x.json"), Path.of("../../../blobs/abc123"));
        Files.createSymbolicLink(snap.getParent().resolve("dangling.json"), Path.of("../../blobs/nope"));

        assertEquals(Optional.empty(), cache.resolve(repo, "main", "config.json"), "no refs/main yet");
        assertEquals(Optional.of(snap.getParent().resolve("config.json")), cache.resolve(repo, COMMIT, "config.json"));

        cache.writeRef(repo, "main", COMMIT);
        assertEquals(COMMIT, Files.readString(cache.refPath(repo, "main")), "no newline, as Python writes it");
        assertEquals("{}", Files.readString(cache.resolve(repo, null, "config.json").orElseThrow()));
        assertTrue(cache.resolve(repo, "main", "sub/x.json").isPresent());
        assertTrue(cache.resolve(repo, "main", "dangling.json").isEmpty());
        assertTrue(cache.resolve(repo, "main", "other.json").isEmpty());
        assertThrows(IllegalArgumentException.class, () -> cache.resolve(repo, "main", "../../refs/main"));
        assertThrows(IllegalArgumentException.class, () -> cache.resolve(repo, "main", "/etc/passwd"));

        cache.writeRef(repo, "refs/pr/1", COMMIT2);
        assertEquals(cache.repoDir(repo).resolve("refs/refs/pr/1"), cache.refPath(repo, "refs/pr/1"));
        assertEquals(Optional.of(COMMIT2), cache.commitFor(repo, "refs/pr/1"));
    }

    @Test
    void noExistMarkersAndSymlinkFallback() throws Exception {
        HfCache cache = new HfCache(tmp, false); // a file system without symlinks
        String repo = "org/model";
        cache.writeRef(repo, "main", COMMIT);
        cache.markMissing(repo, COMMIT, "tokenizer.json");
        cache.markMissing(repo, COMMIT, "tokenizer.json");
        assertTrue(cache.isKnownMissing(repo, "main", "tokenizer.json"));
        assertEquals(0, Files.size(cache.repoDir(repo).resolve(".no_exist").resolve(COMMIT).resolve("tokenizer.json")));
        assertFalse(cache.isKnownMissing(repo, "main", "vocab.txt"));

        Path blob = cache.blobPath(repo, "e1");
        Files.createDirectories(blob.getParent());
        Files.writeString(blob, "vocab", StandardCharsets.UTF_8);
        Path p = cache.linkSnapshot(repo, COMMIT, "vocab.txt", "e1", false);
        assertFalse(Files.isSymbolicLink(p));
        assertEquals("vocab", Files.readString(p));
        assertTrue(Files.exists(blob), "an existing blob is copied, not moved");
    }
}
