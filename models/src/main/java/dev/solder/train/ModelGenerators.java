package dev.solder.train;

import dev.solder.Generator;
import dev.solder.nn.Module;
import java.lang.reflect.Field;
import java.lang.reflect.Modifier;
import java.util.Collections;
import java.util.IdentityHashMap;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Set;

/**
 * Finds the {@link Generator}s a model draws its dropout seeds from, so the Trainer can seed them
 * from {@code args.seed} at the start of training (HF calls {@code set_seed(args.seed)}) and save
 * and restore their states in checkpoints — without which a resumed run would draw other dropout
 * masks and end with other weights.
 *
 * <p>{@code dev.solder.nn} offers no accessor for a module's generator yet, so they are found by
 * reflection: every non-static field of type {@code Generator} of every module (dropout layers hold
 * one; BERT shares one among all of them). Each distinct generator is named by the first module
 * path and field where it was met, e.g. {@code bert.embeddings.dropout#rng}.
 */
final class ModelGenerators {
    private ModelGenerators() {
    }

    static Map<String, Generator> find(Module model) {
        Map<String, Generator> out = new LinkedHashMap<>();
        Set<Generator> seen = Collections.newSetFromMap(new IdentityHashMap<>());
        for (Map.Entry<String, Module> e : model.namedModules().entrySet()) {
            Module m = e.getValue();
            for (Class<?> c = m.getClass(); c != null && c != Object.class; c = c.getSuperclass()) {
                for (Field f : c.getDeclaredFields()) {
                    if (f.getType() != Generator.class || Modifier.isStatic(f.getModifiers())) {
                        continue;
                    }
                    try {
                        f.setAccessible(true);
                        Generator g = (Generator) f.get(m);
                        if (g != null && seen.add(g)) {
                            out.put((e.getKey().isEmpty() ? "<model>" : e.getKey()) + "#" + f.getName(), g);
                        }
                    } catch (ReflectiveOperationException | RuntimeException ex) {
                        throw new IllegalStateException("cannot reach the dropout generator " + c.getName() + "." + f.getName()
                                + " to seed or checkpoint it: " + ex, ex);
                    }
                }
            }
        }
        return out;
    }

    /** Seeds every generator from {@code seed}: the k-th gets the k-th draw of {@code new Generator(seed)}. */
    static void seed(Map<String, Generator> gens, long seed) {
        Generator s = new Generator(seed);
        for (Generator g : gens.values()) {
            g.setState(s.nextLong());
        }
    }
}
