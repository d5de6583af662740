package dev.solder.io;

import java.math.BigInteger;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Collections;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * Interprets a pickle (protocols 2 to 5) as data, never as code.
 *
 * <p>Python's unpickler imports any {@code module.name} a pickle names and calls it; that is how
 * a checkpoint can run {@code os.system}. This interpreter instead builds plain Java values
 * ({@code null}-free: Python {@code None} is {@link #NONE}) and treats a global as an opaque
 * {@link Global} token that exists only if it is on the caller's allowlist; anything else fails
 * with {@link UnsafePickleException} the moment its {@code GLOBAL} opcode is read. What
 * {@code REDUCE}, {@code BUILD} and {@code BINPERSID} mean is left to a {@link Resolver}, which
 * is only ever shown allowlisted globals.
 *
 * <p>Only the opcodes that {@code pickle.dump} emits for plain containers, numbers, strings and
 * {@code __reduce__} results are accepted; instance-creation opcodes ({@code INST}, {@code OBJ},
 * {@code NEWOBJ}), the copyreg extension registry and out-of-band buffers are refused. The
 * interpreter is iterative and every length is checked against the bytes left, so a hostile or
 * truncated pickle ends in a {@link WeightFormatException}, not a hang or an
 * {@code OutOfMemoryError}.
 */
final class RestrictedUnpickler {

    /** Python {@code None}. */
    static final Object NONE = new Object() {
        @Override
        public String toString() {
            return "None";
        }
    };

    /** An allowlisted global, e.g. {@code collections.OrderedDict}; never executed. */
    record Global(String module, String name) {
        @Override
        public String toString() {
            return module + "." + name;
        }
    }

    /** A Python tuple (immutable; equality by content so it can be a dict key). */
    record Tuple(List<Object> items) {
        Tuple {
            items = Collections.unmodifiableList(new ArrayList<>(items));
        }

        int size() {
            return items.size();
        }

        Object get(int i) {
            return items.get(i);
        }
    }

    /** What the allowlisted globals mean. */
    interface Resolver {
        /** {@code BINPERSID}: the object a persistent id stands for. */
        Object persistentLoad(Object pid) throws WeightFormatException;

        /** {@code REDUCE}: {@code fn(*args)}; {@code fn} is always allowlisted. */
        Object call(Global fn, Tuple args) throws WeightFormatException;

        /** {@code BUILD}: apply {@code state} to {@code obj}; return the (possibly new) object. */
        Object build(Object obj, Object state) throws WeightFormatException;
    }

    private static final Object MARK = new Object();
    private static final int MAX_KEY_DEPTH = 64;

    private final Path file;
    private final ByteBuffer in;
    private final Set<String> allowedGlobals;
    private final Resolver resolver;
    private final ArrayList<Object> stack = new ArrayList<>();
    private final ArrayList<Integer> marks = new ArrayList<>();
    private final Map<Long, Object> memo = new HashMap<>();

    RestrictedUnpickler(Path file, byte[] pickle, Set<String> allowedGlobals, Resolver resolver) {
        this.file = file;
        this.in = ByteBuffer.wrap(pickle).order(ByteOrder.LITTLE_ENDIAN);
        this.allowedGlobals = allowedGlobals;
        this.resolver = resolver;
    }

    /** Runs the pickle to its {@code STOP} and returns the value it leaves. */
    Object load() throws WeightFormatException {
        while (true) {
            if (!in.hasRemaining()) {
                throw fail("pickle ends without a STOP opcode (truncated file?)");
            }
            int at = in.position();
            int op = in.get() & 0xff;
            switch (op) {
                case 0x80 -> { // PROTO
                    int v = u8();
                    if (v > 5) {
                        throw fail("pickle protocol " + v + " is newer than 5");
                    }
                }
                case 0x95 -> { // FRAME: a length hint only; the bytes follow inline
                    long n = in.getLong(checkRemaining(8));
                    in.position(in.position() + 8);
                    if (n < 0 || n > in.remaining()) {
                        throw fail("FRAME of " + n + " bytes at offset " + at + " runs past the end (truncated?)");
                    }
                }
                case '.' -> { // STOP
                    if (stack.size() != 1 || !marks.isEmpty()) {
                        throw fail("STOP with " + stack.size() + " values on the stack, expected 1");
                    }
                    return stack.getFirst();
                }
                case '(' -> {
                    marks.add(stack.size());
                    stack.add(MARK);
                }
                case '0' -> pop(); // POP
                case '1' -> popMark(); // POP_MARK
                case '2' -> push(peek()); // DUP
                case 'N' -> push(NONE);
                case 0x88 -> push(Boolean.TRUE);
                case 0x89 -> push(Boolean.FALSE);
                case 'J' -> push((long) in.getInt(checkRemaining(4)), 4);
                case 'K' -> push((long) u8());
                case 'M' -> push((long) (in.getShort(checkRemaining(2)) & 0xffff), 2);
                case 0x8a -> push(longN(u8())); // LONG1
                case 0x8b -> push(longN(length(in.getInt(checkRemaining(4)), 4))); // LONG4
                case 'G' -> { // BINFLOAT: big-endian, unlike everything else
                    long bits = Long.reverseBytes(in.getLong(checkRemaining(8)));
                    in.position(in.position() + 8);
                    push(Double.longBitsToDouble(bits));
                }
                case 'X' -> push(utf8(length(in.getInt(checkRemaining(4)) & 0xffffffffL, 4)));
                case 0x8c -> push(utf8(u8()));
                case 0x8d -> push(utf8(length(in.getLong(checkRemaining(8)), 8)));
                case 'T' -> push(latin1(length(in.getInt(checkRemaining(4)), 4)));
                case 'U' -> push(latin1(u8()));
                case 'B' -> push(bytes(length(in.getInt(checkRemaining(4)) & 0xffffffffL, 4)));
                case 'C' -> push(bytes(u8()));
                case 0x8e -> push(bytes(length(in.getLong(checkRemaining(8)), 8)));
                case ')' -> push(new Tuple(List.of()));
                case 't' -> push(new Tuple(popMark()));
                case 0x85 -> push(new Tuple(popN(1)));
                case 0x86 -> push(new Tuple(popN(2)));
                case 0x87 -> push(new Tuple(popN(3)));
                case ']' -> push(new ArrayList<>());
                case 'l' -> push(new ArrayList<>(popMark()));
                case 'a' -> { // APPEND
                    Object v = pop();
                    list(peek(), "APPEND").add(v);
                }
                case 'e' -> { // APPENDS
                    List<Object> items = popMark();
                    list(peek(), "APPENDS").addAll(items);
                }
                case '}' -> push(new LinkedHashMap<>());
                case 'd' -> { // DICT
                    List<Object> items = popMark();
                    Map<Object, Object> m = new LinkedHashMap<>();
                    putAll(m, items);
                    push(m);
                }
                case 's' -> { // SETITEM
                    Object v = pop();
                    Object k = pop();
                    dict(peek(), "SETITEM").put(key(k), v);
                }
                case 'u' -> { // SETITEMS
                    List<Object> items = popMark();
                    putAll(dict(peek(), "SETITEMS"), items);
                }
                case 'q' -> memo.put((long) u8(), peek()); // BINPUT
                case 'r' -> memo.put(in.getInt(checkRemaining(4)) & 0xffffffffL, peekAfter(4)); // LONG_BINPUT
                case 0x94 -> memo.put((long) memo.size(), peek()); // MEMOIZE
                case 'h' -> push(memoGet(u8()));
                case 'j' -> push(memoGet(in.getInt(checkRemaining(4)) & 0xffffffffL), 4);
                case 'c' -> { // GLOBAL module\nname\n
                    String module = line();
                    String name = line();
                    push(global(module, name, at));
                }
                case 0x93 -> { // STACK_GLOBAL
                    Object name = pop();
                    Object module = pop();
                    if (!(module instanceof String m) || !(name instanceof String n)) {
                        throw fail("STACK_GLOBAL at offset " + at + " needs two strings");
                    }
                    push(global(m, n, at));
                }
                case 'Q' -> push(resolver.persistentLoad(pop())); // BINPERSID
                case 'R' -> { // REDUCE
                    Object args = pop();
                    Object fn = pop();
                    if (!(fn instanceof Global g)) {
                        throw fail("REDUCE at offset " + at + " calls a " + describe(fn) + ", not a global");
                    }
                    if (!(args instanceof Tuple t)) {
                        throw fail("REDUCE at offset " + at + " passes a " + describe(args) + " as arguments to " + g);
                    }
                    push(resolver.call(g, t));
                }
                case 'b' -> { // BUILD
                    Object state = pop();
                    Object obj = pop();
                    push(resolver.build(obj, state));
                }
                case 'i' -> { // INST module\nname\n: check the global first so the message names it
                    global(line(), line(), at);
                    throw fail("opcode INST at offset " + at + " (instance creation) is not allowed");
                }
                case 0x82, 0x83, 0x84 -> throw new UnsafePickleException(file, "copyreg extension",
                        "pickle uses the copyreg extension registry (opcode EXT at offset " + at
                                + "), which could name any global; refused");
                default -> throw fail("opcode " + opName(op) + " at offset " + at
                        + " is not allowed in a weight file");
            }
        }
    }

    private Global global(String module, String name, int at) throws UnsafePickleException {
        String full = module + "." + name;
        if (!allowedGlobals.contains(full)) {
            throw new UnsafePickleException(file, full, "pickle references global '" + full + "' (offset " + at
                    + "), which is not on the allowlist of a PyTorch state dict; refusing to load it "
                    + "(a checkpoint that needs it may execute code)");
        }
        return new Global(module, name);
    }

    private void putAll(Map<Object, Object> m, List<Object> items) throws WeightFormatException {
        if (items.size() % 2 != 0) {
            throw fail("odd number of items for a dict");
        }
        for (int i = 0; i < items.size(); i += 2) {
            m.put(key(items.get(i)), items.get(i + 1));
        }
    }

    /** Only immutable values may be keys: a list key could hash itself into a stack overflow. */
    private Object key(Object k) throws WeightFormatException {
        if (!hashable(k, 0)) {
            throw fail("unhashable dict key of type " + describe(k));
        }
        return k;
    }

    /** True for values Python could hash, nested at most a bounded depth (so hashing cannot overflow). */
    static boolean isHashable(Object k) {
        return hashable(k, 0);
    }

    private static boolean hashable(Object k, int depth) {
        if (depth > MAX_KEY_DEPTH) {
            return false;
        }
        if (k instanceof Tuple t) {
            for (Object o : t.items()) {
                if (!hashable(o, depth + 1)) {
                    return false;
                }
            }
            return true;
        }
        return k instanceof String || k instanceof Long || k instanceof BigInteger || k instanceof Double
                || k instanceof Boolean || k == NONE || k instanceof Global;
    }

    @SuppressWarnings("unchecked")
    private List<Object> list(Object o, String op) throws WeightFormatException {
        if (o instanceof ArrayList<?> l) {
            return (List<Object>) l;
        }
        throw fail(op + " on a " + describe(o) + ", expected a list");
    }

    @SuppressWarnings("unchecked")
    private Map<Object, Object> dict(Object o, String op) throws WeightFormatException {
        if (o instanceof Map<?, ?> m) {
            return (Map<Object, Object>) m;
        }
        throw fail(op + " on a " + describe(o) + ", expected a dict");
    }

    /** A short type description that never recurses into (possibly cyclic) containers. */
    static String describe(Object o) {
        if (o == NONE) {
            return "None";
        }
        if (o instanceof String s) {
            return "str '" + (s.length() > 40 ? s.substring(0, 40) + "..." : s) + "'";
        }
        if (o instanceof Tuple t) {
            return "tuple of " + t.size();
        }
        if (o instanceof List<?> l) {
            return "list of " + l.size();
        }
        if (o instanceof Map<?, ?> m) {
            return "dict of " + m.size();
        }
        if (o instanceof Global g) {
            return "global " + g;
        }
        if (o instanceof Long || o instanceof Double || o instanceof Boolean || o instanceof BigInteger) {
            return o.getClass().getSimpleName().toLowerCase() + " " + o;
        }
        if (o instanceof byte[] b) {
            return "bytes of " + b.length;
        }
        return o == null ? "null" : o.getClass().getSimpleName();
    }

    private void push(Object o) {
        stack.add(o);
    }

    /** Pushes and skips the {@code n} argument bytes of the opcode just read. */
    private void push(Object o, int n) {
        in.position(in.position() + n);
        stack.add(o);
    }

    private Object peek() throws WeightFormatException {
        if (stack.isEmpty() || (!marks.isEmpty() && marks.getLast() == stack.size() - 1)) {
            throw fail("stack underflow at offset " + (in.position() - 1));
        }
        return stack.getLast();
    }

    private Object peekAfter(int n) throws WeightFormatException {
        Object o = peek();
        in.position(in.position() + n);
        return o;
    }

    private Object pop() throws WeightFormatException {
        Object o = peek();
        stack.removeLast();
        return o;
    }

    private List<Object> popN(int n) throws WeightFormatException {
        Object[] items = new Object[n];
        for (int i = n - 1; i >= 0; i--) {
            items[i] = pop();
        }
        return Arrays.asList(items);
    }

    private List<Object> popMark() throws WeightFormatException {
        if (marks.isEmpty()) {
            throw fail("no MARK on the stack at offset " + (in.position() - 1));
        }
        int m = marks.removeLast();
        List<Object> items = new ArrayList<>(stack.subList(m + 1, stack.size()));
        stack.subList(m, stack.size()).clear();
        return items;
    }

    private Object memoGet(long key) throws WeightFormatException {
        Object o = memo.get(key);
        if (o == null) {
            throw fail("memo key " + key + " used before it was stored");
        }
        return o;
    }

    private int u8() throws WeightFormatException {
        checkRemaining(1);
        return in.get() & 0xff;
    }

    /** Position of {@code n} more bytes; fails if the pickle ends first. */
    private int checkRemaining(long n) throws WeightFormatException {
        if (in.remaining() < n) {
            throw fail("pickle is truncated at offset " + in.position() + " (needed " + n + " more bytes)");
        }
        return in.position();
    }

    /** Validates a length read from the stream and skips the field holding it. */
    private int length(long n, int fieldBytes) throws WeightFormatException {
        in.position(in.position() + fieldBytes);
        if (n < 0 || n > in.remaining()) {
            throw fail("length " + n + " at offset " + (in.position() - fieldBytes)
                    + " runs past the end of the pickle (truncated?)");
        }
        return (int) n;
    }

    private byte[] bytes(int n) throws WeightFormatException {
        checkRemaining(n);
        byte[] b = new byte[n];
        in.get(b);
        return b;
    }

    private String utf8(int n) throws WeightFormatException {
        return new String(bytes(n), StandardCharsets.UTF_8);
    }

    private String latin1(int n) throws WeightFormatException {
        return new String(bytes(n), StandardCharsets.ISO_8859_1);
    }

    /** A little-endian two's-complement integer of {@code n} bytes (LONG1/LONG4). */
    private Object longN(int n) throws WeightFormatException {
        byte[] le = bytes(n);
        if (n == 0) {
            return 0L;
        }
        byte[] be = new byte[n];
        for (int i = 0; i < n; i++) {
            be[i] = le[n - 1 - i];
        }
        BigInteger v = new BigInteger(be);
        return v.bitLength() < 64 ? (Object) v.longValue() : v;
    }

    private String line() throws WeightFormatException {
        int start = in.position();
        int limit = Math.min(in.limit(), start + 4096);
        for (int i = start; i < limit; i++) {
            if (in.get(i) == '\n') {
                byte[] b = new byte[i - start];
                in.get(b);
                in.get(); // the newline
                return new String(b, StandardCharsets.UTF_8);
            }
        }
        throw fail("unterminated GLOBAL name at offset " + start + " (truncated?)");
    }

    private WeightFormatException fail(String message) {
        return new WeightFormatException(file, message);
    }

    private static String opName(int op) {
        String name = switch (op) {
            case 'i' -> "INST";
            case 'o' -> "OBJ";
            case 0x81 -> "NEWOBJ";
            case 0x92 -> "NEWOBJ_EX";
            case 'P' -> "PERSID";
            case 'p' -> "PUT";
            case 'g' -> "GET";
            case 'I' -> "INT";
            case 'L' -> "LONG";
            case 'S' -> "STRING";
            case 'V' -> "UNICODE";
            case 'F' -> "FLOAT";
            case 0x8f -> "EMPTY_SET";
            case 0x90 -> "ADDITEMS";
            case 0x91 -> "FROZENSET";
            case 0x96 -> "BYTEARRAY8";
            case 0x97 -> "NEXT_BUFFER";
            case 0x98 -> "READONLY_BUFFER";
            default -> null;
        };
        return String.format("0x%02x", op) + (name == null ? "" : " (" + name + ")");
    }
}
