/* cpu_memory.c - the CPU backend's memory: buffers with their byte count,
 * per-thread scratch for the layers, the high-water mark (peak_bytes), and
 * what the host can still give (core/host.c: MemAvailable, cgroup limits). The context
 * (cpu_ctx, backend_cpu.h) lives here so the backend's other files call in
 * and nothing calls back out. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "backend_cpu.h"
#include "pnp/error.h"
#include "pnp/host.h"

static void count_bytes(cpu_ctx *c, size_t more, size_t less)
{
    c->live = c->live + more - less;
    if (c->live > c->peak) c->peak = c->live;
}

void cpu_count_bytes(pnp_backend *be, size_t more, size_t less) { count_bytes(be->ctx, more, less); }

/* Every buffer carries its size in a header so free() can account for it. */
typedef struct {
    size_t bytes;
    size_t pad; /* keep the payload 16-byte aligned */
} buf_header;

void *cpu_alloc(pnp_backend *be, size_t bytes)
{
    cpu_ctx *c = be->ctx;
    buf_header *h = calloc(1, sizeof(buf_header) + bytes);
    if (!h) pnp_fatal("cpu backend: out of host memory allocating %zu bytes", bytes);
    h->bytes = bytes;
    count_bytes(c, bytes, 0);
    return h + 1;
}

void cpu_free(pnp_backend *be, void *ptr)
{
    if (!ptr) return;
    cpu_ctx *c = be->ctx;
    buf_header *h = (buf_header *)ptr - 1;
    count_bytes(c, 0, h->bytes);
    free(h);
}

void *cpu_alloc64(size_t bytes)
{
    void *p = aligned_alloc(64, (bytes + 63) / 64 * 64);
    if (!p) pnp_fatal("cpu backend: out of host memory allocating %zu bytes", bytes);
    return p;
}

void *const *cpu_thread_scratch(pnp_backend *be, int threads, size_t bytes)
{
    cpu_ctx *c = be->ctx;
    if (bytes > c->scratch_bytes) { /* all of them anew at the new size (the contents are scratch) */
        for (int t = 0; t < c->nscratch; ++t) free(c->scratch[t]);
        count_bytes(c, 0, c->nscratch * c->scratch_bytes);
        c->scratch_bytes = bytes;
        for (int t = 0; t < c->nscratch; ++t) c->scratch[t] = cpu_alloc64(bytes);
        count_bytes(c, c->nscratch * bytes, 0);
    }
    if (threads > c->nscratch) {
        void **grown = realloc(c->scratch, sizeof(void *) * threads);
        if (!grown) pnp_fatal("cpu backend: out of host memory for %d scratch buffers", threads);
        c->scratch = grown;
        for (int t = c->nscratch; t < threads; ++t) c->scratch[t] = cpu_alloc64(c->scratch_bytes);
        count_bytes(c, (threads - c->nscratch) * c->scratch_bytes, 0);
        c->nscratch = threads;
    }
    return c->scratch;
}

int cpu_threads(pnp_backend *be) { return ((cpu_ctx *)be->ctx)->threads; }

bool cpu_bf16(pnp_backend *be) { return ((cpu_ctx *)be->ctx)->bf16; }

void cpu_reserve_scratch(pnp_backend *be, size_t per_thread)
{
    cpu_ctx *c = be->ctx;
    if (per_thread > c->scratch_need) c->scratch_need = per_thread;
}

/* What cpu_thread_scratch may still add: every thread's buffer at the largest
 * need announced, less what is there now. */
size_t cpu_workspace_bytes(pnp_backend *be)
{
    const cpu_ctx *c = be->ctx;
    const size_t per_thread = c->scratch_need > c->scratch_bytes ? c->scratch_need : c->scratch_bytes;
    const int threads = c->threads > c->nscratch ? c->threads : c->nscratch;
    return (size_t)threads * per_thread - (size_t)c->nscratch * c->scratch_bytes;
}

size_t cpu_scratch_bytes(pnp_backend *be)
{
    const cpu_ctx *c = be->ctx;
    return c->nscratch * c->scratch_bytes;
}

size_t cpu_peak(pnp_backend *be) { return ((cpu_ctx *)be->ctx)->peak; }

/* MemAvailable, or less under the process's cgroup limits (include/pnp/host.h). */
size_t cpu_free_bytes(pnp_backend *be)
{
    (void)be;
    return pnp_host_free_bytes();
}

void cpu_memory_id(pnp_backend *be, char *id, size_t len)
{
    (void)be;
    snprintf(id, len, "host");
}
