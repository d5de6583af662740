// host_threads.h — CUDA's thread model on the host, for the host models (flash_host_model.cpp,
// fused_host_model.cpp) that compile kernels of src/main/cuda with g++ and run them without a GPU.
//
// Every CUDA thread of a block is a std::thread (threadIdx and blockIdx are thread_local); blocks
// run one after another on the same threads. __syncthreads is a block barrier; a warp shuffle
// goes through the warp's exchange buffer between two warp barriers, so every lane must reach
// it, as on the GPU with a full mask. atomicCAS is a lock-protected compare-and-swap. The Warp also carries the operand
// and row-address exchange the mma.sync and ldmatrix models of flash_host_model.cpp use.
//
// Include this instead of cuda_host_shim.h, then the .cu file, then call launch(gx, gy, threads, body)
// (or launch(gx, gy, bx, by, body) for two-dimensional blocks).

#ifndef SOLDER_HOST_THREADS_H
#define SOLDER_HOST_THREADS_H

#include <atomic>
#include <barrier>
#include <memory>
#include <mutex>
#include <thread>
#include <vector>

#define SOLDER_HOST_THREADS 1
#include "cuda_host_shim.h"

struct Warp {
    std::barrier<> bar{32};
    double xbuf[32];
    unsigned a[32][4];
    unsigned b[32][2];
    const unsigned short* rows[32];  // ldmatrix: each lane's row address
};

struct Block {
    std::barrier<> bar;
    std::atomic<int> orAcc{0};
    std::vector<std::unique_ptr<Warp>> warps;
    explicit Block(int threads) : bar(threads) {
        for (int w = 0; w < threads / 32; w++) {
            warps.push_back(std::make_unique<Warp>());
        }
    }
};

static Block* gBlock;
thread_local Warp* tWarp;
thread_local int tLane;

static inline void __syncthreads() {
    gBlock->bar.arrive_and_wait();
}

static inline int __syncthreads_or(int v) {
    gBlock->bar.arrive_and_wait();
    if (threadIdx.x == 0) {
        gBlock->orAcc = 0;
    }
    gBlock->bar.arrive_and_wait();
    if (v) {
        gBlock->orAcc.fetch_or(1);
    }
    gBlock->bar.arrive_and_wait();
    int r = gBlock->orAcc.load();
    gBlock->bar.arrive_and_wait();
    return r;
}

template <class T>
static inline T __shfl_xor_sync(unsigned, T v, int off) {
    tWarp->xbuf[tLane] = (double)v;
    tWarp->bar.arrive_and_wait();
    T r = (T)tWarp->xbuf[tLane ^ off];
    tWarp->bar.arrive_and_wait();
    return r;
}

static std::mutex gAtomicLock;

static inline int atomicCAS(int* p, int expected, int desired) {
    std::lock_guard<std::mutex> hold(gAtomicLock);
    int old = *p;
    if (old == expected) {
        *p = desired;
    }
    return old;
}

// A launch of gx × gy blocks of bx × by threads (thread t of a block is (t mod bx, t / bx), and
// its warp is t / 32, as CUDA numbers them). The blocks run one after another on the same
// bx × by host threads: each thread takes the next block's coordinates after a launch-wide
// barrier that every thread reaches only once it is done with the block before. That barrier
// is the only order between blocks, as on the GPU nothing orders them but the launch's end.
// Reusing the threads instead of starting a set per block keeps the sanitized builds
// (KernelSanitizerHostTest) fast: under ThreadSanitizer starting a thread is the dear part.
template <class F>
static void launch(int gx, int gy, int bx, int by, F kernel) {
    int threads = bx * by;
    gridDim = {(unsigned)gx, (unsigned)gy, 1};
    blockDim = {(unsigned)bx, (unsigned)by, 1};
    Block blk(threads);
    gBlock = &blk;
    std::barrier<> betweenBlocks(threads);
    std::vector<std::thread> th;
    for (int t = 0; t < threads; t++) {
        th.emplace_back([&, t] {
            threadIdx = {(unsigned)(t % bx), (unsigned)(t / bx), 0};
            tWarp = blk.warps[t / 32].get();
            tLane = t % 32;
            for (int gyi = 0; gyi < gy; gyi++) {
                for (int gxi = 0; gxi < gx; gxi++) {
                    betweenBlocks.arrive_and_wait();
                    blockIdx = {(unsigned)gxi, (unsigned)gyi, 0};
                    kernel();
                }
            }
        });
    }
    for (auto& x : th) {
        x.join();
    }
}

template <class F>
static void launch(int gx, int gy, int threads, F kernel) {
    launch(gx, gy, threads, 1, kernel);
}

#endif
