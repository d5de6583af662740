package dev.solder.train;

import dev.solder.Generator;
import dev.solder.nn.Module;
import java.util.Map;

/**
 * The {@link Generator}s a model draws its dropout seeds from ({@link Module#namedGenerators()}),
 * which the Trainer seeds from {@code args.seed} at the start of training (HF calls
 * {@code set_seed(args.seed)}) and saves and restores in checkpoints — without which a resumed run
 * would draw other dropout masks and end with other weights. Each distinct generator is named by
 * the first module path where it was met, e.g. {@code bert.embeddings.dropout#rng}.
 */
final class ModelGenerators {
    private ModelGenerators() {
    }

    static Map<String, Generator> find(Module model) {
        return model.namedGenerators();
    }

    /** Seeds every generator from {@code seed}: the k-th gets the k-th draw of {@code new Generator(seed)}. */
    static void seed(Map<String, Generator> gens, long seed) {
        Generator s = new Generator(seed);
        for (Generator g : gens.values()) {
            g.setState(s.nextLong());
        }
    }
}
