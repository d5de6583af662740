package dev.solder.cli;

import dev.solder.train.OutOfMemoryContext;
import java.util.concurrent.Callable;
import picocli.CommandLine;
import picocli.CommandLine.Command;

/**
 * Solder's command line: {@code ./solder <command>} at the repository root.
 *
 * <pre>{@code
 * ./solder info     # backends, GPU, native libraries found
 * ./solder demo     # train a small transformer encoder on a generated task
 * }</pre>
 */
@Command(name = "solder", mixinStandardHelpOptions = true, version = "solder 0.1.0",
        description = "Train and run transformer encoders from the JVM.",
        subcommands = {InfoCommand.class, DemoCommand.class, FillMaskCommand.class, EmbedCommand.class,
            TokenizeCommand.class, PredictCommand.class, FinetuneCommand.class})
public final class SolderCli implements Callable<Integer> {

    @Override
    public Integer call() {
        CommandLine.usage(this, System.out);
        return 0;
    }

    /** Runs the CLI and exits with its status. */
    public static void main(String[] args) {
        // One line per log record ("INFO: ..."), not java.util.logging's default two, unless the
        // user chose a format (set before the first logger is made, which reads it).
        if (System.getProperty("java.util.logging.SimpleFormatter.format") == null) {
            System.setProperty("java.util.logging.SimpleFormatter.format", "%4$s: %5$s%6$s%n");
        }
        System.exit(run(new CommandLine(new SolderCli()), args));
    }

    /**
     * Runs {@code cli} on {@code args}: a failure prints one line naming the command and what went
     * wrong (the stack trace too with {@code SOLDER_DEBUG} set), then a hint where the user can do
     * something about it, and gives status 1. That includes the Java heap running out, which
     * picocli lets through as an {@link OutOfMemoryError}. For programs that embed the CLI:
     *
     * <pre>{@code
     * int status = SolderCli.run(new CommandLine(new SolderCli()), new String[] {"info"});
     * }</pre>
     */
    public static int run(CommandLine cli, String[] args) {
        cli.setExecutionExceptionHandler((ex, cmd, parsed) -> fail(cmd, ex));
        try {
            return cli.execute(args);
        } catch (OutOfMemoryError e) {
            CommandLine cmd = cli;
            var sub = cli.getParseResult() == null ? null : cli.getParseResult().subcommand();
            if (sub != null) {
                cmd = sub.commandSpec().commandLine();
            }
            return fail(cmd, e);
        }
    }

    private static int fail(CommandLine cmd, Throwable ex) {
        cmd.getErr().println("solder " + cmd.getCommandName() + ": " + ex.getMessage());
        String hint = hintFor(ex);
        if (hint != null) {
            cmd.getErr().println(hint);
        }
        if (System.getenv("SOLDER_DEBUG") != null) {
            ex.printStackTrace(cmd.getErr());
        }
        cmd.getErr().flush();
        return 1;
    }

    /** What the user can change when a run fails this way, or null: today, running out of memory. */
    static String hintFor(Throwable failure) {
        if (OutOfMemoryContext.isDeviceOutOfMemory(failure)) {
            return "hint: the GPU ran out of memory: lower --per-device-train-batch-size (raise "
                    + "--gradient-accumulation-steps to keep the effective batch) or --per-device-eval-batch-size, "
                    + "shorten --max-seq-length, or train with --precision bf16";
        }
        for (Throwable t = failure; t != null; t = t.getCause()) {
            if (t instanceof OutOfMemoryError) {
                return "hint: the Java heap ran out: give it more (SOLDER_JAVA_OPTS=-Xmx24g ./solder ...), or lower "
                        + "--per-device-train-batch-size or --max-seq-length";
            }
        }
        return null;
    }
}
