package dev.solder.cli;

import dev.solder.Device;
import dev.solder.nn.Module;

/** Where a model's parameters live, so inputs are created there too. */
final class ModelDevice {
    private ModelDevice() {
    }

    static Device of(Module m) {
        return m.parameters().getFirst().device();
    }
}
