/* backend.h - the one interface between the solver and a device.
 *
 * A backend is a table of functions plus a context (as in ggml-backend): the
 * solver, the tiling and the DRUNet graph call only these, never a device API,
 * so the same code runs on the CPU backend (FFTW, host memory) and on the CUDA
 * backend (cuFFT, cuDNN, kernels/). Pointers named *_dev are buffers from
 * ops->alloc: host memory on the CPU backend, device memory on CUDA. */
#ifndef PNP_BACKEND_H
#define PNP_BACKEND_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct pnp_backend pnp_backend;
typedef struct pnp_blur pnp_blur; /* a set of blur operators owned by a backend */

typedef struct {
    const char *name;
    void (*destroy)(pnp_backend *be);

    /* memory */
    void *(*alloc)(pnp_backend *be, size_t bytes); /* zero-filled; dies when out of memory */
    void (*free)(pnp_backend *be, void *ptr);
    void (*upload)(pnp_backend *be, void *dst_dev, const void *src_host, size_t bytes);
    void (*download)(pnp_backend *be, void *dst_host, const void *src_dev, size_t bytes);
    size_t (*peak_bytes)(pnp_backend *be); /* high-water mark of alloc */

    /* n blur operators on [c, h, w] images: circular convolution with centred
     * kernels [n, k, k] (host), by FFT. y = A_i x or y = A_i^T x. */
    pnp_blur *(*blur_create)(pnp_backend *be, int c, int h, int w, int n, int k, const float *kernels);
    void (*blur_apply)(pnp_blur *op, int i, const float *x_dev, float *y_dev, bool adjoint);
    void (*blur_destroy)(pnp_blur *op);

    /* y[e] <- clamp(y[e] + sigma * N(seed, stream, offset + e), 0, 1), e < n:
     * the counter-based noise of include/pnp/philox.h. */
    void (*add_noise_clamp)(pnp_backend *be, float *y_dev, size_t n, uint64_t seed, uint32_t stream,
                            uint64_t offset, float sigma);
} pnp_backend_ops;

struct pnp_backend {
    const pnp_backend_ops *ops;
    void *ctx;
};

/* "cpu" or "cuda"; dies with a clear message when that backend is not built in
 * or has no device. threads: CPU worker threads (0: all cores). */
pnp_backend *pnp_backend_create(const char *name, int threads);
void pnp_backend_destroy(pnp_backend *be);

pnp_backend *pnp_backend_cpu_create(int threads);
#ifdef PNP_WITH_CUDA
pnp_backend *pnp_backend_cuda_create(int device);
int pnp_cuda_device_count(void); /* 0 when no GPU (or no driver) */
#endif

#endif
