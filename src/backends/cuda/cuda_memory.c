/* cuda_memory.c - the CUDA backend's device buffers and their count (the
 * context's live/peak bytes, and the list of live buffers), so that
 * backend_cuda.c and layers_cudnn.c both call in and nothing calls back.
 * NOTE: runs in every make test on the CUDA emulation (tests/cuda_emu/); never
 * on a real GPU yet. */
#include <stdio.h>
#include <stdlib.h>

#include "backend_cuda.h"

/* The peak count: cuda_alloc's buffers, and the device memory the backend
 * takes by itself (cuFFT work areas, sum_sq_diff's partial sums, window
 * parameters), as the CPU backend counts its own scratch. */
void cuda_count_bytes(cuda_ctx *c, size_t more, size_t less)
{
    c->live = c->live + more - less;
    if (c->live > c->peak) c->peak = c->live;
}

void *cuda_alloc(pnp_backend *be, size_t bytes)
{
    cuda_ctx *c = be->ctx;
    void *p = NULL;
    cudaError_t rc = cudaMalloc(&p, bytes ? bytes : 1);
    if (rc != cudaSuccess) {
        size_t free_b = 0, total_b = 0;
        cudaMemGetInfo(&free_b, &total_b);
        pnp_fatal("cuda backend: cannot allocate %zu bytes on device %d (%zu of %zu bytes free): %s", bytes,
                  c->device, free_b, total_b, cudaGetErrorString(rc));
    }
    CUDA_CHECK(cudaMemsetAsync(p, 0, bytes, c->stream));
    alloc_rec *r = pnp_malloc(sizeof *r);
    *r = (alloc_rec){p, bytes, c->allocs};
    c->allocs = r;
    cuda_count_bytes(c, bytes, 0);
    return p;
}

/* cudaFree "may perform implicit synchronization" (cuda_runtime_api.h), no
 * more: the stream, which every user of the buffer runs on, is drained first
 * so no queued kernel, copy or transform reads freed memory. */
void cuda_free(pnp_backend *be, void *ptr)
{
    if (!ptr) return;
    cuda_ctx *c = be->ctx;
    alloc_rec **r = &c->allocs;
    while (*r && (*r)->ptr != ptr) r = &(*r)->next;
    if (!*r) pnp_fatal("cuda backend: free of %p, which is not a live buffer of this backend (freed twice?)", ptr);
    alloc_rec *dead = *r;
    cuda_count_bytes(c, 0, dead->bytes);
    *r = dead->next;
    free(dead);
    CUDA_CHECK(cudaStreamSynchronize(c->stream));
    CUDA_CHECK(cudaFree(ptr));
}
