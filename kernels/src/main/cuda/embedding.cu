// embedding.cu — row gather with an id range check, and its deterministic scatter-add.
//
// Forward: one thread per output element (row n = i / cols), so a warp reads 32 adjacent
// columns of one table row: coalesced. An id outside [0, vocab) is not read; its output row
// is zeroed and the first offender is reported through a small error buffer that the Java
// side resets before the launch and checks after it (it throws naming position and id).
//
// Backward: dtable (float32, zeroed by the caller) += dy rows at their ids. A plain
// atomicAdd scatter would make the sums depend on thread timing; instead table rows are
// dealt to `buckets` blocks by id % buckets, and each thread of a block owns one column of
// its rows. Every block walks all ids in order (staged through shared memory 128 at a
// time) and handles those of its bucket; a run of equal ids is summed in a register before
// one read-modify-write. Each dtable element is thus written by exactly one thread, adding
// the rows in ascending position order — the same bits on every run, no atomics.
//
// The fused path's BERT embeddings (forward in layernorm.cu, beside the fused LayerNorm) end
// their backward here: one launch scatters dh into the word, token-type and position tables.

#include "solder_common.cuh"

// out[n, c] = table[ids[n], c] for n in [0, rows), c in [0, cols). A bad id zeroes its row,
// and the first one sets err[0] = 1, errInfo[0] = n, errInfo[1] = id.
// Launch: 1-D, 256 threads, grid-stride over rows·cols.
extern "C" __global__ void solder_embedding_forward(const void* ids, int idt, const void* table, int tdt,
                                                    void* out, int odt, long long rows, int cols,
                                                    long long vocab, int* err, long long* errInfo) {
    long long total = rows * (long long)cols;
    SOLDER_FOR_EACH(i, total) {
        long long n = i / cols;
        long long c = i - n * cols;
        long long id = solder_load_index(ids, idt, n);
        if (id < 0 || id >= vocab) {
            solder_store(out, odt, i, 0.0f);
            if (c == 0 && atomicCAS(err, 0, 1) == 0) {
                errInfo[0] = n;
                errInfo[1] = id;
            }
        } else {
            solder_store(out, odt, i, solder_load(table, tdt, id * cols + c));
        }
    }
}

#define SOLDER_EMB_TILE 128
#define SOLDER_EMB_BATCH 16

// One block's share of the deterministic scatter-add: dtable[id(n), c] += dy[n, c] for the rows
// n whose id(n) = ids[n % idPeriod] is in [0, vocab), is not paddingIdx (-1 for none) and falls
// in this block's bucket (id % buckets == bucket); this thread owns column colTile·128 + x.
// Positions are visited in ascending order, a run of equal ids summed in a register first (acc
// starts at 0 for each run) and then added to dtable.
//
// Staging: the block's threads load 128 ids at a time into shared memory, each keeping its id
// only when it is valid and in this bucket (else -1), so the 64-bit modulo is done once per id
// and block, not once per id and thread. Then each thread reads dy for SOLDER_EMB_BATCH staged
// positions before it adds any of them: the adds of one column are a chain, and a table with
// few rows has few buckets (BERT's token types: 2) whose block gets every row (4,096 at 32 × 128),
// so with one load waiting per add that block alone took thousands of L2 round trips. The adds
// are the same and in the same order; the loads are of dy, which dtable never overlaps.
// Every thread of the block must call it (it stages ids through shared memory).
__device__ __forceinline__ void solder_embedding_scatter(const void* ids, int idt, long long idPeriod,
                                                         const void* dy, int dydt, float* dtable, long long rows,
                                                         int cols, long long vocab, long long paddingIdx,
                                                         int buckets, long long bucket, int colTile) {
    __shared__ long long tile[SOLDER_EMB_TILE];
    int c = colTile * SOLDER_EMB_TILE + threadIdx.x;
    long long cur = -1;
    float acc = 0.0f;
    for (long long base = 0; base < rows; base += SOLDER_EMB_TILE) {
        __syncthreads();  // the previous tile is consumed
        if (base + threadIdx.x < rows) {
            long long id = solder_load_index(ids, idt, (base + threadIdx.x) % idPeriod);
            bool mine = id >= 0 && id < vocab && id != paddingIdx && id % buckets == bucket;
            tile[threadIdx.x] = mine ? id : -1;
        }
        __syncthreads();
        if (c >= cols) {
            continue;  // still at both barriers of every tile
        }
        long long left = rows - base;
        int count = left < SOLDER_EMB_TILE ? (int)left : SOLDER_EMB_TILE;
        for (int t0 = 0; t0 < count; t0 += SOLDER_EMB_BATCH) {
            long long id[SOLDER_EMB_BATCH];
            float v[SOLDER_EMB_BATCH];
#pragma unroll
            for (int u = 0; u < SOLDER_EMB_BATCH; u++) {
                id[u] = t0 + u < count ? tile[t0 + u] : -1;
                v[u] = id[u] >= 0 ? solder_load(dy, dydt, (base + t0 + u) * cols + c) : 0.0f;
            }
#pragma unroll
            for (int u = 0; u < SOLDER_EMB_BATCH; u++) {
                if (id[u] < 0) {
                    continue;
                }
                if (id[u] != cur) {
                    if (cur >= 0) {
                        dtable[cur * cols + c] += acc;
                    }
                    cur = id[u];
                    acc = 0.0f;
                }
                acc += v[u];
            }
        }
    }
    if (c < cols && cur >= 0) {
        dtable[cur * cols + c] += acc;
    }
}

// dtable[ids[n], c] += dy[n, c] for every position n whose id is in [0, vocab) and is not
// paddingIdx (pass -1 for none). dtable is float32 [vocab, cols] and must be zeroed first.
// Launch: block 128, grid (ceil(cols/128), buckets); block (bx, b) handles the ids with
// id % buckets == b, thread x column bx·128 + x.
extern "C" __global__ void solder_embedding_backward(const void* ids, int idt, const void* dy, int dydt,
                                                     float* dtable, long long rows, int cols, long long vocab,
                                                     long long paddingIdx, int buckets) {
    solder_embedding_scatter(ids, idt, rows, dy, dydt, dtable, rows, cols, vocab, paddingIdx, buckets, blockIdx.y,
                             blockIdx.x);
}

// The fused path's backward of BERT's embeddings (after the fused LayerNorm backward has made
// dh, float32 [rows, cols]): the three scatter-adds of solder_embedding_backward in ONE launch.
// The grid's y blocks are the word table's buckets, then the type table's, then the position
// table's; token n's position id is positionIds[n % seq]. dword (skipping wordPaddingIdx),
// dtype, dposition are float32, zeroed first; a null one is skipped. Each table's elements get
// the same bits as solder_embedding_backward would give them, except the position table, whose
// unfused path first sums dh over the batch (sumToSuffix, in double) and then scatters.
// Launch: block 128, grid (ceil(cols/128), wordBuckets + typeBuckets + positionBuckets).
extern "C" __global__ void solder_embeddings_backward_fused(const float* dh, long long rows, int cols,
                                                            const void* ids, int idt, float* dword, long long wordRows,
                                                            long long wordPaddingIdx, int wordBuckets,
                                                            const void* typeIds, int tdt, float* dtype,
                                                            long long typeRows, int typeBuckets,
                                                            const void* positionIds, int pdt, long long seq,
                                                            float* dposition, long long positionRows,
                                                            int positionBuckets) {
    long long y = blockIdx.y;
    if (y < wordBuckets) {
        if (dword != 0) {
            solder_embedding_scatter(ids, idt, rows, dh, SOLDER_F32, dword, rows, cols, wordRows, wordPaddingIdx,
                                     wordBuckets, y, blockIdx.x);
        }
        return;
    }
    y -= wordBuckets;
    if (y < typeBuckets) {
        if (dtype != 0) {
            solder_embedding_scatter(typeIds, tdt, rows, dh, SOLDER_F32, dtype, rows, cols, typeRows, -1, typeBuckets,
                                     y, blockIdx.x);
        }
        return;
    }
    y -= typeBuckets;
    if (dposition != 0) {
        solder_embedding_scatter(positionIds, pdt, seq, dh, SOLDER_F32, dposition, rows, cols, positionRows, -1,
                                 positionBuckets, y, blockIdx.x);
    }
}
