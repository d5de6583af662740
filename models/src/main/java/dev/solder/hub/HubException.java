package dev.solder.hub;

import java.util.Objects;

/**
 * A failure to obtain a file from the Hugging Face Hub or its cache. The subclasses say why, so
 * callers can react (an optional file that is {@link NotFound} is fine; {@link Network} and
 * {@link Offline} may warrant a fallback), and every message names the repo, file and URL involved
 * and what to do about it.
 */
public class HubException extends RuntimeException {

    private static final long serialVersionUID = 1L;

    public HubException(String message) {
        super(message);
    }

    public HubException(String message, Throwable cause) {
        super(message, cause);
    }

    /** What a {@link NotFound} is missing. */
    public enum Missing {
        /** The repo and revision exist, the file does not ({@code X-Error-Code: EntryNotFound}). */
        FILE,
        /** The branch, tag or commit does not exist ({@code RevisionNotFound}). */
        REVISION,
        /** The repository does not exist ({@code RepoNotFound}). */
        REPO
    }

    /** HTTP 404: the file, revision or repository does not exist on the Hub. */
    public static final class NotFound extends HubException {
        private static final long serialVersionUID = 1L;
        private final Missing missing;

        public NotFound(Missing missing, String message) {
            super(message);
            this.missing = Objects.requireNonNull(missing);
        }

        /** Whether the file, the revision or the whole repository is missing. */
        public Missing missing() {
            return missing;
        }
    }

    /** HTTP 401/403: a private or gated repo, or a missing/invalid {@code HF_TOKEN}. */
    public static final class Unauthorized extends HubException {
        private static final long serialVersionUID = 1L;

        public Unauthorized(String message) {
            super(message);
        }
    }

    /** {@code HF_HUB_OFFLINE} is set and the file is not in the cache. */
    public static final class Offline extends HubException {
        private static final long serialVersionUID = 1L;

        public Offline(String message) {
            super(message);
        }
    }

    /** The Hub could not be reached, answered with a server error, or the transfer broke off. */
    public static final class Network extends HubException {
        private static final long serialVersionUID = 1L;

        public Network(String message, Throwable cause) {
            super(message, cause);
        }
    }

    /** A download did not match its SHA-256 or announced size; nothing was put in the cache. */
    public static final class Integrity extends HubException {
        private static final long serialVersionUID = 1L;

        public Integrity(String message) {
            super(message);
        }
    }
}
