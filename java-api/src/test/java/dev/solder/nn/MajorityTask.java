package dev.solder.nn;

import dev.solder.Generator;
import dev.solder.Tensor;

/**
 * A generated sequence-classification task that needs attention: after a [CLS] token come
 * 3..maxLen−1 tokens drawn from {A, B, fillers}; the label is 1 when A occurs more often
 * than B (ties are redrawn). Batches are padded to their longest sequence and carry HF's
 * attention mask. The padding slots hold random A/B/filler tokens rather than [PAD], so a
 * model only counts right if the mask really hides them.
 */
final class MajorityTask {
    /** The word embedding's padding row; batches never contain it (see above). */
    static final int PAD = 0;
    static final int CLS = 1;
    static final int A = 2;
    static final int B = 3;
    static final int VOCAB = 8;   // 4..7 are fillers

    /** ids and mask int32 [n, len], labels int32 [n]; caller/scope owns them. */
    record Batch(Tensor ids, Tensor mask, Tensor labels, int[] labelValues) {
        /** The same batch with every slot marked as a token (the garbage padding included). */
        Batch unmasked() {
            int[] ones = new int[(int) mask.numel()];
            java.util.Arrays.fill(ones, 1);
            return new Batch(ids, Tensor.ofInts(ones, mask.shape()), labels, labelValues);
        }
    }

    private MajorityTask() {
    }

    static Batch batch(Generator g, int n, int maxLen) {
        int[][] seqs = new int[n][];
        int[] labels = new int[n];
        int len = 0;
        for (int i = 0; i < n; i++) {
            int[] s;
            int diff;
            do {
                int content = 3 + g.nextInt(maxLen - 3);
                s = new int[content + 1];
                s[0] = CLS;
                diff = 0;
                for (int j = 1; j <= content; j++) {
                    double u = g.nextDouble();
                    s[j] = u < 0.3 ? A : u < 0.6 ? B : 4 + g.nextInt(VOCAB - 4);
                    diff += s[j] == A ? 1 : s[j] == B ? -1 : 0;
                }
            } while (diff == 0);
            seqs[i] = s;
            labels[i] = diff > 0 ? 1 : 0;
            len = Math.max(len, s.length);
        }
        int[] ids = new int[n * len];
        int[] mask = new int[n * len];
        for (int i = 0; i < n; i++) {
            for (int j = 0; j < len; j++) {
                boolean real = j < seqs[i].length;
                ids[i * len + j] = real ? seqs[i][j] : A + g.nextInt(VOCAB - A);
                mask[i * len + j] = real ? 1 : 0;
            }
        }
        return new Batch(Tensor.ofInts(ids, n, len), Tensor.ofInts(mask, n, len), Tensor.ofInts(labels, n), labels);
    }
}
