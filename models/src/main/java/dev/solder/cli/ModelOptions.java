package dev.solder.cli;

import dev.solder.Device;
import dev.solder.bert.Bert;
import java.io.PrintWriter;
import picocli.CommandLine.Option;

/** The options every model-running command shares: which model, on which device. */
final class ModelOptions {
    @Option(names = {"-m", "--model"}, required = true, paramLabel = "M",
            description = "model directory or Hugging Face repo id (e.g. bert-base-uncased)")
    String model;

    @Option(names = "--device", defaultValue = "cpu", paramLabel = "D",
            description = "cpu or cuda[:N] (default ${DEFAULT-VALUE})")
    String device;

    /** Load options: warnings (e.g. a newly initialised head) go to the command's stderr. */
    Bert.Options bertOptions(PrintWriter err) {
        Device d;
        try {
            d = Device.parse(device);
        } catch (IllegalArgumentException e) {
            throw new CliException("--device: " + e.getMessage());
        }
        return Bert.Options.defaults().device(d).warnings(w -> {
            err.println("warning: " + w);
            err.flush();
        });
    }
}
