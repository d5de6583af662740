package dev.solder.data;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.sun.net.httpserver.HttpServer;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.PrintStream;
import java.net.InetSocketAddress;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Map;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.zip.ZipEntry;
import java.util.zip.ZipOutputStream;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Download of a GLUE-like zip from a local HTTP server into the cache. */
class GlueDownloaderTest {
    @TempDir
    Path cache;
    private HttpServer server;
    private final AtomicInteger hits = new AtomicInteger();
    private String base;

    @BeforeEach
    void start() throws IOException {
        byte[] zip = rteZip();
        server = HttpServer.create(new InetSocketAddress("127.0.0.1", 0), 0);
        server.createContext("/glue/", ex -> {
            hits.incrementAndGet();
            if (ex.getRequestURI().getPath().equals("/glue/RTE.zip")) {
                ex.sendResponseHeaders(200, zip.length);
                ex.getResponseBody().write(zip);
            } else {
                ex.sendResponseHeaders(404, -1);
            }
            ex.close();
        });
        server.start();
        base = "http://127.0.0.1:" + server.getAddress().getPort() + "/glue";
    }

    @AfterEach
    void stop() {
        server.stop(0);
    }

    private static byte[] rteZip() throws IOException {
        var bytes = new ByteArrayOutputStream();
        try (var z = new ZipOutputStream(bytes)) {
            z.putNextEntry(new ZipEntry("RTE/"));
            z.closeEntry();
            z.putNextEntry(new ZipEntry("RTE/train.tsv"));
            z.write("index\tsentence1\tsentence2\tlabel\n0\tA dog runs.\tAn animal runs.\tentailment\n"
                    .getBytes(StandardCharsets.UTF_8));
            z.closeEntry();
            z.putNextEntry(new ZipEntry("RTE/dev.tsv"));
            z.write("index\tsentence1\tsentence2\tlabel\n0\tA cat.\tA dog.\tnot_entailment\n".getBytes(StandardCharsets.UTF_8));
            z.closeEntry();
            z.putNextEntry(new ZipEntry("__MACOSX/RTE/._train.tsv"));
            z.write(new byte[] {0, 1, 2});
            z.closeEntry();
        }
        return bytes.toByteArray();
    }

    @Test
    void downloadsOnceAndExtracts() {
        var log = new ByteArrayOutputStream();
        GlueDownloader d = GlueDownloader.fromEnvironment(Map.of("SOLDER_CACHE", cache.toString()), base)
                .log(new PrintStream(log, true, StandardCharsets.UTF_8));
        Path dir = d.ensure(GlueTask.RTE);
        assertEquals(cache.resolve("glue").resolve("RTE"), dir);
        assertTrue(Files.isRegularFile(dir.resolve("train.tsv")));
        assertTrue(Files.notExists(cache.resolve("glue").resolve("__MACOSX")));
        Dataset train = Glue.read(GlueTask.RTE, dir.resolve("train.tsv"), ReadOptions.all());
        assertEquals("An animal runs.", train.get(0).textB());
        assertEquals(1, hits.get());
        d.ensure(GlueTask.RTE);                       // cached: no second request
        assertEquals(1, hits.get());
        assertTrue(log.toString(StandardCharsets.UTF_8).contains(base + "/RTE.zip"));
    }

    @Test
    void environmentUrlIsUsed() {
        GlueDownloader d = GlueDownloader.fromEnvironment(Map.of("SOLDER_CACHE", cache.toString(), "SOLDER_GLUE_URL", base), null)
                .log(new PrintStream(new ByteArrayOutputStream(), true, StandardCharsets.UTF_8));
        assertEquals(base, d.baseUrl());
        assertTrue(Files.isDirectory(d.ensure(GlueTask.RTE)));
    }

    @Test
    void missingFileOnServerAndOfflineSayHowToPassDataDir() {
        GlueDownloader d = GlueDownloader.fromEnvironment(Map.of("SOLDER_CACHE", cache.toString()), base)
                .log(new PrintStream(new ByteArrayOutputStream(), true, StandardCharsets.UTF_8));
        DataException e = assertThrows(DataException.class, () -> d.ensure(GlueTask.SST2));
        assertTrue(e.getMessage().contains("HTTP 404"), e.getMessage());
        assertTrue(e.getMessage().contains("--data-dir"), e.getMessage());

        // Nothing listens on this port: a connection error becomes the offline message.
        GlueDownloader dead = GlueDownloader.fromEnvironment(Map.of("SOLDER_CACHE", cache.toString()), "http://127.0.0.1:9/glue")
                .log(new PrintStream(new ByteArrayOutputStream(), true, StandardCharsets.UTF_8));
        e = assertThrows(DataException.class, () -> dead.ensure(GlueTask.MNLI));
        assertTrue(e.getMessage().contains("Offline?"), e.getMessage());
        assertTrue(e.getMessage().contains("--data-dir DIR, a folder holding train.tsv, dev_matched.tsv, dev_mismatched.tsv"),
                e.getMessage());

        GlueDownloader off = GlueDownloader.fromEnvironment(Map.of("SOLDER_CACHE", cache.toString(), "SOLDER_OFFLINE", "1"), base);
        e = assertThrows(DataException.class, () -> off.ensure(GlueTask.QNLI));
        assertTrue(e.getMessage().contains("downloads are off"), e.getMessage());
        assertEquals(1, hits.get());   // only the SST-2 request (404) reached the server
    }
}
