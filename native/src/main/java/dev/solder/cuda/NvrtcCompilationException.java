package dev.solder.cuda;

/**
 * NVRTC could not compile a program. The message ends with the compiler log, which names the
 * file, line and error, e.g. {@code saxpy.cu(3): error: identifier "x" is undefined}.
 */
public class NvrtcCompilationException extends CudaException {
    private static final long serialVersionUID = 1L;

    private final String programName;
    private final String log;

    /** The failed compilation of {@code programName}: the status of {@code cause}, the options and the log. */
    public NvrtcCompilationException(String programName, CudaException cause, String[] options, String log) {
        super(message(programName, cause, options, log), "Nvrtc.compile", cause.function(), cause.status(),
                cause.statusName(), cause.statusText(), cause.details());
        this.programName = programName;
        this.log = log == null ? "" : log;
        initCause(cause);
    }

    /** Pure formatting of the message. */
    static String message(String programName, CudaException cause, String[] options, String log) {
        return "Nvrtc.compile: " + programName + " did not compile with options [" + String.join(" ", options)
                + "]: " + cause.function() + " returned " + cause.statusName() + " (" + cause.status() + ")"
                + "\n--- NVRTC log ---\n" + (log == null || log.isBlank() ? "(empty)" : log.strip());
    }

    /** The name the program was compiled under. */
    public String programName() { return programName; }

    /** The full compiler log. */
    public String log() { return log; }
}
