/* emu_launch.cpp - kernel launches in the CUDA emulation (kernel_shim.h):
 * the launch checks (the driver's limits: grid x < 2^31, y and z <= 65535;
 * block x and y <= 1024, z <= 64, at most 1024 threads; 48 KiB of shared
 * memory per block; every pointer argument in device memory of the current
 * device), the grid queued on its stream, and its execution block by block
 * with __syncthreads as a real barrier and per-block shared memory.
 *
 * An invalid configuration is what the real runtime makes of it: nothing runs
 * and the launch error is left for cudaGetLastError (with a note on stderr).
 * A pointer argument outside device memory, a barrier that not every thread of
 * the block reaches, or more shared memory than a block has end the process. */
#include "kernel_shim.h" /* first: it defines __global__ and friends before the toolkit's headers do */

#include <pthread.h>

#include <climits>
#include <condition_variable>
#include <cstdio>
#include <cstring>
#include <map>
#include <mutex>
#include <string>

#include "emu.h"

thread_local uint3 threadIdx, blockIdx;
thread_local dim3 blockDim, gridDim;

namespace emu {

namespace {

const size_t SHARED_PER_BLOCK = 48 << 10;

/* One block while it runs: its barrier and its shared memory. */
struct Block {
    const LaunchSite *site;
    unsigned threads;
    bool concurrent; /* one OS thread per CUDA thread */
    size_t dynamic_shmem;
    std::mutex m;
    std::condition_variable cv;
    unsigned arrived = 0, exited = 0;
    unsigned long generation = 0;
    std::map<std::pair<std::string, int>, std::vector<char>> shared;
    size_t shared_bytes = 0;
};

thread_local Block *t_block = nullptr;

[[noreturn]] void diverged(Block *b)
{
    fail("__syncthreads", "kernel %s (%s:%d), block (%u,%u,%u): %u thread(s) returned while %u wait at a barrier "
                          "(a __syncthreads that not every thread of the block reaches)",
         b->site->kernel, b->site->file, b->site->line, blockIdx.x, blockIdx.y, blockIdx.z, b->exited, b->arrived);
}

struct ThreadStart {
    Block *block;
    uint3 thread, block_idx;
    dim3 block_dim, grid_dim;
    const std::function<void()> *body;
};

void *run_thread(void *p)
{
    const ThreadStart *s = (const ThreadStart *)p;
    threadIdx = s->thread;
    blockIdx = s->block_idx;
    blockDim = s->block_dim;
    gridDim = s->grid_dim;
    t_block = s->block;
    (*s->body)();
    Block *b = s->block;
    std::lock_guard<std::mutex> lk(b->m);
    ++b->exited;
    if (b->arrived > 0 && b->arrived + b->exited == b->threads) diverged(b);
    return nullptr;
}

void run_grid(const LaunchSite &site, const LaunchConfig &cfg, const std::function<void()> &body)
{
    const dim3 g = cfg.grid, bd = cfg.block;
    const unsigned threads = bd.x * bd.y * bd.z;
    const unsigned long long blocks = (unsigned long long)g.x * g.y * g.z;
    gridDim = g;
    blockDim = bd;
    for (unsigned long long lin = blocks; lin-- > 0;) { /* last block first */
        blockIdx = uint3{(unsigned)(lin % g.x), (unsigned)(lin / g.x % g.y), (unsigned)(lin / ((unsigned long long)g.x * g.y))};
        Block b;
        b.site = &site;
        b.threads = threads;
        b.concurrent = site.barrier;
        b.dynamic_shmem = cfg.shmem;
        if (!b.concurrent) {
            t_block = &b;
            for (unsigned t = threads; t-- > 0;) { /* last thread first */
                threadIdx = uint3{t % bd.x, t / bd.x % bd.y, t / (bd.x * bd.y)};
                body();
            }
            t_block = nullptr;
            continue;
        }
        std::vector<ThreadStart> starts(threads);
        std::vector<pthread_t> ids(threads);
        pthread_attr_t attr;
        pthread_attr_init(&attr);
        pthread_attr_setstacksize(&attr, 256 << 10);
        for (unsigned t = 0; t < threads; ++t) {
            starts[t] = {&b, uint3{t % bd.x, t / bd.x % bd.y, t / (bd.x * bd.y)}, blockIdx, bd, g, &body};
            if (pthread_create(&ids[t], &attr, run_thread, &starts[t]))
                fail("kernel launch", "cannot start thread %u of a block of kernel %s", t, site.kernel);
        }
        pthread_attr_destroy(&attr);
        for (unsigned t = 0; t < threads; ++t) pthread_join(ids[t], nullptr);
    }
    count_kernel();
}

} // namespace

void launch_kernel(const LaunchSite &site, const LaunchConfig &cfg, const std::vector<Arg> &args,
                   std::function<void()> body)
{
    char call[512];
    snprintf(call, sizeof call, "launch of %s (%s:%d)", site.kernel, site.file, site.line);
    const dim3 g = cfg.grid, b = cfg.block;
    const unsigned long long threads = (unsigned long long)b.x * b.y * b.z;
    if (g.x < 1 || g.x > (unsigned)INT_MAX || g.y < 1 || g.y > 65535 || g.z < 1 || g.z > 65535 || b.x < 1 ||
        b.x > 1024 || b.y < 1 || b.y > 1024 || b.z < 1 || b.z > 64 || threads > 1024 || cfg.shmem > SHARED_PER_BLOCK) {
        note("%s: invalid configuration: grid (%u,%u,%u), block (%u,%u,%u), %zu bytes of dynamic shared memory "
             "(limits: grid x < 2^31, y and z <= 65535; block x and y <= 1024, z <= 64, x*y*z <= 1024; 48 KiB)",
             call, g.x, g.y, g.z, b.x, b.y, b.z, cfg.shmem);
        record(cudaErrorInvalidConfiguration);
        return;
    }
    Op op;
    op.what = std::string("kernel ") + site.kernel + " (" + site.file + ":" + std::to_string(site.line) + ")";
    for (size_t i = 0; i < args.size(); ++i) {
        if (!args[i].pointer || !args[i].p) continue;
        const Alloc *a = find(args[i].p);
        if (!a) fail(call, "argument %zu = %p is not in any device allocation (a host pointer?)", i + 1, args[i].p);
        if (!a->pinned && a->device != current_device())
            fail(call, "argument %zu = %p lives on device %d, the current device is %d", i + 1, args[i].p, a->device,
                 current_device());
        op.uses.push_back(a);
    }
    if (injected_failure("kernel launch")) {
        record(cudaErrorLaunchFailure);
        return;
    }
    op.run = [site, cfg, body] { run_grid(site, cfg, body); };
    enqueue(cfg.stream, std::move(op));
}

void *shared_slot(size_t bytes, const char *file, int line)
{
    Block *b = t_block;
    if (!b) fail("__shared__", "shared memory used outside a kernel (%s:%d)", file, line);
    std::lock_guard<std::mutex> lk(b->m);
    std::vector<char> &v = b->shared[{file, line}];
    if (v.empty()) {
        b->shared_bytes += bytes;
        if (b->shared_bytes + b->dynamic_shmem > SHARED_PER_BLOCK)
            fail("__shared__", "kernel %s (%s:%d): %zu bytes of static and %zu of dynamic shared memory exceed a "
                               "block's 48 KiB",
                 b->site->kernel, b->site->file, b->site->line, b->shared_bytes, b->dynamic_shmem);
        v.assign(bytes, (char)0xff);
    }
    return v.data();
}

} // namespace emu

void __syncthreads()
{
    emu::Block *b = emu::t_block;
    if (!b) emu::fail("__syncthreads", "called outside a kernel");
    if (!b->concurrent)
        emu::fail("__syncthreads", "kernel %s (%s:%d) reached __syncthreads, but tests/cuda_emu/rewrite_cu.py found "
                                   "none in its body (one in a __device__ helper?): its threads ran one after another",
                  b->site->kernel, b->site->file, b->site->line);
    std::unique_lock<std::mutex> lk(b->m);
    const unsigned long gen = b->generation;
    if (++b->arrived + b->exited == b->threads) {
        if (b->exited) emu::diverged(b);
        b->arrived = 0;
        ++b->generation;
        b->cv.notify_all();
        return;
    }
    b->cv.wait(lk, [&] { return b->generation != gen; });
}
