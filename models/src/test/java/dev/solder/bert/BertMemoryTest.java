package dev.solder.bert;

import static org.junit.jupiter.api.Assertions.assertEquals;

import dev.solder.Autocast;
import dev.solder.Backends;
import dev.solder.DType;
import dev.solder.Device;
import dev.solder.Generator;
import dev.solder.Ops;
import dev.solder.Scope;
import dev.solder.Tensor;
import org.junit.jupiter.api.Test;

/**
 * What a training forward of the encoder leaves alive for its backward, byte for byte: each
 * layer keeps what its ops' backwards read and nothing else — not its dense outputs, not the
 * float32 hidden states between blocks (under autocast the products read their bf16 copy).
 * CPU live bytes, bfloat16 autocast, the padded path (the one a GPU runs).
 */
class BertMemoryTest {
    private static final int B = 2;
    private static final int S = 8;

    private static long live() {
        return Backends.forKind(Device.Kind.CPU).liveBytes(Device.cpu());
    }

    /** Live bytes a training forward adds, for a model of {@code layers} layers (its weights' casts made beforehand). */
    private static long forwardBytes(int layers, long seed) {
        BertConfig c = BertConfig.builder().vocabSize(BertTestSupport.VOCAB).hiddenSize(32).numHiddenLayers(layers)
                .numAttentionHeads(4).intermediateSize(64).maxPositionEmbeddings(40).build();
        BertModel m = new BertModel(c, new Generator(seed), false);
        m.train();
        long[][] in = BertTestSupport.inputs(seed, B, S);
        Tensor ids = Tensor.ofLongs(in[0], B, S);
        Tensor mask = Tensor.ofLongs(in[2], B, S);
        try {
            for (int pass = 0; pass < 2; pass++) {   // pass 0 makes the weights' bf16 copies, kept from then on
                try (Scope s = Scope.open()) {
                    long before = live();
                    Tensor h;
                    try (var ac = Autocast.enable(DType.BFLOAT16)) {
                        h = m.forward(ids, null, mask).lastHiddenState();
                    }
                    long forward = live() - before;
                    h.sum().backward();
                    if (pass == 1) {
                        return forward;
                    }
                }
                m.zeroGrad();
            }
            throw new AssertionError();
        } finally {
            m.close();
            ids.close();
            mask.close();
        }
    }

    /** What the attention op keeps for its backward beyond its output, on bf16 [B, S, 32] inputs. */
    private static long attentionSavedBytes(long seed) {
        var g = new Generator(seed);
        try (Scope s = Scope.open()) {
            Tensor q = Tensor.randn(g, B, S, 32).to(DType.BFLOAT16).requiresGrad(true);
            Tensor k = Tensor.randn(g, B, S, 32).to(DType.BFLOAT16).requiresGrad(true);
            Tensor v = Tensor.randn(g, B, S, 32).to(DType.BFLOAT16).requiresGrad(true);
            Tensor mask = Tensor.ofLongs(BertTestSupport.inputs(seed, B, S)[2], B, S);
            long before = live();
            Tensor out = Ops.attention(q, k, v, mask, 4, 0.1f, seed);
            return live() - before - out.numel() * 2;
        }
    }

    @Test
    void aLayerKeepsOnlyWhatItsBackwardReads() {
        long seed = BertTestSupport.freshSeed("aLayerKeepsOnlyWhatItsBackwardReads");
        long perLayer = forwardBytes(3, seed) - forwardBytes(2, seed);
        long t = (long) B * S;
        long h = 32;
        long i = 64;
        long bf16 = 2;
        long f32 = 4;
        long expected = t * h * bf16            // one bf16 cast of the layer's input for query, key and value
                + 3 * t * h * bf16              // q, k, v (the attention's backward reads them)
                + t * h * bf16                  // the attention's output (its backward and the dense's read it)
                + attentionSavedBytes(seed)     // its softmax state
                + 2 * (t * h * f32 + 2 * t * f32)   // each LayerNorm's normalised sum, mean and rstd
                + t * h * bf16                  // the bf16 cast of the attention block's output for the up-projection
                + 2 * t * i * bf16;             // linearGelu's pre-activation and output (the down-projection's input)
        // Not kept: the two dense outputs (dropoutLayerNorm's backward never reads them) and the
        // float32 outputs of both LayerNorms (their readers use the bf16 casts): 2·T·H·(2 + 4) bytes.
        assertEquals(expected, perLayer, "bytes a layer keeps for its backward (seed " + seed + ")");
    }
}
