package dev.solder.backend.cuda;

/**
 * Grid and block shape of one launch, and the pure functions that choose them for each kernel
 * family. Every choice depends on the problem's sizes only (never on timing or the GPU), which
 * is what keeps the two-stage reductions deterministic: the same sizes give the same partial
 * sums in the same order.
 */
record LaunchConfig(int gridX, int gridY, int blockX, int blockY, int sharedBytes) {

    /** Threads of a 1-D elementwise block. */
    static final int LINEAR_THREADS = 256;
    /** Most blocks of a grid-stride launch: 65536 × 256 threads = 16.7 M, enough for any GPU. */
    static final int MAX_LINEAR_BLOCKS = 1 << 16;
    /** Rows per block of the warp-per-row kernels (256 threads = 8 warps). */
    static final int ROWS_PER_BLOCK = 8;
    /** Blocks of stage 1 of a full reduction, at most. */
    static final int MAX_REDUCE_BLOCKS = 1024;
    /** Threads of the one-block reduction finishers. */
    static final int FINISH_THREADS = 256;
    /** Columns per block of the column reductions (block 32 × 8). */
    static final int COLUMN_TILE = 32;
    /** Row slices per block of the column reductions. */
    static final int COLUMN_SLICES = 8;
    /** Columns per (32, 8) block of the bias-GELU backward: eight a thread, for 16-byte accesses. */
    static final int BIAS_GELU_TILE = 256;
    /** Elements a thread takes at a time in the kernels with a 16-byte vector path ({@link #vec8}). */
    static final int VEC_ELEMENTS = 8;
    /** Blocks the column reductions aim for (columns tiles × row chunks). */
    static final int COLUMN_TARGET_BLOCKS = 1024;
    /** Threads (= columns) per block of the embedding backward. */
    static final int EMBEDDING_TILE = 128;
    /** Most id buckets of the embedding backward. */
    static final int MAX_EMBEDDING_BUCKETS = 256;
    /** CUDA's limit on gridDim.y and gridDim.z. */
    static final int MAX_GRID_Y = 65535;

    LaunchConfig {
        if (gridX < 0 || gridY < 1 || blockX < 1 || blockY < 1 || (long) blockX * blockY > 1024
                || gridY > MAX_GRID_Y || sharedBytes < 0) {
            throw new IllegalArgumentException("bad launch shape: grid " + gridX + "x" + gridY + ", block "
                    + blockX + "x" + blockY + ", shared " + sharedBytes);
        }
    }

    /** True when there is nothing to launch (zero elements). */
    boolean empty() {
        return gridX == 0;
    }

    static long ceilDiv(long a, long b) {
        return (a + b - 1) / b;
    }

    /** 1-D grid-stride launch over {@code n} elements: 256 threads a block, at most 65536 blocks. */
    static LaunchConfig linear(long n) {
        if (n < 0) {
            throw new IllegalArgumentException("negative element count " + n);
        }
        int blocks = (int) Math.min(ceilDiv(n, LINEAR_THREADS), MAX_LINEAR_BLOCKS);
        return new LaunchConfig(blocks, 1, LINEAR_THREADS, 1, 0);
    }

    /**
     * 1-D grid-stride launch of a kernel with a 16-byte vector path (elementwise.cu): 256 threads a
     * block, threads for {@code ceil(n / 8)} units of eight elements, at most 65536 blocks. A
     * thread of the scalar fallback walks eight elements where {@link #linear} gives one each.
     */
    static LaunchConfig vec8(long n) {
        if (n < 0) {
            throw new IllegalArgumentException("negative element count " + n);
        }
        return linear(ceilDiv(n, VEC_ELEMENTS));
    }

    /** Chunk-per-block kernels (the multi-tensor AdamW): 256 threads, a block per chunk up to the 1-D cap. */
    static LaunchConfig chunks(int chunks) {
        if (chunks <= 0) {
            throw new IllegalArgumentException("chunk count " + chunks + " must be positive");
        }
        return new LaunchConfig(Math.min(chunks, MAX_LINEAR_BLOCKS), 1, LINEAR_THREADS, 1, 0);
    }

    /** Warp-per-row kernels: 8 rows a 256-thread block, grid-stride over row groups. */
    static LaunchConfig rows(long rows) {
        if (rows < 0) {
            throw new IllegalArgumentException("negative row count " + rows);
        }
        int blocks = (int) Math.min(ceilDiv(rows, ROWS_PER_BLOCK), MAX_LINEAR_BLOCKS);
        return new LaunchConfig(blocks, 1, ROWS_PER_BLOCK * 32, 1, 0);
    }

    /** Stage 1 of a full reduction over {@code n} elements: one double partial per block. */
    static LaunchConfig reducePartial(long n) {
        int blocks = (int) Math.max(1, Math.min(ceilDiv(n, LINEAR_THREADS), MAX_REDUCE_BLOCKS));
        return new LaunchConfig(blocks, 1, LINEAR_THREADS, 1, 0);
    }

    /** A one-block finisher (sums partials, counts labels). */
    static LaunchConfig single() {
        return new LaunchConfig(1, 1, FINISH_THREADS, 1, 0);
    }

    /**
     * How a column reduction over {@code [rows, cols]} splits its rows: {@code chunks} blocks per
     * 32-column tile, each reducing {@code rowsPerChunk} rows (the last may have fewer).
     */
    record ColumnSplit(int colTiles, int chunks, long rowsPerChunk) {
        LaunchConfig partial() {
            return new LaunchConfig(colTiles, chunks, COLUMN_TILE, COLUMN_SLICES, 0);
        }
    }

    /**
     * Stage 2 of a column reduction ({@code solder_column_sum_finish}): a {@code 32 × 8} block per
     * 32-column tile, grid-stride past 65536 tiles, {@code outputs} (1 or 2) planes in y.
     */
    static LaunchConfig columnFinish(long cols, int outputs) {
        if (cols <= 0 || outputs < 1 || outputs > 2) {
            throw new IllegalArgumentException("column finish over " + cols + " columns, " + outputs + " outputs");
        }
        int tiles = (int) Math.min(ceilDiv(cols, COLUMN_TILE), MAX_LINEAR_BLOCKS);
        return new LaunchConfig(tiles, outputs, COLUMN_TILE, COLUMN_SLICES, 0);
    }

    /** The row split of a column reduction; {@code rows, cols > 0}. */
    static ColumnSplit columnSplit(long rows, long cols) {
        return columnSplit(rows, cols, COLUMN_TILE);
    }

    /**
     * The row split of a column reduction whose (32, 8) blocks own {@code tile} columns each
     * ({@link #COLUMN_TILE}, or {@link #BIAS_GELU_TILE} for the bias-GELU backward).
     */
    static ColumnSplit columnSplit(long rows, long cols, int tile) {
        if (rows <= 0 || cols <= 0) {
            throw new IllegalArgumentException("column reduction over [" + rows + ", " + cols + "]");
        }
        long tiles = ceilDiv(cols, tile);
        if (tiles > Integer.MAX_VALUE) {
            throw new IllegalArgumentException("column reduction: " + cols + " columns is too many");
        }
        long wantChunks = Math.max(1, COLUMN_TARGET_BLOCKS / tiles);
        long chunks = Math.min(Math.min(ceilDiv(rows, 32), wantChunks), MAX_GRID_Y);
        chunks = Math.max(1, chunks);
        long rowsPerChunk = ceilDiv(rows, chunks);
        chunks = ceilDiv(rows, rowsPerChunk);
        return new ColumnSplit((int) tiles, (int) chunks, rowsPerChunk);
    }

    /** Number of id buckets of the embedding backward for a table of {@code vocab} rows. */
    static int embeddingBuckets(long vocab) {
        return (int) Math.max(1, Math.min(vocab, MAX_EMBEDDING_BUCKETS));
    }

    /** The embedding backward's grid: 128-column tiles × buckets. */
    static LaunchConfig embeddingBackward(long cols, long vocab) {
        long tiles = ceilDiv(cols, EMBEDDING_TILE);
        if (tiles > Integer.MAX_VALUE) {
            throw new IllegalArgumentException("embedding: " + cols + " columns is too many");
        }
        return new LaunchConfig((int) tiles, embeddingBuckets(vocab), EMBEDDING_TILE, 1, 0);
    }

    /**
     * The fused embeddings backward's grid: 128-column tiles × (word + type + position buckets),
     * the y blocks taken by the word table's buckets first, then the type table's, then the
     * position table's.
     */
    static LaunchConfig embeddingsBackwardFused(long cols, int wordBuckets, int typeBuckets, int positionBuckets) {
        LaunchConfig c = embeddingBackward(cols, 1);
        return new LaunchConfig(c.gridX, wordBuckets + typeBuckets + positionBuckets, EMBEDDING_TILE, 1, 0);
    }

    @Override
    public String toString() {
        return "grid " + gridX + "x" + gridY + ", block " + blockX + "x" + blockY
                + (sharedBytes > 0 ? ", shared " + sharedBytes : "");
    }
}
