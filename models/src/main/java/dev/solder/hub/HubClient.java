package dev.solder.hub;

import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.io.UncheckedIOException;
import java.net.URI;
import java.net.URLEncoder;
import java.net.http.HttpClient;
import java.net.http.HttpHeaders;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.net.http.HttpTimeoutException;
import java.nio.channels.FileChannel;
import java.nio.channels.FileLock;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.time.Duration;
import java.util.HexFormat;
import java.util.Locale;
import java.util.Map;
import java.util.Objects;
import java.util.Optional;
import java.util.OptionalLong;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.locks.ReentrantLock;
import java.util.logging.Level;
import java.util.logging.Logger;

/**
 * Downloads files from the Hugging Face Hub into the {@link HfCache}, the way Python's
 * {@code hf_hub_download} does, so both share one cache.
 *
 * <p>Configuration comes from the environment (injectable through {@link #builder()}):
 * <ul>
 *   <li>{@code HF_ENDPOINT} — the Hub (default {@value #DEFAULT_ENDPOINT}); a mirror works too.</li>
 *   <li>{@code HF_TOKEN} (or the legacy {@code HUGGING_FACE_HUB_TOKEN}, or the token file
 *       {@code HF_TOKEN_PATH} / {@code $HF_HOME/token} that {@code huggingface-cli login} writes)
 *       — sent as {@code Authorization: Bearer}, only to the endpoint's host, never to the CDN.</li>
 *   <li>{@code HF_HUB_OFFLINE=1} (also {@code ON/YES/TRUE}, or {@code TRANSFORMERS_OFFLINE}) —
 *       never touch the network; a file that is not cached fails with {@link HubException.Offline}.</li>
 *   <li>{@code HF_HUB_ETAG_TIMEOUT}, {@code HF_HUB_DOWNLOAD_TIMEOUT} — seconds (default 10).</li>
 * </ul>
 *
 * <p>A download: when the cache already has the file for the revision (via {@code refs/<revision>}
 * or a commit hash) it is returned without any request (set {@link Builder#checkForUpdates} to ask
 * the Hub whether a branch moved, as Python does). Otherwise a {@code HEAD} of
 * {@code {endpoint}/{repo}/resolve/{revision}/{file}} gives the commit ({@code X-Repo-Commit}) and
 * etag ({@code X-Linked-Etag}, else {@code ETag}, quotes stripped); relative redirects (renamed
 * repos) are followed, an absolute one (LFS files on a CDN) becomes the download URL. The body goes
 * to {@code blobs/<etag>.incomplete}, resumed with {@code Range: bytes=N-} when a partial exists;
 * a 64-hex etag is the file's SHA-256 and is verified (a mismatch deletes the partial). The blob
 * is then renamed into place atomically, {@code snapshots/<commit>/<file>} is linked to it and
 * {@code refs/<revision>} records the commit. A file the Hub reports absent is recorded in
 * {@code .no_exist/} so later {@link #tryDownload} calls need no request.
 *
 * <p>Thread-safe; concurrent downloads of one blob (threads or processes) are serialised by a lock
 * file in {@code <cache>/.locks/}.
 */
public final class HubClient {

    /** The public Hub. */
    public static final String DEFAULT_ENDPOINT = "https://huggingface.co";

    private static final Logger LOG = Logger.getLogger(HubClient.class.getName());
    private static final ConcurrentHashMap<Path, ReentrantLock> JVM_LOCKS = new ConcurrentHashMap<>();
    private static final int MAX_REDIRECTS = 10;
    private static final String USER_AGENT = "solder/0.1; java/" + Runtime.version().feature();

    private final HfCache cache;
    private final URI endpoint;
    private final String token;
    private final String tokenSource;
    private final boolean offline;
    private final boolean checkForUpdates;
    private final HttpClient http;
    private final Duration metadataTimeout;
    private final Duration downloadTimeout;

    private HubClient(Builder b) {
        Map<String, String> env = b.resolvedEnv();
        Path home = b.resolvedHome();
        this.cache = b.cache != null ? b.cache : HfCache.fromEnvironment(env, home);
        String ep = b.endpoint != null ? b.endpoint : HfCache.nonBlank(env.get("HF_ENDPOINT"));
        if (ep == null) {
            ep = DEFAULT_ENDPOINT;
        }
        while (ep.endsWith("/")) {
            ep = ep.substring(0, ep.length() - 1);
        }
        this.endpoint = URI.create(ep);
        if (endpoint.getScheme() == null || endpoint.getHost() == null) {
            throw new IllegalArgumentException("HF_ENDPOINT must be an absolute http(s) URL, got '" + ep + "'");
        }
        if (b.token != null) {
            this.token = HfCache.nonBlank(b.token);
            this.tokenSource = "the configured token";
        } else {
            String[] t = tokenFromEnvironment(env, home);
            this.token = t[0];
            this.tokenSource = t[1];
        }
        this.offline = b.offline != null ? b.offline : isTrue(env.get("HF_HUB_OFFLINE")) || isTrue(env.get("TRANSFORMERS_OFFLINE"));
        this.checkForUpdates = b.checkForUpdates;
        this.metadataTimeout = b.metadataTimeout != null ? b.metadataTimeout : seconds(env.get("HF_HUB_ETAG_TIMEOUT"), 10);
        this.downloadTimeout = b.downloadTimeout != null ? b.downloadTimeout : seconds(env.get("HF_HUB_DOWNLOAD_TIMEOUT"), 10);
        this.http = b.http != null ? b.http : HttpClient.newBuilder()
                .followRedirects(HttpClient.Redirect.NEVER) // followed by hand: headers of each hop matter
                .connectTimeout(metadataTimeout)
                .build();
    }

    /** A client configured from this process's environment. */
    public static HubClient fromEnvironment() {
        return builder().build();
    }

    /** A builder; everything not set comes from the (injectable) environment. */
    public static Builder builder() {
        return new Builder();
    }

    /** The cache files go to. */
    public HfCache cache() {
        return cache;
    }

    /** The Hub endpoint, without trailing slash. */
    public String endpoint() {
        return endpoint.toString();
    }

    /** Whether {@code HF_HUB_OFFLINE} (or the builder) forbids network access. */
    public boolean isOffline() {
        return offline;
    }

    /** Whether a token will be sent. */
    public boolean hasToken() {
        return token != null;
    }

    /** {@code {endpoint}/{repoId}/resolve/{revision}/{filename}}, revision and file URL-encoded. */
    public URI fileUrl(String repoId, String revision, String filename) {
        HfCache.validateRepoId(repoId);
        HfCache.resolveRelative(Path.of("x"), filename); // validates
        StringBuilder path = new StringBuilder();
        for (String seg : filename.split("/")) {
            if (!path.isEmpty()) {
                path.append('/');
            }
            path.append(encode(seg));
        }
        return URI.create(endpoint + "/" + repoId + "/resolve/" + encode(revisionOrMain(revision)) + "/" + path);
    }

    /** {@link #download(String, String, String)} at revision {@code main}. */
    public Path download(String repoId, String filename) {
        return download(repoId, "main", filename);
    }

    /**
     * The local path of {@code filename} from {@code repoId} at {@code revision} (branch, tag or
     * commit hash; {@code null} means {@code main}), downloading it into the cache if needed.
     *
     * @return {@code <cache>/models--ORG--NAME/snapshots/<commit>/<filename>}
     * @throws HubException.NotFound the Hub has no such file (or revision, or repo)
     * @throws HubException.Unauthorized 401/403: private or gated repo, {@code HF_TOKEN} missing or refused
     * @throws HubException.Offline offline and not cached
     * @throws HubException.Network the Hub is unreachable or failed mid-transfer (a partial is kept for resuming)
     * @throws HubException.Integrity the SHA-256 did not match (the partial was deleted)
     */
    public Path download(String repoId, String revision, String filename) {
        return fetch(repoId, revisionOrMain(revision), filename, false);
    }

    /**
     * Like {@link #download(String, String, String)}, but a file the repo does not have is
     * {@link Optional#empty()} rather than an error (for optional files such as
     * {@code tokenizer.json}). Offline, a file absent from an otherwise cached snapshot is also
     * empty. Missing repos or revisions, auth and network failures still throw.
     */
    public Optional<Path> tryDownload(String repoId, String revision, String filename) {
        try {
            return Optional.of(fetch(repoId, revisionOrMain(revision), filename, true));
        } catch (HubException.NotFound e) {
            if (e.missing() == HubException.Missing.FILE) {
                return Optional.empty();
            }
            throw e;
        }
    }

    // ---------------------------------------------------------------------------------------------

    /** What a HEAD of the resolve URL told us. */
    record Metadata(String commit, String etag, long size, URI downloadUri) {}

    private Path fetch(String repoId, String revision, String filename, boolean optional) {
        HfCache.validateRepoId(repoId);
        URI url = fileUrl(repoId, revision, filename);
        boolean pinned = HfCache.COMMIT_HASH.matcher(revision).matches();

        if (!checkForUpdates || pinned || offline) {
            Optional<Path> cached = cache.resolve(repoId, revision, filename);
            if (cached.isPresent()) {
                LOG.fine(() -> "cache hit: " + cached.get());
                return cached.get();
            }
            if ((optional || offline) && cache.isKnownMissing(repoId, revision, filename)) {
                throw new HubException.NotFound(HubException.Missing.FILE, "File '" + filename + "' is not in repo '"
                        + repoId + "' at revision '" + revision + "' (recorded as absent in the cache under "
                        + cache.repoDir(repoId).resolve(".no_exist") + ")");
            }
        }
        if (offline) {
            if (optional && cache.snapshotFor(repoId, revision).isPresent()) {
                throw new HubException.NotFound(HubException.Missing.FILE, "Optional file '" + filename
                        + "' of '" + repoId + "' is not in the cached snapshot and HF_HUB_OFFLINE is set");
            }
            throw new HubException.Offline("HF_HUB_OFFLINE is set and '" + filename + "' of '" + repoId
                    + "' (revision '" + revision + "') is not in the Hugging Face cache at " + cache.cacheDir()
                    + ". Unset HF_HUB_OFFLINE to download it from " + url
                    + ", point HF_HUB_CACHE/HF_HOME at a cache that has it, or pass a local directory holding the model files.");
        }

        Metadata md;
        try {
            md = fetchMetadata(repoId, revision, filename, url);
        } catch (HubException.Network e) {
            if (checkForUpdates && !pinned) {
                Optional<Path> cached = cache.resolve(repoId, revision, filename);
                if (cached.isPresent()) {
                    LOG.warning(() -> "Hub unreachable (" + e.getMessage() + "); using cached " + cached.get());
                    return cached.get();
                }
            }
            throw e;
        }

        cache.writeRef(repoId, revision, md.commit());
        Path pointer = cache.pointerPath(repoId, md.commit(), filename);
        if (Files.isRegularFile(pointer)) {
            return pointer;
        }
        Path blob = cache.blobPath(repoId, md.etag());
        Path lockFile = cache.lockPath(repoId, md.etag());
        ReentrantLock jvmLock = JVM_LOCKS.computeIfAbsent(lockFile, k -> new ReentrantLock());
        jvmLock.lock();
        try {
            Files.createDirectories(lockFile.getParent());
            try (FileChannel ch = FileChannel.open(lockFile, StandardOpenOption.CREATE, StandardOpenOption.WRITE)) {
                FileLock lock = ch.lock();
                try {
                    boolean newBlob = false;
                    if (!Files.isRegularFile(blob)) {
                        downloadBlob(repoId, filename, md, blob);
                        newBlob = true;
                    }
                    return cache.linkSnapshot(repoId, md.commit(), filename, md.etag(), newBlob);
                } finally {
                    lock.release();
                }
            }
        } catch (IOException e) {
            throw new UncheckedIOException("cannot write to the Hugging Face cache at " + cache.cacheDir() + ": " + e.getMessage(), e);
        } finally {
            jvmLock.unlock();
        }
    }

    /** HEAD the resolve URL, following relative redirects only, as huggingface_hub does. */
    Metadata fetchMetadata(String repoId, String revision, String filename, URI url) {
        URI uri = url;
        for (int hop = 0; hop <= MAX_REDIRECTS; hop++) {
            HttpRequest req = request(uri, metadataTimeout).method("HEAD", HttpRequest.BodyPublishers.noBody()).build();
            HttpResponse<Void> r = send(req, HttpResponse.BodyHandlers.discarding(), url);
            int s = r.statusCode();
            if (s >= 300 && s < 400) {
                URI from = uri;
                String location = r.headers().firstValue("Location").orElseThrow(() -> new HubException(
                        "HTTP " + s + " without Location header from " + from));
                URI target = uri.resolve(location.strip());
                boolean relative = !URI.create(location.strip()).isAbsolute();
                if (relative || !hasMetadata(r.headers())) {
                    uri = target; // renamed repo (or a proxy hop): keep asking
                    continue;
                }
                return metadata(r.headers(), revision, target, url);
            }
            if (s >= 200 && s < 300) {
                return metadata(r.headers(), revision, uri, url);
            }
            throw httpError(r.statusCode(), r.headers(), repoId, revision, filename, url);
        }
        throw new HubException("Too many redirects (more than " + MAX_REDIRECTS + ") from " + url);
    }

    private static boolean hasMetadata(HttpHeaders h) {
        return h.firstValue("X-Repo-Commit").isPresent()
                && (h.firstValue("X-Linked-Etag").isPresent() || h.firstValue("ETag").isPresent());
    }

    private Metadata metadata(HttpHeaders h, String revision, URI downloadUri, URI url) {
        String commit = h.firstValue("X-Repo-Commit").map(String::strip).orElse(null);
        if (commit == null && HfCache.COMMIT_HASH.matcher(revision).matches()) {
            commit = revision;
        }
        if (commit == null || !HfCache.COMMIT_HASH.matcher(commit).matches()) {
            throw new HubException("The server at " + url + " did not send a valid X-Repo-Commit header (got '"
                    + commit + "'); is HF_ENDPOINT (" + endpoint + ") a Hugging Face Hub or a faithful mirror?");
        }
        String etag = h.firstValue("X-Linked-Etag").or(() -> h.firstValue("ETag")).map(HubClient::normalizeEtag).orElse(null);
        if (etag == null || etag.isEmpty()) {
            throw new HubException("The server at " + url + " sent no ETag/X-Linked-Etag header; cannot cache the file.");
        }
        long size = parseLong(h.firstValue("X-Linked-Size").orElse(null))
                .orElse(parseLong(h.firstValue("Content-Length").orElse(null)).orElse(-1));
        return new Metadata(commit, etag, size, downloadUri);
    }

    /** Strips a weak-validator prefix and the quotes: {@code W/"abc"} → {@code abc}. */
    static String normalizeEtag(String etag) {
        String e = etag.strip();
        if (e.startsWith("W/")) {
            e = e.substring(2);
        }
        if (e.length() >= 2 && e.startsWith("\"") && e.endsWith("\"")) {
            e = e.substring(1, e.length() - 1);
        }
        return e;
    }

    /** GET the body into {@code blob.incomplete} (resuming), verify, and rename to {@code blob}. */
    private void downloadBlob(String repoId, String filename, Metadata md, Path blob) throws IOException {
        Path partial = blob.resolveSibling(blob.getFileName() + ".incomplete");
        Files.createDirectories(blob.getParent());
        boolean sha = HfCache.SHA256.matcher(md.etag()).matches();
        for (int attempt = 0; ; attempt++) {
            long have = Files.isRegularFile(partial) ? Files.size(partial) : 0;
            if (md.size() >= 0 && have > md.size()) {
                Files.delete(partial);
                have = 0;
            }
            MessageDigest digest = sha ? sha256() : null;
            if (digest != null && have > 0) {
                digestFile(partial, digest);
            }
            long start = have;
            LOG.info(() -> (start > 0 ? "Resuming download of " : "Downloading ") + repoId + "/" + filename
                    + (md.size() >= 0 ? " (" + human(md.size()) + ")" : "")
                    + (start > 0 ? " at byte " + start : "") + " from " + md.downloadUri());
            Outcome outcome = transfer(repoId, filename, md, partial, have, digest);
            if (outcome == Outcome.RESTART && attempt == 0) {
                Files.deleteIfExists(partial);
                continue;
            }
            if (outcome == Outcome.RESTART) {
                throw new HubException.Network("The server keeps refusing the resumed download of " + md.downloadUri()
                        + "; delete " + partial + " and retry", null);
            }
            long got = Files.size(partial);
            if (md.size() >= 0 && got != md.size()) {
                if (got > md.size()) {
                    Files.deleteIfExists(partial);
                }
                throw new HubException.Integrity("Download of '" + filename + "' from " + md.downloadUri() + " got "
                        + got + " bytes but the Hub announced " + md.size()
                        + (got < md.size() ? "; the partial file was kept, retry to resume" : "; the partial file was deleted"));
            }
            if (digest != null) {
                // when the transfer restarted from 0 the digest was reset inside transfer()
                String actual = HexFormat.of().formatHex(digest.digest());
                if (!actual.equals(md.etag())) {
                    Files.deleteIfExists(partial);
                    throw new HubException.Integrity("SHA-256 mismatch for '" + filename + "' of '" + repoId
                            + "' downloaded from " + md.downloadUri() + ": expected " + md.etag() + ", got " + actual
                            + ". The corrupt download was deleted; retry (a proxy or mirror may be altering the file).");
                }
            }
            HfCache.moveAtomically(partial, blob);
            LOG.info(() -> "Downloaded " + repoId + "/" + filename + " -> " + blob);
            return;
        }
    }

    private enum Outcome { DONE, RESTART }

    private Outcome transfer(String repoId, String filename, Metadata md, Path partial, long have, MessageDigest digest)
            throws IOException {
        URI uri = md.downloadUri();
        for (int hop = 0; hop <= MAX_REDIRECTS; hop++) {
            HttpRequest.Builder rb = request(uri, downloadTimeout).GET();
            if (have > 0) {
                rb.header("Range", "bytes=" + have + "-");
            }
            HttpResponse<InputStream> r = send(rb.build(), HttpResponse.BodyHandlers.ofInputStream(), uri);
            int s = r.statusCode();
            try (InputStream body = r.body()) {
                if (s >= 300 && s < 400) {
                    String location = r.headers().firstValue("Location").orElseThrow(() -> new HubException(
                            "HTTP " + s + " without Location header from " + md.downloadUri()));
                    uri = uri.resolve(location.strip());
                    continue;
                }
                boolean append;
                if (s == 206 && have > 0) {
                    long from = contentRangeStart(r.headers().firstValue("Content-Range").orElse(""));
                    if (from != have) {
                        return Outcome.RESTART;
                    }
                    append = true;
                } else if (s == 200) {
                    append = false; // full body: the server ignored or we did not send a Range
                    if (digest != null) {
                        digest.reset();
                    }
                } else if (s == 416 && have > 0) {
                    if (md.size() >= 0 && have == md.size()) {
                        return Outcome.DONE; // the partial already holds every byte
                    }
                    return Outcome.RESTART;
                } else {
                    throw httpError(s, r.headers(), repoId, null, filename, uri);
                }
                copy(body, partial, append, digest, uri, filename);
                return Outcome.DONE;
            }
        }
        throw new HubException("Too many redirects (more than " + MAX_REDIRECTS + ") from " + md.downloadUri());
    }

    private static void copy(InputStream in, Path partial, boolean append, MessageDigest digest, URI uri, String filename)
            throws IOException {
        StandardOpenOption mode = append ? StandardOpenOption.APPEND : StandardOpenOption.TRUNCATE_EXISTING;
        long written = 0;
        try (OutputStream out = Files.newOutputStream(partial, StandardOpenOption.CREATE, StandardOpenOption.WRITE, mode)) {
            byte[] buf = new byte[1 << 16];
            while (true) {
                int n;
                try {
                    n = in.read(buf);
                } catch (IOException e) {
                    throw new HubException.Network("Download of '" + filename + "' from " + uri + " broke off after "
                            + written + " bytes (" + describe(e) + "). The partial file " + partial
                            + " was kept: retry to resume, or set HF_HUB_OFFLINE=1 / pass a local directory.", e);
                }
                if (n < 0) {
                    break;
                }
                out.write(buf, 0, n);
                if (digest != null) {
                    digest.update(buf, 0, n);
                }
                written += n;
            }
        }
    }

    static long contentRangeStart(String contentRange) {
        // "bytes 100-999/1000"
        String v = contentRange.strip();
        if (!v.startsWith("bytes ")) {
            return -1;
        }
        int dash = v.indexOf('-');
        if (dash < 0) {
            return -1;
        }
        return parseLong(v.substring(6, dash).strip()).orElse(-1);
    }

    private HttpRequest.Builder request(URI uri, Duration timeout) {
        HttpRequest.Builder b = HttpRequest.newBuilder(uri)
                .timeout(timeout)
                .header("User-Agent", USER_AGENT)
                .header("Accept-Encoding", "identity");
        if (token != null && sameOrigin(uri, endpoint)) {
            b.header("Authorization", "Bearer " + token);
        }
        return b;
    }

    private <T> HttpResponse<T> send(HttpRequest req, HttpResponse.BodyHandler<T> handler, URI forMessage) {
        try {
            return http.send(req, handler);
        } catch (HttpTimeoutException e) {
            throw new HubException.Network("Timed out after " + req.timeout().map(Duration::toSeconds).orElse(0L)
                    + " s waiting for " + forMessage + advice(), e);
        } catch (IOException e) {
            throw new HubException.Network("Could not reach the Hugging Face Hub at " + forMessage + ": " + describe(e) + advice(), e);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new HubException.Network("Interrupted while requesting " + forMessage, e);
        }
    }

    private String advice() {
        return ". Check the network and HF_ENDPOINT (now " + endpoint + "); set HF_HUB_OFFLINE=1 to use only files "
                + "already in the cache (" + cache.cacheDir() + "), or pass a local directory holding the model files.";
    }

    private HubException httpError(int status, HttpHeaders h, String repoId, String revision, String filename, URI url) {
        String code = h.firstValue("X-Error-Code").orElse("");
        String detail = h.firstValue("X-Error-Message").map(m -> " (Hub says: " + m + ")").orElse("");
        String rev = revision == null ? "" : " at revision '" + revision + "'";
        switch (status) {
            case 404 -> {
                if (code.equals("RepoNotFound")) {
                    return new HubException.NotFound(HubException.Missing.REPO, "Repository '" + repoId + "' not found on "
                            + endpoint + " (" + url + ")" + detail + ". Check the name; a private repo also needs HF_TOKEN.");
                }
                if (code.equals("RevisionNotFound")) {
                    return new HubException.NotFound(HubException.Missing.REVISION, "Revision '" + revision
                            + "' not found in repo '" + repoId + "' (" + url + ")" + detail);
                }
                String commit = h.firstValue("X-Repo-Commit").map(String::strip).orElse(null);
                if (revision != null && commit != null && HfCache.COMMIT_HASH.matcher(commit).matches()
                        && (code.isEmpty() || code.equals("EntryNotFound"))) {
                    try {
                        cache.writeRef(repoId, revision, commit);
                        cache.markMissing(repoId, commit, filename);
                    } catch (RuntimeException e) {
                        LOG.log(Level.FINE, "cannot record missing file", e);
                    }
                }
                return new HubException.NotFound(HubException.Missing.FILE, "File '" + filename + "' not found in repo '"
                        + repoId + "'" + rev + " (HTTP 404 from " + url + ")" + detail);
            }
            case 401 -> {
                String who = token == null
                        ? "No token was sent: set HF_TOKEN to an access token with read access (https://huggingface.co/settings/tokens)."
                        : "The token from " + tokenSource + " was refused: check that it is valid and can read this repo.";
                return new HubException.Unauthorized("HTTP 401 Unauthorized for " + url + detail + ": repo '" + repoId
                        + "' is private or gated, or does not exist (the Hub answers 401 for unknown repos). " + who);
            }
            case 403 -> {
                String who = token == null
                        ? " No token was sent: set HF_TOKEN."
                        : " Use a token (HF_TOKEN, now from " + tokenSource + ") of an account that was granted access.";
                return new HubException.Unauthorized("HTTP 403 Forbidden for " + url + detail + ": repo '" + repoId
                        + "' is gated or restricted" + (code.isEmpty() ? "" : " (" + code + ")")
                        + "; request access on its page at " + endpoint + "/" + repoId + "." + who);
            }
            default -> {
                if (status == 429 || status >= 500) {
                    return new HubException.Network("The Hub answered HTTP " + status + " for " + url + detail + advice(), null);
                }
                return new HubException("Unexpected HTTP " + status + " from " + url + detail);
            }
        }
    }

    // ---------------------------------------------------------------------------------------------

    private static String[] tokenFromEnvironment(Map<String, String> env, Path home) {
        String t = HfCache.nonBlank(env.get("HF_TOKEN"));
        if (t != null) {
            return new String[] {t, "HF_TOKEN"};
        }
        t = HfCache.nonBlank(env.get("HUGGING_FACE_HUB_TOKEN"));
        if (t != null) {
            return new String[] {t, "HUGGING_FACE_HUB_TOKEN"};
        }
        String p = HfCache.nonBlank(env.get("HF_TOKEN_PATH"));
        Path file = p != null ? HfCache.expandHome(p, home) : HfCache.hfHome(env, home).resolve("token");
        try {
            if (Files.isRegularFile(file)) {
                t = HfCache.nonBlank(Files.readString(file, StandardCharsets.UTF_8));
                if (t != null) {
                    return new String[] {t, file.toString()};
                }
            }
        } catch (IOException | SecurityException e) {
            LOG.log(Level.FINE, "cannot read token file " + file, e);
        }
        return new String[] {null, "HF_TOKEN"};
    }

    static boolean isTrue(String v) {
        if (v == null) {
            return false;
        }
        return switch (v.strip().toUpperCase(Locale.ROOT)) {
            case "1", "ON", "YES", "TRUE" -> true;
            default -> false;
        };
    }

    private static Duration seconds(String v, long dflt) {
        try {
            if (v != null && !v.isBlank()) {
                double d = Double.parseDouble(v.strip());
                if (d > 0) {
                    return Duration.ofMillis((long) (d * 1000));
                }
            }
        } catch (NumberFormatException e) {
            // default
        }
        return Duration.ofSeconds(dflt);
    }

    private static OptionalLong parseLong(String v) {
        if (v == null) {
            return OptionalLong.empty();
        }
        try {
            return OptionalLong.of(Long.parseLong(v.strip()));
        } catch (NumberFormatException e) {
            return OptionalLong.empty();
        }
    }

    private static boolean sameOrigin(URI a, URI b) {
        return Objects.equals(lower(a.getScheme()), lower(b.getScheme()))
                && Objects.equals(lower(a.getHost()), lower(b.getHost()))
                && port(a) == port(b);
    }

    private static String lower(String s) {
        return s == null ? null : s.toLowerCase(Locale.ROOT);
    }

    private static int port(URI u) {
        if (u.getPort() >= 0) {
            return u.getPort();
        }
        return "https".equalsIgnoreCase(u.getScheme()) ? 443 : 80;
    }

    static String revisionOrMain(String revision) {
        return revision == null || revision.isBlank() ? "main" : revision;
    }

    private static String encode(String s) {
        return URLEncoder.encode(s, StandardCharsets.UTF_8).replace("+", "%20");
    }

    static String describe(Throwable e) {
        StringBuilder sb = new StringBuilder();
        for (Throwable t = e; t != null && sb.length() < 400; t = t.getCause()) {
            if (!sb.isEmpty()) {
                sb.append(" <- ");
            }
            sb.append(t.getClass().getSimpleName());
            if (t.getMessage() != null) {
                sb.append(": ").append(t.getMessage());
            }
            if (t.getCause() == t) {
                break;
            }
        }
        return sb.toString();
    }

    private static MessageDigest sha256() {
        try {
            return MessageDigest.getInstance("SHA-256");
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException(e);
        }
    }

    private static void digestFile(Path file, MessageDigest digest) throws IOException {
        try (InputStream in = Files.newInputStream(file)) {
            byte[] buf = new byte[1 << 16];
            int n;
            while ((n = in.read(buf)) > 0) {
                digest.update(buf, 0, n);
            }
        }
    }

    static String human(long bytes) {
        if (bytes < 1024) {
            return bytes + " B";
        }
        String[] units = {"KiB", "MiB", "GiB", "TiB"};
        double v = bytes;
        int u = -1;
        while (v >= 1024 && u < units.length - 1) {
            v /= 1024;
            u++;
        }
        return String.format(Locale.ROOT, "%.1f %s", v, units[u]);
    }

    /** Configures a {@link HubClient}; unset values come from the environment. */
    public static final class Builder extends EnvironmentBuilder<Builder> {
        private HfCache cache;
        private String endpoint;
        private String token;
        private Boolean offline;
        private boolean checkForUpdates;
        private HttpClient http;
        private Duration metadataTimeout;
        private Duration downloadTimeout;

        private Builder() {}

        /** The cache (default from {@code HF_HUB_CACHE}/{@code HF_HOME}). */
        public Builder cache(HfCache cache) {
            this.cache = cache;
            return this;
        }

        /** The Hub URL (default {@code HF_ENDPOINT}, else {@value HubClient#DEFAULT_ENDPOINT}). */
        public Builder endpoint(String endpoint) {
            this.endpoint = endpoint;
            return this;
        }

        /** The access token (default {@code HF_TOKEN}, then the token file). */
        public Builder token(String token) {
            this.token = token;
            return this;
        }

        /** Forbid network access (default {@code HF_HUB_OFFLINE}). */
        public Builder offline(boolean offline) {
            this.offline = offline;
            return this;
        }

        /**
         * Ask the Hub where a branch or tag points even when the cache has the file (Python's
         * default behaviour), falling back to the cache when the Hub is unreachable. Default
         * {@code false}: a cached file is used without any request.
         */
        public Builder checkForUpdates(boolean check) {
            this.checkForUpdates = check;
            return this;
        }

        /** The HTTP client; it must not follow redirects itself. */
        public Builder httpClient(HttpClient http) {
            this.http = http;
            return this;
        }

        /** Timeout of the metadata request (default {@code HF_HUB_ETAG_TIMEOUT}, 10 s). */
        public Builder metadataTimeout(Duration t) {
            this.metadataTimeout = t;
            return this;
        }

        /** Timeout until a download's response headers arrive (default {@code HF_HUB_DOWNLOAD_TIMEOUT}, 10 s). */
        public Builder downloadTimeout(Duration t) {
            this.downloadTimeout = t;
            return this;
        }

        public HubClient build() {
            return new HubClient(this);
        }
    }
}
