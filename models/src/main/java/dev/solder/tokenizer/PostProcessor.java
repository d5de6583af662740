package dev.solder.tokenizer;

import java.util.List;
import java.util.Map;

/**
 * Where special tokens go around the sequences: Hugging Face's {@code TemplateProcessing}
 * ({@code BertProcessing} is the template {@code [CLS] $A [SEP]} / {@code [CLS] $A [SEP] $B:1 [SEP]:1}).
 *
 * @param single pieces for one sequence
 * @param pair pieces for two sequences
 * @param specialTokens name of each special piece to the ids it expands to
 */
record PostProcessor(List<Piece> single, List<Piece> pair, Map<String, int[]> specialTokens) {

    /**
     * One template piece: a special token or a sequence.
     *
     * @param special true for a special token
     * @param name the special token's name, or "A"/"B" for a sequence
     * @param typeId the token type id its tokens get
     */
    record Piece(boolean special, String name, int typeId) {}

    static PostProcessor bert(String cls, int clsId, String sep, int sepId) {
        return new PostProcessor(
                List.of(new Piece(true, cls, 0), new Piece(false, "A", 0), new Piece(true, sep, 0)),
                List.of(new Piece(true, cls, 0), new Piece(false, "A", 0), new Piece(true, sep, 0),
                        new Piece(false, "B", 1), new Piece(true, sep, 1)),
                Map.of(cls, new int[] {clsId}, sep, new int[] {sepId}));
    }

    /** How many special token ids the template adds: the truncation budget shrinks by this. */
    int addedTokens(boolean isPair) {
        int n = 0;
        for (Piece p : isPair ? pair : single) {
            if (p.special()) {
                n += specialTokens.get(p.name()).length;
            }
        }
        return n;
    }
}
