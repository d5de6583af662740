package dev.solder.hub;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.AtomicMoveNotSupportedException;
import java.nio.file.FileAlreadyExistsException;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.Map;
import java.util.Objects;
import java.util.Optional;
import java.util.UUID;
import java.util.regex.Pattern;

/**
 * The Hugging Face Hub file cache, laid out exactly as Python's {@code huggingface_hub} lays it
 * out, so that models Python already downloaded are reused by Solder and files Solder downloads
 * are reused by Python:
 *
 * <pre>
 * &lt;cache dir&gt;/
 *   .locks/models--ORG--NAME/&lt;etag&gt;.lock
 *   models--ORG--NAME/
 *     blobs/&lt;etag&gt;                        file contents, named by git SHA-1 or LFS SHA-256
 *     blobs/&lt;etag&gt;.incomplete             a download in progress (resumable)
 *     refs/&lt;revision&gt;                     the commit hash a branch/tag last resolved to (no newline)
 *     snapshots/&lt;commit&gt;/&lt;file&gt;          relative symlink to ../../blobs/&lt;etag&gt; (a plain file
 *                                         where the file system refuses symlinks)
 *     .no_exist/&lt;commit&gt;/&lt;file&gt;          empty marker: the file is known to be absent at that commit
 * </pre>
 *
 * <p>The cache directory is {@code HF_HUB_CACHE}, else the legacy {@code HUGGINGFACE_HUB_CACHE},
 * else {@code $HF_HOME/hub}, else {@code $XDG_CACHE_HOME/huggingface/hub}, else
 * {@code ~/.cache/huggingface/hub}. The environment and home directory are injectable
 * ({@link #fromEnvironment(Map, Path)}) so tests never see the real ones.
 *
 * <p>Instances are immutable and thread-safe; all writes go through temporary names and atomic
 * renames.
 */
public final class HfCache {

    /** A full 40-hex git commit hash, as huggingface_hub's {@code REGEX_COMMIT_HASH}. */
    static final Pattern COMMIT_HASH = Pattern.compile("^[0-9a-f]{40}$");
    /** A 64-hex SHA-256, which is what the Hub uses as etag for LFS files. */
    static final Pattern SHA256 = Pattern.compile("^[0-9a-f]{64}$");

    private final Path cacheDir;
    /** Package-private switch so tests can exercise the no-symlink fallback. */
    final boolean symlinks;

    /** A cache rooted at {@code cacheDir} (which need not exist yet). */
    public HfCache(Path cacheDir) {
        this(cacheDir, true);
    }

    HfCache(Path cacheDir, boolean symlinks) {
        this.cacheDir = Objects.requireNonNull(cacheDir, "cacheDir").toAbsolutePath().normalize();
        this.symlinks = symlinks;
    }

    /** The cache of this process's environment ({@link System#getenv()}, {@code user.home}). */
    public static HfCache fromEnvironment() {
        return fromEnvironment(System.getenv(), Path.of(System.getProperty("user.home")));
    }

    /** The cache that {@code env} and {@code home} designate; see {@link #cacheDir(Map, Path)}. */
    public static HfCache fromEnvironment(Map<String, String> env, Path home) {
        return new HfCache(cacheDir(env, home));
    }

    /**
     * Where huggingface_hub keeps its cache for this environment: {@code HF_HUB_CACHE}, else
     * {@code HUGGINGFACE_HUB_CACHE}, else {@code hfHome(env, home)/hub}. A leading {@code ~} is
     * expanded to {@code home}, as Python's {@code expanduser} does.
     */
    public static Path cacheDir(Map<String, String> env, Path home) {
        String explicit = nonBlank(env.get("HF_HUB_CACHE"));
        if (explicit == null) {
            explicit = nonBlank(env.get("HUGGINGFACE_HUB_CACHE"));
        }
        if (explicit != null) {
            return expandHome(explicit, home);
        }
        return hfHome(env, home).resolve("hub");
    }

    /**
     * The Hugging Face home: {@code HF_HOME}, else {@code $XDG_CACHE_HOME/huggingface}, else
     * {@code ~/.cache/huggingface}. The token file lives there too.
     */
    public static Path hfHome(Map<String, String> env, Path home) {
        String hfHome = nonBlank(env.get("HF_HOME"));
        if (hfHome != null) {
            return expandHome(hfHome, home);
        }
        String xdg = nonBlank(env.get("XDG_CACHE_HOME"));
        Path base = xdg != null ? expandHome(xdg, home) : home.resolve(".cache");
        return base.resolve("huggingface");
    }

    /** The cache root. */
    public Path cacheDir() {
        return cacheDir;
    }

    /** {@code models--ORG--NAME}: the folder of a model repo ({@code /} becomes {@code --}). */
    public static String repoFolderName(String repoId) {
        validateRepoId(repoId);
        return "models--" + repoId.replace("/", "--");
    }

    /** {@code <cache>/models--ORG--NAME}. */
    public Path repoDir(String repoId) {
        return cacheDir.resolve(repoFolderName(repoId));
    }

    /** {@code <repo>/blobs/<etag>}. */
    public Path blobPath(String repoId, String etag) {
        if (etag.isEmpty() || etag.contains("/") || etag.contains("\\") || etag.startsWith(".")) {
            throw new IllegalArgumentException("unusable etag for a blob name: '" + etag + "'");
        }
        return repoDir(repoId).resolve("blobs").resolve(etag);
    }

    /** {@code <repo>/snapshots/<commit>}. */
    public Path snapshotDir(String repoId, String commit) {
        return repoDir(repoId).resolve("snapshots").resolve(requireCommit(commit));
    }

    /** {@code <repo>/snapshots/<commit>/<filename>} (the file need not exist). */
    public Path pointerPath(String repoId, String commit, String filename) {
        return resolveRelative(snapshotDir(repoId, commit), filename);
    }

    /** {@code <repo>/refs/<revision>}; a revision such as {@code refs/pr/1} nests folders. */
    public Path refPath(String repoId, String revision) {
        return resolveRelative(repoDir(repoId).resolve("refs"), revision);
    }

    /** {@code <repo>/.no_exist/<commit>/<filename>}. */
    public Path noExistPath(String repoId, String commit, String filename) {
        return resolveRelative(repoDir(repoId).resolve(".no_exist").resolve(requireCommit(commit)), filename);
    }

    /** {@code <cache>/.locks/models--ORG--NAME/<etag>.lock}, where huggingface_hub puts its locks. */
    public Path lockPath(String repoId, String etag) {
        return cacheDir.resolve(".locks").resolve(repoFolderName(repoId)).resolve(etag + ".lock");
    }

    /**
     * The commit a revision designates in this cache: a 40-hex commit hash is itself; a branch or
     * tag is read from {@code refs/<revision>}. Empty when the ref was never recorded.
     */
    public Optional<String> commitFor(String repoId, String revision) {
        String rev = revision == null ? "main" : revision;
        if (COMMIT_HASH.matcher(rev).matches()) {
            return Optional.of(rev);
        }
        Path ref = refPath(repoId, rev);
        if (!Files.isRegularFile(ref)) {
            return Optional.empty();
        }
        try {
            String commit = Files.readString(ref, StandardCharsets.UTF_8).strip();
            return COMMIT_HASH.matcher(commit).matches() ? Optional.of(commit) : Optional.empty();
        } catch (IOException e) {
            return Optional.empty();
        }
    }

    /**
     * The cached copy of {@code filename} at {@code revision} ({@code null} means {@code main}):
     * {@code snapshots/<commit>/<filename>} when it exists and (through its symlink) is a readable
     * regular file. Never touches the network.
     */
    public Optional<Path> resolve(String repoId, String revision, String filename) {
        Optional<String> commit = commitFor(repoId, revision);
        if (commit.isEmpty()) {
            return Optional.empty();
        }
        Path pointer = pointerPath(repoId, commit.get(), filename);
        return Files.isRegularFile(pointer) ? Optional.of(pointer) : Optional.empty();
    }

    /**
     * Whether {@code filename} is recorded as absent at the commit {@code revision} designates
     * ({@code .no_exist} marker, as huggingface_hub writes for optional files).
     */
    public boolean isKnownMissing(String repoId, String revision, String filename) {
        Optional<String> commit = commitFor(repoId, revision);
        return commit.isPresent() && Files.exists(noExistPath(repoId, commit.get(), filename), LinkOption.NOFOLLOW_LINKS);
    }

    /** The snapshot directory the revision designates, when it exists in the cache. */
    public Optional<Path> snapshotFor(String repoId, String revision) {
        return commitFor(repoId, revision)
                .map(c -> snapshotDir(repoId, c))
                .filter(Files::isDirectory);
    }

    /** Records {@code refs/<revision> = commit} (no trailing newline, as Python writes it). */
    public void writeRef(String repoId, String revision, String commit) {
        requireCommit(commit);
        if (revision == null || revision.equals(commit)) {
            return;
        }
        Path ref = refPath(repoId, revision);
        try {
            if (Files.isRegularFile(ref) && Files.readString(ref, StandardCharsets.UTF_8).strip().equals(commit)) {
                return;
            }
            Files.createDirectories(ref.getParent());
            Path tmp = tempSibling(ref);
            Files.writeString(tmp, commit, StandardCharsets.UTF_8);
            moveAtomically(tmp, ref);
        } catch (IOException e) {
            throw new UncheckedIOException("cannot write " + ref, e);
        }
    }

    /** Creates the empty {@code .no_exist/<commit>/<filename>} marker. */
    public void markMissing(String repoId, String commit, String filename) {
        Path marker = noExistPath(repoId, commit, filename);
        try {
            Files.createDirectories(marker.getParent());
            Files.createFile(marker);
        } catch (FileAlreadyExistsException e) {
            // already recorded
        } catch (IOException e) {
            throw new UncheckedIOException("cannot write " + marker, e);
        }
    }

    /**
     * Makes {@code snapshots/<commit>/<filename>} point at {@code blobs/<etag>}: a relative symlink
     * (replacing whatever was there, atomically), or, where symlinks are refused, the blob itself
     * (moved when {@code newBlob}, as huggingface_hub's degraded mode does, else copied).
     *
     * @return the pointer path
     */
    public Path linkSnapshot(String repoId, String commit, String filename, String etag, boolean newBlob) {
        Path blob = blobPath(repoId, etag);
        Path pointer = pointerPath(repoId, commit, filename);
        try {
            Files.createDirectories(pointer.getParent());
            Path tmp = tempSibling(pointer);
            if (symlinks) {
                try {
                    Files.createSymbolicLink(tmp, pointer.getParent().relativize(blob));
                    moveAtomically(tmp, pointer);
                    return pointer;
                } catch (UnsupportedOperationException | IOException | SecurityException e) {
                    Files.deleteIfExists(tmp);
                }
            }
            if (newBlob) {
                Files.move(blob, tmp, StandardCopyOption.REPLACE_EXISTING);
            } else {
                Files.copy(blob, tmp, StandardCopyOption.REPLACE_EXISTING);
            }
            moveAtomically(tmp, pointer);
            return pointer;
        } catch (IOException e) {
            throw new UncheckedIOException("cannot link " + pointer + " to " + blob, e);
        }
    }

    // ---------------------------------------------------------------------------------------------

    static String requireCommit(String commit) {
        if (commit == null || !COMMIT_HASH.matcher(commit).matches()) {
            throw new IllegalArgumentException("not a 40-hex commit hash: '" + commit + "'");
        }
        return commit;
    }

    /** Repo ids are {@code name} or {@code org/name}; anything that could escape the cache is refused. */
    static void validateRepoId(String repoId) {
        if (repoId == null || !isValidRepoId(repoId)) {
            throw new IllegalArgumentException("not a valid Hub repo id (expected 'name' or 'org/name'): '" + repoId + "'");
        }
    }

    static boolean isValidRepoId(String s) {
        if (s == null || s.isEmpty() || s.length() > 96 + 1 + 96) {
            return false;
        }
        if (s.contains("--") || s.contains("..")) {
            return false;
        }
        String[] parts = s.split("/", -1);
        if (parts.length > 2) {
            return false;
        }
        for (String p : parts) {
            if (!p.matches("[A-Za-z0-9_][A-Za-z0-9._-]*") || p.endsWith(".") || p.endsWith("-")) {
                return false;
            }
        }
        return true;
    }

    /**
     * Joins a Hub-relative path ({@code a/b/c.json}) below {@code base}, refusing absolute paths,
     * empty segments and {@code ..} so nothing lands outside the cache.
     */
    static Path resolveRelative(Path base, String relative) {
        if (relative == null || relative.isEmpty() || relative.startsWith("/") || relative.contains("\\")) {
            throw new IllegalArgumentException("not a relative repo path: '" + relative + "'");
        }
        Path p = base;
        for (String seg : relative.split("/", -1)) {
            if (seg.isEmpty() || seg.equals(".") || seg.equals("..") || seg.indexOf(':') >= 0) {
                throw new IllegalArgumentException("not a relative repo path: '" + relative + "'");
            }
            p = p.resolve(seg);
        }
        return p;
    }

    static Path tempSibling(Path target) {
        return target.resolveSibling("." + target.getFileName() + ".tmp-" + UUID.randomUUID().toString().substring(0, 8));
    }

    static void moveAtomically(Path from, Path to) throws IOException {
        try {
            Files.move(from, to, StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING);
        } catch (AtomicMoveNotSupportedException e) {
            Files.move(from, to, StandardCopyOption.REPLACE_EXISTING);
        }
    }

    static String nonBlank(String s) {
        return s == null || s.isBlank() ? null : s.strip();
    }

    static Path expandHome(String p, Path home) {
        if (p.equals("~")) {
            return home;
        }
        if (p.startsWith("~/") || p.startsWith("~" + java.io.File.separator)) {
            return home.resolve(p.substring(2));
        }
        return Path.of(p);
    }

    @Override
    public String toString() {
        return "HfCache[" + cacheDir + "]";
    }
}
