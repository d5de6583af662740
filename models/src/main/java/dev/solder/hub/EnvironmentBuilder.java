package dev.solder.hub;

import java.nio.file.Path;
import java.util.Map;

/**
 * The part of {@link HubClient.Builder} and {@link ModelResolver.Builder} that says where
 * defaults come from: the environment variables and the home directory, both injectable (for
 * tests) and otherwise {@link System#getenv()} and {@code user.home}.
 *
 * @param <B> the concrete builder, returned by the setters for chaining
 */
abstract class EnvironmentBuilder<B extends EnvironmentBuilder<B>> {
    private Map<String, String> env;
    private Path home;

    EnvironmentBuilder() {}

    /** The environment variables to read (default {@link System#getenv()}). */
    public B env(Map<String, String> env) {
        this.env = Map.copyOf(env);
        return self();
    }

    /** The home directory, e.g. for {@code ~/.cache} (default {@code user.home}). */
    public B home(Path home) {
        this.home = home;
        return self();
    }

    /** The environment set with {@link #env(Map)}, else this process's. */
    final Map<String, String> resolvedEnv() {
        return env != null ? env : System.getenv();
    }

    /** The home directory set with {@link #home(Path)}, else {@code user.home}. */
    final Path resolvedHome() {
        return home != null ? home : Path.of(System.getProperty("user.home"));
    }

    @SuppressWarnings("unchecked")
    private B self() {
        return (B) this;
    }
}
