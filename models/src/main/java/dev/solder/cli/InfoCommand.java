package dev.solder.cli;

import dev.solder.Backends;
import dev.solder.Device;
import dev.solder.spi.Backend;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;

/** {@code solder info}: which backends are present and usable, with their native libraries. */
@Command(name = "info", mixinStandardHelpOptions = true, description = "Show the backends in use, the GPU and the native libraries found.")
final class InfoCommand implements Callable<Integer> {

    @Override
    public Integer call() {
        for (Device.Kind kind : Device.Kind.values()) {
            String label = kind.name().toLowerCase(java.util.Locale.ROOT);
            if (!Backends.isPresent(kind)) {
                System.out.println(label + ": backend not on the class path (add dev.solder:solder-kernels)");
                continue;
            }
            Backend b = Backends.forKind(kind);
            Device d = kind == Device.Kind.CPU ? Device.cpu() : Device.cuda();
            String state;
            try {
                b.checkDevice(d);
                state = "usable";
            } catch (RuntimeException e) {
                state = "unavailable: " + e.getMessage();
            }
            System.out.println(label + " (" + b.name() + "): " + state);
            for (String line : b.describe()) {
                System.out.println("  " + line);
            }
        }
        String def = Backends.isPresent(Device.Kind.CUDA) && usable(Device.cuda()) ? "cuda:0" : "cpu";
        System.out.println("default device: " + def);
        return 0;
    }

    private static boolean usable(Device d) {
        try {
            Backends.forKind(d.kind()).checkDevice(d);
            return true;
        } catch (RuntimeException e) {
            return false;
        }
    }
}
