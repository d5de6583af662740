package dev.solder.data;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.HashSet;
import java.util.List;
import java.util.Set;
import org.junit.jupiter.api.Test;

class DemoNliTest {
    @Test
    void deterministicGivenTheSeed() {
        List<Example> a = DemoNli.generate(300, 42);
        List<Example> b = DemoNli.generate(300, 42);
        assertEquals(a, b);
        assertNotEquals(a, DemoNli.generate(300, 43));
        TaskData d = DemoNli.load(3000, 600, 42);
        assertEquals(3000, d.train().size());
        assertEquals(600, d.validation().size());
        assertNotEquals(d.train().get(0), d.validation().get(0));
        assertEquals(List.of("entailment", "neutral", "contradiction"), d.labels().names());
    }

    @Test
    void labelsAreBalanced() {
        TaskData d = DemoNli.load(3000, 600, 7);
        for (int c : d.train().labelCounts()) {
            assertEquals(1000, c);
        }
        for (int c : d.validation().labelCounts()) {
            assertEquals(200, c);
        }
    }

    @Test
    void pairsAreVariedEnglish() {
        List<Example> ex = DemoNli.generate(3000, 1);
        Set<String> distinct = new HashSet<>();
        for (Example e : ex) {
            assertTrue(e.textA().endsWith(".") && e.textB().endsWith("."), e.toString());
            assertTrue(Character.isUpperCase(e.textA().charAt(0)), e.toString());
            distinct.add(e.textA() + " || " + e.textB());
        }
        assertTrue(distinct.size() > 2500, "only " + distinct.size() + " distinct pairs");
    }

    @Test
    void constructionsCarryTheirLabels() {
        // Spot-check the rules on the generated text itself.
        int negations = 0;
        int quantities = 0;
        int passives = 0;
        for (Example e : DemoNli.generate(3000, 3)) {
            String p = e.textA();
            String h = e.textB();
            if (h.equals(p.replace(" is ", " is not "))) {
                assertEquals(2, e.label(), e.toString());   // plain negation contradicts
                negations++;
            }
            if (p.startsWith("There are exactly") || h.startsWith("There are exactly")) {
                assertEquals(0, e.label(), e.toString());
                quantities++;
            }
            if (h.contains(" was ") && h.contains(" by ")) {
                assertTrue(e.label() == 0 || e.label() == 2, e.toString());
                passives++;
            }
        }
        // Each rule was actually exercised: a generator that stopped making these sentences fails here.
        assertTrue(negations > 0, "no plain negation among 3000 pairs");
        assertTrue(quantities > 0, "no 'There are exactly' pair among 3000");
        assertTrue(passives > 0, "no passive hypothesis among 3000 pairs");
    }
}
