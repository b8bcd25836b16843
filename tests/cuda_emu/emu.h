/* emu.h - the core the CUDA emulation's stand-ins share (tests/cuda_emu/README.md):
 * device memory as tracked ranges, streams as queues of deferred work, the
 * emulated devices, options from the environment, and the one way to fail.
 *
 * Device memory is host memory the emulation hands out and remembers as
 * [base, base + bytes) ranges: every pointer a stand-in receives is checked to
 * lie, with its whole extent, inside one live allocation of the right side
 * (device or host). Work queued on a stream (kernels, copies, transforms,
 * convolutions, collectives) runs only when something waits for it (a
 * synchronize, a blocking copy, an event), never earlier, so a missing wait
 * shows as stale data; an op remembers the allocations it touches, so freeing
 * one that queued work still uses fails at once. */
#ifndef PNP_CUDA_EMU_H
#define PNP_CUDA_EMU_H

#include <cuda_runtime_api.h>

#include <cstddef>
#include <cstdint>
#include <functional>
#include <string>
#include <vector>

namespace emu {

/* A contract violation: "pnp cuda_emu: CONTRACT VIOLATION in CALL: ..." on
 * stderr, then abort() (mpirun ends the job). */
[[noreturn]] void fail(const char *call, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* One line on stderr, "pnp cuda_emu: ...". */
void note(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* The environment's options (README): the value, or fallback when unset or empty. */
const char *option(const char *name, const char *fallback);
long long option_int(const char *name, long long fallback);
/* PNP_EMU_FAIL=CALL[:N]: true on the N-th call (default 1st) of CALL, with a note. */
bool injected_failure(const char *call);

/* ---- memory ---- */
struct Alloc {
    char *base;
    size_t bytes;
    bool pinned; /* cudaMallocHost memory (host side), else device memory */
    int device;
};
/* The live allocation holding p, or nullptr. */
const Alloc *find(const void *p);
/* [p, p + bytes) inside one live device allocation (bytes 0: p inside one),
 * else fail(call, "ARG ..."). Returns that allocation. */
const Alloc *device_range(const void *p, size_t bytes, const char *call, const char *arg);
int current_device();

/* ---- streams ---- */
struct Op {
    std::string what;             /* "cudaMemcpyAsync (HostToDevice)", "kernel spectrum_mul_kernel at ...:12" */
    std::vector<const Alloc *> uses; /* allocations the op reads or writes */
    std::function<void()> run;
    uint64_t seq = 0;
};
/* Checks s names a live stream (or the legacy default stream 0) and returns
 * it as a printable name; fails otherwise. */
std::string stream_name(cudaStream_t s, const char *call);
/* Queues op on s (CUDA_LAUNCH_BLOCKING=1: runs it at once); returns its sequence number. */
uint64_t enqueue(cudaStream_t s, Op op);
/* Runs s's queued work up to and including sequence number upto (all of it by default). */
void run_stream(cudaStream_t s, uint64_t upto = UINT64_MAX);
/* Fails when queued work on any stream still uses a (freeing it now would be a use after free). */
void check_unused(const Alloc *a, const char *call);

/* ---- the runtime's error state ---- */
/* Sets the calling thread's last error (cudaGetLastError) when rc is not success; returns rc. */
cudaError_t record(cudaError_t rc);

/* ---- the exit report (PNP_EMU_STATS=FILE: one line per process, appended) ---- */
/* Adds "name=count()" to the line: resources a stand-in still holds at exit. */
void add_leak_counter(const char *name, std::function<size_t()> count);
void count_kernel();

} // namespace emu

#endif
