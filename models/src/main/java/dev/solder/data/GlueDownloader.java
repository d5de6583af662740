package dev.solder.data;

import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.io.PrintStream;
import java.io.UncheckedIOException;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.AtomicMoveNotSupportedException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.time.Duration;
import java.util.Comparator;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.stream.Stream;
import java.util.zip.ZipEntry;
import java.util.zip.ZipInputStream;

/**
 * Downloads the official GLUE task zips ({@code https://dl.fbaipublicfiles.com/glue/data/TASK.zip},
 * the files HF's {@code datasets} GLUE script and {@code download_glue_data.py} use) into a cache
 * folder, once, and returns the folder holding the task's TSV files.
 *
 * <p>Cache: {@code $SOLDER_CACHE/glue/TASK/}, default {@code ~/.cache/solder/glue/TASK/}. A task is
 * extracted into a temporary sibling and renamed into place, so a folder that exists is complete.
 * The base URL comes from {@code SOLDER_GLUE_URL} (or {@link #GlueDownloader(String, Path)}), so a
 * mirror or a local server can stand in. With {@code SOLDER_OFFLINE=1} or
 * {@code HF_DATASETS_OFFLINE=1} nothing is fetched. When the download fails the error says how to
 * pass the files with {@code --data-dir}.
 *
 * <p>MRPC has no zip: as the GLUE script does, {@code msr_paraphrase_train.txt} is split into
 * {@code train.tsv} and {@code dev.tsv} by {@code mrpc_dev_ids.tsv}.
 */
public final class GlueDownloader {
    /** Where the GLUE zips live. */
    public static final String DEFAULT_BASE_URL = "https://dl.fbaipublicfiles.com/glue/data";
    static final String MRPC_TRAIN_URL = "https://dl.fbaipublicfiles.com/senteval/senteval_data/msr_paraphrase_train.txt";

    private final String baseUrl;
    private final Path cacheDir;
    private final boolean offline;
    private final boolean customBase;
    private PrintStream log = System.err;

    /** A downloader with an explicit base URL (the folder holding {@code TASK.zip}) and cache folder. */
    public GlueDownloader(String baseUrl, Path cacheDir) {
        this(baseUrl, cacheDir, false);
    }

    private GlueDownloader(String baseUrl, Path cacheDir, boolean offline) {
        this.customBase = baseUrl != null && !baseUrl.isBlank();
        String b = customBase ? baseUrl : DEFAULT_BASE_URL;
        this.baseUrl = b.endsWith("/") ? b.substring(0, b.length() - 1) : b;
        this.cacheDir = cacheDir;
        this.offline = offline;
    }

    /** Configured from {@code SOLDER_GLUE_URL}, {@code SOLDER_CACHE} and the offline switches of the environment. */
    public static GlueDownloader fromEnvironment() {
        return fromEnvironment(System.getenv(), null);
    }

    /** As {@link #fromEnvironment()}, with {@code urlOverride} (e.g. a command-line option) winning when set. */
    public static GlueDownloader fromEnvironment(Map<String, String> env, String urlOverride) {
        String url = urlOverride != null ? urlOverride : env.get("SOLDER_GLUE_URL");
        String cache = env.get("SOLDER_CACHE");
        Path root = cache != null && !cache.isBlank() ? Path.of(cache)
                : Path.of(System.getProperty("user.home"), ".cache", "solder");
        boolean off = isTrue(env.get("SOLDER_OFFLINE")) || isTrue(env.get("HF_DATASETS_OFFLINE"));
        return new GlueDownloader(url, root.resolve("glue"), off);
    }

    private static boolean isTrue(String v) {
        return v != null && (v.equals("1") || v.equalsIgnoreCase("true") || v.equalsIgnoreCase("yes") || v.equalsIgnoreCase("on"));
    }

    /** Where progress lines go (stderr by default). */
    public GlueDownloader log(PrintStream out) {
        this.log = out;
        return this;
    }

    public Path cacheDir() {
        return cacheDir;
    }

    public String baseUrl() {
        return baseUrl;
    }

    /** The task's folder in the cache, downloading and extracting it first if it is not there. */
    public Path ensure(GlueTask task) {
        Path dir = cacheDir.resolve(task.dirName());
        if (complete(task, dir)) {
            return dir;
        }
        if (offline) {
            throw new DataException("GLUE " + task.dirName() + " is not in the cache " + dir + " and downloads are off "
                    + "(SOLDER_OFFLINE / HF_DATASETS_OFFLINE)." + howToPass(task));
        }
        try {
            Files.createDirectories(cacheDir);
            Path tmp = Files.createTempDirectory(cacheDir, "." + task.dirName() + ".tmp-");
            try {
                if (task == GlueTask.MRPC) {
                    fetchMrpc(tmp);
                } else {
                    String url = baseUrl + "/" + task.zipName();
                    Path zip = tmp.resolve(task.zipName());
                    download(task, url, zip);
                    unzip(task, url, zip, tmp);
                    Files.delete(zip);
                }
                Path extracted = tmp.resolve(task.dirName());
                if (!complete(task, extracted)) {
                    throw new DataException("the GLUE " + task.dirName() + " download did not contain " + task.dirName() + "/"
                            + String.join(", " + task.dirName() + "/", List.of(task.trainFile(), task.devFile())) + howToPass(task));
                }
                try {
                    Files.move(extracted, dir, StandardCopyOption.ATOMIC_MOVE);
                } catch (AtomicMoveNotSupportedException e) {
                    Files.move(extracted, dir);
                } catch (IOException e) {
                    if (!complete(task, dir)) {   // another process may have won the race
                        throw e;
                    }
                }
            } finally {
                deleteTree(tmp);
            }
            log.println("glue: " + task.dirName() + " ready in " + dir);
            return dir;
        } catch (IOException e) {
            throw new UncheckedIOException("cannot write the GLUE cache " + cacheDir + ": " + e.getMessage(), e);
        }
    }

    private static boolean complete(GlueTask task, Path dir) {
        return Files.isRegularFile(dir.resolve(task.trainFile())) && Files.isRegularFile(dir.resolve(task.devFile()));
    }

    private String howToPass(GlueTask task) {
        return " Download the GLUE data another way (e.g. download_glue_data.py) and pass --data-dir DIR, a folder holding "
                + Glue.expectedFiles(task) + ", or set SOLDER_GLUE_URL to a mirror of " + DEFAULT_BASE_URL + ".";
    }

    private void download(GlueTask task, String url, Path to) {
        log.println("glue: downloading " + url);
        HttpClient http = HttpClient.newBuilder().followRedirects(HttpClient.Redirect.NORMAL)
                .connectTimeout(Duration.ofSeconds(20)).build();
        try {
            HttpRequest req = HttpRequest.newBuilder(URI.create(url)).timeout(Duration.ofMinutes(30)).GET().build();
            HttpResponse<InputStream> resp = http.send(req, HttpResponse.BodyHandlers.ofInputStream());
            try (InputStream in = resp.body()) {
                if (resp.statusCode() != 200) {
                    throw new DataException("cannot download GLUE " + task.dirName() + ": " + url + " answered HTTP "
                            + resp.statusCode() + "." + howToPass(task));
                }
                try (OutputStream out = Files.newOutputStream(to)) {
                    in.transferTo(out);
                }
            }
        } catch (IOException e) {
            throw new DataException("cannot download GLUE " + task.dirName() + " from " + url + " (" + e.getClass().getSimpleName()
                    + (e.getMessage() != null ? ": " + e.getMessage() : "") + "). Offline?" + howToPass(task), e);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new DataException("download of " + url + " interrupted", e);
        } catch (IllegalArgumentException e) {
            throw new DataException("bad GLUE download URL '" + url + "': " + e.getMessage(), e);
        }
    }

    /** Extracts the entries under {@code TASK/} (others, e.g. {@code __MACOSX/}, are ignored), refusing paths that leave the folder. */
    private static void unzip(GlueTask task, String url, Path zip, Path into) throws IOException {
        Path root = into.toAbsolutePath().normalize();
        Set<String> seen = new HashSet<>();
        try (ZipInputStream zin = new ZipInputStream(Files.newInputStream(zip))) {
            ZipEntry e;
            while ((e = zin.getNextEntry()) != null) {
                String name = e.getName();
                if (!name.startsWith(task.dirName() + "/")) {
                    continue;
                }
                Path target = root.resolve(name).normalize();
                if (!target.startsWith(root)) {
                    throw new DataException(url + ": zip entry '" + name + "' points outside the extraction folder");
                }
                if (e.isDirectory()) {
                    Files.createDirectories(target);
                } else if (seen.add(name)) {
                    Files.createDirectories(target.getParent());
                    Files.copy(zin, target, StandardCopyOption.REPLACE_EXISTING);
                }
            }
        } catch (java.util.zip.ZipException e) {
            throw new DataException(url + " is not a valid zip: " + e.getMessage(), e);
        }
    }

    private void fetchMrpc(Path tmp) throws IOException {
        String trainUrl = customBase ? baseUrl + "/msr_paraphrase_train.txt" : MRPC_TRAIN_URL;
        String idsUrl = baseUrl + "/mrpc_dev_ids.tsv";
        Path msr = tmp.resolve("msr_paraphrase_train.txt");
        Path ids = tmp.resolve("mrpc_dev_ids.tsv");
        download(GlueTask.MRPC, trainUrl, msr);
        download(GlueTask.MRPC, idsUrl, ids);
        Set<String> dev = new HashSet<>();
        for (String l : Files.readAllLines(ids, StandardCharsets.UTF_8)) {
            String[] c = l.strip().split("\t");
            if (c.length == 2) {
                dev.add(c[0] + "\t" + c[1]);
            }
        }
        Path out = tmp.resolve("MRPC");
        Files.createDirectories(out);
        // As download_glue_data.py: the header, then each row to dev when its id pair is listed.
        List<String> lines = Files.readAllLines(msr, StandardCharsets.UTF_8);
        if (lines.isEmpty()) {
            throw new DataException(trainUrl + " is empty");
        }
        String header = lines.get(0).replace("\uFEFF", "");
        StringBuilder tr = new StringBuilder(header).append('\n');
        StringBuilder dv = new StringBuilder(header).append('\n');
        for (String l : lines.subList(1, lines.size())) {
            String[] c = l.strip().split("\t");
            if (c.length < 5) {
                continue;
            }
            String row = String.join("\t", c[0], c[1], c[2], c[3], c[4]) + "\n";
            (dev.contains(c[1] + "\t" + c[2]) ? dv : tr).append(row);
        }
        Files.writeString(out.resolve("train.tsv"), tr, StandardCharsets.UTF_8);
        Files.writeString(out.resolve("dev.tsv"), dv, StandardCharsets.UTF_8);
        Files.delete(msr);
        Files.delete(ids);
    }

    static void deleteTree(Path p) {
        if (!Files.exists(p)) {
            return;
        }
        try (Stream<Path> s = Files.walk(p)) {
            for (Path q : s.sorted(Comparator.reverseOrder()).toList()) {
                Files.deleteIfExists(q);
            }
        } catch (IOException ignored) {
            // best effort: a leftover temp folder is ignored by ensure()
        }
    }
}
