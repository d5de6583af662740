package dev.solder.data;

import dev.solder.Generator;
import java.util.ArrayList;
import java.util.List;

/**
 * {@code demo-nli}: a generated natural-language-inference task in plain English whose labels are
 * right by construction, so a pretrained BERT can be fine-tuned and checked anywhere, with no
 * download. Labels are MNLI's: entailment, neutral, contradiction.
 *
 * <p>Each pair comes from one of a few constructions:
 * <ul>
 *   <li><b>quantities</b> — "There are three dogs in the park." entails "more than two dogs" and
 *       "fewer than five dogs", contradicts "five dogs" and "more than four dogs"; from "more than
 *       two dogs", "five dogs" is neutral;</li>
 *   <li><b>hypernyms</b> — "A poodle is sleeping" entails "A dog is sleeping"; the reverse is neutral;
 *       "A cat is sleeping" (a sibling) contradicts it;</li>
 *   <li><b>negation</b> — "The nurse is dancing" contradicts "The nurse is not dancing" and entails
 *       "The nurse is not sleeping"; "not sleeping" leaves "dancing" neutral;</li>
 *   <li><b>swapped roles</b> — "The dog chased the cat." entails "The cat was chased by the dog." and
 *       contradicts "The cat chased the dog.";</li>
 *   <li><b>details</b> — dropping a place is entailed, adding one is neutral, and an unrelated scene
 *       is neutral.</li>
 * </ul>
 * Labels are balanced exactly (each block of three examples holds one of each, in random order),
 * and everything is a pure function of the seed.
 *
 * <pre>{@code
 * TaskData d = DemoNli.load(3000, 600, 42);    // train / validation
 * }</pre>
 */
public final class DemoNli {
    /** MNLI's label names, in its index order. */
    public static final TaskLabels LABELS = TaskLabels.of("entailment", "neutral", "contradiction");
    static final int ENTAILMENT = 0;
    static final int NEUTRAL = 1;
    static final int CONTRADICTION = 2;

    private static final String[] PEOPLE = {"man", "woman", "boy", "girl", "teacher", "doctor", "farmer", "chef",
        "student", "musician", "nurse", "pilot", "old man", "young woman", "little boy", "artist", "police officer"};
    /** Activities that need the subject awake. */
    private static final String[] ACTIVITIES = {"running", "swimming", "dancing", "singing", "reading a book",
        "cooking dinner", "painting a picture", "riding a bicycle", "playing the guitar", "eating lunch", "writing a letter",
        "climbing a tree", "washing the dishes", "taking photographs", "talking on the phone"};
    private static final String[] PLACES = {"in the park", "on the beach", "in the kitchen", "at the station",
        "near the river", "in the garden", "on the street", "in the library", "at the market", "in the classroom",
        "on the bridge", "in the backyard"};
    private static final String[] NUMBERS = {"zero", "one", "two", "three", "four", "five", "six", "seven", "eight",
        "nine", "ten"};
    /** Plural nouns counted in quantity pairs, with where they fit. */
    private static final String[][] COUNTABLES = {
        {"dogs", "in the park"}, {"cats", "in the garden"}, {"birds", "on the roof"}, {"children", "in the classroom"},
        {"students", "in the library"}, {"cars", "on the street"}, {"boats", "near the river"}, {"apples", "on the table"},
        {"books", "on the shelf"}, {"horses", "in the field"}, {"people", "at the station"}, {"chairs", "in the room"}};
    /** specific, general; generals of one category contradict each other. */
    private static final String[][] KINDS = {
        {"poodle", "dog"}, {"beagle", "dog"}, {"terrier", "dog"}, {"bulldog", "dog"},
        {"kitten", "cat"}, {"tabby cat", "cat"}, {"siamese cat", "cat"},
        {"sparrow", "bird"}, {"parrot", "bird"}, {"eagle", "bird"}, {"pigeon", "bird"},
        {"stallion", "horse"}, {"pony", "horse"}, {"mare", "horse"}};
    private static final String[] ANIMAL_ACTIONS = {"sleeping", "running", "eating", "resting", "playing", "drinking water"};
    /** Objects with a hypernym: what someone plays, eats or holds. */
    private static final String[][] OBJECTS = {
        {"playing", "violin", "instrument"}, {"playing", "piano", "instrument"}, {"playing", "trumpet", "instrument"},
        {"playing", "cello", "instrument"}, {"eating", "apple", "fruit"}, {"eating", "banana", "fruit"},
        {"eating", "orange", "fruit"}, {"eating", "carrot", "vegetable"}, {"eating", "potato", "vegetable"},
        {"driving", "truck", "vehicle"}, {"driving", "bus", "vehicle"}, {"driving", "tractor", "vehicle"}};
    /** agent, past verb, patient. */
    private static final String[][] EVENTS = {
        {"man", "hit", "ball"}, {"dog", "chased", "cat"}, {"cat", "chased", "mouse"}, {"girl", "pushed", "boy"},
        {"teacher", "thanked", "student"}, {"doctor", "examined", "patient"}, {"woman", "called", "man"},
        {"police officer", "stopped", "driver"}, {"boy", "followed", "girl"}, {"farmer", "fed", "horse"},
        {"child", "hugged", "dog"}, {"player", "kicked", "referee"}, {"nurse", "helped", "doctor"},
        {"bird", "watched", "fox"}};
    private static final String[] ADJECTIVES = {"", "", "", "little", "old", "young", "big", "tired", "angry", "happy"};
    private static final String[] OTHER_PATIENTS = {"neighbor", "waiter", "stranger", "old woman", "baby", "goat"};

    private DemoNli() {
    }

    /** {@code nTrain} training and {@code nEval} validation pairs (independent streams of one seed). */
    public static TaskData load(int nTrain, int nEval, long seed) {
        Dataset train = new Dataset("demo-nli/train", generate(nTrain, seed), LABELS);
        Dataset eval = new Dataset("demo-nli/validation", generate(nEval, seed ^ 0x5DEECE66DL), LABELS);
        return new TaskData("demo-nli", train, eval, null);
    }

    /** {@code n} labelled pairs from {@code seed}. */
    public static List<Example> generate(int n, long seed) {
        Generator g = new Generator(seed);
        List<Example> out = new ArrayList<>(n);
        int[] block = {0, 1, 2};
        for (int i = 0; i < n; i++) {
            if (i % 3 == 0) {
                g.shuffle(block);
            }
            int label = block[i % 3];
            String[] pair = pair(g, label);
            out.add(new Example(pair[0], pair[1], label, Float.NaN, "demo-nli:" + (i + 1)));
        }
        return out;
    }

    private static String[] pair(Generator g, int label) {
        return switch (label) {
            case ENTAILMENT -> switch (g.nextInt(5)) {
                case 0 -> quantity(g, label);
                case 1 -> kinds(g, label);
                case 2 -> negation(g, label);
                case 3 -> roles(g, label);
                default -> details(g, label);
            };
            case NEUTRAL -> switch (g.nextInt(6)) {
                case 0 -> quantity(g, label);
                case 1 -> kinds(g, label);
                case 2 -> negation(g, label);
                case 3 -> roles(g, label);
                case 4 -> details(g, label);
                default -> unrelated(g);
            };
            default -> switch (g.nextInt(4)) {
                case 0 -> quantity(g, label);
                case 1 -> kinds(g, label);
                case 2 -> negation(g, label);
                default -> roles(g, label);
            };
        };
    }

    private static String[] quantity(Generator g, int label) {
        String[] c = pick(g, COUNTABLES);
        String noun = c[0];
        String where = c[1];
        int n = 2 + g.nextInt(7);   // 2..8
        String premise = "There are " + NUMBERS[n] + " " + noun + " " + where + ".";
        String hyp;
        switch (label) {
            case ENTAILMENT -> {
                switch (g.nextInt(4)) {
                    case 0 -> hyp = "There are more than " + NUMBERS[1 + g.nextInt(n - 1)] + " " + noun + " " + where + ".";
                    case 1 -> hyp = "There are fewer than " + NUMBERS[n + 1 + g.nextInt(10 - n)] + " " + noun + " " + where + ".";
                    case 2 -> hyp = "There are at least " + NUMBERS[1 + g.nextInt(n)] + " " + noun + " " + where + ".";
                    default -> hyp = "There are exactly " + NUMBERS[n] + " " + noun + " " + where + ".";
                }
            }
            case CONTRADICTION -> {
                switch (g.nextInt(4)) {
                    case 0 -> hyp = "There are " + NUMBERS[other(g, n, 2, 10)] + " " + noun + " " + where + ".";
                    case 1 -> hyp = "There are more than " + NUMBERS[n + g.nextInt(11 - n)] + " " + noun + " " + where + ".";
                    case 2 -> hyp = "There are fewer than " + NUMBERS[1 + g.nextInt(n)] + " " + noun + " " + where + ".";
                    default -> hyp = "There are no " + noun + " " + where + ".";
                }
            }
            default -> {
                if (g.nextInt(2) == 0) {
                    // A bound in the premise leaves an exact count open.
                    int m = 1 + g.nextInt(n - 1);
                    premise = "There are more than " + NUMBERS[m] + " " + noun + " " + where + ".";
                    hyp = "There are " + NUMBERS[m + 1 + g.nextInt(10 - m)] + " " + noun + " " + where + ".";
                } else {
                    String[] d = pickOther(g, COUNTABLES, c);
                    hyp = "There are " + NUMBERS[2 + g.nextInt(8)] + " " + d[0] + " " + d[1] + ".";
                }
            }
        }
        return new String[] {premise, hyp};
    }

    private static String[] kinds(Generator g, int label) {
        String place = pick(g, PLACES);
        String action = pick(g, ANIMAL_ACTIONS);
        if (g.nextInt(3) == 0) {
            // objects: "A woman is playing a violin." / "... an instrument."
            String who = pick(g, PEOPLE);
            String[] o = pick(g, OBJECTS);
            String premise = cap(a(who)) + " is " + o[0] + " " + a(o[1]) + " " + place + ".";
            return switch (label) {
                case ENTAILMENT -> new String[] {premise, cap(a(who)) + " is " + o[0] + " " + a(o[2]) + " " + place + "."};
                case NEUTRAL -> new String[] {cap(a(who)) + " is " + o[0] + " " + a(o[2]) + " " + place + ".", premise};
                default -> {
                    String[] other = siblingOf(g, OBJECTS, o, 1, 2);
                    yield new String[] {premise, cap(a(who)) + " is " + o[0] + " " + a(other[1]) + " " + place + "."};
                }
            };
        }
        String[] k = pick(g, KINDS);
        String specific = cap(a(k[0])) + " is " + action + " " + place + ".";
        String general = cap(a(k[1])) + " is " + action + " " + place + ".";
        return switch (label) {
            case ENTAILMENT -> new String[] {specific, general};
            case NEUTRAL -> new String[] {general, specific};
            default -> {
                String[] other = siblingOf(g, KINDS, k, 0, 1);
                String what = g.nextInt(2) == 0 ? other[1] : other[0];
                yield new String[] {specific, cap(a(what)) + " is " + action + " " + place + "."};
            }
        };
    }

    /** An entry of {@code table} whose category column differs from {@code of}'s. */
    private static String[] siblingOf(Generator g, String[][] table, String[] of, int nameCol, int catCol) {
        String[] o;
        do {
            o = pick(g, table);
        } while (o[catCol].equals(of[catCol]) || o[nameCol].equals(of[nameCol]));
        return o;
    }

    private static String[] negation(Generator g, int label) {
        String who = "The " + pick(g, PEOPLE);
        String act = pick(g, ACTIVITIES);
        String place = pick(g, PLACES);
        return switch (label) {
            case ENTAILMENT -> g.nextInt(2) == 0
                    ? new String[] {who + " is " + act + " " + place + ".", who + " is not sleeping."}
                    : new String[] {who + " is sleeping " + place + ".", who + " is not " + act + "."};
            case NEUTRAL -> g.nextInt(2) == 0
                    ? new String[] {who + " is not sleeping.", who + " is " + act + " " + place + "."}
                    : new String[] {who + " is not " + act + ".", who + " is " + pickOther(g, ACTIVITIES, act) + " " + place + "."};
            default -> switch (g.nextInt(3)) {
                case 0 -> new String[] {who + " is " + act + " " + place + ".", who + " is not " + act + " " + place + "."};
                case 1 -> new String[] {who + " is not " + act + " " + place + ".", who + " is " + act + " " + place + "."};
                default -> new String[] {who + " is " + act + " " + place + ".", who + " is sleeping " + place + "."};
            };
        };
    }

    private static String[] roles(Generator g, int label) {
        String[] e = pick(g, EVENTS);
        String agent = "the " + adjective(g) + e[0];
        String verb = e[1];
        String patient = "the " + adjective(g) + e[2];
        String where = g.nextInt(2) == 0 ? "" : " " + pick(g, PLACES);
        String premise = cap(agent) + " " + verb + " " + patient + where + ".";
        return switch (label) {
            case ENTAILMENT -> new String[] {premise, cap(patient) + " was " + verb + " by " + agent + where + "."};
            case NEUTRAL -> new String[] {premise, cap(agent) + " also " + verb + " the " + pick(g, OTHER_PATIENTS) + "."};
            default -> g.nextInt(2) == 0
                    ? new String[] {premise, cap(patient) + " " + verb + " " + agent + where + "."}
                    : new String[] {premise, cap(agent) + " was " + verb + " by " + patient + where + "."};
        };
    }

    private static String adjective(Generator g) {
        String a = pick(g, ADJECTIVES);
        return a.isEmpty() ? "" : a + " ";
    }

    private static String[] details(Generator g, int label) {
        String who = "The " + pick(g, PEOPLE);
        String act = pick(g, ACTIVITIES);
        String place = pick(g, PLACES);
        return label == ENTAILMENT
                ? new String[] {who + " is " + act + " " + place + ".", who + " is " + act + "."}
                : new String[] {who + " is " + act + ".", who + " is " + act + " " + place + "."};
    }

    private static String[] unrelated(Generator g) {
        String p1 = pick(g, PEOPLE);
        String p2 = pickOther(g, PEOPLE, p1);
        String a1 = pick(g, ACTIVITIES);
        String a2 = pickOther(g, ACTIVITIES, a1);
        String l1 = pick(g, PLACES);
        String l2 = pickOther(g, PLACES, l1);
        return new String[] {cap(a(p1)) + " is " + a1 + " " + l1 + ".", cap(a(p2)) + " is " + a2 + " " + l2 + "."};
    }

    private static int other(Generator g, int n, int lo, int hi) {
        int m;
        do {
            m = lo + g.nextInt(hi - lo + 1);
        } while (m == n);
        return m;
    }

    private static <T> T pick(Generator g, T[] items) {
        return items[g.nextInt(items.length)];
    }

    private static <T> T pickOther(Generator g, T[] items, T not) {
        T t;
        do {
            t = pick(g, items);
        } while (t.equals(not));
        return t;
    }

    private static String a(String noun) {
        return ("aeiou".indexOf(noun.charAt(0)) >= 0 ? "an " : "a ") + noun;
    }

    private static String cap(String s) {
        return Character.toUpperCase(s.charAt(0)) + s.substring(1);
    }
}
