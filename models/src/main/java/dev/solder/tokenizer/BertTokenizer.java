package dev.solder.tokenizer;

import java.io.IOException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Collections;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Set;
import java.util.stream.IntStream;

/**
 * The BERT WordPiece tokenizer, producing exactly what Hugging Face's {@code BertTokenizerFast}
 * produces: same normalization ({@link BertNormalizer}), pre-tokenization
 * ({@link BertPreTokenizer}), {@link WordPiece} model, special-token handling, truncation, padding
 * and decoding.
 *
 * <pre>{@code
 * BertTokenizer tok = BertTokenizer.fromDirectory(Path.of("bert-base-uncased"));  // or fromVocab(vocabTxt, true)
 * tok.tokenize("Héllo, naïve world!");          // [hello, ,, naive, world, !]
 * Encoding e = tok.encode("The cat sat.", "It was tired.",
 *         EncodeOptions.fixedLength(16));        // truncation + padding to 16
 * e.inputIds();       // [101, 1996, 4937, 2938, 1012, 102, 2009, 2001, 5458, 1012, 102, 0, 0, 0, 0, 0]
 * e.tokenTypeIds();   // [0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 1, 0, 0, 0, 0, 0]
 * e.attentionMask();  // [1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 0, 0, 0, 0, 0]
 * tok.decode(e.inputIds(), true);               // "the cat sat. it was tired."
 * List<Encoding> batch = tok.encodeBatch(List.of("a", "longer text"),
 *         EncodeOptions.defaults().withPadding(EncodeOptions.Padding.LONGEST));
 * }</pre>
 *
 * <p>The pipeline per text: split out added tokens such as a literal {@code [MASK]} (matched on
 * the raw text), normalize each remaining piece, split it into words on whitespace and
 * punctuation, and split each word into WordPiece pieces. Then truncate, add
 * {@code [CLS] A [SEP] (B [SEP])} with token types 0/1, and pad.
 *
 * <p>Instances are immutable and thread-safe; {@link #encodeBatch} uses all cores.
 * Strings are handled as Unicode code points, so surrogate pairs (emoji, rare CJK) are one
 * character each, as in Rust (an unpaired surrogate, which Python could not even pass to the Rust
 * tokenizer, is treated as an ordinary character). Where Java's Unicode tables are newer than the
 * Rust crates' (characters assigned or re-categorized since), Hugging Face's classes are used
 * (see {@code LegacyUnicode}); normalization and pre-tokenization were compared over every code
 * point with tokenizers 0.22 and 0.23.
 *
 * <p>Pair truncation follows tokenizers 0.23 (transformers 5) by default;
 * {@link EncodeOptions.TruncationStrategy#LONGEST_FIRST_FULL_LENGTHS} gives tokenizers 0.22
 * (transformers 4.x). They differ only in rare ties, see there.
 */
public final class BertTokenizer {
    /** Default {@link #modelMaxLength()}: BERT has 512 position embeddings. */
    public static final int DEFAULT_MODEL_MAX_LENGTH = 512;

    private final WordPiece model;
    private final BertNormalizer normalizer;
    private final List<AddedToken> addedTokens;
    private final Map<String, Integer> addedByContent;
    private final Set<String> specialContents;
    private final String[] idToToken;
    private final AddedTokenMatcher rawMatcher;
    private final AddedTokenMatcher normalizedMatcher;
    private final PostProcessor postProcessor;
    private final String decoderPrefix;
    private final boolean decoderCleanup;
    private final SpecialTokens specials;
    private final int modelMaxLength;
    private final boolean cleanUpTokenizationSpaces;
    private final ThreadLocal<Scratch> scratch = ThreadLocal.withInitial(Scratch::new);

    /**
     * The names of the special tokens a BERT tokenizer knows by role.
     *
     * @param unk the unknown token, {@code [UNK]}
     * @param sep the separator, {@code [SEP]}
     * @param pad the padding token, {@code [PAD]}
     * @param cls the classifier token, {@code [CLS]}
     * @param mask the mask token, {@code [MASK]}
     */
    public record SpecialTokens(String unk, String sep, String pad, String cls, String mask) {
        /** BERT's names. */
        public static final SpecialTokens BERT = new SpecialTokens("[UNK]", "[SEP]", "[PAD]", "[CLS]", "[MASK]");

        /** Validates that every name is given. */
        public SpecialTokens {
            Objects.requireNonNull(unk, "unk");
            Objects.requireNonNull(sep, "sep");
            Objects.requireNonNull(pad, "pad");
            Objects.requireNonNull(cls, "cls");
            Objects.requireNonNull(mask, "mask");
        }

        List<String> inHfOrder() {
            // transformers adds special tokens in SPECIAL_TOKENS_ATTRIBUTES order: unk, sep, pad, cls, mask.
            return List.of(unk, sep, pad, cls, mask);
        }
    }

    BertTokenizer(WordPiece model, BertNormalizer normalizer, List<AddedToken> added, PostProcessor postProcessor,
            String decoderPrefix, boolean decoderCleanup, SpecialTokens specials, int modelMaxLength,
            boolean cleanUpTokenizationSpaces) {
        this.model = Objects.requireNonNull(model, "model");
        this.normalizer = normalizer;
        this.specials = Objects.requireNonNull(specials, "specials");
        if (modelMaxLength <= 0) {
            throw new IllegalArgumentException("modelMaxLength must be positive");
        }
        this.modelMaxLength = modelMaxLength;
        this.cleanUpTokenizationSpaces = cleanUpTokenizationSpaces;
        this.decoderPrefix = decoderPrefix;
        this.decoderCleanup = decoderCleanup;

        // Like transformers, make sure each named special token is a special added token, reusing
        // the vocabulary id when the model has one and appending a new id otherwise.
        List<AddedToken> all = new ArrayList<>(added);
        Set<String> contents = new HashSet<>();
        int nextId = model.idSpace();
        for (AddedToken t : all) {
            contents.add(t.content());
            nextId = Math.max(nextId, t.id() + 1);
        }
        for (String s : specials.inHfOrder()) {
            if (contents.add(s)) {
                int id = model.id(s);
                if (id < 0) {
                    id = nextId++;
                }
                all.add(AddedToken.special(id, s));
            }
        }
        all.sort((x, y) -> Integer.compare(x.id(), y.id()));
        this.addedTokens = List.copyOf(all);

        Map<String, Integer> byContent = new HashMap<>();
        Set<String> special = new HashSet<>();
        int space = model.idSpace();
        for (AddedToken t : addedTokens) {
            byContent.put(t.content(), t.id());
            if (t.special()) {
                special.add(t.content());
            }
            space = Math.max(space, t.id() + 1);
        }
        this.addedByContent = Collections.unmodifiableMap(byContent);
        this.specialContents = Collections.unmodifiableSet(special);
        this.idToToken = new String[space];
        for (int i = 0; i < model.idSpace(); i++) {
            idToToken[i] = model.token(i);
        }
        for (AddedToken t : addedTokens) {
            // A normalized added token is found as its normalized form, and that is the token
            // string Hugging Face reports for it (and, since tokenizers 0.23, decodes to).
            idToToken[t.id()] = t.normalized() && normalizer != null ? normalizer.normalize(t.content()) : t.content();
        }

        // Tokens with normalized=false are found in the raw text; the others in the normalized
        // text, matched against their own normalized content (HF's two tries).
        List<String> rawPatterns = new ArrayList<>();
        List<AddedToken> rawTokens = new ArrayList<>();
        List<String> normPatterns = new ArrayList<>();
        List<AddedToken> normTokens = new ArrayList<>();
        for (AddedToken t : addedTokens) {
            if (t.normalized()) {
                normPatterns.add(normalizer == null ? t.content() : normalizer.normalize(t.content()));
                normTokens.add(t);
            } else {
                rawPatterns.add(t.content());
                rawTokens.add(t);
            }
        }
        this.rawMatcher = AddedTokenMatcher.of(rawPatterns, rawTokens);
        this.normalizedMatcher = AddedTokenMatcher.of(normPatterns, normTokens);

        this.postProcessor = postProcessor;
        if (postProcessor != null) {
            for (List<PostProcessor.Piece> pieces : List.of(postProcessor.single(), postProcessor.pair())) {
                for (PostProcessor.Piece p : pieces) {
                    if (p.special() && !postProcessor.specialTokens().containsKey(p.name())) {
                        throw new IllegalArgumentException("template uses undefined special token " + p.name());
                    }
                }
            }
        }
    }

    // ---------------------------------------------------------------- loading and saving

    /**
     * Loads a BERT tokenizer from a {@code vocab.txt} (one token per line, the line number is the
     * id), as {@code BertTokenizerFast(vocab_file=..., do_lower_case=lowercase)} builds it.
     *
     * @param vocabTxt the vocabulary file
     * @param lowercase true for uncased checkpoints (also strips accents), false for cased ones
     */
    public static BertTokenizer fromVocab(Path vocabTxt, boolean lowercase) throws IOException {
        return fromVocab(vocabTxt, lowercase ? BertNormalizer.UNCASED : BertNormalizer.CASED);
    }

    /**
     * Loads a BERT tokenizer from a {@code vocab.txt} with explicit normalizer settings
     * (e.g. {@code new BertNormalizer(true, true, false, true)} to lowercase without stripping accents).
     */
    public static BertTokenizer fromVocab(Path vocabTxt, BertNormalizer normalizer) throws IOException {
        return TokenizerFiles.fromVocab(vocabTxt, normalizer, SpecialTokens.BERT, DEFAULT_MODEL_MAX_LENGTH, true);
    }

    /**
     * Loads a Hugging Face {@code tokenizer.json} holding a WordPiece model: vocabulary, unknown
     * token, continuation prefix and word length limit from {@code model}; normalizer settings
     * ({@code lowercase}, {@code strip_accents}, {@code handle_chinese_chars}, {@code clean_text});
     * added tokens; the post-processor ({@code BertProcessing} or {@code TemplateProcessing}) and
     * the WordPiece decoder.
     *
     * @throws UnsupportedOperationException for components other than BERT's
     */
    public static BertTokenizer fromTokenizerJson(Path tokenizerJson) throws IOException {
        return TokenizerFiles.fromTokenizerJson(tokenizerJson, null);
    }

    /**
     * Loads a tokenizer saved by {@code transformers} (or by {@link #save}): {@code tokenizer.json}
     * if present, else {@code vocab.txt}; {@code tokenizer_config.json} and
     * {@code special_tokens_map.json} when present supply {@code do_lower_case},
     * {@code strip_accents}, {@code tokenize_chinese_chars}, {@code model_max_length},
     * {@code clean_up_tokenization_spaces} and the special token names, with
     * {@code BertTokenizerFast}'s defaults for missing keys.
     */
    public static BertTokenizer fromDirectory(Path dir) throws IOException {
        return TokenizerFiles.fromDirectory(dir);
    }

    /**
     * Writes {@code vocab.txt}, {@code tokenizer.json}, {@code tokenizer_config.json} and
     * {@code special_tokens_map.json} into {@code dir} (created if needed), so that
     * {@code AutoTokenizer.from_pretrained(dir)} gives a {@code BertTokenizerFast} behaving like
     * this tokenizer, and {@link #fromDirectory} reads it back.
     */
    public void save(Path dir) throws IOException {
        TokenizerFiles.save(this, dir);
    }

    /** A copy with another {@link #modelMaxLength()}. */
    public BertTokenizer withModelMaxLength(int modelMaxLength) {
        return new BertTokenizer(model, normalizer, addedTokens, postProcessor, decoderPrefix, decoderCleanup,
                specials, modelMaxLength, cleanUpTokenizationSpaces);
    }

    // ---------------------------------------------------------------- vocabulary

    /**
     * The size of the id space: one more than the largest id of the vocabulary and the added
     * tokens, i.e. the number of rows the word-embedding table needs (30522 for bert-base-uncased).
     */
    public int vocabSize() {
        return idToToken.length;
    }

    /** The id of {@code token} (added tokens first, then the vocabulary), or -1 if unknown. */
    public int tokenToId(String token) {
        Integer id = addedByContent.get(token);
        return id != null ? id : model.id(token);
    }

    /** The token of {@code id}, or null if no token has it. */
    public String idToToken(int id) {
        return id >= 0 && id < idToToken.length ? idToToken[id] : null;
    }

    /** The id of the padding token, or -1 if it has none. */
    public int padId() {
        return tokenToId(specials.pad());
    }

    /** The id of the classifier token {@code [CLS]}. */
    public int clsId() {
        return tokenToId(specials.cls());
    }

    /** The id of the separator {@code [SEP]}. */
    public int sepId() {
        return tokenToId(specials.sep());
    }

    /** The id of the unknown token {@code [UNK]}. */
    public int unkId() {
        return tokenToId(specials.unk());
    }

    /** The id of the mask token {@code [MASK]}. */
    public int maskId() {
        return tokenToId(specials.mask());
    }

    /** The special token names. */
    public SpecialTokens specialTokens() {
        return specials;
    }

    /** The added tokens (special ones included), by ascending id. */
    public List<AddedToken> addedTokens() {
        return addedTokens;
    }

    /** The normalizer, or null when the tokenizer has none. */
    public BertNormalizer normalizer() {
        return normalizer;
    }

    /** The WordPiece model. */
    public WordPiece wordPiece() {
        return model;
    }

    /** The length limit used when truncating or padding without an explicit {@code maxLength}. */
    public int modelMaxLength() {
        return modelMaxLength;
    }

    /** Whether {@link #decode(int[])} cleans spaces before punctuation by default. */
    public boolean cleanUpTokenizationSpaces() {
        return cleanUpTokenizationSpaces;
    }

    PostProcessor postProcessor() {
        return postProcessor;
    }

    String decoderPrefix() {
        return decoderPrefix;
    }

    boolean decoderCleanup() {
        return decoderCleanup;
    }

    // ---------------------------------------------------------------- encoding

    /**
     * The tokens of {@code text} without special tokens, like {@code tokenizer.tokenize(text)}.
     *
     * <pre>{@code
     * tok.tokenize("Don't panic!")  // [don, ', t, panic, !]
     * }</pre>
     */
    public List<String> tokenize(String text) {
        Scratch s = scratch.get();
        IntList ids = s.a;
        ids.clear();
        s.limit = 0;
        encodeSequence(text, s, ids);
        List<String> out = new ArrayList<>(ids.size);
        for (int i = 0; i < ids.size; i++) {
            out.add(idToToken[ids.data[i]]);
        }
        return out;
    }

    /** Encodes one sequence as {@code [CLS] text [SEP]}, without truncation or padding. */
    public Encoding encode(String text) {
        return encode(text, null, EncodeOptions.defaults());
    }

    /** Encodes a pair as {@code [CLS] a [SEP] b [SEP]} with token types 0 then 1, without truncation or padding. */
    public Encoding encode(String a, String b) {
        return encode(a, b, EncodeOptions.defaults());
    }

    /** Encodes one sequence with the given options. */
    public Encoding encode(String text, EncodeOptions options) {
        return encode(text, null, options);
    }

    /**
     * Encodes a pair (or, with {@code b == null}, one sequence) with the given options. Like a
     * single {@code tokenizer(a, b)} call in transformers, an empty {@code b} counts as no second
     * sequence (transformers tests {@code if text_pair}); {@link #encodeBatchPairs} keeps an
     * empty second text as a pair, as transformers' batch call does.
     *
     * @throws IllegalArgumentException if truncation cannot reach the length (e.g. {@code maxLength}
     *     below the number of special tokens, or {@code ONLY_FIRST} with a too short first sequence)
     */
    public Encoding encode(String a, String b, EncodeOptions options) {
        Objects.requireNonNull(a, "text");
        Objects.requireNonNull(options, "options");
        checkOptions(options);
        return encodeOne(a, b == null || b.isEmpty() ? null : b, options, options.padding());
    }

    /**
     * Encodes many texts on all cores; results are in input order. With
     * {@link EncodeOptions.Padding#LONGEST} all are padded to the longest of the batch.
     */
    public List<Encoding> encodeBatch(List<String> texts, EncodeOptions options) {
        List<TextPair> pairs = new ArrayList<>(texts.size());
        for (String t : texts) {
            pairs.add(TextPair.of(t));
        }
        return encodeBatchPairs(pairs, options);
    }

    /**
     * Encodes many single texts or pairs on all cores; results are in input order. A pair whose
     * second text is empty still gets its second {@code [SEP]}, as in transformers' batch call.
     */
    public List<Encoding> encodeBatchPairs(List<TextPair> inputs, EncodeOptions options) {
        Objects.requireNonNull(options, "options");
        checkOptions(options);
        int n = inputs.size();
        Encoding[] out = new Encoding[n];
        EncodeOptions.Padding perItem = options.padding() == EncodeOptions.Padding.LONGEST
                ? EncodeOptions.Padding.NONE : options.padding();
        IntStream range = IntStream.range(0, n);
        // Below a few inputs the fork/join hand-off costs more than it saves.
        if (n >= 8) {
            range = range.parallel();
        }
        range.forEach(i -> {
            TextPair p = inputs.get(i);
            out[i] = encodeOne(p.first(), p.second(), options, perItem);
        });
        if (options.padding() == EncodeOptions.Padding.LONGEST && n > 0) {
            int longest = 0;
            for (Encoding e : out) {
                longest = Math.max(longest, e.length());
            }
            int target = roundUp(longest, options.padToMultipleOf());
            for (int i = 0; i < n; i++) {
                out[i] = pad(out[i], target);
            }
        }
        return Arrays.asList(out);
    }

    private void checkOptions(EncodeOptions o) {
        if (o.padding() != EncodeOptions.Padding.NONE && padId() < 0) {
            throw new IllegalStateException("padding requested but the tokenizer has no pad token " + specials.pad());
        }
        int max = effectiveMaxLength(o);
        // transformers refuses this combination rather than produce a length that is neither.
        if (o.truncation() && o.padding() != EncodeOptions.Padding.NONE && o.padToMultipleOf() > 0
                && max % o.padToMultipleOf() != 0) {
            throw new IllegalArgumentException("truncation length " + max + " is not a multiple of padToMultipleOf "
                    + o.padToMultipleOf());
        }
    }

    private int effectiveMaxLength(EncodeOptions o) {
        return o.maxLength() > 0 ? o.maxLength() : modelMaxLength;
    }

    private static int roundUp(int length, int multiple) {
        if (multiple > 0 && length % multiple != 0) {
            return length + multiple - length % multiple;
        }
        return length;
    }

    private Encoding encodeOne(String a, String b, EncodeOptions o, EncodeOptions.Padding padding) {
        Scratch s = scratch.get();
        // With truncation, tokenizers (0.23+) stops tokenizing a sequence after the first word
        // that brings it to max_length tokens; the truncation rule then compares the lengths so
        // far. Tokens past that point are never kept (the budget is below max_length).
        s.limit = o.truncation() && o.truncationStrategy() != EncodeOptions.TruncationStrategy.LONGEST_FIRST_FULL_LENGTHS
                ? effectiveMaxLength(o) : 0;
        IntList ia = s.a;
        ia.clear();
        encodeSequence(a, s, ia);
        IntList ib = null;
        if (b != null) {
            ib = s.b;
            ib.clear();
            encodeSequence(b, s, ib);
        }
        s.limit = 0;
        boolean pair = b != null;
        boolean specialsOn = o.addSpecialTokens() && postProcessor != null;
        int added = specialsOn ? postProcessor.addedTokens(pair) : 0;
        int lenA = ia.size;
        int lenB = pair ? ib.size : 0;
        if (o.truncation()) {
            int max = effectiveMaxLength(o);
            if (added > max) {
                throw new IllegalArgumentException("maxLength " + max + " is smaller than the " + added
                        + " special tokens to add");
            }
            int[] lens = truncatedLengths(lenA, lenB, pair, max - added, o.truncationStrategy());
            lenA = lens[0];
            lenB = lens[1];
        }
        int total = added + lenA + lenB;
        int target = switch (padding) {
            case NONE -> total;
            case LONGEST -> roundUp(total, o.padToMultipleOf());
            case MAX_LENGTH -> Math.max(total, roundUp(effectiveMaxLength(o), o.padToMultipleOf()));
        };
        int[] ids = new int[target];
        int[] types = new int[target];
        int[] mask = new int[target];
        int k = 0;
        if (postProcessor != null) {
            for (PostProcessor.Piece p : pair ? postProcessor.pair() : postProcessor.single()) {
                if (p.special()) {
                    if (specialsOn) {
                        for (int id : postProcessor.specialTokens().get(p.name())) {
                            ids[k] = id;
                            types[k++] = p.typeId();
                        }
                    }
                } else if (p.name().equals("A")) {
                    k = copy(ia, lenA, p.typeId(), ids, types, k);
                } else {
                    k = copy(ib, lenB, p.typeId(), ids, types, k);
                }
            }
        } else {
            k = copy(ia, lenA, 0, ids, types, k);
            if (pair) {
                k = copy(ib, lenB, 1, ids, types, k);
            }
        }
        Arrays.fill(mask, 0, k, 1);
        if (k < target) {
            Arrays.fill(ids, k, target, padId());
        }
        return new Encoding(ids, types, mask, new Encoding.TokenView(ids, idToToken));
    }

    private static int copy(IntList src, int len, int type, int[] ids, int[] types, int k) {
        System.arraycopy(src.data, 0, ids, k, len);
        Arrays.fill(types, k, k + len, type);
        return k + len;
    }

    /**
     * Lengths after truncating to {@code budget} tokens, as Hugging Face's Rust
     * {@code truncate_encodings} computes them.
     */
    static int[] truncatedLengths(int lenA, int lenB, boolean pair, int budget,
            EncodeOptions.TruncationStrategy strategy) {
        if (budget == 0) {
            return new int[] {0, 0};
        }
        int total = lenA + lenB;
        if (total <= budget) {
            return new int[] {lenA, lenB};
        }
        int toRemove = total - budget;
        switch (strategy) {
            case LONGEST_FIRST, LONGEST_FIRST_FULL_LENGTHS -> {
                if (!pair) {
                    return new int[] {budget, 0};
                }
                int n1 = lenA;
                int n2 = lenB;
                boolean swap = n1 > n2; // n1 is the shorter one from here on
                if (swap) {
                    int t = n1;
                    n1 = n2;
                    n2 = t;
                }
                n2 = n1 > budget ? n1 : Math.max(n1, budget - n1);
                if (n1 + n2 > budget) {
                    n1 = budget / 2;
                    n2 = n1 + budget % 2;
                }
                if (swap) {
                    int t = n1;
                    n1 = n2;
                    n2 = t;
                }
                return new int[] {Math.min(lenA, n1), Math.min(lenB, n2)};
            }
            case ONLY_FIRST -> {
                if (lenA > toRemove) {
                    return new int[] {lenA - toRemove, lenB};
                }
                throw new IllegalArgumentException("first sequence (" + lenA
                        + " tokens) too short to truncate to the max length");
            }
            case ONLY_SECOND -> {
                if (!pair) {
                    throw new IllegalArgumentException("ONLY_SECOND truncation needs a second sequence");
                }
                if (lenB > toRemove) {
                    return new int[] {lenA, lenB - toRemove};
                }
                throw new IllegalArgumentException("second sequence (" + lenB
                        + " tokens) too short to truncate to the max length");
            }
            default -> throw new AssertionError(strategy);
        }
    }

    private Encoding pad(Encoding e, int target) {
        int n = e.length();
        if (n >= target) {
            return e;
        }
        int[] ids = Arrays.copyOf(e.inputIds(), target);
        Arrays.fill(ids, n, target, padId());
        int[] types = Arrays.copyOf(e.tokenTypeIds(), target);
        int[] mask = Arrays.copyOf(e.attentionMask(), target);
        return new Encoding(ids, types, mask, new Encoding.TokenView(ids, idToToken));
    }

    /** Appends the ids of one text (no special tokens) to {@code out}, stopping early at {@code s.limit}. */
    private void encodeSequence(String text, Scratch s, IntList out) {
        s.stopped = false;
        s.base = out.size;
        s.target = out;
        int pos = 0;
        if (rawMatcher != null) {
            int search = 0;
            int[] m = s.rawMatch;
            while (rawMatcher.next(text, 0, text.length(), search, pos, m)) {
                int start = m[0];
                int stop = m[1];
                int id = m[2];
                search = m[3];
                if (start > pos) {
                    encodeSegment(text, pos, start, s, out);
                    if (s.stopped) {
                        return;
                    }
                }
                out.add(id);
                pos = Math.max(pos, stop);
            }
        }
        if (pos < text.length()) {
            encodeSegment(text, pos, text.length(), s, out);
        }
    }

    /** Normalizes a piece of text without raw added tokens, then pre-tokenizes and runs WordPiece. */
    private void encodeSegment(String text, int from, int to, Scratch s, IntList out) {
        CharBuf norm = s.norm;
        norm.clear();
        if (normalizer != null) {
            normalizer.normalize(text, from, to, norm, s.tmp);
        } else {
            norm.ensure(to - from);
            text.getChars(from, to, norm.chars, 0);
            norm.length = to - from;
        }
        if (normalizedMatcher == null) {
            words(norm.chars, 0, norm.length, s);
            return;
        }
        int pos = 0;
        int search = 0;
        int[] m = s.normMatch;
        while (normalizedMatcher.next(norm, 0, norm.length, search, pos, m)) {
            if (m[0] > pos && !words(norm.chars, pos, m[0], s)) {
                return;
            }
            out.add(m[2]);
            pos = Math.max(pos, m[1]);
            search = m[3];
        }
        if (pos < norm.length) {
            words(norm.chars, pos, norm.length, s);
        }
    }

    /** Pre-tokenizes and WordPieces {@code a[from, to)} into {@code s.target}; false if the limit stopped it. */
    private boolean words(char[] a, int from, int to, Scratch s) {
        if (s.hashes.length < to - from + 1) {
            s.hashes = new int[Math.max(to - from + 1, s.hashes.length * 2)];
        }
        s.model = model;
        return BertPreTokenizer.split(a, from, to, s);
    }

    /** Per-thread buffers, so encoding a text allocates little beyond its result. */
    private static final class Scratch implements BertPreTokenizer.WordSink {
        final CharBuf norm = new CharBuf(512);
        final CharBuf tmp = new CharBuf(512);
        final IntList a = new IntList(256);
        final IntList b = new IntList(256);
        final int[] rawMatch = new int[4];
        final int[] normMatch = new int[4];
        int[] hashes = new int[513];
        WordPiece model;
        IntList target;
        /**
         * Stop after a WordPiece word that brings the sequence to this many tokens; 0 for no
         * limit. Added tokens count but are never the stopping point: tokenizers only checks
         * after tokenizing a word, and added tokens arrive already tokenized.
         */
        int limit;
        /** Where the current sequence starts in {@link #target}. */
        int base;
        boolean stopped;

        @Override
        public boolean word(char[] arr, int from, int to) {
            model.tokenizeInto(arr, from, to, target, hashes);
            if (limit > 0 && target.size - base >= limit) {
                stopped = true;
                return false;
            }
            return true;
        }
    }

    // ---------------------------------------------------------------- decoding

    /** Decodes ids to text, keeping special tokens, cleaning spaces as {@link #cleanUpTokenizationSpaces()} says. */
    public String decode(int[] ids) {
        return decode(ids, false, cleanUpTokenizationSpaces);
    }

    /** Decodes ids to text, optionally dropping special tokens ({@code [CLS] [SEP] [PAD] [UNK] [MASK]}). */
    public String decode(int[] ids, boolean skipSpecialTokens) {
        return decode(ids, skipSpecialTokens, cleanUpTokenizationSpaces);
    }

    /**
     * Decodes ids to text as {@code tokenizer.decode(ids, skip_special_tokens, clean_up_tokenization_spaces)}:
     * pieces starting with {@code ##} are glued to the previous one, other tokens are joined with
     * a space; the WordPiece decoder then removes a space before {@code . ? ! ,} in each token, and
     * with {@code cleanUpTokenizationSpaces} the whole text is cleaned too, which also turns
     * {@code " ' "} into {@code "'"} and glues {@code n't 'm 's 've 're}. Unknown ids are skipped.
     *
     * <pre>{@code
     * tok.decode(tok.encode("Don't stop!").inputIds(), true, true)   // "don't stop!"
     * tok.decode(tok.encode("Don't stop!").inputIds(), true, false)  // "don ' t stop!"
     * }</pre>
     */
    public String decode(int[] ids, boolean skipSpecialTokens, boolean cleanUpTokenizationSpaces) {
        StringBuilder sb = new StringBuilder(ids.length * 6);
        int emitted = 0;
        for (int id : ids) {
            String t = idToToken(id);
            if (t == null || (skipSpecialTokens && specialContents.contains(t))) {
                continue;
            }
            if (decoderPrefix == null) {
                // Without a decoder, tokenizers joins the tokens with spaces.
                if (emitted > 0) {
                    sb.append(' ');
                }
                sb.append(t);
            } else {
                if (emitted > 0) {
                    if (t.startsWith(decoderPrefix)) {
                        t = t.substring(decoderPrefix.length());
                    } else {
                        t = " " + t;
                    }
                }
                sb.append(decoderCleanup ? cleanupToken(t) : t);
            }
            emitted++;
        }
        String text = sb.toString();
        return cleanUpTokenizationSpaces ? cleanUpTokenization(text) : text;
    }

    /** The Rust WordPiece decoder's per-token cleanup. */
    private static String cleanupToken(String t) {
        if (t.indexOf(' ') < 0) {
            return t; // every pattern starts with a space
        }
        return t.replace(" .", ".").replace(" ?", "?").replace(" !", "!").replace(" ,", ",")
                .replace(" ' ", "'").replace(" n't", "n't").replace(" 'm", "'m").replace(" do not", " don't")
                .replace(" 's", "'s").replace(" 've", "'ve").replace(" 're", "'re");
    }

    /** transformers' {@code clean_up_tokenization}, applied to the whole decoded text. */
    static String cleanUpTokenization(String s) {
        return s.replace(" .", ".").replace(" ?", "?").replace(" !", "!").replace(" ,", ",")
                .replace(" ' ", "'").replace(" n't", "n't").replace(" 'm", "'m").replace(" 's", "'s")
                .replace(" 've", "'ve").replace(" 're", "'re");
    }
}
