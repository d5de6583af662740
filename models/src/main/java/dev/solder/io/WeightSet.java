package dev.solder.io;

import java.lang.foreign.Arena;
import java.nio.file.Path;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.NoSuchElementException;
import java.util.Objects;
import java.util.Optional;
import java.util.Set;
import java.util.stream.Collectors;

/**
 * The tensors read from one checkpoint, in file order, together with the {@link Arena} that owns
 * their bytes (memory maps or copies).
 *
 * <p>Closing the set closes the arena: every {@link RawTensor#data()} of the set becomes
 * inaccessible (using it then throws {@link IllegalStateException}; it never touches freed
 * memory). Copy what must outlive the set before closing it.
 *
 * <pre>{@code
 * try (WeightSet w = TfCheckpointReader.read(Path.of("variables/variables"))) {
 *     for (RawTensor t : w.tensors().values()) {
 *         System.out.println(t);                           // name dtype[shape]
 *     }
 * }
 * }</pre>
 */
public final class WeightSet implements AutoCloseable {
    private final Path source;
    private final String format;
    private final Arena arena;
    private final Map<String, RawTensor> tensors;
    private final Map<String, String> metadata;
    private volatile boolean closed;

    /**
     * @param source the file or directory read, for messages
     * @param format a short format name ({@code safetensors}, {@code pytorch}, {@code tensorflow})
     * @param arena owner of the tensors' memory, closed with this set; may be {@code null} when the
     *     data is owned elsewhere
     * @param tensors the tensors in file order; keys must equal the tensors' names
     * @param metadata free-form string metadata of the file (e.g. safetensors {@code __metadata__})
     */
    public WeightSet(Path source, String format, Arena arena, Map<String, RawTensor> tensors,
            Map<String, String> metadata) {
        this.source = source;
        this.format = Objects.requireNonNull(format, "format");
        this.arena = arena;
        for (Map.Entry<String, RawTensor> e : tensors.entrySet()) {
            if (!e.getKey().equals(e.getValue().name())) {
                throw new IllegalArgumentException("key '" + e.getKey() + "' holds tensor '"
                        + e.getValue().name() + "'");
            }
        }
        this.tensors = Collections.unmodifiableMap(new LinkedHashMap<>(tensors));
        this.metadata = Collections.unmodifiableMap(new LinkedHashMap<>(metadata));
    }

    /** The file or directory the tensors came from. */
    public Path source() {
        return source;
    }

    /** {@code safetensors}, {@code pytorch} or {@code tensorflow}. */
    public String format() {
        return format;
    }

    /** Name → tensor, in file order (unmodifiable). */
    public Map<String, RawTensor> tensors() {
        return tensors;
    }

    /** The tensor names, in file order. */
    public Set<String> names() {
        return tensors.keySet();
    }

    /** Free-form metadata of the file (empty when the format has none). */
    public Map<String, String> metadata() {
        return metadata;
    }

    /** Number of tensors. */
    public int size() {
        return tensors.size();
    }

    /** True when a tensor of that name exists. */
    public boolean contains(String name) {
        return tensors.containsKey(name);
    }

    /** The tensor of that name, if present. */
    public Optional<RawTensor> find(String name) {
        return Optional.ofNullable(tensors.get(name));
    }

    /**
     * The tensor of that name.
     *
     * @throws NoSuchElementException naming the source and a few names that share the last path
     *     component, which is usually the mistake (a prefix such as {@code bert.} or {@code module/})
     */
    public RawTensor get(String name) {
        RawTensor t = tensors.get(name);
        if (t == null) {
            String leaf = name.substring(Math.max(name.lastIndexOf('.'), name.lastIndexOf('/')) + 1);
            String similar = tensors.keySet().stream()
                    .filter(n -> n.endsWith(leaf))
                    .limit(5)
                    .collect(Collectors.joining(", "));
            throw new NoSuchElementException(source + ": no tensor '" + name + "' among " + tensors.size()
                    + " tensors" + (similar.isEmpty() ? "" : "; similar: " + similar));
        }
        return t;
    }

    /** Total bytes of tensor data. */
    public long totalBytes() {
        long sum = 0;
        for (RawTensor t : tensors.values()) {
            sum += t.byteSize();
        }
        return sum;
    }

    /** False once {@link #close()} was called. */
    public boolean isOpen() {
        return !closed;
    }

    /** Releases the memory maps and copies behind the tensors. Idempotent. */
    @Override
    public void close() {
        if (closed) {
            return;
        }
        closed = true;
        if (arena != null) {
            arena.close();
        }
    }

    @Override
    public String toString() {
        return "WeightSet[" + format + " " + source + ", " + tensors.size() + " tensors, " + totalBytes()
                + " bytes]";
    }
}
