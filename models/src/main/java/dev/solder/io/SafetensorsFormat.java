package dev.solder.io;

import dev.solder.DType;
import java.util.Set;

/** Names and limits of the safetensors format shared by the reader and the writer. */
final class SafetensorsFormat {
    private SafetensorsFormat() {}

    /** The reference implementation refuses larger headers; so do we (it bounds what we parse). */
    static final long MAX_HEADER_BYTES = 100_000_000L;

    static final String METADATA_KEY = "__metadata__";

    /** Every dtype string the format defines, so an unsupported one gets a precise message. */
    static final Set<String> KNOWN_DTYPES = Set.of("BOOL", "U8", "I8", "I16", "U16", "F16", "BF16", "I32",
            "U32", "F32", "F64", "I64", "U64", "F8_E5M2", "F8_E4M3", "F8_E8M0", "F4", "F6_E2M3",
            "F6_E3M2", "C64");

    static DType parse(String s) {
        return switch (s) {
            case "F32" -> DType.FLOAT32;
            case "BF16" -> DType.BFLOAT16;
            case "F16" -> DType.FLOAT16;
            case "I32" -> DType.INT32;
            case "I64" -> DType.INT64;
            default -> null;
        };
    }

    static String name(DType d) {
        return switch (d) {
            case FLOAT32 -> "F32";
            case BFLOAT16 -> "BF16";
            case FLOAT16 -> "F16";
            case INT32 -> "I32";
            case INT64 -> "I64";
        };
    }

    /**
     * Position of the dtype in the reference implementation's {@code Dtype} enum, which is
     * declared in increasing alignment order; the writer sorts by it, descending, so that every
     * tensor starts at a multiple of its element size.
     */
    static int alignmentRank(DType d) {
        return switch (d) {
            case FLOAT16 -> 11;
            case BFLOAT16 -> 12;
            case INT32 -> 13;
            case FLOAT32 -> 15;
            case INT64 -> 18;
        };
    }
}
