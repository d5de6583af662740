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

// dtable[ids[n], c] += dy[n, c] for every position n whose id is in [0, vocab) and is not
// paddingIdx (pass -1 for none). dtable is float32 [vocab, cols] and must be zeroed first.
// Launch: block 128, grid (ceil(cols/128), buckets); block (bx, b) handles the ids with
// id % buckets == b, thread x column bx·128 + x.
extern "C" __global__ void solder_embedding_backward(const void* ids, int idt, const void* dy, int dydt,
                                                     float* dtable, long long rows, int cols, long long vocab,
                                                     long long paddingIdx, int buckets) {
    __shared__ long long tile[SOLDER_EMB_TILE];
    int c = blockIdx.x * SOLDER_EMB_TILE + threadIdx.x;
    long long bucket = blockIdx.y;
    long long cur = -1;
    float acc = 0.0f;
    for (long long base = 0; base < rows; base += SOLDER_EMB_TILE) {
        __syncthreads();  // the previous tile is consumed
        if (base + threadIdx.x < rows) {
            tile[threadIdx.x] = solder_load_index(ids, idt, base + threadIdx.x);
        }
        __syncthreads();
        long long left = rows - base;
        int count = left < SOLDER_EMB_TILE ? (int)left : SOLDER_EMB_TILE;
        for (int t = 0; t < count; t++) {
            long long id = tile[t];
            if (id < 0 || id >= vocab || id == paddingIdx || id % buckets != bucket) {
                continue;
            }
            if (c < cols) {
                if (id != cur) {
                    if (cur >= 0) {
                        dtable[cur * cols + c] += acc;
                    }
                    cur = id;
                    acc = 0.0f;
                }
                acc += solder_load(dy, dydt, (base + t) * cols + c);
            }
        }
    }
    if (c < cols && cur >= 0) {
        dtable[cur * cols + c] += acc;
    }
}
