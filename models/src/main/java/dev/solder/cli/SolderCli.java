package dev.solder.cli;

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
        int code = new CommandLine(new SolderCli())
                .setExecutionExceptionHandler((ex, cmd, parsed) -> {
                    cmd.getErr().println("solder " + cmd.getCommandName() + ": " + ex.getMessage());
                    if (System.getenv("SOLDER_DEBUG") != null) {
                        ex.printStackTrace(cmd.getErr());
                    }
                    return 1;
                })
                .execute(args);
        System.exit(code);
    }
}
