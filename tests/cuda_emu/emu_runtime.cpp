/* emu_runtime.cpp - the CUDA runtime's stand-in (the calls pnp makes, defined
 * against the toolkit's own cuda_runtime_api.h so every signature is the real
 * one) and the emulation's core (emu.h): devices, tracked memory, streams of
 * deferred work, events, the last-error state, options and statistics.
 *
 * Contracts checked on every call (a violation ends the process with a
 * message naming the call): every pointer inside one live allocation of the
 * side the call says (cudaMemcpy* kinds against where src and dst really
 * are), no free of memory that queued work still uses, no use of destroyed
 * streams or events, launch limits. Documented behaviour kept: pageable
 * device-to-host copies return complete, pageable host-to-device copies may
 * reuse the host buffer at once, pinned-memory copies and everything else run
 * later; non-blocking streams do not wait for the legacy default stream;
 * errors set the calling thread's last error (cudaGetLastError reads and
 * clears it). Fresh memory is filled with 0xff bytes (NaN as float, double or
 * bfloat16). Without AddressSanitizer each allocation ends at a PROT_NONE
 * page (a 256-byte-rounded overrun faults) and is unmapped when freed; under
 * ASan allocations are exact-size heap blocks, so ASan sees every byte. */
#include "emu.h"

#include <sys/mman.h>
#include <unistd.h>

#include <cstdarg>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <deque>
#include <map>
#include <mutex>
#include <set>

#if defined(__SANITIZE_ADDRESS__)
#define EMU_ASAN 1
#else
#define EMU_ASAN 0
#endif

struct CUstream_st {
    int device;
    bool blocking; /* waits for (and is waited for by) the legacy default stream */
    bool live;
    std::deque<emu::Op> queue;
};

struct CUevent_st {
    bool recorded = false;
    CUstream_st *stream = nullptr;
    uint64_t seq = 0;
};

namespace emu {

namespace {

std::recursive_mutex g_lock; /* stand-ins may be called from OpenMP threads; work runs under it */
CUstream_st g_legacy = {0, true, true, {}};
std::set<CUstream_st *> g_streams;   /* live streams created by cudaStreamCreate* */
std::set<CUevent_st *> g_events;     /* live events */
std::map<uintptr_t, Alloc *> g_allocs; /* by base address */
uint64_t g_seq = 0;
thread_local cudaError_t t_last_error = cudaSuccess;
thread_local int t_device = 0;

struct DeviceState {
    size_t used = 0, peak = 0;
};
std::vector<DeviceState> g_devices;
size_t g_total_memory = 0;

/* statistics (PNP_EMU_STATS) */
size_t g_kernels_run = 0, g_ops_run = 0;

const char *kind_name(cudaMemcpyKind k)
{
    switch (k) {
    case cudaMemcpyHostToHost: return "HostToHost";
    case cudaMemcpyHostToDevice: return "HostToDevice";
    case cudaMemcpyDeviceToHost: return "DeviceToHost";
    case cudaMemcpyDeviceToDevice: return "DeviceToDevice";
    case cudaMemcpyDefault: return "Default";
    }
    return "?";
}

void write_stats();

/* First call of the process: the banner, the devices, the exit report. */
void init()
{
    static bool done = false;
    if (done) return;
    done = true;
    const long long n = option_int("PNP_EMU_DEVICES", 1);
    g_devices.resize(n > 0 ? (size_t)n : 0);
    g_total_memory = (size_t)option_int("PNP_EMU_MEMORY", 16LL << 30);
    if (!*option("PNP_EMU_QUIET", ""))
        note("EMULATED CUDA: %lld CPU stand-in device(s) of %zu MiB; kernels, cuFFT, cuDNN and NCCL run on the host. "
             "A pass checks host logic, index math, synchronisation, buffer extents and API contracts, not what "
             "real cuDNN accepts nor speed (tests/cuda_emu/README.md)",
             n, g_total_memory >> 20);
    atexit(write_stats);
}

CUstream_st *resolve(cudaStream_t s, const char *call)
{
    init();
    if (s == nullptr || s == cudaStreamLegacy) return &g_legacy;
    if (s == cudaStreamPerThread) fail(call, "cudaStreamPerThread is not emulated");
    if (!g_streams.count(s)) fail(call, "stream %p is not a live stream (destroyed, or never created)", (void *)s);
    return s;
}

/* The mapping behind a device allocation without ASan: [guard page][data, ending
 * at the second guard page][guard page]. */
struct Mapping {
    void *map;
    size_t len;
};
std::map<uintptr_t, Mapping> g_mappings;

char *backing_alloc(size_t bytes)
{
    const size_t rounded = (bytes + 255) / 256 * 256;
#if EMU_ASAN
    void *p = nullptr;
    if (posix_memalign(&p, 256, bytes ? bytes : 1)) return nullptr;
    memset(p, 0xff, bytes);
    (void)rounded;
    return (char *)p;
#else
    const size_t page = (size_t)sysconf(_SC_PAGESIZE), mid = (rounded + page - 1) / page * page;
    const size_t len = mid + 2 * page;
    void *map = mmap(nullptr, len, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
    if (map == MAP_FAILED) return nullptr;
    if (mprotect((char *)map + page, mid, PROT_READ | PROT_WRITE)) fail("cudaMalloc", "mprotect failed");
    char *data = (char *)map + page + (mid - rounded);
    memset(data, 0xff, rounded);
    g_mappings[(uintptr_t)data] = {map, len};
    return data;
#endif
}

void backing_free(char *p)
{
#if EMU_ASAN
    free(p);
#else
    auto m = g_mappings.find((uintptr_t)p);
    munmap(m->second.map, m->second.len);
    g_mappings.erase(m);
#endif
}

Alloc *new_alloc(size_t bytes, bool pinned, const char *call)
{
    char *p = backing_alloc(bytes);
    if (!p) fail(call, "the host is out of memory for %zu bytes", bytes);
    Alloc *a = new Alloc{p, bytes, pinned, t_device};
    g_allocs[(uintptr_t)p] = a;
    return a;
}

Alloc *take_alloc(const void *p, bool pinned, const char *call)
{
    auto it = g_allocs.find((uintptr_t)p);
    if (it == g_allocs.end() || it->second->pinned != pinned) {
        const Alloc *in = find(p);
        if (in && in->base != p)
            fail(call, "%p is inside an allocation (%s memory at %p, %zu bytes), not its start", p,
                 in->pinned ? "pinned host" : "device", (void *)in->base, in->bytes);
        if (in)
            fail(call, "%p is %s memory, not %s memory", p, in->pinned ? "pinned host" : "device",
                 pinned ? "pinned host" : "device");
        fail(call, "%p is not a live %s allocation (freed twice, or never allocated by %s)", p,
             pinned ? "pinned host" : "device", pinned ? "cudaMallocHost" : "cudaMalloc");
    }
    return it->second;
}

void count_device(int device, size_t more, size_t less)
{
    DeviceState &d = g_devices[(size_t)device];
    d.used = d.used + more - less;
    if (d.used > d.peak) d.peak = d.used;
}

std::vector<std::pair<std::string, std::function<size_t()>>> &leak_counters()
{
    static std::vector<std::pair<std::string, std::function<size_t()>>> v;
    return v;
}

size_t pending_ops()
{
    size_t n = g_legacy.queue.size();
    for (CUstream_st *s : g_streams) n += s->queue.size();
    return n;
}

/* PNP_EMU_STATS=FILE: one line per process at exit, appended. */
void write_stats()
{
    const char *path = option("PNP_EMU_STATS", "");
    if (!*path) return;
    FILE *f = fopen(path, "a");
    if (!f) return;
    size_t peak = 0, live = 0, allocs = 0, pinned = 0;
    for (const DeviceState &d : g_devices) peak = d.peak > peak ? d.peak : peak;
    for (auto &kv : g_allocs) {
        if (kv.second->pinned) ++pinned;
        else ++allocs, live += kv.second->bytes;
    }
    fprintf(f, "pid=%d device_peak_bytes=%zu live_device_bytes=%zu live_allocations=%zu live_pinned=%zu "
               "live_streams=%zu live_events=%zu pending_ops=%zu kernels_run=%zu ops_run=%zu",
            (int)getpid(), peak, live, allocs, pinned, g_streams.size(), g_events.size(), pending_ops(), g_kernels_run,
            g_ops_run);
    for (auto &c : leak_counters()) fprintf(f, " %s=%zu", c.first.c_str(), c.second());
    fprintf(f, "\n");
    fclose(f);
}

} // namespace

/* ------------------------------------------------------------ core (emu.h) */

void fail(const char *call, const char *fmt, ...)
{
    char msg[2048];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    fprintf(stderr, "pnp cuda_emu: CONTRACT VIOLATION in %s: %s\n", call, msg);
    fflush(stderr);
    abort();
}

void note(const char *fmt, ...)
{
    char msg[2048];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    fprintf(stderr, "pnp cuda_emu: %s\n", msg);
    fflush(stderr);
}

const char *option(const char *name, const char *fallback)
{
    const char *v = getenv(name);
    return v && *v ? v : fallback;
}

long long option_int(const char *name, long long fallback)
{
    const char *v = option(name, nullptr);
    if (!v) return fallback;
    char *end;
    double x = strtod(v, &end);
    switch (*end) {
    case 'K': case 'k': x *= 1024; ++end; break;
    case 'M': case 'm': x *= 1048576; ++end; break;
    case 'G': case 'g': x *= 1073741824; ++end; break;
    }
    if (end == v || *end) fail("options", "%s=%s is not a number (K, M, G suffixes allowed)", name, v);
    return (long long)x;
}

bool injected_failure(const char *call)
{
    static std::map<std::string, long long> calls;
    const char *spec = option("PNP_EMU_FAIL", "");
    const size_t len = strlen(call);
    for (const char *s = spec; *s;) {
        const char *end = s + strcspn(s, ",");
        if ((size_t)(end - s) >= len && !strncmp(s, call, len) && (s[len] == ',' || s[len] == ':' || s + len == end)) {
            const long long nth = s[len] == ':' ? atoll(s + len + 1) : 1;
            if (++calls[call] == nth) {
                note("injected failure of %s (call %lld), as PNP_EMU_FAIL asks", call, nth);
                return true;
            }
        }
        s = *end ? end + 1 : end;
    }
    return false;
}

const Alloc *find(const void *p)
{
    std::lock_guard<std::recursive_mutex> g(g_lock);
    auto it = g_allocs.upper_bound((uintptr_t)p);
    if (it == g_allocs.begin()) return nullptr;
    --it;
    const Alloc *a = it->second;
    return (uintptr_t)p < (uintptr_t)a->base + (a->bytes ? a->bytes : 1) ? a : nullptr;
}

const Alloc *device_range(const void *p, size_t bytes, const char *call, const char *arg)
{
    const Alloc *a = find(p);
    if (!a || a->pinned)
        fail(call, "%s = %p is %s, where device memory is needed", arg, p,
             !p ? "NULL" : a ? "pinned host memory (cudaMallocHost)" : "in no device allocation (host memory?)");
    const size_t off = (size_t)((const char *)p - a->base);
    if (bytes > a->bytes - off)
        fail(call, "%s = %p: %zu bytes from offset %zu overrun its allocation of %zu bytes (at %p)", arg, p, bytes, off,
             a->bytes, (void *)a->base);
    if (a->device != t_device)
        fail(call, "%s = %p lives on device %d, the current device is %d", arg, p, a->device, t_device);
    return a;
}

int current_device()
{
    init();
    return t_device;
}

std::string stream_name(cudaStream_t s, const char *call)
{
    CUstream_st *st = resolve(s, call);
    char buf[64];
    if (st == &g_legacy) return "the legacy default stream";
    snprintf(buf, sizeof buf, "stream %p", (void *)st);
    return buf;
}

uint64_t enqueue(cudaStream_t s, Op op)
{
    std::lock_guard<std::recursive_mutex> g(g_lock);
    CUstream_st *st = resolve(s, op.what.c_str());
    if (st->device != t_device && st != &g_legacy)
        fail(op.what.c_str(), "stream %p belongs to device %d, the current device is %d", (void *)st, st->device,
             t_device);
    op.seq = ++g_seq;
    const uint64_t seq = op.seq;
    st->queue.push_back(std::move(op));
    if (*option("CUDA_LAUNCH_BLOCKING", "0") == '1') run_stream(s, seq);
    return seq;
}

void run_stream(cudaStream_t s, uint64_t upto)
{
    std::lock_guard<std::recursive_mutex> g(g_lock);
    CUstream_st *st = s == nullptr || s == cudaStreamLegacy ? &g_legacy : s;
    while (!st->queue.empty() && st->queue.front().seq <= upto) {
        Op op = std::move(st->queue.front());
        st->queue.pop_front();
        /* the legacy stream and blocking streams wait for each other's earlier work */
        if (st == &g_legacy) {
            for (CUstream_st *b : g_streams)
                if (b->blocking) run_stream(b, op.seq - 1);
        } else if (st->blocking) {
            run_stream(&g_legacy, op.seq - 1);
        }
        op.run();
        ++g_ops_run;
    }
}

void check_unused(const Alloc *a, const char *call)
{
    std::lock_guard<std::recursive_mutex> g(g_lock);
    auto scan = [&](CUstream_st *st, const char *name) {
        for (const Op &op : st->queue)
            for (const Alloc *u : op.uses)
                if (u == a)
                    fail(call, "%p (%zu bytes) is still used by work queued on %s and not yet run: %s "
                               "(synchronize the stream before freeing)",
                         (void *)a->base, a->bytes, name, op.what.c_str());
    };
    scan(&g_legacy, "the legacy default stream");
    for (CUstream_st *s : g_streams) {
        char name[64];
        snprintf(name, sizeof name, "stream %p", (void *)s);
        scan(s, name);
    }
}

cudaError_t record(cudaError_t rc)
{
    if (rc != cudaSuccess) t_last_error = rc;
    return rc;
}

/* Used by the other stand-ins' exit report (emu_cufft.cpp, emu_cudnn.cpp, emu_nccl.cpp). */
void add_leak_counter(const char *name, std::function<size_t()> count) { leak_counters().emplace_back(name, count); }

void count_kernel() { ++g_kernels_run; }

} // namespace emu

using emu::record;

/* ---------------------------------------------------------------- devices */

extern "C" cudaError_t cudaGetDeviceCount(int *count)
{
    emu::init();
    if (!count) emu::fail("cudaGetDeviceCount", "count is NULL");
    *count = (int)emu::g_devices.size();
    if (emu::injected_failure("cudaGetDeviceCount")) return record(cudaErrorUnknown);
    return record(*count ? cudaSuccess : cudaErrorNoDevice);
}

extern "C" cudaError_t cudaSetDevice(int device)
{
    emu::init();
    if (device < 0 || (size_t)device >= emu::g_devices.size()) return record(cudaErrorInvalidDevice);
    emu::t_device = device;
    return cudaSuccess;
}

extern "C" cudaError_t cudaGetDeviceProperties(struct cudaDeviceProp *prop, int device)
{
    emu::init();
    if (!prop) emu::fail("cudaGetDeviceProperties", "prop is NULL");
    if (device < 0 || (size_t)device >= emu::g_devices.size()) return record(cudaErrorInvalidDevice);
    memset(prop, 0, sizeof *prop);
    snprintf(prop->name, sizeof prop->name, "EMULATED sm_90 device %d (pnp cuda_emu, CPU)", device);
    for (int i = 0; i < 16; ++i) prop->uuid.bytes[i] = (char)(0xe0 + (i == 15 ? device : i));
    prop->totalGlobalMem = emu::g_total_memory;
    prop->sharedMemPerBlock = 48 << 10;
    prop->sharedMemPerBlockOptin = 227 << 10;
    prop->regsPerBlock = 65536;
    prop->warpSize = 32;
    prop->maxThreadsPerBlock = 1024;
    prop->maxThreadsDim[0] = prop->maxThreadsDim[1] = 1024;
    prop->maxThreadsDim[2] = 64;
    prop->maxGridSize[0] = 2147483647;
    prop->maxGridSize[1] = prop->maxGridSize[2] = 65535;
    prop->major = 9;
    prop->minor = 0;
    prop->multiProcessorCount = 132;
    prop->canMapHostMemory = 1;
    prop->unifiedAddressing = 1;
    return cudaSuccess;
}

extern "C" cudaError_t cudaMemGetInfo(size_t *free_bytes, size_t *total)
{
    emu::init();
    if (!free_bytes || !total) emu::fail("cudaMemGetInfo", "NULL argument");
    if (emu::g_devices.empty()) return record(cudaErrorNoDevice);
    *total = emu::g_total_memory;
    *free_bytes = emu::g_total_memory - emu::g_devices[(size_t)emu::t_device].used;
    return cudaSuccess;
}

/* ---------------------------------------------------------------- errors */

extern "C" cudaError_t cudaGetLastError(void)
{
    const cudaError_t rc = emu::t_last_error;
    emu::t_last_error = cudaSuccess;
    return rc;
}

extern "C" cudaError_t cudaPeekAtLastError(void) { return emu::t_last_error; }

extern "C" const char *cudaGetErrorName(cudaError_t error)
{
    switch (error) {
    case cudaSuccess: return "cudaSuccess";
    case cudaErrorInvalidValue: return "cudaErrorInvalidValue";
    case cudaErrorMemoryAllocation: return "cudaErrorMemoryAllocation";
    case cudaErrorInvalidConfiguration: return "cudaErrorInvalidConfiguration";
    case cudaErrorInvalidMemcpyDirection: return "cudaErrorInvalidMemcpyDirection";
    case cudaErrorNoDevice: return "cudaErrorNoDevice";
    case cudaErrorInvalidDevice: return "cudaErrorInvalidDevice";
    case cudaErrorInvalidResourceHandle: return "cudaErrorInvalidResourceHandle";
    case cudaErrorUnknown: return "cudaErrorUnknown";
    default: return "cudaError (not named by the emulation)";
    }
}

extern "C" const char *cudaGetErrorString(cudaError_t error)
{
    switch (error) {
    case cudaSuccess: return "no error";
    case cudaErrorInvalidValue: return "invalid argument";
    case cudaErrorMemoryAllocation: return "out of memory";
    case cudaErrorInvalidConfiguration: return "invalid configuration argument";
    case cudaErrorInvalidMemcpyDirection: return "invalid copy direction for memcpy";
    case cudaErrorNoDevice: return "no CUDA-capable device is detected";
    case cudaErrorInvalidDevice: return "invalid device ordinal";
    case cudaErrorInvalidResourceHandle: return "invalid resource handle";
    case cudaErrorUnknown: return "unknown error (injected by the emulation?)";
    default: return "an error the emulation does not name";
    }
}

/* ---------------------------------------------------------------- memory */

static cudaError_t emu_malloc(void **ptr, size_t bytes, bool pinned, const char *call)
{
    std::lock_guard<std::recursive_mutex> g(emu::g_lock);
    emu::init();
    if (!ptr) emu::fail(call, "the pointer to the result is NULL");
    if (emu::injected_failure(call)) return record(cudaErrorMemoryAllocation);
    if (emu::g_devices.empty()) return record(cudaErrorNoDevice);
    if (bytes == 0) {
        *ptr = nullptr;
        return cudaSuccess;
    }
    if (!pinned && emu::g_devices[(size_t)emu::t_device].used + bytes > emu::g_total_memory)
        return record(cudaErrorMemoryAllocation);
    emu::Alloc *a = emu::new_alloc(bytes, pinned, call);
    if (!pinned) emu::count_device(emu::t_device, bytes, 0);
    *ptr = a->base;
    return cudaSuccess;
}

static cudaError_t emu_free(void *ptr, bool pinned, const char *call)
{
    std::lock_guard<std::recursive_mutex> g(emu::g_lock);
    emu::init();
    if (!ptr) return cudaSuccess;
    emu::Alloc *a = emu::take_alloc(ptr, pinned, call);
    emu::check_unused(a, call);
    if (emu::injected_failure(call)) return record(cudaErrorUnknown);
    if (!pinned) emu::count_device(a->device, 0, a->bytes);
    emu::g_allocs.erase((uintptr_t)a->base);
    emu::backing_free(a->base);
    delete a;
    return cudaSuccess;
}

extern "C" cudaError_t cudaMalloc(void **devPtr, size_t size) { return emu_malloc(devPtr, size, false, "cudaMalloc"); }
extern "C" cudaError_t cudaFree(void *devPtr) { return emu_free(devPtr, false, "cudaFree"); }
extern "C" cudaError_t cudaMallocHost(void **ptr, size_t size) { return emu_malloc(ptr, size, true, "cudaMallocHost"); }
extern "C" cudaError_t cudaFreeHost(void *ptr) { return emu_free(ptr, true, "cudaFreeHost"); }

extern "C" cudaError_t cudaMemsetAsync(void *devPtr, int value, size_t count, cudaStream_t stream)
{
    const char *call = "cudaMemsetAsync";
    if (emu::injected_failure(call)) return record(cudaErrorUnknown);
    const emu::Alloc *a = emu::device_range(devPtr, count, call, "devPtr");
    emu::Op op;
    op.what = "cudaMemsetAsync of " + std::to_string(count) + " bytes";
    op.uses = {a};
    op.run = [devPtr, value, count] { memset(devPtr, value, count); };
    emu::enqueue(stream, std::move(op));
    return cudaSuccess;
}

extern "C" cudaError_t cudaMemcpyAsync(void *dst, const void *src, size_t count, enum cudaMemcpyKind kind,
                                       cudaStream_t stream)
{
    std::lock_guard<std::recursive_mutex> g(emu::g_lock);
    char call[64];
    snprintf(call, sizeof call, "cudaMemcpyAsync (%s)", emu::kind_name(kind));
    if (emu::injected_failure("cudaMemcpyAsync")) return record(cudaErrorUnknown);
    emu::stream_name(stream, call);
    if (kind == cudaMemcpyDefault) { /* unified addressing: where the pointers are says the direction */
        const emu::Alloc *d = emu::find(dst), *s = emu::find(src);
        const bool dd = d && !d->pinned, sd = s && !s->pinned;
        kind = dd ? (sd ? cudaMemcpyDeviceToDevice : cudaMemcpyHostToDevice)
                  : (sd ? cudaMemcpyDeviceToHost : cudaMemcpyHostToHost);
    }
    if (kind != cudaMemcpyHostToDevice && kind != cudaMemcpyDeviceToHost && kind != cudaMemcpyDeviceToDevice &&
        kind != cudaMemcpyHostToHost) {
        emu::note("%s: kind %d is not a cudaMemcpyKind", call, (int)kind);
        return record(cudaErrorInvalidMemcpyDirection);
    }
    if (count == 0) return cudaSuccess;
    const bool dst_dev = kind == cudaMemcpyHostToDevice || kind == cudaMemcpyDeviceToDevice;
    const bool src_dev = kind == cudaMemcpyDeviceToHost || kind == cudaMemcpyDeviceToDevice;
    emu::Op op;
    op.what = std::string(call) + " of " + std::to_string(count) + " bytes";
    const emu::Alloc *host_side = nullptr;
    auto side = [&](const void *p, bool dev, const char *arg) {
        if (dev) {
            op.uses.push_back(emu::device_range(p, count, call, arg));
            return;
        }
        const emu::Alloc *a = emu::find(p);
        if (!p) emu::fail(call, "%s is NULL", arg);
        if (a && !a->pinned)
            emu::fail(call, "%s = %p is device memory (allocation %p of %zu bytes), but the kind says host", arg, p,
                      (void *)a->base, a->bytes);
        if (a) { /* pinned: its extent is known */
            const size_t off = (size_t)((const char *)p - a->base);
            if (count > a->bytes - off)
                emu::fail(call, "%s = %p: %zu bytes overrun its pinned allocation of %zu bytes", arg, p, count,
                          a->bytes);
            op.uses.push_back(a);
            host_side = a;
        }
    };
    side(dst, dst_dev, "dst");
    side(src, src_dev, "src");
    if (dst_dev && src_dev) {
        const char *d = (const char *)dst, *s = (const char *)src;
        if (d < s + count && s < d + count) emu::fail(call, "source and destination overlap");
    }
    if (kind == cudaMemcpyHostToDevice && !host_side) {
        /* pageable source: staged now, so the caller may reuse its buffer when this returns */
        std::vector<char> staged((const char *)src, (const char *)src + count);
        op.run = [dst, staged] { memcpy(dst, staged.data(), staged.size()); };
    } else {
        op.run = [dst, src, count] { memcpy(dst, src, count); };
    }
    const uint64_t seq = emu::enqueue(stream, std::move(op));
    /* to pageable host memory the copy has completed when the call returns */
    if (kind == cudaMemcpyDeviceToHost && !host_side) emu::run_stream(stream, seq);
    return cudaSuccess;
}

/* ---------------------------------------------------------------- streams, events */

extern "C" cudaError_t cudaStreamCreateWithFlags(cudaStream_t *pStream, unsigned int flags)
{
    std::lock_guard<std::recursive_mutex> g(emu::g_lock);
    emu::init();
    if (!pStream) emu::fail("cudaStreamCreateWithFlags", "pStream is NULL");
    if (flags != cudaStreamDefault && flags != cudaStreamNonBlocking) return record(cudaErrorInvalidValue);
    if (emu::injected_failure("cudaStreamCreateWithFlags")) return record(cudaErrorUnknown);
    CUstream_st *s = new CUstream_st{emu::t_device, flags == cudaStreamDefault, true, {}};
    emu::g_streams.insert(s);
    *pStream = s;
    return cudaSuccess;
}

extern "C" cudaError_t cudaStreamSynchronize(cudaStream_t stream)
{
    std::lock_guard<std::recursive_mutex> g(emu::g_lock);
    emu::resolve(stream, "cudaStreamSynchronize");
    emu::run_stream(stream);
    if (emu::injected_failure("cudaStreamSynchronize")) return record(cudaErrorUnknown);
    return cudaSuccess;
}

/* Work still queued completes (as on a device, which finishes it after the call returns). */
extern "C" cudaError_t cudaStreamDestroy(cudaStream_t stream)
{
    std::lock_guard<std::recursive_mutex> g(emu::g_lock);
    if (stream == nullptr || stream == cudaStreamLegacy)
        emu::fail("cudaStreamDestroy", "the legacy default stream cannot be destroyed");
    emu::resolve(stream, "cudaStreamDestroy");
    emu::run_stream(stream);
    if (emu::injected_failure("cudaStreamDestroy")) return record(cudaErrorUnknown);
    stream->live = false;
    emu::g_streams.erase(stream); /* the object stays: events recorded on it may still name it */
    return cudaSuccess;
}

extern "C" cudaError_t cudaDeviceSynchronize(void)
{
    std::lock_guard<std::recursive_mutex> g(emu::g_lock);
    emu::init();
    emu::run_stream(nullptr);
    for (CUstream_st *s : std::set<CUstream_st *>(emu::g_streams))
        if (s->device == emu::t_device) emu::run_stream(s);
    return cudaSuccess;
}

static CUevent_st *event(cudaEvent_t e, const char *call)
{
    if (!emu::g_events.count(e)) emu::fail(call, "event %p is not a live event", (void *)e);
    return e;
}

extern "C" cudaError_t cudaEventCreateWithFlags(cudaEvent_t *event, unsigned int flags)
{
    std::lock_guard<std::recursive_mutex> g(emu::g_lock);
    emu::init();
    if (!event) emu::fail("cudaEventCreateWithFlags", "event is NULL");
    if (flags & ~(unsigned)(cudaEventBlockingSync | cudaEventDisableTiming | cudaEventInterprocess))
        return record(cudaErrorInvalidValue);
    if (emu::injected_failure("cudaEventCreateWithFlags")) return record(cudaErrorUnknown);
    CUevent_st *e = new CUevent_st;
    emu::g_events.insert(e);
    *event = e;
    return cudaSuccess;
}

extern "C" cudaError_t cudaEventRecord(cudaEvent_t e, cudaStream_t stream)
{
    std::lock_guard<std::recursive_mutex> g(emu::g_lock);
    CUevent_st *ev = event(e, "cudaEventRecord");
    emu::Op op;
    op.what = "cudaEventRecord";
    op.run = [] {};
    ev->seq = emu::enqueue(stream, std::move(op));
    ev->stream = emu::resolve(stream, "cudaEventRecord");
    ev->recorded = true;
    return cudaSuccess;
}

/* An event never recorded stands for no work: returns at once (cuda_runtime_api.h). */
extern "C" cudaError_t cudaEventSynchronize(cudaEvent_t e)
{
    std::lock_guard<std::recursive_mutex> g(emu::g_lock);
    CUevent_st *ev = event(e, "cudaEventSynchronize");
    if (ev->recorded) emu::run_stream(ev->stream, ev->seq);
    if (emu::injected_failure("cudaEventSynchronize")) return record(cudaErrorUnknown);
    return cudaSuccess;
}

extern "C" cudaError_t cudaEventDestroy(cudaEvent_t e)
{
    std::lock_guard<std::recursive_mutex> g(emu::g_lock);
    event(e, "cudaEventDestroy");
    if (emu::injected_failure("cudaEventDestroy")) return record(cudaErrorUnknown);
    emu::g_events.erase(e);
    delete e;
    return cudaSuccess;
}
