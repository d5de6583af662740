package dev.solder.hub;

import com.sun.net.httpserver.HttpExchange;
import com.sun.net.httpserver.HttpServer;
import java.io.IOException;
import java.io.OutputStream;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.URLDecoder;
import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.util.ArrayList;
import java.util.Collections;
import java.util.HexFormat;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * A local stand-in for the Hugging Face Hub's resolve endpoint, with the headers the real one
 * sends: {@code X-Repo-Commit}, {@code ETag} (git SHA-1) for small files, and for "LFS" files a
 * 302 to {@code /lfs/<sha256>} carrying {@code X-Linked-Etag}/{@code X-Linked-Size}; the LFS path
 * honours {@code Range}. 404s carry {@code X-Error-Code}; private repos answer 401 without the
 * right Bearer token. Every request is counted and recorded.
 */
final class FakeHub implements AutoCloseable {

    static final class Repo {
        final String commit;
        final Map<String, byte[]> files = new LinkedHashMap<>();
        final java.util.Set<String> lfs = ConcurrentHashMap.newKeySet();
        String requiredToken;
        boolean gated;

        Repo(String commit) {
            this.commit = commit;
        }

        Repo file(String name, byte[] content) {
            files.put(name, content);
            return this;
        }

        Repo file(String name, String content) {
            return file(name, content.getBytes(StandardCharsets.UTF_8));
        }

        Repo lfsFile(String name, byte[] content) {
            files.put(name, content);
            lfs.add(name);
            return this;
        }
    }

    final HttpServer server;
    final Map<String, Repo> repos = new ConcurrentHashMap<>();
    /** Renamed repos: old id → new id (answered with a relative 307, as the Hub does). */
    final Map<String, String> renamed = new ConcurrentHashMap<>();
    final Map<String, byte[]> lfsObjects = new ConcurrentHashMap<>();
    /** Plain files served by path (e.g. a fake Maven Central under /maven2/). */
    final Map<String, byte[]> staticFiles = new ConcurrentHashMap<>();
    final AtomicInteger hits = new AtomicInteger();
    final AtomicLong lfsBytesSent = new AtomicLong();
    final List<String> log = Collections.synchronizedList(new ArrayList<>());
    final List<String> rangeHeaders = Collections.synchronizedList(new ArrayList<>());
    final List<String> authHeaders = Collections.synchronizedList(new ArrayList<>());
    /** When set, LFS bodies are served with this byte flipped (a corrupting proxy). */
    volatile int corruptAt = -1;

    FakeHub() throws IOException {
        server = HttpServer.create(new InetSocketAddress(InetAddress.getLoopbackAddress(), 0), 0);
        server.createContext("/", this::handle);
        server.start();
    }

    String endpoint() {
        return "http://127.0.0.1:" + server.getAddress().getPort();
    }

    Repo repo(String id, String commit) {
        Repo r = new Repo(commit);
        repos.put(id, r);
        return r;
    }

    static final Pattern RESOLVE = Pattern.compile("^/(.+?)/resolve/([^/]+)/(.+)$");

    private void handle(HttpExchange ex) throws IOException {
        hits.incrementAndGet();
        String method = ex.getRequestMethod();
        String path = ex.getRequestURI().getRawPath();
        log.add(method + " " + path);
        authHeaders.add(String.valueOf(ex.getRequestHeaders().getFirst("Authorization")));
        try (ex) {
            if (staticFiles.containsKey(path)) {
                byte[] b = staticFiles.get(path);
                send(ex, 200, b.length);
                if (!method.equals("HEAD")) {
                    try (OutputStream out = ex.getResponseBody()) {
                        out.write(b);
                    }
                }
                return;
            }
            if (path.startsWith("/lfs/")) {
                serveLfs(ex, path.substring(5));
                return;
            }
            Matcher m = RESOLVE.matcher(path);
            if (!m.matches()) {
                send(ex, 404, -1);
                return;
            }
            String repoId = m.group(1);
            String rev = URLDecoder.decode(m.group(2), StandardCharsets.UTF_8);
            String file = URLDecoder.decode(m.group(3), StandardCharsets.UTF_8);
            if (renamed.containsKey(repoId)) {
                ex.getResponseHeaders().set("Location", "/" + renamed.get(repoId) + "/resolve/" + m.group(2) + "/" + m.group(3));
                send(ex, 307, -1);
                return;
            }
            Repo repo = repos.get(repoId);
            if (repo == null) {
                ex.getResponseHeaders().set("X-Error-Code", "RepoNotFound");
                send(ex, 401, -1); // the Hub answers 401 for unknown repos without a token
                return;
            }
            if (repo.requiredToken != null
                    && !("Bearer " + repo.requiredToken).equals(ex.getRequestHeaders().getFirst("Authorization"))) {
                if (repo.gated) {
                    ex.getResponseHeaders().set("X-Error-Code", "GatedRepo");
                    send(ex, 403, -1);
                } else {
                    send(ex, 401, -1);
                }
                return;
            }
            if (!rev.equals("main") && !rev.equals(repo.commit)) {
                ex.getResponseHeaders().set("X-Error-Code", "RevisionNotFound");
                send(ex, 404, -1);
                return;
            }
            ex.getResponseHeaders().set("X-Repo-Commit", repo.commit);
            byte[] content = repo.files.get(file);
            if (content == null) {
                ex.getResponseHeaders().set("X-Error-Code", "EntryNotFound");
                ex.getResponseHeaders().set("X-Error-Message", "Entry not found");
                send(ex, 404, -1);
                return;
            }
            if (repo.lfs.contains(file)) {
                String sha = sha256(content);
                lfsObjects.put(sha, content);
                ex.getResponseHeaders().set("X-Linked-Etag", "\"" + sha + "\"");
                ex.getResponseHeaders().set("X-Linked-Size", Long.toString(content.length));
                ex.getResponseHeaders().set("ETag", "\"" + gitSha1(content) + "\""); // the pointer file's, ignored
                ex.getResponseHeaders().set("Location", endpoint() + "/lfs/" + sha + "?signed=1");
                send(ex, 302, -1);
                return;
            }
            ex.getResponseHeaders().set("ETag", "\"" + gitSha1(content) + "\"");
            if (method.equals("HEAD")) {
                ex.getResponseHeaders().set("Content-Length", Integer.toString(content.length));
                send(ex, 200, -1);
            } else {
                send(ex, 200, content.length);
                try (OutputStream out = ex.getResponseBody()) {
                    out.write(content);
                }
            }
        }
    }

    private void serveLfs(HttpExchange ex, String sha) throws IOException {
        byte[] content = lfsObjects.get(sha);
        if (content == null) {
            send(ex, 404, -1);
            return;
        }
        if (corruptAt >= 0) {
            content = content.clone();
            content[corruptAt] ^= 0x5a;
        }
        String range = ex.getRequestHeaders().getFirst("Range");
        rangeHeaders.add(String.valueOf(range));
        int from = 0;
        int status = 200;
        if (range != null) {
            Matcher m = Pattern.compile("^bytes=(\\d+)-$").matcher(range.strip());
            if (!m.matches()) {
                send(ex, 400, -1);
                return;
            }
            from = Integer.parseInt(m.group(1));
            if (from >= content.length) {
                ex.getResponseHeaders().set("Content-Range", "bytes */" + content.length);
                send(ex, 416, -1);
                return;
            }
            status = 206;
            ex.getResponseHeaders().set("Content-Range", "bytes " + from + "-" + (content.length - 1) + "/" + content.length);
        }
        int len = content.length - from;
        // Counted before the body goes out: the client can read the last byte and the test check
        // the count before this server thread gets past the close (a race that failed CI once).
        lfsBytesSent.addAndGet(len);
        send(ex, status, len);
        try (OutputStream out = ex.getResponseBody()) {
            out.write(content, from, len);
        }
    }

    private static void send(HttpExchange ex, int status, long len) throws IOException {
        ex.sendResponseHeaders(status, ex.getRequestMethod().equals("HEAD") ? -1 : (len < 0 ? -1 : (len == 0 ? -1 : len)));
    }

    static String sha256(byte[] b) {
        try {
            return HexFormat.of().formatHex(MessageDigest.getInstance("SHA-256").digest(b));
        } catch (Exception e) {
            throw new IllegalStateException(e);
        }
    }

    /** The git blob id, which is what the Hub sends as ETag for non-LFS files. */
    static String gitSha1(byte[] b) {
        try {
            MessageDigest md = MessageDigest.getInstance("SHA-1");
            md.update(("blob " + b.length + "\0").getBytes(StandardCharsets.UTF_8));
            md.update(b);
            return HexFormat.of().formatHex(md.digest());
        } catch (Exception e) {
            throw new IllegalStateException(e);
        }
    }

    @Override
    public void close() {
        server.stop(0);
    }
}
