package dev.solder.io;

import com.fasterxml.jackson.core.JsonFactory;
import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.core.StreamReadFeature;
import com.fasterxml.jackson.databind.DeserializationFeature;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.IOException;
import java.nio.file.Path;

/** The strict JSON parsing the weight readers share. */
final class Json {
    private Json() {}

    // Duplicate keys would make "which tensor is meant" ambiguous, and trailing garbage means the
    // header length is wrong: both are errors rather than something to guess around.
    static final ObjectMapper MAPPER = new ObjectMapper(JsonFactory.builder()
                    .enable(StreamReadFeature.STRICT_DUPLICATE_DETECTION)
                    .build())
            .enable(DeserializationFeature.FAIL_ON_TRAILING_TOKENS);

    /** Parses {@code bytes} and requires a JSON object. */
    static JsonNode parseObject(Path file, byte[] bytes, String what) throws WeightFormatException {
        JsonNode root;
        try {
            root = MAPPER.readTree(bytes);
        } catch (JsonProcessingException e) {
            throw new WeightFormatException(file, what + " is not well-formed JSON: " + e.getOriginalMessage(), e);
        } catch (IOException e) {
            throw new WeightFormatException(file, what + " cannot be parsed: " + e.getMessage(), e);
        }
        if (root == null || !root.isObject()) {
            throw new WeightFormatException(file, what + " must be a JSON object, found "
                    + (root == null || root.isMissingNode() ? "nothing" : root.getNodeType().toString().toLowerCase()));
        }
        return root;
    }

    /** A non-negative integer that fits a long, or -1. */
    static long nonNegativeLong(JsonNode n) {
        if (n == null || !n.isIntegralNumber() || !n.canConvertToLong()) {
            return -1;
        }
        long v = n.asLong();
        return v < 0 ? -1 : v;
    }
}
