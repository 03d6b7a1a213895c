/*
 * simt.cpp: runs post-cuda's CUDA kernels (kernels/label_kernels.cu, unchanged) on the host, for tests
 * on machines without a GPU.
 *
 * A tiny SIMT emulator: every CUDA thread of a block is a coroutine (ucontext) with its own stack, run
 * one at a time by a scheduler. The CUDA built-ins the kernels use are defined here:
 *   - threadIdx / blockIdx / blockDim / gridDim: set by the scheduler before it resumes a thread;
 *   - __syncthreads(): waits until every thread of the block has arrived;
 *   - __shfl_sync(mask, v, src, width): waits until every lane in `mask` has posted its value for this
 *     shuffle, then reads lane src of the caller's width-segment (values are double-buffered by shuffle
 *     count, which is enough because no lane can post twice before the others have read);
 *     __shfl_xor_sync on top of it;
 *   - __shared__ = static: blocks run one after the other;
 *   - __funnelshift_l, uint4, make_uint4.
 * A scheduling pass in which no thread moves (a shuffle whose mask names a lane that never comes, a
 * __syncthreads that some thread skips) aborts the test with a message: on a GPU that would hang or be
 * undefined.
 */
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <functional>
#include <memory>
#include <vector>
#include <ucontext.h>

struct dim3 {
    unsigned x, y, z;
};
struct uint4 {
    unsigned x, y, z, w;
};
static inline uint4 make_uint4(unsigned x, unsigned y, unsigned z, unsigned w) { return uint4{x, y, z, w}; }

static dim3 threadIdx, blockIdx, blockDim, gridDim;

static inline unsigned __funnelshift_l(unsigned lo, unsigned hi, unsigned shift) {
    shift &= 31;
    return shift == 0 ? hi : (hi << shift) | (lo >> (32 - shift));
}

namespace simt {

struct Thread {
    ucontext_t ctx;
    unsigned index;
    bool done;
    unsigned long long shuffles;
};

struct Warp {
    unsigned val[2][32];
    unsigned long long posted[32];
};

static ucontext_t scheduler;
static std::vector<Thread> threads;
static std::vector<Warp> warps;
static Thread *current;
static std::function<void()> kernel;
static unsigned long long progress;
static unsigned arrived, sync_generation;
/* Coroutine stacks, allocated once (uninitialised) and reused by every block. */
static const size_t STACK_BYTES = 128 * 1024;
static std::vector<std::unique_ptr<char[]>> stacks;

static void yield() { swapcontext(&current->ctx, &scheduler); }

static void trampoline() {
    kernel();
    current->done = true;
    progress++;
}

/* Runs `body` as a grid of `grid` blocks of `block` threads. */
static void launch(unsigned grid, unsigned block, std::function<void()> body) {
    kernel = std::move(body);
    gridDim = dim3{grid, 1, 1};
    blockDim = dim3{block, 1, 1};
    for (unsigned b = 0; b < grid; b++) {
        blockIdx = dim3{b, 0, 0};
        threads.assign(block, Thread{});
        warps.assign((block + 31) / 32, Warp{});
        arrived = 0;
        sync_generation = 0;
        for (unsigned t = 0; t < block; t++) {
            Thread &th = threads[t];
            th.index = t;
            while (stacks.size() <= t) stacks.emplace_back(new char[STACK_BYTES]);
            getcontext(&th.ctx);
            th.ctx.uc_stack.ss_sp = stacks[t].get();
            th.ctx.uc_stack.ss_size = STACK_BYTES;
            th.ctx.uc_link = &scheduler;
            makecontext(&th.ctx, trampoline, 0);
        }
        for (;;) {
            bool alive = false;
            unsigned long long before = progress;
            for (Thread &th : threads) {
                if (th.done) continue;
                alive = true;
                current = &th;
                threadIdx = dim3{th.index, 0, 0};
                swapcontext(&scheduler, &th.ctx);
            }
            if (!alive) break;
            if (progress == before) {
                std::fprintf(stderr, "simt: block %u deadlocked (a shuffle or barrier some thread never reaches)\n", b);
                std::abort();
            }
        }
    }
}

} // namespace simt

static void __syncthreads() {
    unsigned generation = simt::sync_generation;
    simt::progress++;
    if (++simt::arrived == blockDim.x) {
        simt::arrived = 0;
        simt::sync_generation++;
        return;
    }
    while (simt::sync_generation == generation) simt::yield();
}

static unsigned __shfl_sync(unsigned mask, unsigned var, int src_lane, int width) {
    const unsigned lane = threadIdx.x & 31;
    simt::Warp &w = simt::warps[threadIdx.x / 32];
    const unsigned long long g = ++simt::current->shuffles;
    if (!((mask >> lane) & 1)) {
        std::fprintf(stderr, "simt: lane %u shuffles with a mask %08x that does not name it\n", lane, mask);
        std::abort();
    }
    w.val[g & 1][lane] = var;
    w.posted[lane] = g;
    simt::progress++;
    for (unsigned l = 0; l < 32; l++) {
        if ((mask >> l) & 1) {
            while (w.posted[l] < g) simt::yield();
        }
    }
    const unsigned src = (lane & ~(unsigned)(width - 1)) + ((unsigned)src_lane & (unsigned)(width - 1));
    if (!((mask >> src) & 1)) {
        std::fprintf(stderr, "simt: lane %u reads lane %u outside its mask %08x\n", lane, src, mask);
        std::abort();
    }
    return w.val[g & 1][src];
}

/* __shfl_xor_sync: lane (lane XOR lane_mask) of the caller's width-segment. */
static unsigned __shfl_xor_sync(unsigned mask, unsigned var, int lane_mask, int width = 32) {
    return __shfl_sync(mask, var, (int)((threadIdx.x & 31) ^ (unsigned)lane_mask), width);
}

#define __CUDACC__ 1
#define __global__
#define __device__
#define __forceinline__ inline
#define __constant__
#define __launch_bounds__(n)
#define __shared__ static

#include "label_core.cuh"
#include "label_kernels.cu"

#define PC_GRID(threads) ((unsigned)(((threads) + PC_BLOCK - 1) / PC_BLOCK))

extern "C" {

void pc_simt_pbkdf2_in(const pc_u64 c[4], pc_u64 start, pc_u32 count, pc_u32 *xbuf) {
    simt::launch(PC_GRID(count), PC_BLOCK, [=] { post_pbkdf2_in(c[0], c[1], c[2], c[3], start, count, xbuf); });
}

/* The ROMix kernel of a variant: threads per label (1 or 4) and lookup gap (1, 2 or 4). */
int pc_simt_romix(pc_u32 threads_per_label, pc_u32 gap, pc_u32 *xbuf, pc_u32 *v, pc_u32 count, pc_u32 n,
                  pc_u32 cap) {
    void (*k)(pc_u32 *, pc_line_t *, pc_u32, pc_u32, pc_u32) = nullptr;
    if (threads_per_label == 1) k = gap == 1 ? post_romix_t1_g1 : gap == 2 ? post_romix_t1_g2 : post_romix_t1_g4;
    if (threads_per_label == 4) k = gap == 1 ? post_romix_t4_g1 : gap == 2 ? post_romix_t4_g2 : post_romix_t4_g4;
    if (k == nullptr || (gap != 1 && gap != 2 && gap != 4)) return -1;
    pc_line_t *lines = reinterpret_cast<pc_line_t *>(v);
    simt::launch(PC_GRID((unsigned long long)count * threads_per_label), PC_BLOCK,
                 [=] { k(xbuf, lines, count, n, cap); });
    return 0;
}

void pc_simt_pbkdf2_out(const pc_u64 c[4], pc_u64 start, pc_u32 count, const pc_u32 *xbuf, pc_u64 *out,
                        const pc_u64 threshold[4], pc_u32 use_vrf, pc_u64 *block_cands) {
    simt::launch(PC_GRID(count), PC_BLOCK, [=] {
        post_pbkdf2_out(c[0], c[1], c[2], c[3], start, count, xbuf, out, threshold[0], threshold[1], threshold[2],
                        threshold[3], use_vrf, block_cands);
    });
}

void pc_simt_vrf_reduce(const pc_u64 *block_cands, pc_u32 nblocks, pc_u64 *result) {
    simt::launch(1, PC_BLOCK, [=] { post_vrf_reduce(block_cands, nblocks, result); });
}

} // extern "C"
