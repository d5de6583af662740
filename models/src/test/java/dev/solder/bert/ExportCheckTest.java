package dev.solder.bert;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.solder.Autograd;
import dev.solder.Scope;
import dev.solder.Tensor;
import dev.solder.nn.Module;
import dev.solder.tokenizer.BertTokenizer;
import dev.solder.tokenizer.EncodeOptions;
import dev.solder.tokenizer.Encoding;
import dev.solder.tokenizer.TextPair;
import java.io.IOException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * What {@link ExportCheck} writes for {@code check_hf_load.py} is consistent on the Solder side:
 * each directory loads back with {@code fromPretrained} and reproduces {@code expected.json}
 * exactly, and its saved tokenizer re-encodes the texts to the recorded ids.
 */
class ExportCheckTest {
    @TempDir
    Path tmp;

    @Test
    void exportedDirectoriesReproduceTheirExpectedOutputs() throws IOException {
        long seed = BertTestSupport.freshSeed("export");
        List<Path> dirs = ExportCheck.export(tmp, seed);
        assertEquals(3, dirs.size());
        ObjectMapper json = new ObjectMapper();
        for (Path d : dirs) {
            JsonNode e = json.readTree(d.resolve("expected.json").toFile());
            String arch = e.get("architecture").asText();
            BertTokenizer tok = Bert.tokenizer(d.toString());
            List<TextPair> texts = new ArrayList<>();
            e.get("texts").forEach(t -> texts.add(new TextPair(t.get(0).asText(), t.get(1).isNull() ? null : t.get(1).asText())));
            List<Encoding> enc = tok.encodeBatchPairs(texts, EncodeOptions.defaults().withPadding(EncodeOptions.Padding.LONGEST));
            for (int i = 0; i < enc.size(); i++) {
                assertArrayEquals(ints(e.get("input_ids").get(i)), enc.get(i).inputIds(), d + " row " + i);
                assertArrayEquals(ints(e.get("token_type_ids").get(i)), enc.get(i).tokenTypeIds(), d + " row " + i);
            }
            Bert.Options quiet = Bert.Options.defaults().warnings(w -> {
                throw new AssertionError(d + ": unexpected warning " + w);
            });
            try (Module m = switch (arch) {
                    case "BertForSequenceClassification" -> BertForSequenceClassification.fromPretrained(d.toString(), quiet);
                    case "BertForMaskedLM" -> BertForMaskedLM.fromPretrained(d.toString(), quiet);
                    default -> BertModel.fromPretrained(d.toString(), quiet);
                };
                 var ng = Autograd.noGrad(); Scope s = Scope.open()) {
                m.eval();
                Tensor[] in = ExportCheck.inputs(enc);
                Tensor out = switch (m) {
                    case BertForSequenceClassification c -> c.forward(in[0], in[1], in[2]);
                    case BertForMaskedLM l -> l.forward(in[0], in[1], in[2]);
                    case BertModel b -> b.forward(in[0], in[1], in[2]).lastHiddenState();
                    default -> throw new AssertionError(arch);
                };
                // JSON holds each float32 as its shortest decimal, which parses back to the same float.
                assertArrayEquals(floats(e.get("output")), out.toFloatArray(), 0f, d + ", seed " + seed);
            }
        }
    }

    private static float[] floats(JsonNode nested) {
        List<Float> v = new ArrayList<>();
        flatten(nested, v);
        float[] out = new float[v.size()];
        for (int i = 0; i < out.length; i++) {
            out[i] = v.get(i);
        }
        return out;
    }

    private static void flatten(JsonNode n, List<Float> out) {
        if (n.isArray()) {
            n.forEach(c -> flatten(c, out));
        } else {
            out.add((float) n.asDouble());
        }
    }

    private static int[] ints(JsonNode a) {
        int[] v = new int[a.size()];
        for (int i = 0; i < v.length; i++) {
            v[i] = a.get(i).asInt();
        }
        return v;
    }
}
